"""Safety interlocks (RUNBOOK section 4) as pure functions.

Each takes observed state and returns the reasons to refuse; an empty list means go. They
fail closed: a part that could not be read is itself a reason, never a pass.
"""

from __future__ import annotations

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import NodeLock
from hcitui.core.units import human_bytes
from hcitui.workflow.observe import ClusterState, problem

PART_LABEL = {
    "cau_run": "CAU run",
    "nodes": "cluster nodes",
    "jobs": "storage jobs",
    "disks": "virtual disks",
    "sr_groups": "Storage Replica groups",
}


def _unreadable(state: ClusterState, parts: tuple[str, ...]) -> list[str]:
    reasons = []
    for part in parts:
        why = problem(getattr(state, part))
        if why:
            reasons.append(f"{PART_LABEL.get(part, part)}: {why}")
    return reasons


def storage_blockers(state: ClusterState, *, stretched: bool = True) -> list[str]:
    """Storage must be quiet: no storage job, every disk Healthy, no SR group in initial sync. ``stretched``
    False (``ctx.stretched``): Storage Replica does not apply, its groups are neither needed nor judged."""
    reasons = _unreadable(state, ("jobs", "disks", "sr_groups") if stretched else ("jobs", "disks"))
    if not problem(state.jobs):
        for job in state.jobs:
            if job.job_state != model.StorageJobState.COMPLETED:
                done = f" {int(job.progress * 100)}%" if job.progress is not None else ""
                reasons.append(f"storage job {job.name} is {job.job_state}{done}: wait until it ends")
    if not problem(state.disks):
        for disk in state.disks:
            if disk.health_status != model.HealthStatus.HEALTHY:
                status = ",".join(str(s) for s in disk.operational_status) or "?"
                reasons.append(f"virtual disk {disk.friendly_name} is {disk.health_status}/{status}: "
                               "wait until every disk is Healthy")
    if stretched and not problem(state.sr_groups):
        for group in state.sr_groups:
            syncing = [r for r in group.replicas if r.replication_status in model.INITIAL_SYNC_STATES]
            if syncing:
                left = f", {human_bytes(group.bytes_remaining)} left" if group.bytes_remaining else ""
                reasons.append(f"Storage Replica group {group.name} is in {syncing[0].replication_status}{left}")
    return reasons


def cau_blockers(state: ClusterState) -> list[str]:
    """A CAU run takes nodes out by itself: never take one out beside it, nor after a failed run."""
    reasons = _unreadable(state, ("cau_run",))
    if not reasons:
        run = state.cau_run
        if run.state == model.CauRunState.RUN_IN_PROGRESS:
            reasons.append("a CAU run is in progress and takes nodes out itself: wait for it, or stop it")
        elif run.state == model.CauRunState.RUN_FAILED:
            reasons.append("the last CAU run failed (RunFailed): recover it first")
    return reasons


def cau_remedy(state: ClusterState) -> Remedy | None:
    """What clears :func:`cau_blockers`: stop the run in progress, or recover the failed one."""
    if problem(state.cau_run):
        return None
    if state.cau_run.state == model.CauRunState.RUN_IN_PROGRESS:
        return Remedy(action=Action.CAU_STOP)
    if state.cau_run.state == model.CauRunState.RUN_FAILED:
        return Remedy(action=Action.CAU_RECOVER)
    return None


def take_out_blockers(node: str, state: ClusterState, lock: NodeLock | None, *, stretched: bool = True) -> list[str]:
    """May ``node`` be drained or restarted now? (RUNBOOK 4.1 and 4.2) ``stretched``: as :func:`storage_blockers`."""
    reasons: list[str] = cau_blockers(state)
    if lock is not None and lock.node.lower() != node.lower():
        reasons.append(f"{lock.node} is out of service since {lock.since} ({lock.reason}): one node at a time")
    reasons += _unreadable(state, ("nodes",))
    if not problem(state.nodes):
        target = state.cluster_node(node)
        if target is None:
            reasons.append(f"{node} is not a member of the cluster")
        elif target.state not in (model.NodeState.UP, model.NodeState.PAUSED):
            reasons.append(f"{node} is {target.state}")
        for other in state.nodes:
            if other.name.lower() != node.lower() and other.state != model.NodeState.UP:
                reasons.append(f"{other.name} is {other.state}: every other node must be Up")
    reasons += storage_blockers(state, stretched=stretched)
    return reasons


def resume_blockers(node: str, state: ClusterState) -> list[str]:
    """May ``node`` be resumed now? It must be a Paused member."""
    reasons = _unreadable(state, ("nodes",))
    if not problem(state.nodes):
        target = state.cluster_node(node)
        if target is None:
            reasons.append(f"{node} is not a member of the cluster")
        elif target.state != model.NodeState.PAUSED:
            reasons.append(f"{node} is {target.state}, not Paused")
    return reasons


def drained(node: str, state: ClusterState) -> list[str]:
    """What contradicts 'node is drained': Paused, DrainStatus Completed, nothing Online on it."""
    reasons = _unreadable(state, ("nodes",))
    if problem(state.groups):
        reasons.append(f"cluster groups: {problem(state.groups)}")
    target = state.cluster_node(node)
    if not problem(state.nodes):
        if target is None:
            reasons.append(f"{node} is not a member of the cluster")
        else:
            if target.state != model.NodeState.PAUSED:
                reasons.append(f"{node} is {target.state}, not Paused")
            if target.drain_status != model.DrainStatus.COMPLETED:
                reasons.append(f"DrainStatus is {target.drain_status}")
    if not problem(state.groups):
        online = [g.name for g in state.groups
                  if (g.owner_node or "").lower() == node.lower() and g.state == model.GroupState.ONLINE]
        if online:
            reasons.append(f"still Online on {node}: {', '.join(online[:4])}")
    return reasons
