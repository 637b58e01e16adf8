"""Stopping a CAU run (it ends at its next safe point: a node being updated is finished and resumed
first) and recovering a failed one that left the cluster locked (``-ForceRecovery``), each proved by
Get-CauRun."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepStatus
from hcitui.ps import cau as cau_ops
from hcitui.ps import reads
from hcitui.remote import RemoteError
from hcitui.workflow.cau.options import FAILED_STATE, IN_PROGRESS, RECOVER, RUN, RUN_PHASE, STOP, short_id
from hcitui.workflow.cau.watch import RunWatch, conclude, is_blip, read_run, watching
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.steps import Refused, StepFailed


async def _wait_until_ended(ctx: Context, step: str, progress: Progress) -> model.CauRun:
    deadline = time.monotonic() + ctx.cluster.timeouts.reboot + ctx.cluster.timeouts.drain
    since = datetime.now().astimezone()
    while True:
        try:
            run = await ctx.client.invoke_cluster(reads.get_cau_run, timeout=ctx.cluster.timeouts.operation)
        except RemoteError as exc:
            if not is_blip(exc):
                raise StepFailed(step, f"Get-CauRun failed: {exc.message}") from None
            run = None
        if run is not None and run.state != IN_PROGRESS:
            return run
        if time.monotonic() > deadline:
            raise StepFailed(step, "the run has not ended yet; it is still stopping: watch it until it ends",
                             remedy=Remedy(action=Action.CAU_OPEN))
        current = next((s for s in (run.node_status_notifications if run else [])
                        if s.status not in ("Waiting", "Succeeded", "Failed", "Canceled")), None)
        progress(ProgressEvent(ctx.name, "stopping: the run ends at its next safe point"
                               + (f" ({current.node} {current.status})" if current else ""), stage=Stage.WAITING,
                               since=since))
        await asyncio.sleep(ctx.poll)


async def stop(ctx: Context, progress: Progress = no_progress) -> model.CauRun:
    """Stop-CauRun, then wait until the run has ended (a node being updated is finished first)."""
    step = "stop the CAU run"
    run = await read_run(ctx)
    if isinstance(run, RemoteError):
        raise Refused(step, [f"CAU run: could not read: {run.message}"])
    if run.state != IN_PROGRESS:
        raise Refused(step, [f"no CAU run is in progress (Get-CauRun says {run.state})"])
    ctx.journal.set_step(RUN_PHASE, STOP, None, StepStatus.RUNNING, f"stopping run {short_id(run.run_id)}",
                         data={"run_id": run.run_id}, fresh=True)
    try:
        await ctx.client.invoke_cluster(cau_ops.stop_cau_run, timeout=cau_ops.stop_cau_run.timeout)
    except RemoteError as exc:
        ctx.journal.set_step(RUN_PHASE, STOP, None, StepStatus.FAILED, exc.message)
        raise StepFailed(step, exc.message) from None
    progress(ProgressEvent(ctx.name, "stop requested (CancelPending)"))
    try:
        ended = await _wait_until_ended(ctx, step, progress)
    except StepFailed as exc:
        ctx.journal.set_step(RUN_PHASE, STOP, None, StepStatus.FAILED, exc.message)
        raise
    ctx.journal.set_step(RUN_PHASE, STOP, None, StepStatus.DONE,
                         f"run {short_id(run.run_id)} ended ({ended.state}); its results stay in Get-CauReport")
    if watching(ctx.journal):
        await conclude(ctx, ended, RunWatch(run=run), progress)  # nobody else may be watching it
    progress(ProgressEvent(ctx.name, f"stopped: Get-CauRun says {ended.state}", 1.0, stage=Stage.DONE))
    return ended


async def recover(ctx: Context, progress: Progress = no_progress) -> model.CauRun:
    """Invoke-CauRun -ForceRecovery for a stale failed run; proved by Get-CauRun saying RunNotInProgress."""
    step = "recover the failed CAU run"
    run = await read_run(ctx)
    if isinstance(run, RemoteError):
        raise Refused(step, [f"CAU run: could not read: {run.message}"])
    if run.state == IN_PROGRESS:
        raise Refused(step, [f"run {short_id(run.run_id)} is in progress and answers: stop it instead; recovery "
                             "is for a failed run that left the cluster locked"], remedy=Remedy(action=Action.CAU_STOP))
    if run.state != FAILED_STATE:
        raise Refused(step, [f"there is no failed run to recover (Get-CauRun says {run.state})"])
    ctx.journal.set_step(RUN_PHASE, RECOVER, None, StepStatus.RUNNING, f"recovering run {short_id(run.run_id)}",
                         fresh=True)
    try:
        await ctx.client.invoke_cluster(cau_ops.recover_cau_run, timeout=cau_ops.recover_cau_run.timeout)
    except RemoteError as exc:
        ctx.journal.set_step(RUN_PHASE, RECOVER, None, StepStatus.FAILED, exc.message)
        raise StepFailed(step, exc.message) from None
    after = await read_run(ctx)
    if isinstance(after, RemoteError) or after.state != model.CauRunState.RUN_NOT_IN_PROGRESS:
        why = after.message if isinstance(after, RemoteError) else f"Get-CauRun says {after.state}"
        ctx.journal.set_step(RUN_PHASE, RECOVER, None, StepStatus.FAILED, f"not proved: {why}")
        raise StepFailed(step, f"not proved: {why}")
    if watching(ctx.journal):
        ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.FAILED, f"run {short_id(run.run_id)} failed; recovered")
    ctx.journal.set_step(RUN_PHASE, RECOVER, None, StepStatus.DONE, "Get-CauRun says RunNotInProgress")
    progress(ProgressEvent(ctx.name, "recovered: a new run can start", 1.0, stage=Stage.DONE))
    return after
