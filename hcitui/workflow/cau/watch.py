"""Watching a CAU run and concluding it: the journal's record of the run (step 5, ``cau-run``: its id,
each node's status, the blips), :func:`monitor` on ``Get-CauRun`` (one poll at a time, each node's
status change a typed progress event), and :func:`conclude`, which judges the run's end from its node
results (``Get-CauReport`` once it has ended) and marks the step done only after a read of the cluster
agrees. An error while a node restarts or the orchestrator moves is a blip: the last good state stays.
Everything is driven by observation, so a monitor started after a kill (or on another machine)
reattaches to the run in progress, or concludes the one that ended meanwhile.

Where the run is: each node's status event carries its ``position`` (node 2 of 4) and the run's
estimated finish (``eta``): a node takes the median time of this run's nodes so far (from one node's end
to the next's), before the first one ends the median of the nodes of earlier runs with the same plug-in
that the journal kept, and with nothing to go on the estimate is unknown. A failed run is explained
(:mod:`~hcitui.workflow.cau.failure`): per node, the first real failure from Get-CauReport -Detailed."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import Journal, StepRecord, StepStatus
from hcitui.ps import cau as cau_ops
from hcitui.ps import post as post_ops
from hcitui.ps import reads
from hcitui.remote import RemoteError, TimedOut, Unreachable
from hcitui.remote.cluster import cannot_speak_for_cluster
from hcitui.workflow import eta
from hcitui.workflow.cau.failure import Explanation, explain
from hcitui.workflow.cau.options import (
    CANCELED,
    FAILED_STATE,
    IN_PROGRESS,
    ROLLING_UPGRADE,
    RUN,
    RUN_PHASE,
    STOP,
    SUCCEEDED,
    RunOptions,
    short_id,
)
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.observe import ClusterState, observe, problem
from hcitui.workflow.steps import StepFailed


def is_blip(error: RemoteError) -> bool:
    """An error that only means a node is restarting, or the orchestrator moving: not a failure."""
    if isinstance(error, (Unreachable, TimedOut)) or cannot_speak_for_cluster(error):
        return True
    text = error.message.lower()
    return "shutting down" in text or "unreachable" in text or "not reachable" in text


# A node's CAU status once its part of the run is over (any other status but Waiting: under way).
FINAL_STATUSES = ("Succeeded", "Failed", "PartiallyFailed", "Canceled")
HISTORY_KEPT = 50  # per-node durations the journal keeps per plug-in, for the next runs' estimates


def _aware(stamp: datetime | None) -> datetime | None:
    return stamp.replace(tzinfo=UTC) if stamp is not None and stamp.tzinfo is None else stamp


@dataclass
class RunWatch:
    """What the monitor knows of the run: the last good Get-CauRun, how the reads went, where the run is
    (``total`` nodes, ``history``: seconds per node in earlier runs) and, once it failed, why."""

    run: model.CauRun | None = None
    statuses: dict[str, model.CauNodeStatus] = field(default_factory=dict)
    results: dict[str, model.CauNodeResult] = field(default_factory=dict)
    blips: int = 0
    note: str = ""
    read_at: datetime | None = None
    ended: bool = False
    outcome: str = ""
    succeeded: bool | None = None
    total: int = 0
    history: list[float] = field(default_factory=list)
    failed_in: dict[str, str] = field(default_factory=dict)  # the status a node was seen in before it failed
    explanation: Explanation | None = None

    def update(self, run: model.CauRun) -> list[model.CauNodeStatus]:
        """Take a good read; return the nodes whose status changed."""
        self.run, self.read_at, self.note = run, datetime.now(UTC), ""
        changed = []
        for entry in run.node_status_notifications:
            self._status(entry, changed)
        for result in run.node_results:
            self.results[result.node] = result
        return changed

    def _status(self, entry: model.CauNodeStatus, changed: list[model.CauNodeStatus]) -> None:
        before = self.statuses.get(entry.node)
        if before is None or before.status != entry.status:
            changed.append(entry)
            if before is not None and entry.status.lower().endswith("failed") and before.status != "Waiting":
                self.failed_in[entry.node] = before.status
        self.statuses[entry.node] = entry

    # ------------------------------------------------------------- where the run is
    def _start(self) -> datetime | None:
        return _aware(self.run.run_start_time) if self.run is not None else None

    def _finished(self) -> list[tuple[datetime, str]]:
        """(when, node) of every node whose part is over, in order."""
        done = [(_aware(s.timestamp), n) for n, s in self.statuses.items()
                if s.status in FINAL_STATUSES and s.timestamp is not None]
        return sorted((when, node) for when, node in done if when is not None)

    def node_seconds(self, *, succeeded_only: bool = False) -> list[float]:
        """Seconds each node took in this run: from the end of the node before it (the run's start for the
        first) to its own end. Only nodes whose start is known that way are counted."""
        out, before = [], self._start()
        for when, node in self._finished():
            if before is not None and when >= before:
                if not succeeded_only or self.statuses[node].status == "Succeeded":
                    out.append((when - before).total_seconds())
            before = when
        return out

    def position(self, node: str | None = None) -> tuple[int, int] | None:
        """(which node of how many): ``node``'s place in the run (None while it waits), or without a node
        the run's own: the node under way. None when the run's size is not known."""
        total = self.total or len(self.statuses)
        if not total:
            return None
        finished = [n for _, n in self._finished()]
        if node is None:
            return (min(total, len(finished) + 1), total)
        status = self.statuses.get(node)
        if status is None or status.status == "Waiting":
            return None
        if node in finished:
            return (finished.index(node) + 1, total)
        return (min(total, len(finished) + 1), total)

    def finish(self, now: datetime | None = None) -> datetime | None:
        """When the run should end: :func:`hcitui.workflow.eta.nodes_finish` over this run's node times,
        else the journal's (``history``); ``eta.UNKNOWN`` with nothing to go on; None once it has ended."""
        total = self.total or len(self.statuses)
        if self.ended or not total or self.run is None or self.run.run_id is None:
            return None
        finished = self._finished()
        remaining = total - len(finished)
        if remaining <= 0:
            return None
        current = finished[-1][0] if finished else self._start()
        found = eta.nodes_finish(self.node_seconds(), self.history, remaining, now or datetime.now(UTC), current)
        return found if found is not None else eta.UNKNOWN

    def elapsed(self, now: datetime | None = None) -> float | None:
        if self.run is None or self.run.run_start_time is None:
            return None
        start = self.run.run_start_time
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        return max(0.0, ((now or datetime.now(UTC)) - start).total_seconds())


@dataclass
class RunOutcome:
    succeeded: bool
    sentence: str
    run_id: str | None = None
    results: dict[str, model.CauNodeResult] = field(default_factory=dict)
    functional_level: int | None = None
    remedy: Remedy | None = None  # what to do next, when the run's end left something to do
    explanation: Explanation | None = None  # why it failed, per node (a run that failed or was canceled)


# A node's CAU status, as the stage of its part of the run (any other status: working on it).
STATUS_STAGE = {"Succeeded": Stage.DONE, "Failed": Stage.FAILED, "PartiallyFailed": Stage.FAILED,
                "Canceled": Stage.SKIPPED}


def status_event(node: str, status: str, since: datetime | None, watch: RunWatch | None = None) -> ProgressEvent:
    """One node's CAU status, typed: ``status`` the value CAU reported, ``since`` when the node entered it;
    with the ``watch``, once the node's part has begun, its ``position`` in the run and the run's estimated
    finish (``eta``; a node still waiting has neither)."""
    position = watch.position(node) if watch is not None else None
    return ProgressEvent(node, f"CAU {status}", stage=STATUS_STAGE.get(status, Stage.WORKING), status=status,
                         since=since, position=position,
                         eta=watch.finish() if watch is not None and position is not None else None)


def _plugin(record: StepRecord | None) -> str | None:
    options = record.data.get("options") if record is not None else None
    return options.get("plugin") if isinstance(options, dict) else None


def kept_history(journal: Journal) -> dict[str, list[float]]:
    """Seconds per node of earlier runs, by plug-in, as the run's journal record keeps them: a new run's
    record starts with them (``start``), the run's end adds its own."""
    record = run_record(journal)
    kept = record.data.get("node_seconds") if record is not None else None
    return {k: [float(x) for x in v] for k, v in kept.items()} if isinstance(kept, dict) else {}


def past_node_seconds(journal: Journal) -> list[float]:
    """What the journal knows of one node's time in runs with this run's plug-in (empty: nothing)."""
    plugin = _plugin(run_record(journal))
    return kept_history(journal).get(plugin, []) if plugin else []


def _keep_history(ctx: Context, record: StepRecord | None, watch: RunWatch) -> dict[str, list[float]]:
    """The history with this run's succeeded nodes' times added (the run's plug-in known)."""
    kept = kept_history(ctx.journal)
    plugin = _plugin(record)
    seconds = watch.node_seconds(succeeded_only=True)
    if plugin and seconds:
        kept[plugin] = (kept.get(plugin, []) + seconds)[-HISTORY_KEPT:]
    return kept


def run_record(journal: Journal) -> StepRecord | None:
    """The journal's record of the run (phase 5, ``cau-run``)."""
    return journal.step(RUN_PHASE, RUN)


def watching(journal: Journal) -> bool:
    """Does the journal say a run was started (or watched) and not concluded? Then the monitor reattaches."""
    record = run_record(journal)
    return record is not None and record.status in (StepStatus.RUNNING, StepStatus.UNKNOWN)


def _journal_statuses(ctx: Context, watch: RunWatch, detail: str) -> None:
    ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.RUNNING, detail, data={
        "run_id": watch.run.run_id if watch.run else None,
        "statuses": {n: s.status for n, s in watch.statuses.items()},
        "blips": watch.blips,
    })


def adopt(ctx: Context, run: model.CauRun) -> None:
    """The run in progress becomes the journal's: a reattach after a kill, or a run started elsewhere."""
    record = run_record(ctx.journal)
    ours = record is not None and record.data.get("run_id") in (None, run.run_id)
    if record is not None and ours and record.status is StepStatus.RUNNING:
        if not record.data.get("run_id"):
            ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.RUNNING, record.detail, data={"run_id": run.run_id})
        return
    detail = ("reattached after an interruption" if ours and record is not None
              else "watching a run started outside this hcitui")
    ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.RUNNING, detail,
                         data={"run_id": run.run_id, "statuses": {}, "blips": 0,
                               "node_seconds": kept_history(ctx.journal)}, fresh=not ours)


async def monitor(ctx: Context, progress: Progress = no_progress, *, watch: RunWatch | None = None) -> RunOutcome:
    """Watch Get-CauRun until the run ends; then conclude it. Reattaches to a run in progress.

    Each change of a node's CAU status is one progress event (``status``, ``since``); a blip is a
    ``WAITING`` event; the end is ``DONE`` or ``FAILED``. ``watch``: the caller's :class:`RunWatch`, when
    it shows the whole run (state, orchestrator, last read, blips); it is kept up to date at every poll.

    Polls never overlap (the next is armed when the last one finished). Raises StepFailed when the
    run ends without every node succeeded, or when Get-CauRun fails for a reason that is no blip.
    """
    watch = watch if watch is not None else RunWatch()
    watch.total = watch.total or len(ctx.client.node_names)
    watch.history = watch.history or past_node_seconds(ctx.journal)
    step = "watch the CAU run"
    lost_since: float | None = None
    adopted = False
    while True:
        try:
            run = await ctx.client.invoke_cluster(reads.get_cau_run, timeout=ctx.cluster.timeouts.operation)
        except RemoteError as exc:
            known = (watch.run is not None and watch.run.state == IN_PROGRESS) or watching(ctx.journal)
            if not (known and is_blip(exc)):
                raise StepFailed(step, f"Get-CauRun failed: {exc.message}") from None
            lost_since = lost_since or time.monotonic()
            if time.monotonic() - lost_since > ctx.cluster.timeouts.reboot:
                raise StepFailed(step, f"Get-CauRun has not answered for {ctx.cluster.timeouts.reboot:g} s "
                                       f"({exc.message}); the run may go on: reattach to watch it",
                                 remedy=Remedy(action=Action.CAU_OPEN)) from None
            watch.blips += 1
            # A node restarting or the orchestrator moving: not a failure (the screen's help says so).
            watch.note = (f"blip at {datetime.now():%H:%M:%S}: Get-CauRun did not answer; "
                          "last state kept (not a failure)")
            progress(ProgressEvent(ctx.name, f"blip: {exc.message}", stage=Stage.WAITING))
            await asyncio.sleep(ctx.poll)
            continue
        lost_since = None
        if run.state != IN_PROGRESS:
            watch.run = watch.run if run.run_id is None else run
            if run.run_id is not None:  # a run that ended with its statuses (RunFailed): the last changes
                for entry in watch.update(run):
                    progress(status_event(entry.node, entry.status, entry.timestamp, watch))
            outcome = await conclude(ctx, run, watch, progress)
            watch.ended, watch.outcome, watch.succeeded = True, outcome.sentence, outcome.succeeded
            if not outcome.succeeded and outcome.run_id is not None:
                raise StepFailed("the CAU run", outcome.sentence, remedy=outcome.remedy)
            return outcome
        if not adopted:
            adopt(ctx, run)
            adopted = True
        changed = watch.update(run)
        for entry in changed:
            progress(status_event(entry.node, entry.status, entry.timestamp, watch))
        if changed:
            latest = max(changed, key=lambda e: e.timestamp or datetime.min.replace(tzinfo=UTC))
            _journal_statuses(ctx, watch, f"run {short_id(run.run_id)}: {latest.node} {latest.status}")
        await asyncio.sleep(ctx.poll)


async def why(ctx: Context, run: model.CauRun) -> Explanation | None:
    """Why a run that ended RunFailed failed (read when the CAU run is opened afterwards): from Get-CauReport
    -Detailed when the report is that run's, else from Get-CauRun's node results. None for any other run."""
    if run.state != FAILED_STATE:
        return None
    report = await read_report(ctx)
    detail = report if report is not None and report.present and run.run_id and report.run_id == run.run_id \
        else None
    results = detail.node_results if detail is not None and detail.node_results else run.node_results
    return explain(ctx.name, run.run_id, results, locked=True, report=detail)


async def read_report(ctx: Context) -> cau_ops.CauReportDetail | None:
    try:
        return await ctx.client.invoke_cluster(cau_ops.get_cau_report, timeout=cau_ops.get_cau_report.timeout)
    except RemoteError:
        return None


def _report_is_ours(report: model.CauReport | None, record: StepRecord | None, run_id: str | None) -> bool:
    if report is None or not report.present:
        return False
    if run_id:
        return report.run_id == run_id
    if record is None or report.run_start_time is None or not record.started:
        return False
    try:
        started = datetime.fromisoformat(record.started)
    except ValueError:
        return False
    return report.run_start_time >= started.replace(microsecond=0)


def _take_results(watch: RunWatch, results: dict[str, model.CauNodeResult], progress: Progress) -> None:
    """The nodes' results into the watch, each changed status an event. Get-CauRun says nothing of a run
    that ended: its last node's result comes from the report."""
    for node, result in results.items():
        watch.results[node] = result
        before = watch.statuses.get(node)
        if before is None or before.status != str(result.status):
            entry = model.CauNodeStatus(node=node, status=str(result.status), timestamp=datetime.now(UTC))
            watch._status(entry, [])
            progress(status_event(node, entry.status, entry.timestamp, watch))


def _stopped_here(ctx: Context, run_id: str | None) -> bool:
    """Did hcitui's stop (cau-stop, or x on the console) end this run?"""
    record = ctx.journal.step(RUN_PHASE, STOP)
    return record is not None and bool(run_id) and record.data.get("run_id") == run_id


def _explained(ctx: Context, watch: RunWatch, run_id: str | None, results: dict[str, model.CauNodeResult], *,
               locked: bool, report: cau_ops.CauReportDetail | None) -> Explanation:
    watch.explanation = explain(ctx.name, run_id, results.values(), locked=locked, report=report,
                                stages=watch.failed_in, stopped_here=_stopped_here(ctx, run_id))
    return watch.explanation


def _failed_words(results: dict[str, model.CauNodeResult], explanation: Explanation) -> str:
    """The failed nodes in a sentence: each one's status and, when known, its error's text."""
    errors = {f.node: f.error for f in explanation.failures}
    return "; ".join(f"{r.node} {r.status}" + (f": {errors[r.node]}" if errors.get(r.node) else "")
                     for r in results.values() if r.status not in (SUCCEEDED, CANCELED))


async def conclude(ctx: Context, run: model.CauRun, watch: RunWatch, progress: Progress = no_progress) -> RunOutcome:
    """The run is no longer in progress: how did it end? Journal it, after a read of the cluster agrees.
    The nodes' results go into ``watch`` (each changed status an event) before the end's event; a run
    that failed is explained (``watch.explanation``, ``RunOutcome.explanation``) from Get-CauReport
    -Detailed when the report is this run's, else from Get-CauRun's node results."""
    record = run_record(ctx.journal)
    concluding = record is not None and record.status in (StepStatus.RUNNING, StepStatus.UNKNOWN)
    options = RunOptions(**record.data.get("options", {})) if record and record.data.get("options") else None
    known_id = (record.data.get("run_id") if record else None) or (watch.run.run_id if watch.run else None)
    if run.state == FAILED_STATE:
        report = await read_report(ctx)
        detail = report if isinstance(report, cau_ops.CauReportDetail) and report.present and run.run_id and \
            report.run_id == run.run_id else None
        results = ({r.node: r for r in detail.node_results} if detail is not None and detail.node_results else
                   {r.node: r for r in run.node_results} or dict(watch.results))
        explanation = _explained(ctx, watch, run.run_id or known_id, results, locked=True, report=detail)
        named = _failed_words(results, explanation) or "no node result"
        sentence = (f"run {short_id(run.run_id)} ended RunFailed ({named}); the cluster stays locked until it is "
                    "recovered")
        _take_results(watch, results, progress)
        if concluding or watch.run is not None:
            ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.FAILED, sentence[:300],
                                 data={"run_id": run.run_id or known_id,
                                       "node_seconds": _keep_history(ctx, record, watch)})
        progress(ProgressEvent(ctx.name, "run failed (RunFailed)", stage=Stage.FAILED))
        return RunOutcome(False, sentence, run.run_id or "?", results, remedy=Remedy(action=Action.CAU_RECOVER),
                          explanation=explanation)
    if not concluding and watch.run is None:
        return RunOutcome(True, "No CAU run is in progress.", None)
    report = await read_report(ctx)
    ours = report if isinstance(report, cau_ops.CauReportDetail) and _report_is_ours(report, record, known_id) \
        else None
    if ours is not None:
        run_id, results = ours.run_id, {r.node: r for r in ours.node_results}
        status = (ours.status or "").lower()
    elif watch.results or watch.run is not None:
        run_id = known_id
        results, status = dict(watch.results), ""
    else:
        sentence = "no CAU run was found: the start may not have reached the cluster; start it again"
        ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.FAILED, sentence)
        return RunOutcome(False, sentence, "?")
    nodes = ctx.client.node_names
    canceled = status == "canceled" or any(r.status == CANCELED for r in results.values())
    missing = [n for n in nodes if n not in results]
    failed = [r for r in results.values() if r.status not in (SUCCEEDED, CANCELED)]
    # The proof: what the cluster shows now.
    state = await observe(ctx, ("nodes",))
    proof = _proof(state, nodes, options)
    level = None
    if options is not None and options.plugin == ROLLING_UPGRADE:
        try:
            level = (await ctx.client.invoke_cluster(post_ops.get_cluster_functional_level,
                                                     timeout=ctx.cluster.timeouts.operation)).cluster_functional_level
        except RemoteError:
            level = None
    explanation = _explained(ctx, watch, run_id, results, locked=False, report=ours) if canceled or failed else None
    done = sum(1 for r in results.values() if r.status == SUCCEEDED)
    head = f"run {short_id(run_id)}: {done}/{len(nodes)} nodes succeeded"
    if canceled:
        sentence = f"{head}; stopped before the end" + (f" (not updated: {', '.join(missing)})" if missing else "")
    elif failed:
        sentence = f"{head}; " + _failed_words(results, explanation)
    elif missing:
        sentence = f"{head}; no result for {', '.join(missing)}"
    elif proof:
        sentence = f"{head} but the cluster disagrees: {'; '.join(proof)}"
    else:
        sentence = head + _level_words(options, level)
    succeeded = not (canceled or failed or missing or proof)
    _take_results(watch, results, progress)
    ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.DONE if succeeded else StepStatus.FAILED, sentence[:300],
                         data={"run_id": run_id, "node_seconds": _keep_history(ctx, record, watch)})
    progress(ProgressEvent(ctx.name, ("run succeeded: " if succeeded else "run ended: ") + sentence,
                           1.0 if succeeded else None, stage=Stage.DONE if succeeded else Stage.FAILED))
    return RunOutcome(succeeded, sentence, run_id or "?", results, level,
                      remedy=explanation.remedy if explanation is not None else None, explanation=explanation)


def _level_words(options: RunOptions | None, level: int | None) -> str:
    """The run's end, as to the functional level: which way was chosen, and what the cluster says."""
    if options is None or options.plugin != ROLLING_UPGRADE:
        return f"; functional level {level}" if level is not None else ""
    shown = str(level) if level is not None else "unread"
    if options.update_functional_level:
        return f"; functional level {shown} (UpdateClusterFunctionalLevel ON: raised by the run)"
    return (f"; functional level {shown}, not raised (UpdateClusterFunctionalLevel off: Post-upgrade "
            "raises it)")


def _proof(state: ClusterState, nodes: list[str], options: RunOptions | None) -> list[str]:
    if problem(state.nodes):
        return [f"cluster nodes: {problem(state.nodes)}"]
    reasons = []
    for name in nodes:
        node = state.cluster_node(name)
        if node is None:
            reasons.append(f"{name} is not a member")
            continue
        if node.state != model.NodeState.UP:
            reasons.append(f"{name} is {node.state}")
        if options is not None and options.plugin == ROLLING_UPGRADE and node.build_number != model.UPGRADE_TO_BUILD:
            reasons.append(f"{name} is on build {node.build_number}")
    return reasons


async def read_run(ctx: Context) -> model.CauRun | RemoteError:
    try:
        return await ctx.client.invoke_cluster(reads.get_cau_run, timeout=ctx.cluster.timeouts.operation)
    except RemoteError as exc:
        return exc


def should_watch(ctx: Context, run: model.CauRun | RemoteError) -> bool:
    """Reattach? A run in progress, or one the journal says was running when hcitui stopped."""
    if isinstance(run, model.CauRun) and run.state == IN_PROGRESS:
        return True
    return watching(ctx.journal)

