"""How an interrupted Storage Replica step is checked again after a restart (registered with
:mod:`hcitui.workflow.resume` when the package is imported). Read-only looks at the cluster."""

from __future__ import annotations

from hcitui.core.journal import StepRecord, StepStatus
from hcitui.workflow import resume
from hcitui.workflow.context import Context
from hcitui.workflow.observe import observe, problem
from hcitui.workflow.sr.diff import differences_of
from hcitui.workflow.sr.interlocks import sr_unreadable
from hcitui.workflow.sr.recreate import sites_of
from hcitui.workflow.sr.snapshot import (
    RECREATE,
    REMOVE,
    SNAPSHOT,
    SnapshotError,
    find_live,
    groups_by_name,
    live_key,
    replicating,
)
from hcitui.workflow.sr.store import load_snapshot, reread_snapshot
from hcitui.workflow.steps import StepFailed


@resume.register(SNAPSHOT)
async def _reverify_snapshot(ctx: Context, record: StepRecord) -> StepStatus:
    try:
        reread_snapshot(ctx)
    except SnapshotError:
        return StepStatus.FAILED
    return StepStatus.DONE


@resume.register(REMOVE)
async def _reverify_removal(ctx: Context, record: StepRecord) -> StepStatus:
    snapshot = load_snapshot(ctx)
    state = await observe(ctx, ("sr_partnerships",))
    if problem(state.sr_partnerships):
        raise StepFailed("re-verify SR removal", problem(state.sr_partnerships) or "")
    live = {live_key(p) for p in state.sr_partnerships}
    return StepStatus.PENDING if any(sp.key in live for sp in snapshot.partnerships) else StepStatus.DONE


@resume.register(RECREATE)
async def _reverify_recreate(ctx: Context, record: StepRecord) -> StepStatus:
    snapshot = load_snapshot(ctx)
    sp = next((p for p in snapshot.partnerships if p.label == record.node), None)
    if sp is None:
        return StepStatus.FAILED
    state = await observe(ctx, ("sr_groups", "sr_partnerships"))
    reasons = sr_unreadable(state, ("sr_groups", "sr_partnerships"))
    if reasons:
        raise StepFailed("re-verify SR recreate", "; ".join(reasons))
    if find_live(state.sr_partnerships, sp.key) is None:
        return StepStatus.PENDING
    group = groups_by_name(state.sr_groups).get(sp.destination_rg.lower())
    if group is None or not replicating(group) or group.bytes_remaining:
        return StepStatus.PENDING
    differences = differences_of(sp, state.sr_groups, state.sr_partnerships, sites_of(ctx), ctx.name)
    return StepStatus.FAILED if differences else StepStatus.DONE
