"""What every maintenance step shares: its journal names, the reads it decides on, the one-node-out lock."""

from __future__ import annotations

from hcitui.core import model
from hcitui.core.journal import JournalError
from hcitui.remote import RemoteError
from hcitui.workflow.context import Context
from hcitui.workflow.observe import ClusterState, observe, problem
from hcitui.workflow.steps import Refused

PHASE = 1
DRAIN, RESUME, RESTART, ROLLING = "drain", "resume", "restart", "rolling-restart"
STATE_PARTS = ("nodes", "groups", "jobs", "disks", "sr_groups", "cau_run")


def other(ctx: Context, node: str) -> str:
    """Where a cluster-wide call about ``node`` goes: any other node (it may be going down)."""
    return f"any node of {ctx.name} but {node}"


async def read_state(ctx: Context, node: str | None = None) -> ClusterState:
    """The cluster parts every maintenance decision needs, and the node's OS (boot time)."""
    return await observe(ctx, STATE_PARTS, ("os",) if node else (), nodes=[node] if node else None)


def boot_of(state: ClusterState, node: str) -> str | None | RemoteError:
    """The node's boot time as the journal keeps it; the error when it did not answer."""
    value = state.node_part(node, "os")
    if isinstance(value, model.OsVersion):
        return value.last_boot_up_time.isoformat() if value.last_boot_up_time else None
    return value if isinstance(value, RemoteError) else None


def roles_on(state: ClusterState, node: str) -> list[str]:
    if problem(state.groups):
        return []
    return [g.name for g in state.groups if (g.owner_node or "").lower() == node.lower()
            and g.state == model.GroupState.ONLINE]


def storage_bytes(state: ClusterState) -> tuple[int, int] | None:
    """(bytes processed, bytes to process) over the storage jobs running now; None when unknown."""
    if problem(state.jobs) or not state.jobs:
        return None
    total = sum(j.bytes_total or 0 for j in state.jobs)
    if not total:
        return None
    return sum(j.bytes_processed or 0 for j in state.jobs), total


def take_lock(ctx: Context, node: str, reason: str, was_paused: bool) -> None:
    try:
        ctx.journal.acquire_lock(node, reason, was_paused=was_paused)
    except JournalError as exc:
        raise Refused(f"{reason} {node}", [str(exc)]) from None
