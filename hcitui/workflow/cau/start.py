"""Starting a CAU run: refused unless every node is Up, storage is quiet, the staged ISO is proved on
every node (the rolling upgrade), its gates are open and no run is in progress or left failed; then
``start_cau_run`` hands the run to the cluster (it outlives hcitui) and Get-CauRun proves it started."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepStatus
from hcitui.ps import cau as cau_ops
from hcitui.ps import iso as iso_ops
from hcitui.ps import reads
from hcitui.remote import RemoteError
from hcitui.workflow import gates, interlocks
from hcitui.workflow.cau.options import (
    FAILED_STATE,
    IN_PROGRESS,
    PLUGIN_TITLE,
    ROLLING_UPGRADE,
    RUN,
    RUN_PHASE,
    RunOptions,
    short_id,
)
from hcitui.workflow.cau.watch import is_blip, kept_history, read_report
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.observe import ClusterState, observe, problem
from hcitui.workflow.steps import Refused, StepFailed


@dataclass
class StartState:
    cluster: ClusterState
    staging: dict[str, model.StagingInfo | RemoteError]


def _staging_blockers(staging: dict[str, model.StagingInfo | RemoteError], path: str) -> list[str]:
    reasons = []
    counts: Counter = Counter()
    for node, info in staging.items():
        if isinstance(info, RemoteError):
            reasons.append(f"{node}: the staged ISO could not be read: {info.message}")
        elif not info.exists or not info.has_setup:
            reasons.append(f"{node}: setup.exe is not in {path}: stage the ISO first")
        else:
            counts[(info.file_count, info.total_bytes)] += 1
    if len(counts) > 1:
        (files, size), _ = counts.most_common(1)[0]
        for node, info in staging.items():
            counted = isinstance(info, model.StagingInfo) and info.has_setup
            if counted and (info.file_count, info.total_bytes) != (files, size):
                reasons.append(f"{node}: {path} holds {info.file_count} files, the others {files}: stage it again")
    return reasons


def run_blockers(run: model.CauRun | RemoteError | None) -> list[str]:
    if run is None or isinstance(run, RemoteError):
        return [f"CAU run: {problem(run)}"]
    if run.state == IN_PROGRESS:
        return [f"a CAU run ({short_id(run.run_id)}) is in progress: watch it, or stop it first to end it"]
    if run.state == FAILED_STATE:
        return ["the last CAU run failed and left the cluster locked (RunFailed): recover it first"]
    if run.state != model.CauRunState.RUN_NOT_IN_PROGRESS:
        return [f"Get-CauRun says {run.state}: no run can start until it says RunNotInProgress"]
    return []


def start_blockers(state: StartState, options: RunOptions, lock: Any, staging_path: str, *,
                   stretched: bool = True) -> list[str]:
    """May the run start now? Pure: observed state in, reasons out (RUNBOOK 4). Fails closed."""
    reasons: list[str] = []
    if lock is not None:
        reasons.append(f"{lock.node} is out of service since {lock.since} ({lock.reason}): bring it back first")
    cluster = state.cluster
    if problem(cluster.nodes):
        reasons.append(f"cluster nodes: {problem(cluster.nodes)}")
    else:
        for node in cluster.nodes:
            if node.state != model.NodeState.UP:
                reasons.append(f"{node.name} is {node.state}: every node must be Up")
    reasons += interlocks.storage_blockers(cluster, stretched=stretched)
    reasons += run_blockers(cluster.cau_run)
    if options.plugin == ROLLING_UPGRADE:
        reasons += (_staging_blockers(state.staging, staging_path) if state.staging
                    else [f"the staged ISO in {staging_path} was not read"])
    return reasons


def start_remedy(state: StartState, options: RunOptions, lock: Any, judged: list[gates.Gate]) -> Remedy | None:
    """The one next thing to do when the start is refused, most pressing first: a run in progress is
    stopped, a failed one recovered, a node out of service brought back, a closed gate opened, the ISO
    staged. Pure; None when hcitui has nothing to offer (a storage job runs its course)."""
    run = state.cluster.cau_run
    if isinstance(run, model.CauRun) and run.state == IN_PROGRESS:
        return Remedy(action=Action.CAU_STOP)
    if isinstance(run, model.CauRun) and run.state == FAILED_STATE:
        return Remedy(action=Action.CAU_RECOVER)
    if lock is not None:
        return Remedy(action=Action.NODE_RESUME, node=lock.node)
    closed = next((gate for gate in judged if not gate.ok), None)
    if closed is not None:
        return closed.next_step
    if options.plugin == ROLLING_UPGRADE and _staging_blockers(state.staging, ""):
        return Remedy(action=Action.ISO_STAGE)
    return None


async def read_start_state(ctx: Context, options: RunOptions) -> StartState:
    cluster = await observe(ctx, ("nodes", "jobs", "disks", "sr_groups", "cau_run"))
    staging: dict[str, model.StagingInfo | RemoteError] = {}
    if options.plugin == ROLLING_UPGRADE:
        outcomes = await ctx.client.fan_out(iso_ops.get_staging_info, {"path": ctx.cluster.staging_path},
                                            timeout=ctx.cluster.timeouts.operation)
        staging = {n: (o.value if o.ok else o.error) for n, o in outcomes.items()}
    return StartState(cluster, staging)


async def start(ctx: Context, options: RunOptions, progress: Progress = no_progress, *,
                override_registry: str | None = None) -> model.CauRun:
    """Start the run (it then goes on without hcitui) and prove it: Get-CauRun shows it in progress.

    The rolling upgrade is gated (workflow/gates.py); ``override_registry`` is the operator's typed reason
    to start although the registry values are not proved in force: it is journalled."""
    step = f"start the CAU {PLUGIN_TITLE.get(options.plugin, options.plugin)}"
    reasons = options.problems(len(ctx.client.node_names))
    if reasons:
        raise Refused(step, reasons)
    state = await read_start_state(ctx, options)
    lock = ctx.journal.state.lock
    reasons = start_blockers(state, options, lock, ctx.cluster.staging_path, stretched=ctx.stretched)
    judged: list[gates.Gate] = []
    if options.plugin == ROLLING_UPGRADE:  # monthly updates are no OS upgrade: not gated
        judged = gates.judge(await gates.read(ctx), override_registry)
        reasons += gates.reasons(judged)
    if reasons:
        raise Refused(step, reasons, remedy=start_remedy(state, options, lock, judged))
    override = gates.record_override(ctx, judged, RUN, None)
    ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.RUNNING,
                         "starting; " + options.level_sentence() + ("; registry gate OVERRIDDEN" if override else ""),
                         data={"run_id": None, "options": options.as_data(), "statuses": {}, "blips": 0,
                               "functional_level": ("raise" if options.update_functional_level else "leave")
                               if options.plugin == ROLLING_UPGRADE else None,
                               "registry_override": override,
                               "requested": datetime.now(UTC).isoformat(timespec="seconds"),
                               "node_seconds": kept_history(ctx.journal)},  # earlier runs: the estimate
                         fresh=True)
    progress(ProgressEvent(ctx.name, "starting the run"))
    try:
        started = await ctx.client.invoke_cluster(cau_ops.start_cau_run, options.params(ctx),
                                                  timeout=cau_ops.start_cau_run.timeout)
    except RemoteError as exc:
        ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.FAILED, f"did not start: {exc.message}")
        raise StepFailed(step, exc.message) from None
    if started.run_id:
        ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.RUNNING, "started", data={"run_id": started.run_id})
    # The proof: Get-CauRun shows a run in progress (a node may not answer for a moment: that is a blip).
    deadline = time.monotonic() + ctx.cluster.timeouts.operation
    while True:
        try:
            run = await ctx.client.invoke_cluster(reads.get_cau_run, timeout=ctx.cluster.timeouts.operation)
        except RemoteError as exc:
            if not is_blip(exc) or time.monotonic() > deadline:
                ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.UNKNOWN, f"started; not seen: {exc.message}")
                raise StepFailed(step, f"the run was handed over but Get-CauRun failed: {exc.message}; it may "
                                       "be running: reattach to watch it",
                                 remedy=Remedy(action=Action.CAU_OPEN)) from None
            await asyncio.sleep(ctx.poll)
            continue
        if run.state == IN_PROGRESS or (started.run_id and run.run_id == started.run_id):
            break  # in progress (or already over, in a fast lab): the monitor concludes it
        if run.state == model.CauRunState.RUN_NOT_IN_PROGRESS and started.run_id:
            report = await read_report(ctx)
            if report is not None and report.run_id == started.run_id:
                break
        if time.monotonic() > deadline or run.state == FAILED_STATE:
            ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.FAILED, f"not started: Get-CauRun says {run.state}")
            raise StepFailed(step, f"Get-CauRun says {run.state}, not RunInProgress; see {started.log_path} "
                                   f"on {ctx.client.coordinator_name or 'the node that started it'}",
                             remedy=Remedy(action=Action.CAU_RECOVER) if run.state == FAILED_STATE else None)
        await asyncio.sleep(ctx.poll)
    ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.RUNNING, f"run {short_id(run.run_id)} in progress",
                         data={"run_id": run.run_id or started.run_id})
    progress(ProgressEvent(ctx.name, f"run {short_id(run.run_id)} started; orchestrator "
                                     f"{run.current_orchestrator or '?'}", stage=Stage.DONE))
    return run
