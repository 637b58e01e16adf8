"""After a kill: how each interrupted CAU step is checked again (workflow/resume.py), by reading
Get-CauRun or the node's remoting state; a run that ended meanwhile is concluded."""

from __future__ import annotations

from hcitui.core import model
from hcitui.core.journal import StepRecord, StepStatus
from hcitui.ps import cau as cau_ops
from hcitui.remote import RemoteError
from hcitui.workflow.cau.options import IN_PROGRESS, RECOVER, REMOTING, RUN, STOP
from hcitui.workflow.cau.watch import RunWatch, adopt, conclude, read_run
from hcitui.workflow.context import Context
from hcitui.workflow.resume import register


@register(RUN)
async def _reverify_run(ctx: Context, record: StepRecord) -> StepStatus:
    """Read Get-CauRun: still running (watched again when the CAU run is opened), or conclude the run that
    ended meanwhile."""
    run = await read_run(ctx)
    if isinstance(run, RemoteError):
        raise run
    if run.state == IN_PROGRESS:
        adopt(ctx, run)
        return StepStatus.RUNNING
    outcome = await conclude(ctx, run, RunWatch())
    return StepStatus.DONE if outcome.succeeded else StepStatus.FAILED


@register(STOP)
async def _reverify_stop(ctx: Context, record: StepRecord) -> StepStatus:
    run = await read_run(ctx)
    if isinstance(run, RemoteError):
        raise run
    return StepStatus.DONE if run.state != IN_PROGRESS else StepStatus.FAILED


@register(RECOVER)
async def _reverify_recover(ctx: Context, record: StepRecord) -> StepStatus:
    run = await read_run(ctx)
    if isinstance(run, RemoteError):
        raise run
    return StepStatus.DONE if run.state == model.CauRunState.RUN_NOT_IN_PROGRESS else StepStatus.FAILED


@register(REMOTING)
async def _reverify_remoting(ctx: Context, record: StepRecord) -> StepStatus:
    if not record.node:
        return StepStatus.FAILED
    state = await ctx.client.invoke(record.node, cau_ops.get_remoting_state, timeout=ctx.cluster.timeouts.operation)
    return StepStatus.DONE if state.enabled else StepStatus.FAILED
