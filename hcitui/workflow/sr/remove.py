"""Phase 4: remove the partnerships the re-read snapshot describes, one at a time, each proved gone.

Refused (nothing sent) by :func:`removal_blockers`. A partnership already gone is skipped, so a run
that was interrupted or failed goes on with the same snapshot and keeps what it removed then."""

from __future__ import annotations

from hcitui.core.journal import StepStatus
from hcitui.ps import sr as sr_ops
from hcitui.remote import RemoteError
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.observe import observe, problem
from hcitui.workflow.sr.commands import remove_params
from hcitui.workflow.sr.interlocks import not_stretched, removal_blockers
from hcitui.workflow.sr.snapshot import PHASE_SNAPSHOT, REMOVE, SR_PARTS, live_key
from hcitui.workflow.sr.store import snapshot_info, verified
from hcitui.workflow.steps import Refused, StepFailed


def _failed(ctx: Context, progress: Progress, step: str, label: str, why: str,
            position: tuple[int, int]) -> StepFailed:
    """Journal and show one partnership's failure; the error to raise."""
    message = f"{label}: {why}"
    ctx.journal.set_step(PHASE_SNAPSHOT, REMOVE, None, StepStatus.FAILED, message)
    progress(ProgressEvent(label, why, stage=Stage.FAILED, position=position))
    return StepFailed(step, message)


async def remove_partnerships(ctx: Context, progress: Progress = no_progress) -> list[str]:
    """Remove every live partnership the re-read snapshot describes, one at a time, each proved gone."""
    step = "remove SR partnerships"
    state = await observe(ctx, SR_PARTS)
    outside = not_stretched(ctx, state, SR_PARTS)
    if outside:
        raise Refused(step, outside)
    snapshot = verified(ctx, step)
    reasons = removal_blockers(snapshot, state)
    if reasons:
        raise Refused(step, reasons)
    live = {live_key(p) for p in state.sr_partnerships}
    present = [sp for sp in snapshot.partnerships if sp.key in live]
    record = ctx.journal.step(PHASE_SNAPSHOT, REMOVE)
    if not present and record is not None and record.status is StepStatus.DONE:
        return list(record.data.get("removed", []))  # done before: nothing left to remove
    info = snapshot_info(ctx)
    # Interrupted or failed earlier with this same snapshot: go on, keeping what was removed then.
    resuming = (record is not None and record.status is not StepStatus.DONE and info is not None
                and record.data.get("snapshot") == str(info.path))
    removed: list[str] = list(record.data.get("removed", [])) if resuming and record else []
    ctx.journal.set_step(PHASE_SNAPSHOT, REMOVE, None, StepStatus.RUNNING,
                         f"removing {len(present)} partnership{'s' if len(present) != 1 else ''}",
                         data={"snapshot": str(info.path) if info else None, "removed": removed}, fresh=not resuming)
    for index, sp in enumerate(present):
        position = (index + 1, len(present))
        pending = ", ".join(p.label for p in present[index:])
        progress(ProgressEvent(sp.label, "Remove-SRPartnership", None, position=position))
        error: RemoteError | None = None
        try:
            await ctx.client.invoke_cluster(sr_ops.remove_sr_partnership, remove_params(sp))
        except RemoteError as exc:
            error = exc
        after = await observe(ctx, ("sr_partnerships",))
        if problem(after.sr_partnerships):
            why = f"cannot prove it is gone: {problem(after.sr_partnerships)}"
            raise _failed(ctx, progress, step, sp.label, f"{why}; pending: {pending}", position)
        if any(live_key(p) == sp.key for p in after.sr_partnerships):
            why = error.message if error else "Get-SRPartnership still lists it after Remove-SRPartnership"
            raise _failed(ctx, progress, step, sp.label, f"{why}; pending: {pending}", position)
        removed.append(sp.label)
        ctx.journal.set_step(PHASE_SNAPSHOT, REMOVE, None, StepStatus.RUNNING,
                             f"{index + 1} of {len(present)} removed", data={"removed": removed})
        progress(ProgressEvent(sp.label, "removed: Get-SRPartnership no longer lists it", 1.0, stage=Stage.DONE,
                               position=position))
    ctx.journal.set_step(PHASE_SNAPSHOT, REMOVE, None, StepStatus.DONE,
                         f"{len(removed)} removed; recreate them from the snapshot after the upgrade")
    return removed
