"""When Storage Replica may be torn down or rebuilt. Pure; fails closed (an unread part refuses).

Removal and recreation are refused unless every node is Up. Removal is also refused while the
snapshot no longer describes every live partnership as it is, and while a partnership is not
ContinuouslyReplicating (one in initial sync is not a steady state to snapshot or tear down)."""

from __future__ import annotations

from hcitui.core import model
from hcitui.core.units import human_bytes
from hcitui.workflow.context import Context
from hcitui.workflow.observe import ClusterState, problem
from hcitui.workflow.sr.diff import diff
from hcitui.workflow.sr.snapshot import REPLICATING, SR_PARTS, SRSnapshot, groups_by_name, replicating


def sr_unreadable(state: ClusterState, parts: tuple[str, ...]) -> list[str]:
    """One sentence per part of ``state`` that could not be read."""
    labels = {"nodes": "cluster nodes", "sr_groups": "Storage Replica groups",
              "sr_partnerships": "Storage Replica partnerships"}
    return [f"{labels[part]}: {problem(getattr(state, part))}" for part in parts if problem(getattr(state, part))]


NOT_STRETCHED = ("Storage Replica does not apply: the cluster is not stretched (the config puts no node in a "
                 "second site, and the cluster shows no second Site fault domain and no SR group or partnership)")


def not_stretched(ctx: Context, state: ClusterState, parts: tuple[str, ...]) -> list[str]:
    """Why an SR step is refused on a cluster that is not stretched (``Context.stretched``, learning from this
    read): the sentence, and which of ``parts`` could not be read (an unread part proves nothing). Empty when
    the cluster is stretched."""
    if ctx.note_read(state):
        return []
    return [NOT_STRETCHED, *sr_unreadable(state, parts)]


def _nodes_up(state: ClusterState) -> list[str]:
    if problem(state.nodes):
        return []
    return [f"{n.name} is {n.state}: every node must be Up" for n in state.nodes if n.state != model.NodeState.UP]


def removal_blockers(snapshot: SRSnapshot, state: ClusterState) -> list[str]:
    """May the live partnerships be removed now? Pure; fails closed."""
    reasons = sr_unreadable(state, SR_PARTS) + _nodes_up(state)
    if problem(state.sr_groups) or problem(state.sr_partnerships):
        return reasons
    taken = snapshot.taken_at.astimezone().strftime("%Y-%m-%d %H:%M")
    for difference in diff(snapshot, state.sr_groups, state.sr_partnerships):
        if difference.kind == "missing":
            continue  # removed already (a removal that was interrupted goes on)
        if difference.kind == "extra":
            reasons.append(f"partnership {difference.partnership} is not in the snapshot taken {taken}: "
                           "take a new snapshot")
        else:
            reasons.append(f"{difference.sentence}: the snapshot taken {taken} is out of date; take a new one")
    groups = groups_by_name(state.sr_groups)
    for p in state.sr_partnerships:
        for name in (p.source_rg_name, p.destination_rg_name):
            group = groups.get(name.lower())
            if group is not None and not replicating(group):
                status = next((str(r.replication_status) for r in group.replicas
                               if str(r.replication_status or "").lower() not in REPLICATING), "not replicating")
                left = f", {human_bytes(group.bytes_remaining)} left" if group.bytes_remaining else ""
                reasons.append(f"Storage Replica group {group.name} is {status}{left}: wait until it replicates")
    return reasons


def recreate_blockers(state: ClusterState) -> list[str]:
    return sr_unreadable(state, SR_PARTS) + _nodes_up(state)
