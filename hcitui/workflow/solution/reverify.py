"""After an interruption: where a features install or a BitLocker suspend or resume stands. These read the
nodes and the journal; they change nothing (workflow/resume.py)."""

from __future__ import annotations

from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepRecord, StepStatus
from hcitui.workflow.context import Context
from hcitui.workflow.resume import register
from hcitui.workflow.solution.common import (
    BITLOCKER_RESUME,
    BITLOCKER_SUSPEND,
    FEATURES,
    FEATURES_RUN,
    missing_of,
    protected_volumes,
    read_node,
    suspended_volumes,
)
from hcitui.workflow.steps import Unfinished

FEATURES_REMEDY = Remedy(action=Action.FEATURES_INSTALL)


async def _lacking(ctx: Context, node: str) -> str | None:
    """What keeps ``node``'s features install from being done (None: nothing)."""
    lock = ctx.journal.state.lock
    if lock is not None and lock.node == node:
        return f"{node} is still out of service ({lock.reason})"
    lacks = missing_of(node, await read_node(ctx, node, f"re-verify features-install {node}"),
                       f"re-verify features-install {node}")
    return None if lacks.nothing else f"{node} has {lacks.words()}"


@register(FEATURES)
async def _reverify_node(ctx: Context, record: StepRecord) -> StepStatus:
    node = record.node or ""
    why = await _lacking(ctx, node)
    if why is None:
        return StepStatus.DONE
    raise Unfinished(f"the features install of {node} stopped part-way: {why}; run features-install again, "
                     "it goes on where it stopped", remedy=FEATURES_REMEDY)


@register(FEATURES_RUN)
async def _reverify_run(ctx: Context, record: StepRecord) -> StepStatus:
    order = list(record.data.get("order", []))
    reasons = [why for node in order if (why := await _lacking(ctx, node)) is not None]
    if order and not reasons:
        return StepStatus.DONE
    raise Unfinished("the features install stopped part-way: " + ("; ".join(reasons[:3]) or "no node order kept")
                     + ": run features-install again, it goes on where it stopped", remedy=FEATURES_REMEDY)


@register(BITLOCKER_SUSPEND)
async def _reverify_suspend(ctx: Context, record: StepRecord) -> StepStatus:
    node = record.node or ""
    step = f"re-verify bitlocker-suspend {node}"
    left = protected_volumes(node, await read_node(ctx, node, step), step)
    if not left:
        return StepStatus.DONE
    raise Unfinished(f"BitLocker is still On on {node} {', '.join(v.mount_point for v in left)}: suspend it again",
                     remedy=Remedy(action=Action.BITLOCKER_SUSPEND, node=node))


@register(BITLOCKER_RESUME)
async def _reverify_resume(ctx: Context, record: StepRecord) -> StepStatus:
    node = record.node or ""
    step = f"re-verify bitlocker-resume {node}"
    wanted = {str(m).lower() for m in record.data.get("volumes", [])}
    left = [v for v in suspended_volumes(node, await read_node(ctx, node, step), step)
            if not wanted or v.mount_point.lower() in wanted]
    if not left:
        return StepStatus.DONE
    raise Unfinished(f"BitLocker is still suspended on {node} {', '.join(v.mount_point for v in left)}: resume it "
                     f"again (B on 12) Readiness, or hcitui bitlocker-resume --node {node})")
