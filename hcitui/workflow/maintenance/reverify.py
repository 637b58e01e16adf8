"""After an interruption: where a drain, a restart cycle, an upgrade or a rolling restart stands.
These read the cluster and the journal; they change nothing on the cluster (workflow/resume.py)."""

from __future__ import annotations

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepRecord, StepStatus
from hcitui.workflow import interlocks
from hcitui.workflow.context import Context
from hcitui.workflow.maintenance.common import DRAIN, PHASE, RESTART, ROLLING, boot_of, read_state
from hcitui.workflow.maintenance.cycle import RESTART_KIND, UPGRADE_KIND, CycleKind
from hcitui.workflow.resume import register
from hcitui.workflow.steps import Unfinished


async def _cycle_status(ctx: Context, record: StepRecord, kind: CycleKind) -> StepStatus:
    node = record.node or ""
    state = await read_state(ctx, node)
    boot = boot_of(state, node)
    target = state.cluster_node(node)
    before = record.data.get("boot_before")
    rebooted = isinstance(boot, str) and before and boot != before
    os_info = state.node_part(node, "os")
    build_ok = kind.expect_build is None or (
        isinstance(os_info, model.OsVersion) and os_info.current_build_number == kind.expect_build)
    lock = ctx.journal.state.lock
    settled = (target is not None and (target.state == model.NodeState.UP
                                       or (lock and lock.node == node and lock.was_paused))
               and not interlocks.storage_blockers(state, stretched=ctx.stretched))
    if rebooted and build_ok and settled:
        ctx.journal.release_lock(node)
        return StepStatus.DONE
    raise Unfinished(f"the {kind.label} of {node} stopped part-way (node {target.state if target else '?'}"
                     f"{', restarted' if rebooted else ''}): run the {kind.label} of {node} again, "
                     "it goes on where it stopped", remedy=Remedy(action=kind.action, node=node))


@register(RESTART)
async def _reverify_restart(ctx: Context, record: StepRecord) -> StepStatus:
    return await _cycle_status(ctx, record, RESTART_KIND)


@register(UPGRADE_KIND.step)
async def _reverify_upgrade(ctx: Context, record: StepRecord) -> StepStatus:
    return await _cycle_status(ctx, record, UPGRADE_KIND)


@register(DRAIN)
async def _reverify_drain(ctx: Context, record: StepRecord) -> StepStatus:
    node = record.node or ""
    state = await read_state(ctx)
    contradictions = interlocks.drained(node, state)
    if not contradictions:
        return StepStatus.DONE
    raise Unfinished(f"the drain of {node} did not finish: {'; '.join(contradictions)}; "
                     "drain it again or resume it", remedy=Remedy(action=Action.NODE_DRAIN, node=node))


@register(ROLLING)
async def _reverify_rolling(ctx: Context, record: StepRecord) -> StepStatus:
    order = list(record.data.get("order", []))
    done = [n for n in order
            if (step := ctx.journal.step(PHASE, RESTART, n)) is not None and step.status is StepStatus.DONE]
    if order and len(done) == len(order):
        return StepStatus.DONE
    pending = [n for n in order if n not in done]
    raise Unfinished(f"the rolling restart stopped with {', '.join(pending)} pending: run it again, "
                     "it goes on where it stopped", remedy=Remedy(action=Action.ROLLING_RESTART))
