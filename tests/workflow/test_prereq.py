"""Phase 0 prerequisites: the pure evaluate() on hand-built state, a run on the lab, and the `prereq` step."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hcitui import ps
from hcitui.cli.context import LAB_CLUSTER, context_for_lab, open_lab
from hcitui.cli.main import main
from hcitui.core import model
from hcitui.core.journal import Journal, StepStatus
from hcitui.remote import OperationFailed, TimedOut, Unreachable
from hcitui.workflow import prereq
from hcitui.workflow.observe import ClusterState
from hcitui.workflow.prereq import (
    CAU_ROLE,
    CLOUD_MANAGEMENT,
    CONNECTED,
    ISO_PART,
    ISO_PRESENT,
    NODE_BUILD,
    NODE_UP,
    REGISTERED,
    SECURE_BOOT,
    STORAGE_QUIET,
    VMS_STOPPED,
    PrereqReport,
    evaluate,
)
from hcitui.workflow.verify import CheckResult, Status
from support import lab_in_process as in_process

NODES = ["HCI-A1", "HCI-A2", "HCI-B1", "HCI-B2"]
ISO = r"C:\ISO\AzureLocal-2509-25398.iso"
LAB_NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]


def good_state(names=NODES) -> ClusterState:
    """A cluster ready for the upgrade: every check passes."""
    return ClusterState(
        nodes=[model.ClusterNode(name=n, state="Up", fault_domain=[f"Site:Site{n[4]}"], build_number=20349)
               for n in names],
        groups=[
            model.ClusterGroup(name="Cluster Group", owner_node=names[0], state="Online"),
            model.ClusterGroup(name="Cloud Management", owner_node=names[1], state="Online"),
        ],
        jobs=[],
        disks=[model.VirtualDisk(friendly_name=v, health_status="Healthy", operational_status=["OK"])
               for v in ("SiteA-Data01", "SiteB-Data01")],
        sr_groups=[
            model.SRGroup(name="SiteA-Data01-RG", replicas=[
                model.SRReplica(data_volume="C:\\ClusterStorage\\SiteA-Data01",
                                replication_status="ContinuouslyReplicating")]),
            model.SRGroup(name="SiteB-Replica01-RG", replicas=[
                model.SRReplica(data_volume="\\\\?\\Volume{x}\\", replication_status="ContinuouslyReplicating_InRPO")]),
        ],
        cau_role=model.CauClusterRole(present=True, online=True, self_updating_enabled=False),
        per_node={n: {
            "os": model.OsVersion(current_build_number=20349, ubr=2655, display_version="22H2"),
            "registration": model.AzureRegistration(registration_status="Registered", connection_status="Connected"),
            "secure_boot": model.SecureBoot(state="On"),
            "vms": model.VmSummary(total=2, running=0),
            ISO_PART: model.PathInfo(path=ISO, exists=True, is_container=False, length=6 * 1024**3),
        } for n in names},
    )


def by_key(results):
    return {(r.name, r.node): r for r in results}


def report_of(results) -> PrereqReport:
    now = datetime.now(UTC)
    return PrereqReport("C", results, now, now, ClusterState())


def one(state, name, node=None, iso=ISO, **kw) -> CheckResult:
    return by_key(evaluate(state, NODES, iso, **kw))[(name, node)]


# ----------------------------------------------------------------- evaluate()


def test_all_good_passes_with_every_check():
    results = evaluate(good_state(), NODES, ISO)
    assert len(results) == len(NODES) * len(prereq.NODE_CHECKS) + len(prereq.CLUSTER_CHECKS)
    assert all(r.status is Status.PASS for r in results), [r for r in results if r.status is not Status.PASS]
    assert [r.name for r in results[:7]] == list(prereq.NODE_CHECKS)
    assert [r.name for r in results[-3:]] == list(prereq.CLUSTER_CHECKS)
    keys = by_key(results)
    assert keys[(NODE_BUILD, "HCI-A1")].reason == "20349.2655 (22H2)"
    assert keys[(ISO_PRESENT, "HCI-B2")].reason.startswith("6.0 GiB")
    assert keys[(CLOUD_MANAGEMENT, None)].reason == "Online on HCI-A2"
    assert keys[(CAU_ROLE, None)].remediation is None  # self-updating disabled: nothing to do
    report = report_of(results)
    assert report.passed is True
    assert report.summary() == "PASSED"


def test_node_up_branches():
    state = good_state()
    state.nodes[1].state = model.NodeState.PAUSED
    state.nodes[2].state = model.NodeState.DOWN
    state.nodes = state.nodes[:3]  # HCI-B2 is not a member
    keys = by_key(evaluate(state, NODES, ISO))
    assert keys[(NODE_UP, "HCI-A1")].status is Status.PASS
    paused = keys[(NODE_UP, "HCI-A2")]
    assert paused.status is Status.FAIL and "Resume-ClusterNode -Name HCI-A2 -Failback Immediate" in paused.remediation
    down = keys[(NODE_UP, "HCI-B1")]
    assert down.status is Status.FAIL and "Down" in down.reason and down.remediation
    missing = keys[(NODE_UP, "HCI-B2")]
    assert missing.status is Status.FAIL and "not a member" in missing.reason


def test_os_build_branches():
    state = good_state()
    state.per_node["HCI-A2"]["os"] = model.OsVersion(current_build_number=25398, ubr=1913, display_version="23H2")
    state.per_node["HCI-B1"]["os"] = model.OsVersion(current_build_number=17763, ubr=1, display_version="1809")
    keys = by_key(evaluate(state, NODES, ISO))
    assert keys[(NODE_BUILD, "HCI-A1")].status is Status.PASS
    already = keys[(NODE_BUILD, "HCI-A2")]
    assert already.status is Status.WARN and "already on 23H2" in already.reason and already.remediation
    other = keys[(NODE_BUILD, "HCI-B1")]
    assert other.status is Status.FAIL
    assert "17763.1" in other.reason and "20349" in other.reason and other.remediation
    assert report_of(list(keys.values())).passed is False


def test_registration_and_connection_branches():
    state = good_state()
    state.per_node["HCI-A2"]["registration"] = model.AzureRegistration(registration_status="NotYet",
                                                                       connection_status="NotYet")
    state.per_node["HCI-B1"]["registration"] = model.AzureRegistration(registration_status="OutOfPolicy",
                                                                       connection_status="Disconnected")
    state.per_node["HCI-B2"]["registration"] = model.AzureRegistration(registration_status="Registered",
                                                                       connection_status="Disconnected")
    keys = by_key(evaluate(state, NODES, ISO))
    assert keys[(REGISTERED, "HCI-A1")].status is Status.PASS
    assert keys[(CONNECTED, "HCI-A1")].status is Status.PASS
    not_yet = keys[(REGISTERED, "HCI-A2")]
    assert not_yet.status is Status.FAIL and "NotYet" in not_yet.reason and "Register-AzStackHCI" in not_yet.remediation
    out = keys[(REGISTERED, "HCI-B1")]
    assert out.status is Status.FAIL and "OutOfPolicy" in out.reason and "Sync-AzureStackHCI" in out.remediation
    assert keys[(REGISTERED, "HCI-B2")].status is Status.PASS
    disconnected = keys[(CONNECTED, "HCI-B2")]
    assert disconnected.status is Status.WARN and "Disconnected" in disconnected.reason and disconnected.remediation
    # A registered node that is only disconnected warns: it does not block on its own.
    state = good_state()
    state.per_node["HCI-B2"]["registration"] = model.AzureRegistration(registration_status="Registered",
                                                                       connection_status="Disconnected")
    assert report_of(evaluate(state, NODES, ISO)).passed is True


@pytest.mark.parametrize(("value", "status"), [("On", Status.PASS), ("Off", Status.WARN),
                                               ("NotSupported", Status.WARN), ("Unknown", Status.UNKNOWN)])
def test_secure_boot_warns_never_fails(value, status):
    state = good_state()
    state.per_node["HCI-A1"]["secure_boot"] = model.SecureBoot(state=value, detail="Access was denied")
    results = evaluate(state, NODES, ISO)
    check = by_key(results)[(SECURE_BOOT, "HCI-A1")]
    assert check.status is status
    if status is Status.WARN:
        assert "recommended, not required" in check.remediation
        assert report_of(results).passed is True  # recommended, not required: it does not block
    if status is Status.UNKNOWN:
        assert "Access was denied" in check.reason
        assert report_of(results).passed is False


def test_running_vms_warn_naming_up_to_three():
    state = good_state()
    state.per_node["HCI-A1"]["vms"] = model.VmSummary(total=5, running=5, running_names=[f"VM-{i}" for i in range(5)])
    state.per_node["HCI-A2"]["vms"] = model.VmSummary(total=1, running=1, running_names=["VM-X"])
    results = evaluate(state, NODES, ISO)
    keys = by_key(results)
    many = keys[(VMS_STOPPED, "HCI-A1")]
    assert many.status is Status.WARN
    assert "VM-0, VM-1, VM-2 and 2 more" in many.reason and "VM-3" not in many.reason
    assert many.remediation == "shut down VMs before the OS upgrade (recommended)"
    assert keys[(VMS_STOPPED, "HCI-A2")].reason == "1 running: VM-X"
    assert keys[(VMS_STOPPED, "HCI-B1")].status is Status.PASS
    report = report_of(results)
    assert report.passed is True  # warn, do not block
    assert report.summary() == "PASSED with 2 warnings"


def test_cloud_management_missing_gives_the_repair_registration_condition():
    state = good_state()
    state.groups = [g for g in state.groups if g.name != "Cloud Management"]
    check = one(state, CLOUD_MANAGEMENT)
    assert check.status is Status.FAIL and "missing" in check.reason
    assert "Register-AzStackHCI" in check.remediation and "-RepairRegistration" in check.remediation
    assert "not SystemAssigned" in check.remediation and "missing" in check.remediation
    state.groups.append(model.ClusterGroup(name="Cloud Management", owner_node="HCI-B1", state="Failed"))
    check = one(state, CLOUD_MANAGEMENT)
    assert check.status is Status.FAIL and "Failed on HCI-B1" in check.reason
    assert "RepairRegistration" not in check.remediation and "Start-ClusterGroup" in check.remediation


def test_cau_role_branches():
    state = good_state()
    state.cau_role = model.CauClusterRole(present=False, reason="The cluster 'C' is not configured with a "
                                                                 "Cluster-Aware Updating clustered role.")
    absent = one(state, CAU_ROLE)
    assert absent.status is Status.FAIL and "not configured" in absent.reason
    assert "Add-CauClusterRole" in absent.remediation
    state.cau_role = model.CauClusterRole(present=True, online=True, self_updating_enabled=True)
    enabled = one(state, CAU_ROLE)
    assert enabled.status is Status.PASS and "self-updating enabled" in enabled.reason
    assert "Disable-CauClusterRole" in enabled.remediation and "manual" in enabled.remediation
    state.cau_role = model.CauClusterRole(present=True, online=False, self_updating_enabled=True)
    offline = one(state, CAU_ROLE)
    assert offline.status is Status.WARN and "not Online" in offline.reason
    assert "Disable-CauClusterRole" in offline.remediation


def test_storage_not_quiet_fails_naming_what():
    state = good_state()
    state.jobs = [model.StorageJob(name="Repair", job_state="Running", bytes_processed=1, bytes_total=4)]
    check = one(state, STORAGE_QUIET)
    assert check.status is Status.FAIL and "Repair job Running 25%" in check.reason and check.remediation
    state = good_state()
    state.disks[1] = model.VirtualDisk(friendly_name="SiteB-Data01", health_status="Warning")
    check = one(state, STORAGE_QUIET)
    assert check.status is Status.FAIL and "SiteB-Data01 Warning" in check.reason
    state = good_state()
    state.sr_groups[0].replicas[0].replication_status = model.ReplicationStatus.INITIAL_BLOCK_COPY
    check = one(state, STORAGE_QUIET)
    assert check.status is Status.FAIL and "SiteA-Data01-RG InitialBlockCopy" in check.reason
    state = good_state()
    state.jobs = [model.StorageJob(name="Repair", job_state="Completed", percent_complete=100)]
    assert one(state, STORAGE_QUIET).status is Status.PASS


def test_storage_without_sr_groups():
    state = good_state()
    state.sr_groups = []
    stretched = one(state, STORAGE_QUIET, stretched=True)
    assert stretched.status is Status.WARN and "no Storage Replica groups" in stretched.reason
    assert one(state, STORAGE_QUIET, stretched=False).status is Status.PASS


def test_storage_unreadable_is_unknown_and_a_known_problem_still_fails():
    state = good_state()
    state.sr_groups = Unreachable("HCI-A1", "get_sr_groups", "host unreachable")
    check = one(state, STORAGE_QUIET)
    assert check.status is Status.UNKNOWN and "host unreachable" in check.reason
    state.jobs = [model.StorageJob(name="Repair", job_state="Running", percent_complete=50)]
    assert one(state, STORAGE_QUIET).status is Status.FAIL


def test_iso_branches():
    state = good_state()
    state.per_node["HCI-A2"][ISO_PART] = model.PathInfo(path=ISO, exists=False)
    state.per_node["HCI-B1"][ISO_PART] = model.PathInfo(path=ISO, exists=True, is_container=True)
    state.per_node["HCI-B2"][ISO_PART] = model.PathInfo(path=ISO, exists=True, is_container=False, length=123)
    keys = by_key(evaluate(state, NODES, ISO))
    assert keys[(ISO_PRESENT, "HCI-A1")].status is Status.PASS
    missing = keys[(ISO_PRESENT, "HCI-A2")]
    assert missing.status is Status.FAIL and ISO in missing.reason
    assert missing.remediation == "stage the ISO (it copies it to the nodes)"
    folder = keys[(ISO_PRESENT, "HCI-B1")]
    assert folder.status is Status.FAIL and "folder" in folder.reason
    small = keys[(ISO_PRESENT, "HCI-B2")]
    assert small.status is Status.PASS and small.reason.startswith("123 B")


def test_no_iso_path_warns_on_every_node():
    results = evaluate(good_state(), NODES, None)
    iso_checks = [r for r in results if r.name == ISO_PRESENT]
    assert len(iso_checks) == 4
    assert all(r.status is Status.WARN and r.reason == "no iso_path in the config" for r in iso_checks)
    assert all("iso_path" in r.remediation for r in iso_checks)
    assert report_of(results).passed is True


@pytest.mark.parametrize(
    ("field", "checks"),
    [
        ("nodes", [(NODE_UP, n) for n in NODES]),
        ("groups", [(CLOUD_MANAGEMENT, None)]),
        ("cau_role", [(CAU_ROLE, None)]),
        ("jobs", [(STORAGE_QUIET, None)]),
        ("disks", [(STORAGE_QUIET, None)]),
        ("sr_groups", [(STORAGE_QUIET, None)]),
    ],
)
def test_cluster_part_unreadable_is_unknown(field, checks):
    error = TimedOut("HCI-A1", "read", 30)
    results = evaluate(replace(good_state(), **{field: error}), NODES, ISO)
    keyed = by_key(results)
    for key in checks:
        assert keyed[key].status is Status.UNKNOWN, key
        assert "timed out" in keyed[key].reason
    assert all(r.status is Status.PASS for r in results if (r.name, r.node) not in checks)
    report = report_of(results)
    assert report.passed is False
    assert f"{len(checks)} unknown" in report.summary()


@pytest.mark.parametrize(
    ("part", "names"),
    [
        ("os", [NODE_BUILD]),
        ("registration", [REGISTERED, CONNECTED]),
        ("secure_boot", [SECURE_BOOT]),
        ("vms", [VMS_STOPPED]),
        (ISO_PART, [ISO_PRESENT]),
    ],
)
def test_node_part_unreadable_or_unread_is_unknown(part, names):
    state = good_state()
    state.per_node["HCI-B2"][part] = OperationFailed("HCI-B2", "read", "Access is denied")
    del state.per_node["HCI-A2"][part]  # never read
    results = evaluate(state, NODES, ISO)
    keyed = by_key(results)
    for name in names:
        assert keyed[(name, "HCI-B2")].status is Status.UNKNOWN
        assert keyed[(name, "HCI-B2")].reason == "could not read: Access is denied"
        assert keyed[(name, "HCI-A2")].status is Status.UNKNOWN
        assert keyed[(name, "HCI-A1")].status is Status.PASS
    assert report_of(results).passed is False


def test_report_json_carries_remediation_only_when_set():
    state = good_state()
    state.per_node["HCI-A2"][ISO_PART] = model.PathInfo(path=ISO, exists=False)
    payload = report_of(evaluate(state, NODES, ISO)).as_json()
    assert set(payload) == {"cluster", "passed", "started", "finished", "checks"}
    assert payload["passed"] is False
    assert payload["checks"][0] == {"name": NODE_UP, "node": "HCI-A1", "status": "pass", "reason": "Up"}
    iso = next(c for c in payload["checks"] if c["name"] == ISO_PRESENT and c["node"] == "HCI-A2")
    assert iso["status"] == "fail" and iso["remediation"] == "stage the ISO (it copies it to the nodes)"


def test_report_summary_not_passed():
    results = [CheckResult("a", None, Status.PASS, ""), CheckResult("b", None, Status.FAIL, ""),
               CheckResult("c", None, Status.WARN, ""), CheckResult("d", None, Status.UNKNOWN, "")]
    assert report_of(results).summary() == "NOT PASSED: 1 pass, 1 fail, 1 unknown, 1 warn"
    assert report_of(results[2:3]).summary() == "PASSED with 1 warning"


# ---------------------------------------------------------- against the lab


class ExecuteRecorder:
    def __init__(self, inner):
        self.inner = inner
        self.calls: list[tuple[str, str, dict]] = []

    def __call__(self, node, operation, params):
        self.calls.append((node, operation, dict(params)))
        return self.inner(node, operation, params)


async def run_on(lab, tmp_path, *, read_only=True):
    ctx = context_for_lab(lab, read_only=read_only, state_root=tmp_path)
    events = []
    try:
        report = await prereq.run_prerequisites(ctx, on_event=events.append)
    finally:
        await ctx.close()
    return report, ctx, events


async def test_fresh_lab_fails_only_on_the_iso_of_the_last_node(tmp_path, monkeypatch):
    lab = open_lab(tmp_path, 4)
    recorder = ExecuteRecorder(lab.execute)
    monkeypatch.setattr(lab, "execute", recorder)
    report, ctx, events = await run_on(lab, tmp_path)

    not_pass = {(c.name, c.node): c.status for c in report.checks if c.status is not Status.PASS}
    assert not_pass == {(ISO_PRESENT, "LAB-B2"): Status.FAIL,
                        **{(VMS_STOPPED, n): Status.WARN for n in LAB_NODES}}
    keyed = by_key(report.checks)
    assert keyed[(ISO_PRESENT, "LAB-B2")].remediation == "stage the ISO (it copies it to the nodes)"
    assert "VM-A01" in keyed[(VMS_STOPPED, "LAB-A1")].reason
    assert report.passed is False
    assert report.cluster == LAB_CLUSTER
    assert events, "no progress events"

    # Read-only: nothing mutating was sent, and exactly the declared reads ran.
    mutating = {op.name for op in ps.OPERATIONS.values() if op.mutates}
    operations = [op for _, op, _ in recorder.calls]
    assert not set(operations) & mutating
    expected = [op.name for op in prereq.CLUSTER_READS.values()] + [
        op.name for op in (*prereq.NODE_READS, prereq.ISO_READ) for _ in LAB_NODES]
    assert sorted(operations) == sorted(expected)
    assert {params["Path"] for _, op, params in recorder.calls if op == "get_path_info"} == {lab.state.iso_path}
    records = list(ctx.audit.records())
    assert len(records) == len(expected)
    assert all(r["mutates"] is False and r["outcome"] == "ok" for r in records)

    # The journal: phase 0, step "prerequisites", failed with the summary.
    step = ctx.journal.step(prereq.PHASE, "prerequisites")
    assert prereq.PHASE == 0
    assert step.status is StepStatus.FAILED
    assert step.detail == report.summary() == "NOT PASSED: 26 pass, 1 fail, 4 warn"
    assert Journal.open(tmp_path, LAB_CLUSTER).step(0, "prerequisites").status is StepStatus.FAILED


async def test_lab_with_the_iso_everywhere_passes_with_warnings(tmp_path):
    lab = open_lab(tmp_path, 4)
    lab.state.nodes["LAB-B2"].files[lab.state.iso_path] = 123
    report, ctx, _ = await run_on(lab, tmp_path)
    assert report.passed is True, [c for c in report.checks if c.status not in (Status.PASS, Status.WARN)]
    assert {c.status for c in report.checks} == {Status.PASS, Status.WARN}
    assert report.summary() == "PASSED with 4 warnings"
    step = ctx.journal.step(0, "prerequisites")
    assert step.status is StepStatus.DONE and step.detail == "PASSED with 4 warnings"


async def test_lab_unreachable_node_is_unknown_not_pass(tmp_path):
    lab = open_lab(tmp_path, 4)
    lab.state.nodes["LAB-B2"].files[lab.state.iso_path] = 123
    lab.state.faults.unreachable = ["LAB-B2"]
    report, ctx, _ = await run_on(lab, tmp_path)
    keyed = by_key(report.checks)
    for name in (NODE_BUILD, REGISTERED, CONNECTED, SECURE_BOOT, VMS_STOPPED, ISO_PRESENT):
        assert keyed[(name, "LAB-B2")].status is Status.UNKNOWN, name
        assert "unreachable" in keyed[(name, "LAB-B2")].reason
    assert keyed[(NODE_BUILD, "LAB-A1")].status is Status.PASS
    assert keyed[(STORAGE_QUIET, None)].status is Status.PASS  # read on a node that answers
    assert report.passed is False
    assert ctx.journal.step(0, "prerequisites").status is StepStatus.FAILED
    # The node's first read failed: the others were not tried against a node that is gone.
    assert [r["operation"] for r in ctx.audit.records() if r["node"] == "LAB-B2"] == ["get_os_version"]


async def test_lab_without_iso_path_warns_and_reads_no_path(tmp_path, monkeypatch):
    lab = open_lab(tmp_path, 4)
    recorder = ExecuteRecorder(lab.execute)
    monkeypatch.setattr(lab, "execute", recorder)
    ctx = context_for_lab(lab, read_only=True, state_root=tmp_path)
    ctx.cluster = ctx.cluster.model_copy(update={"iso_path": None})
    try:
        report = await prereq.run_prerequisites(ctx)
    finally:
        await ctx.close()
    assert "get_path_info" not in [op for _, op, _ in recorder.calls]
    iso_checks = [c for c in report.checks if c.name == ISO_PRESENT]
    assert [c.status for c in iso_checks] == [Status.WARN] * 4
    assert report.passed is True


# ------------------------------------------------------------------ the step


@pytest.fixture
def lab_in_process(monkeypatch):
    """--lab in process (as tests/test_cli.py does): these tests are about the step, not the carrier."""
    in_process(monkeypatch)


def audit_lines(state_home: Path) -> list[dict]:
    """Every record, changes and reads (kept in two files), oldest first."""
    from hcitui.core.audit import AuditLog

    return list(AuditLog(state_home / "clusters" / LAB_CLUSTER / "audit.jsonl").records())


def run_json(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_cli_prereq_json_on_fresh_lab(capsys, state_home, lab_in_process):
    code, payload, err = run_json(capsys, ["--lab", "prereq", "--json"])
    assert code == 1
    assert set(payload) == {"cluster", "passed", "started", "finished", "checks"}
    assert payload["cluster"] == LAB_CLUSTER and payload["passed"] is False
    for check in payload["checks"]:
        assert {"name", "node", "status", "reason"} <= set(check) <= {"name", "node", "status", "reason", "remediation"}
        assert check["status"] in ("pass", "warn", "fail", "unknown")
    failing = [(c["name"], c["node"]) for c in payload["checks"] if c["status"] == "fail"]
    assert failing == [(ISO_PRESENT, "LAB-B2")]
    iso = next(c for c in payload["checks"] if c["status"] == "fail")
    assert iso["remediation"] == "stage the ISO (it copies it to the nodes)"
    assert "Traceback" not in err and "LAB-B2" in err  # progress goes to stderr with --json
    records = audit_lines(state_home)
    assert len(records) == len(prereq.CLUSTER_READS) + (len(prereq.NODE_READS) + 1) * 4
    assert all(r["mutates"] is False for r in records)


def test_cli_prereq_one_node_passes_with_warnings(capsys, lab_in_process):
    code, payload, _ = run_json(capsys, ["--lab", "prereq", "--node", "LAB-A1", "--json"])
    assert code == 0
    assert payload["passed"] is True
    assert {c["node"] for c in payload["checks"]} == {"LAB-A1", None}
    assert {c["status"] for c in payload["checks"]} == {"pass", "warn"}


def test_cli_prereq_text_output(capsys, lab_in_process):
    assert main(["--lab", "prereq"]) == 1
    out = capsys.readouterr().out
    assert "NOT PASSED: 26 pass, 1 fail, 4 warn" in out
    for word in ("PASS ", "WARN ", "FAIL "):
        assert word in out
    assert "fix: stage the ISO (it copies it to the nodes)" in out


def test_cli_prereq_dry_run_runs_nothing(capsys, state_home, lab_in_process):
    assert main(["--lab", "prereq", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Get-AzureStackHCI" in out and "Get-CauClusterRole" in out and "Confirm-SecureBootUEFI" in out
    for node in LAB_NODES:
        assert f"# get_path_info (read-only) on {node}" in out
    assert "-Path 'C:\\ISO\\AzureLocal-2509-25398.iso'" in out
    assert audit_lines(state_home) == []


def test_cli_prereq_unknown_node_is_usage_error(capsys, lab_in_process):
    assert main(["--lab", "prereq", "--node", "NOPE"]) == 2
    assert "NOPE" in capsys.readouterr().err
