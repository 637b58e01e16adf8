"""The solution-upgrade readiness reads (hcitui/ps/readiness.py): their scripts, parameters and results."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from hcitui import ps
from hcitui.core import model
from hcitui.core.model.readiness import AKS_MODULES, MOC_SERVICES, REQUIRED_OPTIONAL_FEATURES, REQUIRED_WINDOWS_FEATURES
from hcitui.lab import frontdoor, propreads
from hcitui.ps import readiness
from hcitui.ps.base import script_parameter_names

NODE, CLUSTER = readiness.get_node_readiness, readiness.get_cluster_readiness


def test_both_reads_are_declared_read_only_with_their_scope():
    assert ps.get("get_node_readiness") is NODE and ps.get("get_cluster_readiness") is CLUSTER
    assert not NODE.mutates and not CLUSTER.mutates
    assert NODE.scope is ps.Scope.NODE and CLUSTER.scope is ps.Scope.CLUSTER


@pytest.mark.parametrize("op", [NODE, CLUSTER], ids=lambda op: op.name)
def test_the_front_door_admits_the_script(op):
    assert frontdoor.check(op.script) == []


@pytest.mark.parametrize("op", [NODE, CLUSTER], ids=lambda op: op.name)
def test_every_section_has_its_own_try_catch_writing_its_error(op):
    script = op.script
    assert script.count("try {") == script.count("} catch {") >= 3
    for line in script.splitlines():
        if "} catch {" in line:
            assert "Error = $_.Exception.Message" in line


def test_node_read_parameters_default_to_seed_001s_lists():
    params = NODE.make_params(None).to_ps()
    assert script_parameter_names(NODE.script) == ["WindowsFeatures", "OptionalFeatures", "AksModules", "MocServices"]
    assert params["WindowsFeatures"] == list(REQUIRED_WINDOWS_FEATURES)
    assert params["OptionalFeatures"] == list(REQUIRED_OPTIONAL_FEATURES)
    assert len(REQUIRED_WINDOWS_FEATURES) == 7 and len(REQUIRED_OPTIONAL_FEATURES) == 55
    assert params["AksModules"] == list(AKS_MODULES) and params["MocServices"] == list(MOC_SERVICES)
    rendered = NODE.render(None, node="LAB-N1")
    assert "read-only" in rendered and "'NetworkATC'" in rendered and "'Windows-Defender'" in rendered


@pytest.mark.parametrize("bad", ["Net ATC", "x;Remove-Item", "", "a'b", "$(evil)"])
def test_node_read_refuses_a_name_that_is_no_feature_name(bad):
    with pytest.raises(ValidationError):
        NODE.make_params({"windows_features": [bad]})


def test_unconfirmed_reads_are_said_in_the_script():
    unconfirmed = [v.read for v in propreads.judge(propreads.reads(NODE.script)) if not v.confirmed]
    assert [(r.cmdlet, r.path) for r in unconfirmed] == [("Get-WindowsOptionalFeature", "FeatureName")]
    assert "UNCONFIRMED: FeatureName" in NODE.script
    assert "UNCONFIRMED: the MOC service names" in NODE.script
    assert all(v.confirmed for v in propreads.judge(propreads.reads(CLUSTER.script)))


FULL = {
    "CurrentBuildNumber": 25398, "UBR": 1913, "DisplayVersion": "23H2",
    "Features": [{"Name": "NetworkATC", "InstallState": "Installed"}],
    "OptionalFeatures": [{"FeatureName": "NetworkATC", "State": "Enabled"}],
    "BitLocker": [{"MountPoint": "C:", "VolumeStatus": "FullyEncrypted", "ProtectionStatus": "Off",
                   "VolumeType": "OperatingSystem"}],
    "DeviceGuard": {"CodeIntegrityPolicyEnforcementStatus": 0, "UsermodeCodeIntegrityPolicyEnforcementStatus": 0},
    "Language": {"OSLanguage": 1033, "SystemLocale": "en-US", "Culture": "en-US"},
    "Tpm": {"TpmPresent": True, "TpmReady": True, "TpmEnabled": True, "TpmActivated": True,
            "OwnerClearDisabled": False, "ManagedAuthLevel": "Full", "AutoProvisioning": "Enabled",
            "LockedOut": False, "LockoutCount": 0},
    "AksModules": [], "MocServices": [],
}


def test_a_full_node_read_parses():
    read = NODE.parse_result(json.dumps(FULL))
    assert read.build == "25398.1913" and read.display_version == "23H2"
    assert read.features == [model.WindowsFeature(name="NetworkATC", install_state="Installed")]
    assert read.bit_locker[0].protection_status == "Off" and read.language.english is True
    assert read.tpm.lockout_count == 0 and read.aks_modules == [] and read.os_error is None


def test_one_element_arrays_collapsed_to_objects_and_nulls_are_lists():
    payload = dict(FULL, Features={"Name": "NetworkATC", "InstallState": "Available"},
                   BitLocker={"MountPoint": "C:", "ProtectionStatus": "On"}, AksModules={"Name": "AksHci"},
                   MocServices=None, OptionalFeatures=None)
    read = NODE.parse_result(json.dumps(payload))
    assert [f.install_state for f in read.features] == ["Available"]
    assert [v.mount_point for v in read.bit_locker] == ["C:"]
    assert [m.name for m in read.aks_modules] == ["AksHci"]
    assert read.moc_services == [] and read.optional_features == []


def test_unreadable_sections_arrive_as_their_errors_and_the_rest_is_read():
    payload = {"CurrentBuildNumber": 20349, "UBR": 2655, "DisplayVersion": "22H2",
               "TpmError": "Get-Tpm : Access denied.", "FeaturesError": "The term 'Get-WindowsFeature' is not "
                                                                        "recognized"}
    read = NODE.parse_result(json.dumps(payload))
    assert read.tpm is None and read.tpm_error.startswith("Get-Tpm")
    assert read.features == [] and "Get-WindowsFeature" in read.features_error
    assert read.current_build_number == 20349 and read.bit_locker_error is None


@pytest.mark.parametrize(("lcid", "english"), [(1033, True), (2057, True), (3081, True), (1031, False),
                                               (1036, False), (None, None)])
def test_the_install_language_is_english_by_its_primary_language(lcid, english):
    assert model.Language(os_language=lcid).english is english


def test_the_cluster_read_parses_pools_space_and_volume_names():
    payload = {"Name": "HCI01", "FunctionalLevel": 12,
               "Pools": {"FriendlyName": "S2D on HCI01", "Version": "Windows Server 2025", "Size": 2 * 10**12,
                         "AllocatedSize": 15 * 10**11},
               "VirtualDisks": "Infrastructure_1, old"}
    read = CLUSTER.parse_result(json.dumps(payload))
    assert read.name == "HCI01" and read.functional_level == 12
    assert read.pools[0].free == 5 * 10**11
    assert read.virtual_disks == ["Infrastructure_1, old"]  # one name with a comma stays one name
    broken = CLUSTER.parse_result(json.dumps({"ClusterError": "The cluster service is not running.",
                                              "PoolsError": "Access denied", "VirtualDisks": []}))
    assert broken.name is None and broken.cluster_error and broken.pools_error and broken.pools == []
