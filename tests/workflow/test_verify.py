"""Phase 7 verification: the pure evaluate() on hand-built observations, and a run on the lab."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from hcitui import ps
from hcitui.cli.context import LAB_CLUSTER, context_for_lab, open_lab
from hcitui.core import model
from hcitui.core.journal import Journal, StepStatus
from hcitui.remote import OperationFailed, TimedOut, Unreachable
from hcitui.workflow import verify
from hcitui.workflow.checks import ChecksReport, Status
from hcitui.workflow.observe import ClusterState
from hcitui.workflow.verify import (
    CLOUD_MANAGEMENT,
    DISKS_HEALTHY,
    NO_STORAGE_JOBS,
    NODE_BUILD,
    NODE_CSV,
    NODE_UP,
    SR_REPLICATING,
    evaluate,
)

NODES = ["HCI-A1", "HCI-A2", "HCI-B1", "HCI-B2"]
VOLUMES = ["SiteA-Data01", "SiteA-Data02", "SiteB-Data01"]


def good_observed(names=NODES) -> ClusterState:
    return ClusterState(
        nodes=[model.ClusterNode(name=n, state="Up", fault_domain=[f"Site:Site{n[4]}"], build_number=25398)
               for n in names],
        groups=[
            model.ClusterGroup(name="Cluster Group", owner_node=names[0], state="Online"),
            model.ClusterGroup(name="Cloud Management", owner_node=names[1], state="Online"),
        ],
        csv=[
            model.CsvState(name=f"Cluster Virtual Disk ({v})", volume_friendly_name=v, node=n,
                           state_info="Direct" if v.startswith("SiteB") else "FileSystemRedirected",
                           file_system_redirected_io_reason="FileSystemReFs")
            for v in VOLUMES for n in names
        ],
        jobs=[],
        disks=[model.VirtualDisk(friendly_name=v, health_status="Healthy", operational_status=["OK"]) for v in VOLUMES],
        sr_groups=[
            model.SRGroup(name="SiteA-Data01-RG", replicas=[
                model.SRReplica(data_volume="C:\\ClusterStorage\\SiteA-Data01",
                                replication_status="ContinuouslyReplicating")]),
            model.SRGroup(name="SiteB-Replica01-RG", replicas=[
                model.SRReplica(data_volume="\\\\?\\Volume{x}\\", replication_status="ContinuouslyReplicating",
                                num_of_bytes_remaining=0)]),
        ],
        per_node={n: {"os": model.OsVersion(current_build_number=25398, ubr=1913, display_version="23H2")}
                  for n in names},
    )


def by_key(results):
    return {(r.name, r.node): r for r in results}


def report_of(results) -> ChecksReport:
    now = datetime.now(UTC)
    return ChecksReport("C", results, now, now, ClusterState())


# ----------------------------------------------------------------- evaluate()


def test_all_good_passes():
    results = evaluate(good_observed(), NODES)
    assert len(results) == len(NODES) * 3 + 4
    assert all(r.status is Status.PASS for r in results), [r for r in results if r.status is not Status.PASS]
    names = [r.name for r in results]
    for check in (*verify.NODE_CHECKS, *verify.CLUSTER_CHECKS):
        assert check in names
    keys = by_key(results)
    assert keys[(NODE_BUILD, "HCI-A1")].reason.startswith("25398.1913")
    assert keys[(CLOUD_MANAGEMENT, None)].reason == "Online on HCI-A2"
    report = report_of(results)
    assert report.passed is True
    assert report.summary() == f"PASSED: {len(results)} pass, 0 fail"


def test_node_paused_fails_mentioning_resume():
    observed = good_observed()
    observed.nodes[1].state = model.NodeState.PAUSED
    results = by_key(evaluate(observed, NODES))
    check = results[(NODE_UP, "HCI-A2")]
    assert check.status is Status.FAIL
    assert "Resume" in check.reason
    assert results[(NODE_UP, "HCI-A1")].status is Status.PASS
    assert report_of(list(results.values())).passed is False


def test_node_down_and_missing():
    observed = good_observed()
    observed.nodes[0].state = model.NodeState.DOWN
    observed.nodes = observed.nodes[:3]  # HCI-B2 is not a member
    results = by_key(evaluate(observed, NODES))
    assert results[(NODE_UP, "HCI-A1")].status is Status.FAIL
    assert "Down" in results[(NODE_UP, "HCI-A1")].reason
    assert results[(NODE_UP, "HCI-B2")].status is Status.FAIL
    assert "not a member" in results[(NODE_UP, "HCI-B2")].reason


def test_old_build_fails():
    observed = good_observed()
    observed.per_node["HCI-B1"]["os"] = model.OsVersion(current_build_number=20349, ubr=2655, display_version="22H2")
    results = by_key(evaluate(observed, NODES))
    check = results[(NODE_BUILD, "HCI-B1")]
    assert check.status is Status.FAIL
    assert "20349.2655" in check.reason and "25398" in check.reason


def test_csv_unavailable_fails_for_that_node_and_names_volume():
    observed = good_observed()
    row = next(r for r in observed.csv if r.node == "HCI-A2" and r.volume_friendly_name == "SiteA-Data02")
    row.state_info = model.CsvStateInfo.UNAVAILABLE
    results = by_key(evaluate(observed, NODES))
    check = results[(NODE_CSV, "HCI-A2")]
    assert check.status is Status.FAIL
    assert "SiteA-Data02" in check.reason
    assert "Unavailable" in check.reason
    for other in ("HCI-A1", "HCI-B1", "HCI-B2"):
        assert results[(NODE_CSV, other)].status is Status.PASS


def test_csv_paused_fails():
    observed = good_observed()
    for row in observed.csv:
        if row.node == "HCI-B2":
            row.state_info = model.CsvStateInfo.PAUSED
    check = by_key(evaluate(observed, NODES))[(NODE_CSV, "HCI-B2")]
    assert check.status is Status.FAIL
    assert "3 of 3" in check.reason


def test_csv_file_system_redirected_rows_pass():
    observed = good_observed()
    for row in observed.csv:
        row.state_info = model.CsvStateInfo.FILE_SYSTEM_REDIRECTED
    results = by_key(evaluate(observed, NODES))
    assert all(results[(NODE_CSV, n)].status is Status.PASS for n in NODES)
    assert results[(NODE_CSV, "HCI-A1")].reason == "3 volumes available"


def test_csv_no_rows_for_node_fails():
    observed = good_observed()
    observed.csv = [r for r in observed.csv if r.node != "HCI-B1"]
    check = by_key(evaluate(observed, NODES))[(NODE_CSV, "HCI-B1")]
    assert check.status is Status.FAIL


def test_sr_initial_block_copy_fails_with_group_name():
    observed = good_observed()
    observed.sr_groups[1].replicas[0].replication_status = model.ReplicationStatus.INITIAL_BLOCK_COPY
    observed.sr_groups[1].replicas[0].num_of_bytes_remaining = 512 * 1024**3
    check = by_key(evaluate(observed, NODES))[(SR_REPLICATING, None)]
    assert check.status is Status.FAIL
    assert "SiteB-Replica01-RG" in check.reason
    assert "InitialBlockCopy" in check.reason
    assert "512.0 GiB left" in check.reason


def test_sr_in_rpo_passes():
    observed = good_observed()
    for group in observed.sr_groups:
        group.replicas[0] = model.SRReplica.model_validate(
            {"DataVolume": "V", "ReplicationStatus": "ContinuouslyReplicating_InRPO"})
    assert by_key(evaluate(observed, NODES))[(SR_REPLICATING, None)].status is Status.PASS


def test_sr_out_of_rpo_and_no_groups():
    observed = good_observed()
    observed.sr_groups[0].replicas[0].replication_status = model.ReplicationStatus.CONTINUOUSLY_REPLICATING_OUT_OF_RPO
    assert by_key(evaluate(observed, NODES))[(SR_REPLICATING, None)].status is Status.FAIL
    observed.sr_groups = []
    assert by_key(evaluate(observed, NODES))[(SR_REPLICATING, None)].status is Status.FAIL
    assert by_key(evaluate(observed, NODES, stretched=False))[(SR_REPLICATING, None)].status is Status.WARN


def test_running_repair_job_fails():
    observed = good_observed()
    observed.jobs = [model.StorageJob(name="Repair", job_state="Running", bytes_processed=1, bytes_total=4)]
    check = by_key(evaluate(observed, NODES))[(NO_STORAGE_JOBS, None)]
    assert check.status is Status.FAIL
    assert "Repair" in check.reason and "25%" in check.reason
    observed.jobs = [model.StorageJob(name="Repair", job_state="Completed", percent_complete=100)]
    assert by_key(evaluate(observed, NODES))[(NO_STORAGE_JOBS, None)].status is Status.PASS


def test_warning_disk_fails():
    observed = good_observed()
    observed.disks[2] = model.VirtualDisk(friendly_name="SiteB-Data01", health_status="Warning",
                                          operational_status=["InService"])
    check = by_key(evaluate(observed, NODES))[(DISKS_HEALTHY, None)]
    assert check.status is Status.FAIL
    assert "SiteB-Data01" in check.reason and "Warning" in check.reason
    observed.disks = []
    assert by_key(evaluate(observed, NODES))[(DISKS_HEALTHY, None)].status is Status.FAIL


def test_cloud_management_missing_or_offline():
    observed = good_observed()
    observed.groups = [g for g in observed.groups if g.name != "Cloud Management"]
    check = by_key(evaluate(observed, NODES))[(CLOUD_MANAGEMENT, None)]
    assert check.status is Status.FAIL
    assert "RepairRegistration" in check.reason
    observed.groups.append(model.ClusterGroup(name="Cloud Management", owner_node="HCI-B1", state="Failed"))
    check = by_key(evaluate(observed, NODES))[(CLOUD_MANAGEMENT, None)]
    assert check.status is Status.FAIL and "Failed" in check.reason


@pytest.mark.parametrize(
    ("field", "checks"),
    [
        ("csv", [(NODE_CSV, n) for n in NODES]),
        ("nodes", [(NODE_UP, n) for n in NODES]),
        ("sr_groups", [(SR_REPLICATING, None)]),
        ("jobs", [(NO_STORAGE_JOBS, None)]),
        ("disks", [(DISKS_HEALTHY, None)]),
        ("groups", [(CLOUD_MANAGEMENT, None)]),
    ],
)
def test_remote_error_makes_checks_unknown(field, checks):
    error = Unreachable("HCI-A1", "get_csv_state", "host unreachable")
    observed = replace(good_observed(), **{field: error})
    results = evaluate(observed, NODES)
    keyed = by_key(results)
    for key in checks:
        assert keyed[key].status is Status.UNKNOWN, key
        assert "host unreachable" in keyed[key].reason
    others = [r for r in results if (r.name, r.node) not in checks]
    assert all(r.status is Status.PASS for r in others)
    assert not any(r.status is Status.PASS for r in results if (r.name, r.node) in checks)
    report = report_of(results)
    assert report.passed is False
    assert report.counts()["unknown"] == len(checks)
    assert f"{len(checks)} unknown" in report.summary()


def test_os_version_errors_and_unread_values_are_unknown():
    observed = good_observed()
    observed.per_node["HCI-B2"]["os"] = TimedOut("HCI-B2", "get_os_version", 30)
    del observed.per_node["HCI-A2"]  # never read
    observed.jobs = None
    keyed = by_key(evaluate(observed, NODES))
    assert keyed[(NODE_BUILD, "HCI-B2")].status is Status.UNKNOWN
    assert "timed out" in keyed[(NODE_BUILD, "HCI-B2")].reason
    assert keyed[(NODE_BUILD, "HCI-A2")].status is Status.UNKNOWN
    assert keyed[(NO_STORAGE_JOBS, None)].status is Status.UNKNOWN
    assert keyed[(NODE_BUILD, "HCI-A1")].status is Status.PASS
    assert report_of(list(keyed.values())).passed is False


def test_report_json_shape():
    report = report_of(evaluate(good_observed(), NODES))
    payload = report.as_json()
    assert set(payload) == {"cluster", "passed", "started", "finished", "checks"}
    assert payload["checks"][0] == {"name": NODE_UP, "node": "HCI-A1", "status": "pass", "reason": "Up"}


# ---------------------------------------------------------- against the lab


class ExecuteRecorder:
    def __init__(self, inner):
        self.inner = inner
        self.operations: list[str] = []

    def __call__(self, node, operation, params):
        self.operations.append(operation)
        return self.inner(node, operation, params)


async def test_run_verification_on_fresh_lab(tmp_path, monkeypatch):
    lab = open_lab(tmp_path, 4)
    recorder = ExecuteRecorder(lab.execute)
    monkeypatch.setattr(lab, "execute", recorder)
    ctx = context_for_lab(lab, read_only=True, state_root=tmp_path)
    assert ctx.read_only and ctx.client.read_only
    assert all(s.read_only for s in ctx.client.sessions.values())
    events = []
    try:
        report = await verify.run_verification(ctx, on_event=events.append)
    finally:
        await ctx.close()

    mutating = {op.name for op in ps.OPERATIONS.values() if op.mutates}
    assert recorder.operations, "the verification read nothing"
    assert not set(recorder.operations) & mutating
    assert sorted(recorder.operations) == sorted(
        [op.name for op in verify.CLUSTER_READS.values()] + ["get_os_version"] * 4)
    records = list(ctx.audit.records())
    assert len(records) == 10 and all(r["mutates"] is False and r["outcome"] == "ok" for r in records)

    failing = [c for c in report.checks if c.status is not Status.PASS]
    assert [(c.name, c.status) for c in failing] == [(NODE_BUILD, Status.FAIL)] * 4
    assert sorted(c.node for c in failing) == ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
    assert report.passed is False
    assert report.cluster == LAB_CLUSTER

    step = ctx.journal.step(verify.PHASE, "verification")
    assert verify.PHASE == 7
    assert step.status is StepStatus.FAILED
    assert step.detail == report.summary() == "NOT PASSED: 12 pass, 4 fail"
    on_disk = Journal.open(tmp_path, LAB_CLUSTER)
    assert on_disk.step(7, "verification").status is StepStatus.FAILED
    assert on_disk.state.last_verification["passed"] is False
    assert len(on_disk.state.last_verification["checks"]) == len(report.checks)
    assert events, "no progress events"


async def test_run_verification_with_unreachable_node(tmp_path):
    lab = open_lab(tmp_path, 4)
    lab.state.faults.unreachable = ["LAB-B2"]
    ctx = context_for_lab(lab, read_only=True, state_root=tmp_path)
    try:
        report = await verify.run_verification(ctx)
    finally:
        await ctx.close()
    keyed = by_key(report.checks)
    assert keyed[(NODE_BUILD, "LAB-B2")].status is Status.UNKNOWN
    assert "unreachable" in keyed[(NODE_BUILD, "LAB-B2")].reason
    for node in ("LAB-A1", "LAB-A2", "LAB-B1"):
        assert keyed[(NODE_BUILD, node)].status is Status.FAIL
        assert keyed[(NODE_UP, node)].status is Status.PASS
        assert keyed[(NODE_CSV, node)].status is Status.PASS
    assert keyed[(SR_REPLICATING, None)].status is Status.PASS
    assert report.passed is False
    outcomes = [r["outcome"] for r in ctx.audit.records() if r["node"] == "LAB-B2"]
    assert outcomes == ["unreachable"]


async def test_run_verification_all_nodes_unreachable_is_unknown_not_pass(tmp_path):
    lab = open_lab(tmp_path, 4)
    lab.state.faults.unreachable = list(lab.state.nodes)
    ctx = context_for_lab(lab, read_only=True, state_root=tmp_path)
    try:
        report = await verify.run_verification(ctx)
    finally:
        await ctx.close()
    assert all(c.status is Status.UNKNOWN for c in report.checks)
    assert report.passed is False
    assert ctx.journal.step(7, "verification").status is StepStatus.FAILED


async def test_run_verification_after_upgrade_passes(tmp_path):
    lab = open_lab(tmp_path, 4)
    for node in lab.state.nodes.values():
        node.build, node.ubr, node.display_version = 25398, 1913, "23H2"
    ctx = context_for_lab(lab, read_only=True, state_root=tmp_path)
    try:
        report = await verify.run_verification(ctx)
    finally:
        await ctx.close()
    assert report.passed is True, [c for c in report.checks if c.status is not Status.PASS]
    assert ctx.journal.step(7, "verification").status is StepStatus.DONE


def test_operation_failed_is_remote_error_in_evaluate():
    observed = good_observed()
    observed.disks = OperationFailed("HCI-A1", "get_virtual_disks", "Access is denied")
    check = by_key(evaluate(observed, NODES))[(DISKS_HEALTHY, None)]
    assert check.status is Status.UNKNOWN
    assert check.reason == "could not read: Access is denied"


async def test_verification_while_a_node_is_joining_reads_from_the_others(tmp_path, clock):
    from hcitui.lab import Lab

    lab = Lab.create(4, clock=clock)
    lab.execute("LAB-A1", "restart_node", {})
    clock.advance(lab.state.timings.reboot)
    lab.execute("LAB-A1", "get_os_version", {})
    assert lab.state.nodes["LAB-A1"].cluster_state == "Joining"
    ctx = context_for_lab(lab, read_only=True, state_root=tmp_path)
    try:
        report = await verify.run_verification(ctx)
    finally:
        await ctx.close()
    keyed = by_key(report.checks)
    assert keyed[(NODE_UP, "LAB-A1")].status is Status.FAIL  # Joining, as read from another node
    assert keyed[(NODE_UP, "LAB-B1")].status is Status.PASS
    assert keyed[(SR_REPLICATING, None)].status is not Status.UNKNOWN
