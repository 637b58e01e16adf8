"""A CAU run that fails explains itself (per node: the operation, the error's text, the remedy) from
Get-CauReport -Detailed, the earlier failed run of a series that ends Canceled included; where a run is
(node 2 of 4) and when it should end, from this run's nodes or the journal's earlier runs; and the audit
log's record of enabling remoting when the WinRM restart dropped the call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hcitui.cli import context as wiring
from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.lab.state import LabCauResult, LabCauRun, LabCauStatus, StagedMedia
from hcitui.ps import cau as cau_ops
from hcitui.workflow import cau, eta
from hcitui.workflow.cau import failure
from hcitui.workflow.steps import StepFailed
from support import earlier_phases

GUARD = 90
NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
T0 = datetime(2026, 4, 28, 0, 20, 5, tzinfo=UTC)


def fast(lab) -> None:
    t = lab.state.timings
    t.reboot, t.cluster_join, t.repair, t.drain_step = 0.3, 0.2, 0.3, 0.02
    t.os_install, t.test_cluster, t.cau_stage, t.cau_orchestrator_move = 0.2, 0.2, 0.05, 0.15


def make_ctx(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    fast(lab)
    for node in lab.state.nodes.values():
        node.vid_parameters_key, node.skip_small_local_allocations = True, 0
        node.staged[lab.state.staging_path] = StagedMedia(file_count=1187, total_bytes=6174015488)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    ctx.poll = 0.05
    return lab, ctx


def result(node, status, error=None, installs=()):
    return cau_ops.CauReportNodeResult(node=node, status=status, error_record_data=error,
                                       failed_installs=[cau_ops.CauFailedInstall(**i) for i in installs])


# ---------------------------------------------------------------- explaining (pure)


def test_a_failed_install_names_the_update_the_error_and_its_code():
    rows = [result("LAB-A1", "Succeeded"),
            result("LAB-A2", "Failed", "System.Management.Automation.RemoteException: The requested operation "
                                       "cannot be completed because a resource has locked status.",
                   [{"update_title": "2024-11 Cumulative Update (KB5046616)", "update_id": "7f3b",
                     "error_code": "-2146498270"}])]
    why = cau.explain("LAB-STRETCH", "0123456789", rows, locked=True)
    assert why.headline.startswith("run 01234567 ended RunFailed: the cluster stays locked")
    [only] = why.failures
    assert only.node == "LAB-A2" and only.operation == "install 2024-11 Cumulative Update (KB5046616)"
    # The exception's type is dropped; the install's HRESULT is written as Windows writes it.
    assert only.error == ("The requested operation cannot be completed because a resource has locked status. "
                          "(0x800F0922)")
    assert only.remedy == Remedy(action=Action.CAU_RECOVER)  # locked: recover first


def test_the_operation_comes_from_the_command_the_error_names_else_the_stage_it_failed_in():
    rows = [result("LAB-A1", "Failed", "Suspend-ClusterNode : The node 'LAB-A1' could not be drained."),
            result("LAB-B1", "PartiallyFailed", "Access is denied."),
            result("LAB-B2", "Failed")]
    why = cau.explain("C", "r", rows, locked=False, stages={"LAB-B1": "Restarting"})
    ops = {f.node: (f.operation, f.error) for f in why.failures}
    assert ops["LAB-A1"] == ("Suspend-ClusterNode", "The node 'LAB-A1' could not be drained.")
    assert ops["LAB-B1"] == ("CAU Restarting", "Access is denied.")
    assert ops["LAB-B2"] == ("the node's update", "Failed, with no error recorded")
    assert all(f.remedy is not None and f.remedy.action is None and "start the run again" in f.remedy.text
               for f in why.failures)  # not locked: nothing to recover


def test_a_series_that_ends_canceled_is_explained_by_its_first_failed_run():
    cause = cau_ops.CauReportRun(run_id="f1rst-run", run_start_time=T0, status="PartiallyFailed",
                                 node_results=[result("LAB-B2", "Failed", "System.Exception: disk is full")])
    report = cau_ops.CauReportDetail(run_id="th1rd-run", status="Canceled", cause=cause,
                                     node_results=[result("LAB-A1", "Canceled")])
    why = cau.explain("C", "th1rd-run", report.node_results, locked=False, report=report)
    assert "ended Canceled; the series began with run f1rst-ru" in why.headline
    assert "which ended PartiallyFailed (Get-CauReport -Detailed)" in why.headline
    assert [(f.node, f.error) for f in why.failures] == [("LAB-B2", "disk is full")]
    # hcitui's own stop ended it: no earlier failure is blamed.
    stopped = cau.explain("C", "th1rd-run", report.node_results, locked=False, report=report, stopped_here=True)
    assert stopped.failures == () and "stopped on request" in stopped.headline


def test_error_codes_read_in_any_form_are_written_as_hresults():
    assert failure.error_code("-2146498270") == "0x800F0922"
    assert failure.error_code("2148469026") == "0x800F0922"
    assert failure.error_code("0x800f0922") == "0x800F0922"
    assert failure.error_code("E_FAIL") == "E_FAIL" and failure.error_code(None) == ""


# ---------------------------------------------------------------- the lab's report


def _lab_run(run_id, started, outcome, results, statuses=()):
    return LabCauRun(run_id=run_id, plugin="WindowsUpdate", started=started, finished=started + 60, outcome=outcome,
                     state="RunNotInProgress", order=NODES,
                     results=[LabCauResult(node=n, status=s, error=e) for n, s, e in results],
                     statuses=[LabCauStatus(node=n, status=s, timestamp=started + i) for i, (n, s) in
                               enumerate(statuses)])


def test_the_labs_report_gives_the_failed_install_and_the_series_first_failure(lab):
    now = lab.now
    failed = _lab_run("run-1", now - 3000, "Failed", [("LAB-A1", "Succeeded", None),
                                                      ("LAB-A2", "Failed", "System.Management.Automation."
                                                       "RemoteException: Installing failed with error 0x800F0922")],
                      [("LAB-A2", "Suspending"), ("LAB-A2", "Installing"), ("LAB-A2", "Failed")])
    canceled = [_lab_run(f"run-{i}", now - 2000 + i, "Canceled", [("LAB-A1", "Canceled", "canceled")])
                for i in (2, 3)]
    lab.state.cau.reports = [failed]
    first = cau_ops.get_cau_report.parse_result(lab.execute("LAB-A1", "get_cau_report", {}))
    node = next(r for r in first.node_results if r.node == "LAB-A2")
    assert node.error_record_data.startswith("System.Management.Automation.RemoteException: Installing")
    assert [(i.update_id, i.error_code) for i in node.failed_installs] == [("7f3b0d2e-2411-4616-a349-203495046616",
                                                                           signed_hresult())]
    assert first.cause is None
    lab.state.cau.reports = [failed, *canceled]
    last = cau_ops.get_cau_report.parse_result(lab.execute("LAB-A1", "get_cau_report", {}))
    assert last.run_id == "run-3" and last.status == "Canceled"
    assert last.cause is not None and last.cause.run_id == "run-1" and last.cause.status == "Failed"


def signed_hresult() -> str:
    return str(0x800F0922 - 2**32)  # the signed HRESULT, as [string] writes an int


async def test_a_failed_run_is_explained_from_the_detailed_report(tmp_path):
    lab, ctx = make_ctx(tmp_path)
    await earlier_phases(ctx, lab)
    lab.state.faults.cau_fail_node = "LAB-A2"
    await asyncio.wait_for(cau.start(ctx, cau.RunOptions(max_failed_nodes=0, max_retries_per_node=0)), GUARD)
    watch = cau.RunWatch()
    try:
        await asyncio.wait_for(cau.monitor(ctx, watch=watch), GUARD)
    except StepFailed as exc:
        failed = exc
    else:
        raise AssertionError("the run did not fail")
    why = watch.explanation
    assert why is not None and "RunFailed" in why.headline and "Get-CauReport -Detailed" in why.headline
    [only] = why.failures
    assert only.node == "LAB-A2"
    assert only.operation == "install Azure Stack HCI 23H2 (25398) feature update"
    assert "failed on LAB-A2 with error 0x800F0922" in only.error and "RemoteException" not in only.error
    assert only.remedy == Remedy(action=Action.CAU_RECOVER)
    assert "LAB-A2 Failed: The installation failed" in failed.message  # the error's own words, in the sentence too
    # The node CAU gave up on was drained for the install, and left in service.
    assert all(n.cluster_state == "Up" for n in lab.state.nodes.values())


# ---------------------------------------------------------------- where the run is


def _watch(statuses, total=4, history=()):
    run = model.CauRun(state="RunInProgress", run_id="r", run_start_time=T0,
                       node_status_notifications=[model.CauNodeStatus(node=n, status=s, timestamp=T0 + timedelta(
                           seconds=t)) for n, s, t in statuses])
    watch = cau.RunWatch(total=total, history=list(history))
    watch.update(run)
    return watch


def test_position_and_finish_from_this_runs_nodes():
    watch = _watch([("LAB-A1", "Succeeded", 100), ("LAB-A2", "Installing", 130), ("LAB-B1", "Waiting", 0),
                    ("LAB-B2", "Waiting", 0)])
    assert watch.position() == (2, 4)
    assert watch.position("LAB-A1") == (1, 4) and watch.position("LAB-A2") == (2, 4)
    assert watch.position("LAB-B1") is None  # waiting: no place yet
    assert watch.node_seconds() == [100.0]
    # LAB-A2 began when LAB-A1 ended (100 s in) and takes 100 s; then two more nodes of 100 s each.
    assert watch.finish(now=T0 + timedelta(seconds=150)) == T0 + timedelta(seconds=400)
    # Running late: the node under way ends no sooner than now.
    assert watch.finish(now=T0 + timedelta(seconds=250)) == T0 + timedelta(seconds=450)


def test_before_the_first_node_ends_the_journals_history_or_nothing():
    statuses = [("LAB-A1", "Installing", 10)] + [(n, "Waiting", 0) for n in NODES[1:]]
    assert cau.RunWatch().finish() is None  # nothing read yet: no estimate at all
    unknown = _watch(statuses)
    assert unknown.position() == (1, 4) and eta.is_unknown(unknown.finish(now=T0))
    assert eta.words(unknown.finish(now=T0)) == "estimate unknown"
    known = _watch(statuses, history=[60.0, 80.0, 70.0])
    assert known.finish(now=T0 + timedelta(seconds=20)) == T0 + timedelta(seconds=70 * 4)


async def test_events_carry_the_position_and_the_journal_keeps_node_times_for_the_next_run(tmp_path):
    lab, ctx = make_ctx(tmp_path)
    await earlier_phases(ctx, lab)
    events = []
    options = cau.RunOptions.defaults(cau.WINDOWS_UPDATE)
    await asyncio.wait_for(cau.start(ctx, options), GUARD)
    await asyncio.wait_for(cau.monitor(ctx, events.append), GUARD)
    working = [e for e in events if e.status not in (None, "Waiting")]
    assert working and all(e.position is not None and e.position[1] == 4 for e in working)
    assert {e.position[0] for e in working if e.status == "Succeeded"} == {1, 2, 3, 4}
    first_node = [e for e in working if e.position[0] == 1 and e.status != "Succeeded"]
    assert first_node and all(eta.is_unknown(e.eta) for e in first_node)  # a first run: nothing to go on
    later = [e for e in working if e.position[0] == 2 and e.status != "Succeeded"]
    assert later and all(e.eta is not None and not eta.is_unknown(e.eta) for e in later)  # from node 1's time
    kept = cau.kept_history(ctx.journal)
    assert len(kept[cau.WINDOWS_UPDATE]) == 4 and all(s > 0 for s in kept[cau.WINDOWS_UPDATE])

    events.clear()
    await asyncio.wait_for(cau.start(ctx, options), GUARD)  # the next run starts with what the last one took
    assert cau.kept_history(ctx.journal) == kept and cau.past_node_seconds(ctx.journal) == kept[cau.WINDOWS_UPDATE]
    await asyncio.wait_for(cau.monitor(ctx, events.append), GUARD)
    first_node = [e for e in events if e.status not in (None, "Waiting", "Succeeded") and e.position[0] == 1]
    assert first_node and all(e.eta is not None and not eta.is_unknown(e.eta) for e in first_node)


# ---------------------------------------------------------------- enabling remoting, as audited


async def test_the_audit_records_what_enabling_remoting_really_did(tmp_path):
    lab, ctx = make_ctx(tmp_path)
    report = await asyncio.wait_for(cau.preflight(ctx), GUARD)
    assert report.passed, report.summary()
    records = [r for r in ctx.audit.changes() if r["operation"] == "enable_remoting"]
    calls = [r for r in records if "proved_by" not in r]
    proofs = [r for r in records if "proved_by" in r]
    # The calls' own records: the WinRM restart dropped each session, so they say unreachable...
    assert sorted(r["target"] for r in calls) == NODES and {r["outcome"] for r in calls} == {"unreachable"}
    # ...and after each, what really happened, as the preflight shows it (PASS: enabled).
    assert sorted(r["target"] for r in proofs) == NODES
    assert {(r["outcome"], r["error"], r["proved_by"]) for r in proofs} == {("ok", None, "get_remoting_state")}
    assert all(p["time"] > c["time"] for p in proofs for c in calls if c["target"] == p["target"])
    # Enabled already: the call answers, and no proof record is needed.
    await asyncio.wait_for(cau.preflight(ctx), GUARD)
    again = [r for r in ctx.audit.changes() if r["operation"] == "enable_remoting"][len(records):]
    assert {r["outcome"] for r in again} == {"ok"} and not any("proved_by" in r for r in again)
