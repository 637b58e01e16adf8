"""The fast offline update in the lab: the cluster stopped and started, the cluster service's start type, CSVs
offline and online, packages installed and in force at the next boot (the UBR moves on), Get-FileHash."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from hcitui.lab import Lab, LabPowerShellError
from hcitui.lab.offline import UPDATE_UBR
from hcitui.lab.state import NEW_BUILD

PACKAGE = "C:\\SetupFiles\\Updates\\windows10.0-kb5048654-x64.msu"


def call(lab: Lab, node: str, op: str, params: dict | None = None):
    return json.loads(lab.execute(node, op, params or {}))


def boot(lab: Lab, clock, node: str) -> None:
    call(lab, node, "restart_node")
    clock.advance(lab.state.timings.reboot + 0.1)
    lab.tick()
    clock.advance(lab.state.timings.cluster_join + 0.1)
    lab.tick()


def stage(lab: Lab, node: str, data: bytes = b"an update package") -> None:
    call(lab, node, "write_file_chunk", {"Path": PACKAGE, "Offset": 0, "Data": base64.b64encode(data).decode()})


def test_a_stopped_cluster_refuses_cluster_cmdlets_on_every_node(lab):
    call(lab, "LAB-A1", "stop_cluster")
    assert lab.state.cluster_stopped
    assert all(g.state == "Offline" for g in lab.state.groups)
    for node in lab.state.nodes:
        with pytest.raises(LabPowerShellError, match="cluster service is not running"):
            call(lab, node, "get_cluster_nodes")
    read = call(lab, "LAB-B2", "get_offline_node", {"HotFixes": []})
    assert read["Service"] == {"Name": "ClusSvc", "Status": "Stopped", "StartType": "Automatic"}


def test_a_node_restarting_with_the_service_disabled_does_not_rejoin(lab, clock):
    call(lab, "LAB-A1", "stop_cluster")
    for node in lab.state.nodes:
        assert call(lab, node, "set_cluster_service_startup", {"StartupType": "Disabled"})["Service"]["StartType"] \
            == "Disabled"
    boot(lab, clock, "LAB-A1")
    assert lab.state.nodes["LAB-A1"].power == "on" and lab.state.nodes["LAB-A1"].cluster_state == "Down"
    assert lab.state.cluster_stopped
    with pytest.raises(LabPowerShellError, match="disabled"):
        call(lab, "LAB-A1", "start_cluster_service")


def test_with_automatic_a_restarted_node_rejoins(lab, clock):
    call(lab, "LAB-A1", "stop_cluster")
    boot(lab, clock, "LAB-A2")
    assert lab.state.nodes["LAB-A2"].cluster_state == "Up" and not lab.state.cluster_stopped


def test_starting_the_service_everywhere_brings_the_cluster_and_its_groups_back_and_the_pool_settles(lab, clock):
    before = {g.name for g in lab.state.groups if g.state == "Online"}
    call(lab, "LAB-A1", "stop_cluster")
    for node in lab.state.nodes:
        call(lab, node, "start_cluster_service")
    clock.advance(lab.state.timings.cluster_join + 0.1)
    lab.tick()
    assert all(n.cluster_state == "Up" for n in lab.state.nodes.values())
    assert {g.name for g in lab.state.groups if g.state == "Online"} == before
    assert lab.state.storage_jobs == []  # nothing was written while every node was down: no resync
    pools = call(lab, "LAB-A1", "get_storage_pools")
    assert {p["HealthStatus"] for p in pools} == {"Warning"}
    clock.advance(lab.state.timings.repair)
    assert {p["HealthStatus"] for p in call(lab, "LAB-A1", "get_storage_pools")} == {"Healthy"}


def test_csvs_offline_detach_their_disks_and_stop_their_vms_until_they_are_online(lab):
    running = {g.name for g in lab.state.groups if g.group_type == "VirtualMachine" and g.state == "Online"}
    rows = call(lab, "LAB-A1", "stop_csv_resources")
    assert {r["State"] for r in rows} == {"Offline"}
    disks = {d["FriendlyName"]: d["OperationalStatus"] for d in call(lab, "LAB-A1", "get_virtual_disks")}
    assert disks["SiteA-Data01"] == ["Detached"]
    assert {r["StateInfo"] for r in call(lab, "LAB-A1", "get_csv_state")} == {"Unavailable"}
    assert not any(g.state == "Online" for g in lab.state.groups if g.name in running)
    assert {r["State"] for r in call(lab, "LAB-A1", "start_csv_resources")} == {"Online"}
    assert {g.name for g in lab.state.groups if g.state == "Online"} >= running


def test_an_installed_package_is_pending_until_the_next_boot_which_raises_the_ubr(lab, clock):
    node = lab.state.nodes["LAB-A1"]
    node.build, node.ubr = NEW_BUILD, 1913
    with pytest.raises(LabPowerShellError, match="stage it first"):
        call(lab, "LAB-A1", "install_update_package", {"PackagePath": PACKAGE, "HotFixId": "KB5048654"})
    stage(lab, "LAB-A1")
    result = call(lab, "LAB-A1", "install_update_package", {"PackagePath": PACKAGE, "HotFixId": "KB5048654"})
    assert result["RestartNeeded"] is True and result["HotFixListed"] is False and result["PendingPackages"] == 1
    read = call(lab, "LAB-A1", "get_offline_node", {"HotFixes": ["KB5048654"]})
    assert read["HotFixes"] == [] and read["PendingPackages"] == 1 and read["UBR"] == 1913
    boot(lab, clock, "LAB-A1")
    read = call(lab, "LAB-A1", "get_offline_node", {"HotFixes": ["KB5048654"]})
    assert read["HotFixes"] == ["KB5048654"] and read["PendingPackages"] == 0
    assert read["UBR"] == UPDATE_UBR[NEW_BUILD] != 1913


def test_get_file_hash_is_the_sha256_of_what_was_written_in_chunks(lab):
    first, second = b"x" * 1000, b"y" * 24
    call(lab, "LAB-A1", "write_file_chunk", {"Path": PACKAGE, "Offset": 0, "Data": base64.b64encode(first).decode()})
    call(lab, "LAB-A1", "write_file_chunk", {"Path": PACKAGE, "Offset": 1000,
                                              "Data": base64.b64encode(second).decode()})
    found = call(lab, "LAB-A1", "get_file_hash", {"Path": PACKAGE})
    assert found == {"Path": PACKAGE, "Exists": True, "Length": 1024,
                     "Hash": hashlib.sha256(first + second).hexdigest().upper()}
    assert call(lab, "LAB-A2", "get_file_hash", {"Path": PACKAGE})["Exists"] is False
