"""Cluster-Aware Updating: preflight, the rolling-upgrade run watched live, blips, failure, stop, recovery,
reattaching after a kill, the ReFS trap, the Windows Update run, and the pure parts (plans, interlocks)."""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import re
import time
from pathlib import Path

import pytest

from hcitui.cli import context as wiring
from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import Journal, NodeLock, StepStatus
from hcitui.lab.state import NEW_BUILD, OLD_BUILD, OLD_UBR, StagedMedia
from hcitui.ps import cau as cau_ops
from hcitui.remote import OperationFailed, Rebooting, Unreachable
from hcitui.workflow import cau, gates, resume, verify
from hcitui.workflow.events import Stage
from hcitui.workflow.observe import ClusterState
from hcitui.workflow.steps import Refused, StepFailed
from support import earlier_phases

GUARD = 90  # seconds: an outer bound so a broken test fails instead of hanging
NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
STAGES = ["Scanning", "Staging", "Suspending", "Installing", "Restarting", "Resuming", "Succeeded"]


def fast(lab) -> None:
    t = lab.state.timings
    t.reboot, t.cluster_join, t.repair, t.drain_step = 0.3, 0.2, 0.3, 0.02
    t.os_install, t.test_cluster, t.cau_stage, t.cau_orchestrator_move = 0.2, 0.2, 0.05, 0.15


def stage_media(lab, nodes=None) -> None:
    for name in nodes or lab.state.nodes:
        lab.state.nodes[name].staged[lab.state.staging_path] = StagedMedia(file_count=1187, total_bytes=6174015488)


def live_migration_fix(lab) -> None:
    for node in lab.state.nodes.values():
        node.vid_parameters_key, node.skip_small_local_allocations = True, 0


def make_ctx(tmp_path, *, coordinator: bool = True):
    lab = wiring.open_lab(tmp_path, 4)
    fast(lab)
    live_migration_fix(lab)
    stage_media(lab)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path, coordinator=coordinator)
    ctx.poll = 0.05
    return lab, ctx


@pytest.fixture
async def lab_ctx(tmp_path):
    """The lab as --lab runs it: the CAU run goes through its coordinator, LAB-MGMT; the phases before the
    upgrade done, so its gates are open."""
    lab, ctx = make_ctx(tmp_path)
    await earlier_phases(ctx, lab)
    return lab, ctx


@pytest.fixture
def node_ctx(tmp_path):
    """The lab without a CAU coordinator: the run starts on a node (what the preflight warns about)."""
    return make_ctx(tmp_path, coordinator=False)


class Seen:
    """Progress as a test sees it (each node's CAU statuses from the events' ``status`` field alone), the
    run as the monitor keeps it (``watch``: the blips), and how many nodes were out at each look."""

    def __init__(self, lab) -> None:
        self.lab = lab
        self.events: list = []
        self.lines: list[tuple[str, str]] = []
        self.statuses: dict[str, list[str]] = {}
        self.most_out = 0
        self.watch = cau.RunWatch()

    @property
    def blips(self) -> int:
        return self.watch.blips

    def progress(self, event) -> None:
        self.events.append(event)
        self.lines.append((event.node, event.text))
        if event.status is not None:
            seen = self.statuses.setdefault(event.node, [])
            if not seen or seen[-1] != event.status:
                seen.append(event.status)
        self._look()

    async def monitor(self, ctx):
        """cau.monitor with this watch, looking at the lab every poll while it runs."""
        task = asyncio.ensure_future(cau.monitor(ctx, self.progress, watch=self.watch))
        try:
            while not task.done():
                self._look()
                await asyncio.wait({task}, timeout=ctx.poll)
            return task.result()
        finally:
            task.cancel()

    def _look(self) -> None:
        out = [n for n in self.lab.state.nodes.values() if n.cluster_state != "Up" or n.power != "on"]
        self.most_out = max(self.most_out, len(out))


def history(lab) -> dict[str, list[str]]:
    """Every status the lab's last run gave each node, in order."""
    out: dict[str, list[str]] = {}
    for entry in lab.state.cau.reports[-1].statuses:
        seq = out.setdefault(entry.node, [])
        if not seq or seq[-1] != entry.status:
            seq.append(entry.status)
    return out


async def wait_for(predicate, lab, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "the lab did not get there in time"
        lab.tick()
        await asyncio.sleep(0.02)


def current_stage(lab) -> str | None:
    run = lab.state.cau.run
    return run.stage if run else None


# ------------------------------------------------------------------- preflight


async def test_preflight_fails_until_remoting_is_enabled_then_passes(lab_ctx):
    lab, ctx = lab_ctx
    checks_only = await asyncio.wait_for(cau.preflight(ctx, remoting=False), GUARD)
    assert not checks_only.passed
    failing = {(c.name, c.node) for c in checks_only.checks if not c.ok}
    assert ("Remoting", "LAB-A1") in failing and ("Test-CauSetup", None) in failing
    setup = next(c for c in checks_only.checks if c.name == "Test-CauSetup")
    assert "PowerShell remoting" in setup.reason and "LAB-B2" in setup.reason
    assert lab.state.cau.remoting == []  # the checks alone change nothing

    seen = Seen(lab)
    report = await asyncio.wait_for(cau.preflight(ctx, seen.progress), GUARD)
    assert report.passed, report.summary()
    assert sorted(lab.state.cau.remoting) == NODES
    for node in NODES:  # enabling remoting dropped each session (WinRM restarted); a read proved it
        assert ctx.journal.step(2, cau.REMOTING, node).status is StepStatus.DONE
        assert (node, "WinRM restarted: reconnecting to prove it") in seen.lines
    # Shown waiting while it runs, with since when (typed: no time in the words).
    assert any(e.text.startswith("Test-Cluster") and e.stage is Stage.WAITING and e.since is not None
               for e in seen.events)
    validation = next(c for c in report.checks if c.name == "Test-Cluster")
    assert "hcitui Validation" in validation.reason and ".htm" in validation.reason  # where the report went
    scan = next(c for c in report.checks if c.name == "Scan")
    assert scan.status == "pass" and "every node offered Azure Stack HCI 23H2 (25398) feature update" in scan.reason
    assert ctx.journal.step(2, cau.PREFLIGHT).status is StepStatus.DONE
    mutating = [r for r in ctx.audit.records() if r["mutates"]]
    assert {r["operation"] for r in mutating} == {"enable_remoting"}


async def test_scan_flags_a_node_without_the_staged_media(lab_ctx):
    lab, ctx = lab_ctx
    lab.state.nodes["LAB-B2"].staged.clear()
    report = await asyncio.wait_for(cau.preflight(ctx), GUARD)
    scan = [c for c in report.checks if c.name == "Scan"]
    assert [(c.status, c.node) for c in scan] == [("fail", "LAB-B2")]
    assert "offered nothing" in scan[0].reason and "ISO staging" in scan[0].reason
    assert not report.passed and "Scan LAB-B2" in report.summary()
    rows = {r.node: r.update_title for r in report.scan}
    assert rows["LAB-A1"] == rows["LAB-B1"] == "Azure Stack HCI 23H2 (25398) feature update"


def test_judge_scan_flags_nodes_offered_something_else():
    rows = [model.CauScanUpdate(node=n, update_title="Feature update 25398") for n in NODES[:3]]
    rows.append(model.CauScanUpdate(node="LAB-B2", update_title="Cumulative Update (KB5046616)"))
    checks = cau.judge_scan(rows, NODES)
    assert [(c.status, c.node) for c in checks] == [("fail", "LAB-B2")]
    assert "unlike the others" in checks[0].reason


# ------------------------------------------------------------------ the full run


async def test_rolling_upgrade_run_node_by_node_to_25398_and_the_refs_trap(node_ctx):
    """Started on a node (no coordinator): the orchestrator is the CAU role's node and moves with it."""
    lab, ctx = node_ctx
    seen = Seen(lab)
    # Every gate open but the registry's: RefsEnableMetadataValidation was never set (the trap), so the
    # run is refused for it, and then started with an override whose reason the journal keeps.
    await earlier_phases(ctx, lab, registry_values=False)
    options = dataclasses.replace(cau.RunOptions.defaults(), update_functional_level=True)
    with pytest.raises(Refused) as refused:
        await asyncio.wait_for(cau.start(ctx, options, seen.progress), GUARD)
    assert refused.value.reasons and all("LAB-" in r and "registry" in r.lower() for r in refused.value.reasons)
    assert ctx.journal.step(5, cau.RUN) is None and lab.state.cau.run is None
    run = await asyncio.wait_for(cau.start(ctx, options, seen.progress,
                                           override_registry="lab rehearsal of the ReFS trap"), GUARD)
    override = ctx.journal.step(5, "registry-override")
    assert override.status is StepStatus.DONE and "lab rehearsal of the ReFS trap" in override.detail
    assert override.data["reason"] == "lab rehearsal of the ReFS trap" and override.data["for"] == cau.RUN
    assert override.data["operator"] and len(override.data["waived"]) == 4
    assert ctx.journal.step(5, cau.RUN).data["registry_override"]["reason"] == "lab rehearsal of the ReFS trap"
    assert run.state == model.CauRunState.RUN_IN_PROGRESS and run.run_id
    record = ctx.journal.step(5, cau.RUN)
    assert record.status is StepStatus.RUNNING and record.data["run_id"] == run.run_id

    outcome = await asyncio.wait_for(seen.monitor(ctx), GUARD)

    assert outcome.succeeded, outcome.sentence
    assert outcome.run_id == run.run_id and outcome.functional_level == 12
    assert {n.build for n in lab.state.nodes.values()} == {NEW_BUILD}
    assert lab.state.functional_level == 12  # asked for: raised at the end, every node being on 25398
    assert "UpdateClusterFunctionalLevel ON" in ctx.journal.step(5, cau.RUN).detail
    assert all(n.cluster_state == "Up" for n in lab.state.nodes.values())
    assert seen.most_out <= 1  # at no time were two nodes out
    # Each node went through every stage of the plug-in, one node after the other.
    lab_history = history(lab)
    for node in NODES:
        assert lab_history[node] == ["Waiting", *STAGES], (node, lab_history[node])
        watched = seen.statuses[node]
        assert watched[-1] == "Succeeded"
        assert [s for s in lab_history[node] if s in watched] == watched  # seen live, in order
    finished = [max(e.timestamp for e in lab.state.cau.reports[-1].statuses if e.node == n) for n in NODES]
    assert finished == sorted(finished)
    # The orchestrator moved when its node was drained: Get-CauRun threw, and that was a blip.
    assert seen.blips >= 1
    assert any(text.startswith("blip:") for _node, text in seen.lines)
    done = ctx.journal.step(5, cau.RUN)
    assert done.status is StepStatus.DONE and "4/4 nodes succeeded" in done.detail
    # The ReFS trap: RefsEnableMetadataValidation was never set, so the CSVs came back Unavailable.
    report = await asyncio.wait_for(verify.run_verification(ctx), GUARD)
    csv_checks = [c for c in report.checks if c.name == verify.NODE_CSV]
    assert csv_checks and all(c.status is verify.Status.FAIL for c in csv_checks)
    assert not report.passed


async def test_with_the_refs_fix_in_effect_the_csvs_stay_online(lab_ctx):
    lab, ctx = lab_ctx
    for node in lab.state.nodes.values():  # set and effective (as after the phase 1 restarts)
        node.refs_metadata_validation = node.refs_effective = 0
    options = cau.RunOptions.defaults()
    assert options.update_functional_level is False  # off unless chosen
    await asyncio.wait_for(cau.start(ctx, options), GUARD)
    started = next(r for r in ctx.audit.records() if r["operation"] == "start_cau_run")
    assert started["parameters"]["UpdateFunctionalLevel"] is False  # passed explicitly, not left to a default
    outcome = await asyncio.wait_for(cau.monitor(ctx), GUARD)
    assert outcome.succeeded
    # Not asked for: every node is on 25398 and the level stays where it was, for 8) Post-upgrade.
    assert lab.state.functional_level == 11 and outcome.functional_level == 11
    record = ctx.journal.step(5, cau.RUN)
    assert "not raised (UpdateClusterFunctionalLevel off" in record.detail
    assert record.data["functional_level"] == "leave" and record.data["options"]["update_functional_level"] is False
    assert not any(c.unavailable for c in lab.state.csvs)
    report = await asyncio.wait_for(verify.run_verification(ctx), GUARD)
    assert all(c.status is verify.Status.PASS for c in report.checks if c.name in (verify.NODE_CSV, verify.NODE_BUILD))


async def test_windows_update_run_bumps_the_revision_without_a_new_build(lab_ctx):
    lab, ctx = lab_ctx
    seen = Seen(lab)
    await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults(cau.WINDOWS_UPDATE)), GUARD)
    outcome = await asyncio.wait_for(seen.monitor(ctx), GUARD)
    assert outcome.succeeded, outcome.sentence
    assert {n.build for n in lab.state.nodes.values()} == {OLD_BUILD}
    assert all(n.ubr > OLD_UBR for n in lab.state.nodes.values())
    assert lab.state.functional_level == 11
    assert seen.most_out <= 1
    started = next(r for r in ctx.audit.records() if r["operation"] == "start_cau_run")
    assert started["parameters"]["Plugin"] == "WindowsUpdate" and "MediaPath" not in started["parameters"]
    # Typed: each node's CAU status is a field with since when; the end is DONE on the cluster's name.
    statuses = [e for e in seen.events if e.status is not None]
    assert {e.node for e in statuses} == set(NODES) and all(e.since is not None for e in statuses)
    assert all(e.stage is Stage.DONE for e in statuses if e.status == "Succeeded")
    end = seen.events[-1]
    assert end.node == ctx.name and end.stage is Stage.DONE and end.fraction == 1.0


# ---------------------------------------------------------- blips and failures


def test_what_counts_as_a_blip():
    assert cau.is_blip(Unreachable("C", "get_cau_run", "no node answered (LAB-A1 cluster service not running)"))
    assert cau.is_blip(Rebooting("LAB-A1", "get_cau_run", "the node is restarting"))
    assert cau.is_blip(OperationFailed("LAB-A1", "get_cau_run", "Get-CauRun : The cluster node is shutting down."))
    assert not cau.is_blip(OperationFailed("LAB-A1", "get_cau_run", "Access is denied."))


async def test_an_error_that_is_no_blip_fails_the_watch(lab_ctx, monkeypatch):
    lab, ctx = lab_ctx
    await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults()), GUARD)
    from hcitui.lab import cluster as lab_cluster

    def denied(lab_, node, params):
        raise lab_cluster.LabPowerShellError("Get-CauRun : Access is denied.")

    monkeypatch.setitem(lab_cluster.HANDLERS, "get_cau_run", denied)
    monkeypatch.setitem(lab_cluster.COORDINATOR_HANDLERS, "get_cau_run",
                        lambda lab_, params: denied(lab_, None, params))
    with pytest.raises(StepFailed, match="Access is denied"):
        await asyncio.wait_for(cau.monitor(ctx), GUARD)
    assert ctx.journal.step(5, cau.RUN).status is StepStatus.RUNNING  # the run goes on; watching it again works


async def test_a_node_failure_ends_run_failed_and_a_new_run_waits_for_recovery(lab_ctx):
    lab, ctx = lab_ctx
    lab.state.faults.cau_fail_node = "LAB-A2"
    seen = Seen(lab)
    options = cau.RunOptions(max_failed_nodes=0, max_retries_per_node=1)
    await asyncio.wait_for(cau.start(ctx, options), GUARD)
    with pytest.raises(StepFailed) as failed:
        await asyncio.wait_for(seen.monitor(ctx), GUARD)
    assert "RunFailed" in failed.value.message and "LAB-A2 Failed" in failed.value.message
    assert seen.statuses["LAB-A2"][-1] == "Failed"
    assert any(e.node == "LAB-A2" and e.status == "Failed" and e.stage is Stage.FAILED for e in seen.events)
    assert seen.events[-1].node == ctx.name and seen.events[-1].stage is Stage.FAILED
    assert history(lab)["LAB-A2"].count("Scanning") == 2  # one retry, then it gave up
    assert lab.state.nodes["LAB-A1"].build == NEW_BUILD  # done before the failure
    assert [lab.state.nodes[n].build for n in ("LAB-A2", "LAB-B1", "LAB-B2")] == [OLD_BUILD] * 3  # not touched
    assert all(n.cluster_state == "Up" for n in lab.state.nodes.values())
    record = ctx.journal.step(5, cau.RUN)
    assert record.status is StepStatus.FAILED and "stays locked until it is recovered" in record.detail
    assert failed.value.remedy == Remedy(action=Action.CAU_RECOVER)  # each front end offers it: a key, a command

    lab.state.faults.cau_fail_node = None
    with pytest.raises(Refused) as refused:
        await asyncio.wait_for(cau.start(ctx, options), GUARD)
    assert any("RunFailed" in r and "recover it first" in r for r in refused.value.reasons)
    assert refused.value.remedy == Remedy(action=Action.CAU_RECOVER)
    with pytest.raises(Refused, match="no CAU run is in progress"):
        await cau.stop(ctx)

    await asyncio.wait_for(cau.recover(ctx), GUARD)
    assert lab.state.cau.run is None
    assert ctx.journal.step(5, cau.RECOVER).status is StepStatus.DONE
    state = await cau.read_start_state(ctx, options)
    assert cau.start_blockers(state, options, None, ctx.cluster.staging_path) == []
    with pytest.raises(Refused, match="no failed run to recover"):
        await cau.recover(ctx)


async def test_stop_ends_the_run_at_a_safe_point_and_keeps_the_results(lab_ctx):
    lab, ctx = lab_ctx
    seen = Seen(lab)
    await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults()), GUARD)
    watcher = asyncio.ensure_future(seen.monitor(ctx))
    lab.state.timings.os_install = 2.0  # a window wide enough to look into, even on a loaded machine
    await wait_for(lambda: lab.state.cau.run is not None and lab.state.cau.run.current == "LAB-A1"
                   and current_stage(lab) in ("Installing", "Restarting", "Resuming"), lab)
    ended = await asyncio.wait_for(cau.stop(ctx, seen.progress), GUARD)
    assert ended.state == model.CauRunState.RUN_NOT_IN_PROGRESS
    with pytest.raises(StepFailed, match="stopped before the end"):
        await asyncio.wait_for(watcher, GUARD)
    # The node being updated was finished and resumed; no other node was touched.
    assert lab.state.nodes["LAB-A1"].build == NEW_BUILD
    assert [lab.state.nodes[n].build for n in NODES[1:]] == [OLD_BUILD] * 3
    assert all(n.cluster_state == "Up" for n in lab.state.nodes.values())
    assert ctx.journal.step(5, cau.STOP).status is StepStatus.DONE
    assert ctx.journal.step(5, cau.RUN).status is StepStatus.FAILED
    report = lab.state.cau.reports[-1]
    assert report.outcome == "Canceled" and [r.node for r in report.results] == ["LAB-A1"]
    assert lab.state.cau.run is None  # a new run may start: no recovery needed after a stop


async def test_refusals_carry_the_next_step_as_a_remedy_not_a_key(lab_ctx):
    lab, ctx = lab_ctx
    await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults(cau.WINDOWS_UPDATE)), GUARD)
    with pytest.raises(Refused) as again:
        await cau.start(ctx, cau.RunOptions.defaults(cau.WINDOWS_UPDATE))
    assert any("is in progress" in r and "stop it first" in r for r in again.value.reasons)
    assert again.value.remedy == Remedy(action=Action.CAU_STOP)
    with pytest.raises(Refused) as recovering:
        await cau.recover(ctx)
    assert "stop it instead" in recovering.value.sentence
    assert recovering.value.remedy == Remedy(action=Action.CAU_STOP)
    await asyncio.wait_for(cau.stop(ctx), GUARD)


# ------------------------------------------------------------ after a kill


async def test_the_monitor_reattaches_after_the_app_is_killed_mid_run(lab_ctx, tmp_path):
    lab, ctx = lab_ctx
    run = await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults()), GUARD)
    watcher = asyncio.ensure_future(cau.monitor(ctx))
    # Past the first node (a loaded machine may skip over a whole node's stages between two looks).
    await wait_for(lambda: lab.state.cau.run is not None and lab.state.cau.run.current not in (None, "LAB-A1"), lab)
    watcher.cancel()  # the app is killed: the run goes on in the cluster
    with pytest.raises(asyncio.CancelledError):
        await watcher
    # A new process: the journal is read again, and the step it found running is unknown.
    ctx.journal = Journal.open(tmp_path, ctx.name)
    record = ctx.journal.step(5, cau.RUN)
    assert record.status is StepStatus.UNKNOWN and record.data["run_id"] == run.run_id
    live = await cau.read_run(ctx)
    assert cau.should_watch(ctx, live)
    seen = Seen(lab)
    outcome = await asyncio.wait_for(seen.monitor(ctx), GUARD)
    assert outcome.succeeded and outcome.run_id == run.run_id
    assert {n.build for n in lab.state.nodes.values()} == {NEW_BUILD}
    assert "LAB-A1" not in seen.statuses or seen.statuses["LAB-A1"] == ["Succeeded"]
    assert ctx.journal.step(5, cau.RUN).status is StepStatus.DONE


async def test_a_run_that_ended_while_nobody_watched_is_concluded_on_reverification(lab_ctx, tmp_path):
    lab, ctx = lab_ctx
    await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults(cau.WINDOWS_UPDATE)), GUARD)
    await wait_for(lambda: lab.state.cau.run is None, lab, limit=60)  # it ran to its end without us
    ctx.journal = Journal.open(tmp_path, ctx.name)
    record = ctx.journal.step(5, cau.RUN)
    assert record.status is StepStatus.UNKNOWN
    again = await asyncio.wait_for(resume.reverify(ctx, record), GUARD)
    assert again.status is StepStatus.DONE
    assert "4/4 nodes succeeded" in ctx.journal.step(5, cau.RUN).detail


# --------------------------------------------------------------- pure parts


def quiet(**changes) -> cau.StartState:
    cluster = ClusterState(
        nodes=[model.ClusterNode(name=n, state="Up") for n in NODES], jobs=[],
        disks=[model.VirtualDisk(friendly_name="D1", health_status="Healthy", operational_status=["OK"])],
        sr_groups=[], cau_run=model.CauRun(state="RunNotInProgress"))
    for key, value in changes.items():
        setattr(cluster, key, value)
    staging = {n: model.StagingInfo(path="C:\\S", exists=True, has_setup=True, file_count=10, total_bytes=99)
               for n in NODES}
    return cau.StartState(cluster, staging)


def test_start_blockers_fail_closed():
    options = cau.RunOptions.defaults()
    assert cau.start_blockers(quiet(), options, None, "C:\\S") == []
    lock = NodeLock(node="LAB-B1", reason="restart", since="04:00", was_paused=False)
    assert "LAB-B1 is out of service" in cau.start_blockers(quiet(), options, lock, "C:\\S")[0]
    down = [model.ClusterNode(name=n, state="Down" if n == "LAB-B2" else "Up") for n in NODES]
    assert cau.start_blockers(quiet(nodes=down), options, None, "C:\\S") == ["LAB-B2 is Down: every node must be Up"]
    running = model.CauRun(state="RunInProgress", run_id="abcdef0123")
    assert "abcdef01" in cau.start_blockers(quiet(cau_run=running), options, None, "C:\\S")[0]
    unread = Unreachable("C", "get_cau_run", "no node answered")
    assert cau.start_blockers(quiet(cau_run=unread), options, None, "C:\\S") == [
        "CAU run: could not read: no node answered"]
    jobs = [model.StorageJob(name="Repair", job_state="Running", bytes_processed=1, bytes_total=2)]
    assert "storage job Repair" in cau.start_blockers(quiet(jobs=jobs), options, None, "C:\\S")[0]
    state = quiet()
    state.staging["LAB-A2"] = model.StagingInfo(path="C:\\S", exists=False)
    state.staging["LAB-B1"] = model.StagingInfo(path="C:\\S", exists=True, has_setup=True, file_count=9,
                                                total_bytes=90)
    reasons = cau.start_blockers(state, options, None, "C:\\S")
    assert any(r.startswith("LAB-A2: setup.exe is not in C:\\S") for r in reasons)
    assert any(r.startswith("LAB-B1: C:\\S holds 9 files, the others 10") for r in reasons)
    # Monthly updates need no staged media.
    assert cau.start_blockers(state, cau.RunOptions.defaults(cau.WINDOWS_UPDATE), None, "C:\\S") == []


def test_the_start_names_its_most_pressing_remedy():
    options = cau.RunOptions.defaults()
    assert cau.start_remedy(quiet(), options, None, []) is None
    running = model.CauRun(state="RunInProgress", run_id="abcdef0123")
    assert cau.start_remedy(quiet(cau_run=running), options, None, []) == Remedy(action=Action.CAU_STOP)
    assert cau.start_remedy(quiet(cau_run=model.CauRun(state="RunFailed")), options, None, []) == Remedy(
        action=Action.CAU_RECOVER)
    lock = NodeLock(node="LAB-B1", reason="restart", since="04:00", was_paused=False)
    assert cau.start_remedy(quiet(), options, lock, []) == Remedy(action=Action.NODE_RESUME, node="LAB-B1")
    closed = [gates.Gate(gates.REGISTRY, [], gates.REMEDY[gates.REGISTRY]),
              gates.Gate(gates.PREREQ, ["not run"], gates.REMEDY[gates.PREREQ])]
    assert cau.start_remedy(quiet(), options, None, closed) == Remedy(gates.REMEDY[gates.PREREQ])  # words only
    closed[0] = gates.Gate(gates.REGISTRY, ["not set"], gates.REMEDY[gates.REGISTRY])
    assert cau.start_remedy(quiet(), options, None, closed) == Remedy(action=Action.REGISTRY_SET)
    state = quiet()
    state.staging["LAB-A2"] = model.StagingInfo(path="C:\\S", exists=False)
    assert cau.start_remedy(state, options, None, []) == Remedy(action=Action.ISO_STAGE)
    assert cau.start_remedy(state, cau.RunOptions.defaults(cau.WINDOWS_UPDATE), None, []) is None


def test_no_key_letter_or_menu_number_in_the_cau_workflow_or_the_gates():
    """The workflow names what to do (a Remedy, or words); each front end says which key or command."""
    sources = [*sorted(Path(cau.__file__).parent.glob("*.py")), Path(gates.__file__)]
    assert len(sources) >= 8
    keyish = re.compile(r"\b[1-9]\) [A-Z]|\([a-z]\)|, [a-z][;)]|stop it \(|open [1-9]\)")
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not keyish.search(node.value), (path.name, node.value)
    assert keyish.search("stop it (x)") and keyish.search("open 5) CAU run") and keyish.search("(2) Registry keys, a;")


def test_options_are_checked_against_the_cluster():
    assert cau.RunOptions(max_failed_nodes=4).problems(4) == [
        "MaxFailedNodes 4: choose from 0 to 3 (fewer than the nodes)"]
    assert cau.RunOptions(max_retries_per_node=65).problems(4) == ["MaxRetriesPerNode 65: choose from 0 to 64"]
    assert cau.RunOptions.defaults().problems(4) == []


def test_the_plan_shows_the_guides_run_with_values_only_as_parameters(node_ctx):
    lab, ctx = node_ctx
    preview = cau.plan_start(ctx, cau.RunOptions(max_failed_nodes=1, max_retries_per_node=2)).preview()
    for words in ("Microsoft.RollingUpgradePlugin", "WuConnected = 'false'", "PathToSetupMedia = $MediaPath",
                  "UpdateClusterFunctionalLevel", "$run.EnableFirewallRules = $true", "$run.ForceSelfUpdate = $true",
                  "$run.Force = $true", "Invoke-CauRun @splat", "Register-ScheduledTask"):
        assert words in preview, words
    args_line = next(line for line in preview.splitlines() if line.startswith("} -Plugin"))
    assert args_line == ("} -Plugin 'RollingUpgrade' -MediaPath 'C:\\SetupFiles\\AzureLocal-23H2' -MaxFailedNodes 1 "
                         "-MaxRetriesPerNode 2 -RequireAllNodesOnline $true -UpdateFunctionalLevel $false")
    assert "UpdateClusterFunctionalLevel off" in preview and "Post-upgrade raises it" in preview  # the default
    on = cau.plan_start(ctx, cau.RunOptions(update_functional_level=True)).preview()
    assert "-UpdateFunctionalLevel $true" in on and "UpdateClusterFunctionalLevel ON" in on
    assert preview.count("C:\\SetupFiles\\AzureLocal-23H2") == 1 + preview.count("Setup runs from")
    with pytest.raises(ValueError, match="needs MediaPath"):
        cau_ops.start_cau_run.make_params({"Plugin": "RollingUpgrade"})


def test_menu_state_reads_the_journal_alone(tmp_path):
    journal = Journal.open(tmp_path, "C")
    assert cau.menu_state(journal) == "not run yet"
    journal.set_step(2, cau.PREFLIGHT, None, StepStatus.DONE, "PASSED")
    assert cau.menu_state(journal).startswith("preflight PASSED at ")
    journal.set_step(5, cau.RUN, None, StepStatus.RUNNING, "run 1a2b3c4d: LAB-A2 Installing")
    assert cau.menu_state(journal) == "run 1a2b3c4d: LAB-A2 Installing"
    journal.set_step(5, cau.RUN, None, StepStatus.FAILED, "run 1a2b3c4d ended RunFailed (LAB-A2 Failed: long text)")
    text = cau.menu_state(journal)
    assert text.startswith("FAILED at ") and len(text) <= 46 and text.endswith("...")


# ------------------------------------------------------------- over WinRM


async def test_preflight_run_and_stop_over_the_winrm_endpoint(tmp_path):
    """The same workflow through pypsrp and the lab's WinRM endpoint: enabling remoting drops the
    connection (WinRM restarts), the session reconnects and the read proves it; a run starts and stops."""
    from hcitui.lab import Lab

    lab = Lab.create(4)
    fast(lab)
    live_migration_fix(lab)
    stage_media(lab)
    served = wiring.serve_lab(lab, tmp_path)
    ctx = wiring._psrp_context(served.cluster, tmp_path, read_only=False, password=served.password, lab=True)
    ctx.poll = 0.05
    try:
        report = await asyncio.wait_for(cau.preflight(ctx), GUARD)
        assert report.passed, report.summary()
        assert sorted(lab.state.cau.remoting) == NODES
        records = [r for r in ctx.audit.records() if r["operation"] == "enable_remoting"]
        enabling = [r["outcome"] for r in records if "proved_by" not in r]  # the calls' own records
        assert len(enabling) == 4 and set(enabling) != {"ok"}, enabling  # the connections dropped
        # ...and after each, what really happened, as the preflight shows it: proved enabled by a read.
        proved = [r for r in records if r.get("proved_by") == "get_remoting_state"]
        assert sorted(r["target"] for r in proved) == NODES and {r["outcome"] for r in proved} == {"ok"}
        run = await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults(cau.WINDOWS_UPDATE)), GUARD)
        assert run.state == model.CauRunState.RUN_IN_PROGRESS
        ended = await asyncio.wait_for(cau.stop(ctx), GUARD)
        assert ended.state == model.CauRunState.RUN_NOT_IN_PROGRESS
        assert ctx.journal.step(5, cau.RUN).status is StepStatus.FAILED  # stopped before the end
        assert lab.state.cau.reports[-1].outcome == "Canceled"
    finally:
        await ctx.close()
        served.stop()


async def test_no_node_is_taken_out_by_hand_while_a_cau_run_is_in_progress(lab_ctx):
    from hcitui.workflow import maintenance
    from hcitui.workflow.steps import Refused

    lab, ctx = lab_ctx
    await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults()), GUARD)
    before = {n: node.cluster_state for n, node in lab.state.nodes.items()}
    for attempt in (maintenance.drain(ctx, "LAB-B2"), maintenance.restart(ctx, "LAB-B2")):
        with pytest.raises(Refused) as caught:
            await attempt
        assert any("a CAU run is in progress" in r for r in caught.value.reasons)
    assert lab.state.nodes["LAB-B2"].cluster_state == before["LAB-B2"]
    assert ctx.journal.state.lock is None
    await asyncio.wait_for(cau.stop(ctx), GUARD)
