"""The lab cluster: shape, reboot lifecycle on a fake clock, the RUNBOOK 5 traps, persistence."""

from __future__ import annotations

import json

import pytest

from hcitui.lab import Lab, LabError, LabPowerShellError, LabUnreachable, build_lab, node_names
from hcitui.lab.cluster import iso
from hcitui.lab.state import NEW_BUILD, OLD_BUILD


def run(lab: Lab, node: str, op: str, params: dict | None = None):
    return json.loads(lab.execute(node, op, params or {}))


def cluster_state(lab: Lab, node: str, *, ask: str) -> str:
    rows = run(lab, ask, "get_cluster_nodes")
    return next(r["State"] for r in rows if r["Name"] == node)


def disks(lab: Lab, ask: str) -> dict[str, tuple[str, list[str]]]:
    return {d["FriendlyName"]: (d["HealthStatus"], d["OperationalStatus"]) for d in run(lab, ask, "get_virtual_disks")}


def owners(lab: Lab) -> dict[str, str]:
    return {g["Name"]: g["OwnerNode"] for g in run(lab, "LAB-B1", "get_cluster_groups")}


def finish_reboot(lab: Lab, clock, node: str, *, ask: str = "LAB-B1") -> None:
    """Move the fake clock through boot and cluster join, observing at each step."""
    clock.advance(lab.state.timings.reboot)
    run(lab, node, "get_os_version")
    clock.advance(lab.state.timings.cluster_join)
    run(lab, ask, "get_cluster_nodes")


# ----------------------------------------------------------------- fresh lab


def test_fresh_lab_shape(lab):
    assert list(lab.state.nodes) == ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
    sites = {name: n.site for name, n in lab.state.nodes.items()}
    assert sites == {"LAB-A1": "SiteA", "LAB-A2": "SiteA", "LAB-B1": "SiteB", "LAB-B2": "SiteB"}
    rows = run(lab, "LAB-A1", "get_cluster_nodes")
    assert [r["Name"] for r in rows] == list(lab.state.nodes)
    assert {r["BuildNumber"] for r in rows} == {OLD_BUILD} == {20349}
    assert all(r["State"] == "Up" for r in rows)
    assert {r["Name"]: r["FaultDomain"] for r in rows}["LAB-B2"] == ["Site:SiteB"]
    for name in lab.state.nodes:
        assert run(lab, name, "get_os_version")["CurrentBuildNumber"] == 20349
        assert run(lab, name, "get_registry_values") == {
            "RefsEnableMetadataValidation": None,
            "VidParametersKeyExists": False,
            "SkipSmallLocalAllocations": None,
        }
    assert len(run(lab, "LAB-A1", "get_sr_partnerships")) == 2
    assert len(lab.state.partnerships) == 2
    assert lab.state.timers == [] and lab.state.storage_jobs == []


def test_fresh_lab_iso_missing_on_last_node(lab):
    iso = lab.state.iso_path
    assert run(lab, "LAB-A1", "get_path_info", {"Path": iso})["Exists"] is True
    assert run(lab, "LAB-B2", "get_path_info", {"Path": iso})["Exists"] is False


def test_node_names_and_sizes():
    assert node_names(8) == ["LAB-A1", "LAB-A2", "LAB-A3", "LAB-A4", "LAB-B1", "LAB-B2", "LAB-B3", "LAB-B4"]
    state = build_lab(8)
    assert list(state.nodes) == node_names(8)
    assert [n.site for n in state.nodes.values()] == ["SiteA"] * 4 + ["SiteB"] * 4
    assert node_names(2) == ["LAB-A1", "LAB-B1"]
    assert len(node_names(16)) == 16


@pytest.mark.parametrize("count", [0, 1, 3, 5, 17, 18, -2])
def test_bad_node_counts(count):
    with pytest.raises(ValueError):
        node_names(count)
    with pytest.raises(ValueError):
        build_lab(count)


def test_unknown_operation(lab):
    with pytest.raises(LabPowerShellError, match="is not recognized as the name of a cmdlet"):
        lab.execute("LAB-A1", "format_everything", {})


def test_unknown_node_does_not_answer(lab):
    with pytest.raises(LabUnreachable) as info:
        lab.execute("LAB-Z9", "get_os_version", {})
    assert info.value.rebooting is False


def test_unreachable_fault(lab):
    lab.state.faults.unreachable = ["LAB-B2"]
    with pytest.raises(LabUnreachable) as info:
        lab.execute("LAB-B2", "get_os_version", {})
    assert info.value.rebooting is False
    assert run(lab, "LAB-B1", "get_os_version")["CurrentBuildNumber"] == 20349


# ------------------------------------------------------------ reboot lifecycle


def test_restart_lifecycle(lab, clock):
    timings = lab.state.timings
    restarted_at = clock.t
    answer = run(lab, "LAB-A1", "restart_node")
    assert answer["CurrentBuildNumber"] == 20349

    with pytest.raises(LabUnreachable) as info:
        lab.execute("LAB-A1", "get_os_version", {})
    assert info.value.rebooting is True
    assert cluster_state(lab, "LAB-A1", ask="LAB-B1") == "Down"
    assert "LAB-A1" not in owners(lab).values()  # its roles failed over

    clock.advance(timings.reboot - 0.5)
    with pytest.raises(LabUnreachable):
        lab.execute("LAB-A1", "get_os_version", {})

    clock.advance(0.5)
    version = run(lab, "LAB-A1", "get_os_version")  # answers again
    assert version["LastBootUpTime"] == iso(restarted_at + timings.reboot)
    assert lab.state.nodes["LAB-A1"].cluster_state == "Joining"
    assert cluster_state(lab, "LAB-A1", ask="LAB-B1") == "Joining"
    with pytest.raises(LabPowerShellError, match="cluster service is not running"):
        lab.execute("LAB-A1", "get_cluster_nodes", {})
    assert disks(lab, "LAB-B1")["SiteA-Data01"] == ("Warning", ["Degraded"])

    clock.advance(timings.cluster_join)
    assert cluster_state(lab, "LAB-A1", ask="LAB-B1") == "Up"
    jobs = run(lab, "LAB-A1", "get_storage_jobs")
    assert [j["Name"] for j in jobs] == ["Repair"]
    state = disks(lab, "LAB-A1")
    for name, (health, status) in state.items():
        if name.startswith("SiteA"):
            assert (health, status) == ("Warning", ["InService"]), name
        else:
            assert (health, status) == ("Healthy", ["OK"]), name

    clock.advance(timings.repair - 0.5)
    assert len(run(lab, "LAB-A1", "get_storage_jobs")) == 1
    clock.advance(0.5)
    assert run(lab, "LAB-A1", "get_storage_jobs") == []
    assert all(v == ("Healthy", ["OK"]) for v in disks(lab, "LAB-A1").values())
    assert lab.state.timers == []


def test_paused_node_comes_back_paused(lab, clock):
    # LAB-B1 hosts no dynamic-memory VM: its drain succeeds.
    row = run(lab, "LAB-A1", "suspend_node", {"Name": "LAB-B1"})
    assert (row["State"], row["DrainStatus"]) == ("Paused", "Completed")
    run(lab, "LAB-B1", "restart_node")
    finish_reboot(lab, clock, "LAB-B1", ask="LAB-A1")
    assert cluster_state(lab, "LAB-B1", ask="LAB-A1") == "Paused"
    # and it still has a repair job to run after coming back
    assert [j["Name"] for j in run(lab, "LAB-A1", "get_storage_jobs")] == ["Repair"]


def test_chained_timers_fire_relative_to_their_own_time(lab, clock):
    timings = lab.state.timings
    run(lab, "LAB-A1", "restart_node")
    # Nobody looks at the lab for longer than reboot + join: the node must be back in the cluster.
    clock.advance(timings.reboot + timings.cluster_join + 0.5)
    assert cluster_state(lab, "LAB-A1", ask="LAB-B1") == "Up"


def test_registry_values_take_effect_after_reboot(lab, clock):
    values = run(lab, "LAB-A1", "set_registry_values",
                 {"RefsEnableMetadataValidation": 0, "SkipSmallLocalAllocations": 0})
    assert values == {"RefsEnableMetadataValidation": 0, "VidParametersKeyExists": True, "SkipSmallLocalAllocations": 0}
    node = lab.state.nodes["LAB-A1"]
    assert (node.refs_metadata_validation, node.skip_small_local_allocations) == (0, 0)
    assert node.refs_effective is None and node.skip_effective is None

    run(lab, "LAB-A1", "restart_node")
    assert node.refs_effective is None and node.skip_effective is None  # still shutting down
    clock.advance(lab.state.timings.reboot)
    run(lab, "LAB-A1", "get_os_version")
    assert (node.refs_effective, node.skip_effective) == (0, 0)
    # other nodes untouched
    assert lab.state.nodes["LAB-A2"].skip_effective is None


def test_set_registry_values_partial(lab):
    values = run(lab, "LAB-B2", "set_registry_values", {"RefsEnableMetadataValidation": 1})
    assert values == {"RefsEnableMetadataValidation": 1, "VidParametersKeyExists": False,
                      "SkipSmallLocalAllocations": None}


# ---------------------------------------------------------------------- traps


def test_live_migration_trap_and_fix(lab, clock):
    node = lab.state.nodes["LAB-A1"]
    dynamic_on_a1 = sorted(g.name for g in lab.state.groups
                           if g.owner == "LAB-A1" and g.group_type == "VirtualMachine" and g.dynamic_memory)
    assert dynamic_on_a1  # the trap needs dynamic-memory VMs on LAB-A1
    assert run(lab, "LAB-A1", "get_vm_summary")["DynamicMemoryRunning"] == len(dynamic_on_a1)

    # Without SkipSmallLocalAllocations in force: the drain fails.
    with pytest.raises(LabPowerShellError, match="could not be drained"):
        lab.execute("LAB-A2", "suspend_node", {"Name": "LAB-A1"})
    assert node.drain_status == "Failed"
    row = next(r for r in run(lab, "LAB-A2", "get_cluster_nodes") if r["Name"] == "LAB-A1")
    assert row["DrainStatus"] == "Failed"
    assert row["StatusInformation"] == "DrainFailed"
    assert all(owners(lab)[vm] == "LAB-A1" for vm in dynamic_on_a1)  # the VMs did not move

    # Set the value: still not in force until a reboot.
    run(lab, "LAB-A1", "set_registry_values", {"SkipSmallLocalAllocations": 0})
    assert node.skip_effective is None
    run(lab, "LAB-A1", "restart_node")
    finish_reboot(lab, clock, "LAB-A1")
    assert node.skip_effective == 0
    assert cluster_state(lab, "LAB-A1", ask="LAB-B1") == "Paused"  # it was paused by the failed drain

    # Resume with failback: the VMs come home.
    row = run(lab, "LAB-B1", "resume_node", {"Name": "LAB-A1", "Failback": "Immediate"})
    assert row["State"] == "Up"
    assert all(owners(lab)[vm] == "LAB-A1" for vm in dynamic_on_a1)

    # Now the drain succeeds and nothing stays on the node.
    row = run(lab, "LAB-B1", "suspend_node", {"Name": "LAB-A1"})
    assert (row["State"], row["DrainStatus"]) == ("Paused", "Completed")
    assert node.drain_status == "Completed"
    assert "LAB-A1" not in owners(lab).values()
    assert run(lab, "LAB-A1", "get_vm_summary")["Total"] == 0

    row = run(lab, "LAB-B1", "resume_node", {"Name": "LAB-A1", "Failback": "Immediate"})
    assert row["State"] == "Up"
    assert all(owners(lab)[vm] == "LAB-A1" for vm in dynamic_on_a1)
    assert run(lab, "LAB-A1", "get_vm_summary")["DynamicMemoryRunning"] == len(dynamic_on_a1)


def test_resume_without_failback_leaves_vms_away(lab):
    on_b1 = [g.name for g in lab.state.groups if g.owner == "LAB-B1"]
    assert "VM-B02" in on_b1
    run(lab, "LAB-A1", "suspend_node", {"Name": "LAB-B1"})
    assert "LAB-B1" not in owners(lab).values()
    row = run(lab, "LAB-A1", "resume_node", {"Name": "LAB-B1", "Failback": "NoFailback"})
    assert row["State"] == "Up"
    assert "LAB-B1" not in owners(lab).values()


def test_resume_requires_paused_node(lab):
    with pytest.raises(LabPowerShellError, match="only a paused node can be resumed"):
        lab.execute("LAB-A1", "resume_node", {"Name": "LAB-A2", "Failback": "Immediate"})


def test_suspend_unknown_node(lab):
    with pytest.raises(LabPowerShellError, match="was not found"):
        lab.execute("LAB-A1", "suspend_node", {"Name": "LAB-Z9"})


def test_refs_trap_on_new_build(lab, clock):
    node = lab.state.nodes["LAB-A2"]
    node.build = NEW_BUILD  # as if setup had just upgraded it
    run(lab, "LAB-A2", "restart_node")
    finish_reboot(lab, clock, "LAB-A2")
    rows = run(lab, "LAB-B1", "get_csv_state")
    site_a = {r["StateInfo"] for r in rows if r["VolumeFriendlyName"].startswith("SiteA")}
    site_b = {r["StateInfo"] for r in rows if r["VolumeFriendlyName"].startswith("SiteB")}
    assert site_a == {"Unavailable"}
    assert site_b == {"FileSystemRedirected"}

    # The fix: RefsEnableMetadataValidation = 0 and a restart brings them back.
    run(lab, "LAB-A2", "set_registry_values", {"RefsEnableMetadataValidation": 0})
    run(lab, "LAB-A2", "restart_node")
    finish_reboot(lab, clock, "LAB-A2")
    rows = run(lab, "LAB-B1", "get_csv_state")
    assert {r["StateInfo"] for r in rows} == {"FileSystemRedirected"}


# ---------------------------------------------------------------- persistence


def test_persistence_across_open(tmp_path, clock):
    path = tmp_path / "lab" / "LAB-STRETCH.json"
    first = Lab.open(path, 4, clock=clock)
    assert path.exists()
    run(first, "LAB-A1", "restart_node")

    second = Lab.open(path, 4, clock=clock)
    assert second is not first
    assert second.state.nodes["LAB-A1"].power == "rebooting"
    with pytest.raises(LabUnreachable) as info:
        second.execute("LAB-A1", "get_os_version", {})
    assert info.value.rebooting is True

    clock.advance(second.state.timings.reboot)
    assert run(second, "LAB-A1", "get_os_version")["CurrentBuildNumber"] == 20349
    assert second.state.nodes["LAB-A1"].cluster_state == "Joining"

    # ... and the next timer, saved by the second object, is seen by a third one.
    third = Lab.open(path, 4, clock=clock)
    clock.advance(third.state.timings.cluster_join)
    assert cluster_state(third, "LAB-A1", ask="LAB-B1") == "Up"


def test_open_reset_gives_a_fresh_lab(tmp_path, clock):
    path = tmp_path / "lab.json"
    lab = Lab.open(path, 4, clock=clock)
    run(lab, "LAB-A1", "restart_node")
    fresh = Lab.open(path, 4, clock=clock, reset=True)
    assert fresh.state.nodes["LAB-A1"].power == "on"
    assert fresh.state.timers == []
    # and the reset is saved
    assert Lab.open(path, 4, clock=clock).state.nodes["LAB-A1"].power == "on"


def test_open_with_other_node_count_builds_new_lab(tmp_path, clock):
    path = tmp_path / "lab.json"
    Lab.open(path, 4, clock=clock)
    bigger = Lab.open(path, 8, clock=clock)
    assert len(bigger.state.nodes) == 8


@pytest.mark.parametrize("content", ["{not json", '{"schema_version": 1}', ""])
def test_corrupt_lab_state(tmp_path, clock, content):
    path = tmp_path / "lab.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LabError) as info:
        Lab.open(path, 4, clock=clock)
    message = str(info.value)
    assert str(path) in message
    assert "unreadable" in message and "--lab-reset" in message
    assert path.read_text(encoding="utf-8") == content
