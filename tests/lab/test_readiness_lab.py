"""Solution-upgrade readiness in the lab (hcitui/lab/readiness.py): the designed failures of a fresh lab, the
test knobs, the remedies' handlers, the restart that puts a pending feature in force, and the readiness read
over real WinRM through the front door."""

from __future__ import annotations

import asyncio
import json

import pytest

from hcitui.cli import context as wiring
from hcitui.lab import Lab, LabPowerShellError
from hcitui.lab.post import NEW_LEVEL, NEW_POOL_VERSION
from hcitui.lab.state import NEW_BUILD, build_lab
from hcitui.ps import OPERATIONS
from hcitui.workflow import readiness


def read_node(lab: Lab, node: str):
    op = OPERATIONS["get_node_readiness"]
    return op.parse_result(lab.execute(node, op.name, op.make_params(None).to_ps()))


def read_cluster(lab: Lab, node: str):
    op = OPERATIONS["get_cluster_readiness"]
    return op.parse_result(lab.execute(node, op.name, {}))


def call(lab: Lab, node: str, name: str, params: dict):
    return json.loads(lab.execute(node, name, OPERATIONS[name].make_params(params).to_ps()))


def state_of(read, name: str, attr="features") -> str | None:
    rows = getattr(read, attr)
    key = "name" if attr == "features" else "feature_name"
    value = "install_state" if attr == "features" else "state"
    return next((getattr(r, value) for r in rows if getattr(r, key) == name), None)


@pytest.mark.parametrize("sites", [1, 2])
def test_the_fresh_lab_has_the_designed_failures_and_nothing_else(sites, clock):
    lab = Lab.create(4, clock=clock, sites=sites)
    first, second, *others = list(lab.state.nodes)
    for name in lab.state.nodes:
        read = read_node(lab, name)
        assert [(v.mount_point, v.protection_status) for v in read.bit_locker] == [("C:", "On")]
        assert read.device_guard.code_integrity_policy_enforcement_status == 0
        assert read.language.english and read.aks_modules == [] and read.moc_services == []
        assert read.current_build_number == 20349 and read.display_version == "22H2"
        missing = [f.name for f in read.features if f.install_state != "Installed"]
        disabled = [f.feature_name for f in read.optional_features if f.state != "Enabled"]
        if name == second:
            assert missing == ["NetworkATC"] and sorted(disabled) == ["NetworkATC", "Windows-Defender"]
        else:
            assert missing == [] and disabled == [] and len(read.optional_features) == 55
        assert read.tpm.lockout_count == (2 if name == first else 0)
    cluster = read_cluster(lab, first)
    assert cluster.functional_level == 11 and cluster.name == lab.state.cluster_name
    assert all(p.version == "Windows Server 2022" and p.free >= 250 * 1000**3 for p in cluster.pools)
    assert len(cluster.pools) == sites


def test_knobs_wdac_language_aks_tpm_and_unreadable_sections(clock):
    lab = Lab.create(2, clock=clock, sites=1)
    node = lab.state.nodes["LAB-N1"]
    node.wdac_enforcement = 2
    node.ui_language, node.system_locale = "de-DE", "de-DE"
    node.aks_modules = ["AksHci", "Moc"]
    node.moc_services = {"wssdagent": "Running"}
    node.tpm.tpm_ready = False
    lab.state.faults.readiness_unreadable = ["LAB-N2:Tpm", "LAB-N2:Features"]
    read = read_node(lab, "LAB-N1")
    assert read.device_guard.code_integrity_policy_enforcement_status == 2
    assert read.language.os_language == 1031 and read.language.english is False
    assert [m.name for m in read.aks_modules] == ["AksHci", "Moc"]
    assert [(s.name, s.status) for s in read.moc_services] == [("wssdagent", "Running")]
    assert read.tpm.tpm_ready is False
    other = read_node(lab, "LAB-N2")
    assert other.tpm is None and "Access denied" in other.tpm_error
    assert other.features == [] and "Get-WindowsFeature" in other.features_error
    assert other.bit_locker and other.language.english  # the other sections are still read


def test_installing_networkatc_needs_no_restart_and_enables_its_optional_feature(clock):
    lab = Lab.create(2, clock=clock, sites=1)
    rows = call(lab, "LAB-N2", "install_windows_features", {"names": ["NetworkATC", "Failover-Clustering"]})
    assert [(r["Name"], r["Success"], r["RestartNeeded"], r["ExitCode"]) for r in rows] == [
        ("NetworkATC", True, "No", "Success"), ("Failover-Clustering", True, "No", "NoChangeNeeded")]
    read = read_node(lab, "LAB-N2")
    assert state_of(read, "NetworkATC") == "Installed"
    assert state_of(read, "NetworkATC", "optional_features") == "Enabled"


def test_a_feature_that_needs_a_restart_is_pending_until_the_node_boots(clock):
    lab = Lab.create(2, clock=clock, sites=1)
    rows = call(lab, "LAB-N2", "enable_optional_features", {"names": ["Windows-Defender", "NetworkATC"]})
    assert [(r["FeatureName"], r["Success"], r["RestartNeeded"]) for r in rows] == [
        ("Windows-Defender", True, True), ("NetworkATC", True, False)]
    read = read_node(lab, "LAB-N2")
    assert state_of(read, "Windows-Defender", "optional_features") == "EnablePending"
    assert state_of(read, "NetworkATC") == "Installed"  # the Windows feature of the same component
    again = call(lab, "LAB-N2", "enable_optional_features", {"names": ["Windows-Defender"]})
    assert again[0]["RestartNeeded"] is True  # still pending: asking again changes nothing
    node = lab.state.nodes["LAB-N2"]
    lab.restart(node)
    clock.advance(lab.state.timings.reboot + lab.state.timings.cluster_join + 1)
    lab.tick()
    assert state_of(read_node(lab, "LAB-N2"), "Windows-Defender", "optional_features") == "Enabled"
    assert node.restart_pending_features == []


def test_an_unknown_feature_is_a_failed_row_not_a_crash(clock):
    lab = Lab.create(2, clock=clock, sites=1)
    rows = call(lab, "LAB-N1", "install_windows_features", {"names": ["No-Such-Feature"]})
    assert rows[0]["Success"] is False and "name was not found" in rows[0]["Error"]
    rows = call(lab, "LAB-N1", "enable_optional_features", {"names": ["No-Such-Feature"]})
    assert rows[0]["Success"] is False and "unknown" in rows[0]["Error"]


def test_bitlocker_suspend_and_resume(clock):
    lab = Lab.create(2, clock=clock, sites=1)
    row = call(lab, "LAB-N1", "suspend_bitlocker", {"mount_point": "C:"})
    assert row == {"MountPoint": "C:", "VolumeStatus": "FullyEncrypted", "ProtectionStatus": "Off"}
    assert lab.state.nodes["LAB-N1"].bitlocker["C:"].suspended_reboots == 0
    assert read_node(lab, "LAB-N2").bit_locker[0].protection_status == "On"  # only that node
    row = call(lab, "LAB-N1", "resume_bitlocker", {"mount_point": "C:"})
    assert row["ProtectionStatus"] == "On" and lab.state.nodes["LAB-N1"].bitlocker["C:"].suspended_reboots is None
    with pytest.raises(LabPowerShellError, match="D:"):
        call(lab, "LAB-N1", "suspend_bitlocker", {"mount_point": "D:"})


def test_post_upgrade_brings_the_pool_version_and_the_functional_level_up(clock):
    lab = Lab.create(2, clock=clock, sites=1)
    for node in lab.state.nodes.values():
        node.build, node.display_version = NEW_BUILD, "23H2"
    call(lab, "LAB-N1", "update_cluster_functional_level", {})
    call(lab, "LAB-N1", "update_storage_pool", {"friendly_name": "Pool-01"})
    cluster = read_cluster(lab, "LAB-N1")
    assert cluster.functional_level == NEW_LEVEL == readiness.NEW_LEVEL
    assert cluster.pools[0].version == NEW_POOL_VERSION
    assert NEW_POOL_VERSION.lower() not in readiness.OLD_POOL_VERSIONS


def test_a_restart_pending_feature_survives_a_saved_and_reopened_lab(tmp_path, clock):
    path = tmp_path / "lab.json"
    lab = Lab.open(path, 2, clock=clock, sites=1)
    call(lab, "LAB-N2", "enable_optional_features", {"names": ["Windows-Defender"]})
    reopened = Lab.open(path, 2, clock=clock, sites=1)
    assert reopened.state.nodes["LAB-N2"].restart_pending_features == ["Windows-Defender"]
    assert reopened.state.nodes["LAB-N2"].optional_features["Windows-Defender"] == "EnablePending"


def test_the_readiness_read_round_trips_over_winrm_through_the_front_door(tmp_path):
    lab = Lab(build_lab(2, sites=1))
    ctx = wiring.context_for_lab(lab, read_only=True, state_root=tmp_path, transport="winrm")

    async def go():
        try:
            return await readiness.run_readiness(ctx)
        finally:
            await ctx.close()

    report = asyncio.run(go())
    failing = {(c.name, c.node) for c in report.checks if c.status.value == "fail"}
    assert (readiness.BITLOCKER, "LAB-N1") in failing and (readiness.NETWORK_ATC_INSTALLED, "LAB-N2") in failing
    assert not [c for c in report.checks if c.status.value == "unknown"], "every section read over WinRM"
