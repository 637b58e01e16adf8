"""Where the Storage Replica work stands, in one phrase for the main menu (from the journal only)."""

from __future__ import annotations

from datetime import datetime

from hcitui.core.journal import StepStatus
from hcitui.workflow.context import Context
from hcitui.workflow.sr.snapshot import DIFF, PHASE_RECREATE, PHASE_SNAPSHOT, RECREATE, REMOVE
from hcitui.workflow.sr.store import snapshot_info

# What the menu line and the SR screen say of a cluster that is not stretched (``ctx.stretched``).
NOT_APPLICABLE = "not applicable: the cluster is not stretched"


def menu_state(ctx: Context) -> str:
    """One phrase for the main menu: where the SR work stands, from the journal."""
    if not ctx.stretched:
        return NOT_APPLICABLE
    info = snapshot_info(ctx)
    recreated = [r for r in ctx.journal.steps(PHASE_RECREATE) if r.step == RECREATE]
    removal = ctx.journal.step(PHASE_SNAPSHOT, REMOVE)
    if recreated and info is not None:
        done = sum(1 for r in recreated if r.status is StepStatus.DONE)
        check = ctx.journal.step(PHASE_RECREATE, DIFF)
        tail = ""
        if check is not None:
            tail = ", diff same" if check.status is StepStatus.DONE else ", diff DIFFERS"
        return f"{done}/{info.partnerships} recreated{tail}"
    if removal is not None:
        if removal.status is StepStatus.DONE:
            return f"{len(removal.data.get('removed', []))} removed; recreate after the upgrade"
        if removal.status in (StepStatus.RUNNING, StepStatus.UNKNOWN):
            return "removal interrupted; run it again"
        return "removal failed; see the journal"
    if info is None:
        return "no snapshot yet"
    if not info.reread:
        return "snapshot not re-read"
    when = info.taken_at
    try:
        when = datetime.fromisoformat(info.taken_at).astimezone().strftime("%H:%M")
    except ValueError:
        pass
    return f"snapshot {when}, {info.partnerships} partnerships"
