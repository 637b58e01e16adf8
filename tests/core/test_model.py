"""Domain models: open enums, PowerShell aliases, collapsed arrays, dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hcitui.core import model
from hcitui.core.model.base import _coerce_enum

# ------------------------------------------------------------------ open enums


@pytest.mark.parametrize(
    ("enum_cls", "text", "member"),
    [
        (model.ReplicationStatus, "ContinuouslyReplicating_InRpo",
         model.ReplicationStatus.CONTINUOUSLY_REPLICATING_IN_RPO),
        (model.ReplicationStatus, "continuouslyreplicating_inrpo",
         model.ReplicationStatus.CONTINUOUSLY_REPLICATING_IN_RPO),
        (model.ReplicationStatus, "INITIALBLOCKCOPY", model.ReplicationStatus.INITIAL_BLOCK_COPY),
        (model.NodeState, "paused", model.NodeState.PAUSED),
        (model.CsvStateInfo, "filesystemredirected", model.CsvStateInfo.FILE_SYSTEM_REDIRECTED),
        (model.OperationalStatus, "no redundancy", model.OperationalStatus.NO_REDUNDANCY),
    ],
)
def test_known_strings_become_members_case_insensitively(enum_cls, text, member):
    coerced = _coerce_enum(enum_cls)(text)
    assert coerced is member


def test_replica_status_in_rpo_spelling_from_the_doc():
    replica = model.SRReplica.model_validate(
        {"DataVolume": "C:\\ClusterStorage\\V1", "ReplicationStatus": "ContinuouslyReplicating_InRpo"}
    )
    assert replica.replication_status is model.ReplicationStatus.CONTINUOUSLY_REPLICATING_IN_RPO
    assert replica.replication_status in model.REPLICATING_STATES


def test_node_state_known_value_is_member():
    node = model.ClusterNode.model_validate({"Name": "N1", "State": "up", "DrainStatus": "COMPLETED"})
    assert node.state is model.NodeState.UP
    assert node.drain_status is model.DrainStatus.COMPLETED


def test_unknown_enum_string_is_kept_and_survives_json_dump():
    node = model.ClusterNode.model_validate(
        {"Name": "N1", "State": "HibernatingNewIn2030", "StatusInformation": ["Normal", "FutureFlag"]}
    )
    assert node.state == "HibernatingNewIn2030"
    assert not isinstance(node.state, model.NodeState)
    assert node.status_information[0] is model.NodeStatusInformation.NORMAL
    assert node.status_information[1] == "FutureFlag"
    dumped = node.model_dump(mode="json", by_alias=True)
    assert dumped["State"] == "HibernatingNewIn2030"
    assert dumped["StatusInformation"] == ["Normal", "FutureFlag"]
    # and it loads back the same
    again = model.ClusterNode.model_validate(dumped)
    assert again.state == "HibernatingNewIn2030"


def test_unknown_csv_state_dumps_as_given():
    row = model.CsvState.model_validate({"Name": "CSV1", "Node": "N1", "StateInfo": "QuantumRedirected"})
    assert row.model_dump(mode="json", by_alias=True)["StateInfo"] == "QuantumRedirected"


def test_known_enum_dumps_as_its_powershell_string():
    group = model.SRGroup.model_validate({"Name": "RG", "ReplicationMode": "synchronous"})
    dumped = group.model_dump(mode="json", by_alias=True)
    assert dumped["ReplicationMode"] == "Synchronous"


def test_enum_as_convertto_json_value_object():
    # ConvertTo-Json of an un-cast enum: {"value": 2, "String": "Paused"} style objects.
    node = model.ClusterNode.model_validate({"Name": "N1", "State": {"Value": 2, "String": "Paused"}})
    assert node.state is model.NodeState.PAUSED


# -------------------------------------------------------------------- aliases


def test_pascal_case_aliases_load():
    group = model.ClusterGroup.model_validate({"Name": "VM1", "OwnerNode": "N2", "State": "Online"})
    assert group.owner_node == "N2"
    assert group.state is model.GroupState.ONLINE

    sr = model.SRGroup.model_validate({"Name": "RG1", "AsyncRPO": 45, "LogSizeInBytes": 8})
    assert sr.async_rpo == 45
    assert sr.log_size_in_bytes == 8

    csv = model.CsvState.model_validate(
        {
            "Name": "CSV1",
            "Node": "N1",
            "StateInfo": "FileSystemRedirected",
            "FileSystemRedirectedIOReason": "FileSystemReFs",
            "BlockRedirectedIOReason": "NotBlockRedirected",
        }
    )
    assert csv.file_system_redirected_io_reason == "FileSystemReFs"
    assert csv.block_redirected_io_reason == "NotBlockRedirected"

    partnership = model.SRPartnership.model_validate(
        {"SourceComputerName": "A", "SourceRGName": "RG-A", "DestinationComputerName": "B", "DestinationRGName": "RG-B"}
    )
    assert (partnership.source_rg_name, partnership.destination_rg_name) == ("RG-A", "RG-B")

    version = model.OsVersion.model_validate({"CurrentBuildNumber": 25398, "UBR": 1913})
    assert version.build == "25398.1913"


def test_snake_case_names_load_too():
    group = model.ClusterGroup(name="VM1", owner_node="N2", state="Offline")
    assert group.owner_node == "N2"
    assert group.state is model.GroupState.OFFLINE


# ---------------------------------------------------------- collapsed arrays


def test_one_element_collapsed_array_becomes_list():
    node = model.ClusterNode.model_validate({"Name": "N1", "FaultDomain": "Site:SiteA", "StatusInformation": "Normal"})
    assert node.fault_domain == ["Site:SiteA"]
    assert node.status_information == [model.NodeStatusInformation.NORMAL]

    disk = model.VirtualDisk.model_validate({"FriendlyName": "D", "OperationalStatus": "InService"})
    assert disk.operational_status == [model.OperationalStatus.IN_SERVICE]

    group = model.SRGroup.model_validate({"Name": "RG", "Replicas": {"DataVolume": "V", "NumOfBytesRemaining": 5}})
    assert len(group.replicas) == 1
    assert group.replicas[0].data_volume == "V"
    assert group.bytes_remaining == 5


def test_comma_joined_flags_become_list():
    node = model.ClusterNode.model_validate({"Name": "N1", "StatusInformation": "DrainInProgress, AvoidPlacement"})
    assert node.status_information == [
        model.NodeStatusInformation.DRAIN_IN_PROGRESS,
        model.NodeStatusInformation.AVOID_PLACEMENT,
    ]


def test_null_collection_becomes_empty_list():
    node = model.ClusterNode.model_validate({"Name": "N1", "FaultDomain": None})
    assert node.fault_domain == []
    assert node.site is None


# ------------------------------------------------------------------ properties


def test_cluster_node_site_from_fault_domain():
    node = model.ClusterNode.model_validate({"Name": "N1", "FaultDomain": ["Rack:R1", "Site:SiteA"]})
    assert node.site == "SiteA"
    node = model.ClusterNode.model_validate({"Name": "N1", "FaultDomain": "site: SiteB"})
    assert node.site == "SiteB"
    node = model.ClusterNode.model_validate({"Name": "N1", "FaultDomain": ["Rack:R1"]})
    assert node.site is None


@pytest.mark.parametrize(
    ("state", "available"),
    [
        ("Direct", True),
        ("FileSystemRedirected", True),
        ("BlockRedirected", True),
        ("Unavailable", False),
        ("unavailable", False),
        ("Paused", False),
        ("SomethingNew", True),
    ],
)
def test_csv_is_available(state, available):
    row = model.CsvState.model_validate({"Name": "CSV", "Node": "N1", "StateInfo": state})
    assert row.is_available is available


def test_ps_datetime_parses_windows_powershell_date():
    replica = model.SRReplica.model_validate({"DataVolume": "V", "LastInSyncTime": "/Date(1700000000000)/"})
    assert replica.last_in_sync_time == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_ps_datetime_iso_and_empty():
    version = model.OsVersion.model_validate(
        {"CurrentBuildNumber": 20349, "LastBootUpTime": "2024-01-02T03:04:05+00:00"}
    )
    assert version.last_boot_up_time == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    version = model.OsVersion.model_validate({"CurrentBuildNumber": 20349, "LastBootUpTime": ""})
    assert version.last_boot_up_time is None


def test_storage_job_progress():
    assert model.StorageJob(name="Repair", bytes_processed=50, bytes_total=200).progress == 0.25
    assert model.StorageJob(name="Repair", percent_complete=40).progress == 0.4
    assert model.StorageJob(name="Repair").progress is None


def test_registry_fix_applied():
    assert model.RegistryValues(refs_enable_metadata_validation=0, skip_small_local_allocations=0).fix_applied
    assert not model.RegistryValues(refs_enable_metadata_validation=0).fix_applied
    assert not model.RegistryValues(refs_enable_metadata_validation=1, skip_small_local_allocations=0).fix_applied
