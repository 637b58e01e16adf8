"""Reading the cluster's state: one mechanism for verification, interlocks and the monitor.

:func:`observe` runs the cluster-wide reads it is asked for (each on whichever node answers)
and the per-node reads (fanned out, with live per-node events), all at once. Every part of
the resulting :class:`ClusterState` holds either the value read or the :class:`RemoteError`
that prevented reading it, so whoever judges the state can fail closed on what is unknown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hcitui.core import model
from hcitui.core.journal import JournalError
from hcitui.ps import Operation, reads
from hcitui.remote import EventKind, NodeCall, NodeEvent, RemoteError
from hcitui.workflow.context import Context

# Cluster-wide parts and the operation that reads each.
CLUSTER_PARTS: dict[str, Operation] = {
    "nodes": reads.get_cluster_nodes,
    "groups": reads.get_cluster_groups,
    "csv": reads.get_csv_state,
    "jobs": reads.get_storage_jobs,
    "disks": reads.get_virtual_disks,
    "pools": reads.get_storage_pools,
    "sr_groups": reads.get_sr_groups,
    "sr_partnerships": reads.get_sr_partnerships,
    "cau_run": reads.get_cau_run,
    "cau_role": reads.get_cau_role,
}
# Per-node parts and the operation that reads each on every node.
NODE_PARTS: dict[str, Operation] = {
    "os": reads.get_os_version,
    "registry": reads.get_registry_values,
    "registration": reads.get_azure_registration,
    "secure_boot": reads.get_secure_boot,
    "vms": reads.get_vm_summary,
}


def problem(value: Any) -> str | None:
    """Why a part cannot be judged (``could not read: ...``), or None when it holds a value."""
    if isinstance(value, RemoteError):
        return f"could not read: {value.message}"
    if value is None:
        return "not read"
    return None


@dataclass
class ClusterState:
    """What was read, part by part. A missing part is None; a failed one holds its RemoteError."""

    nodes: Any = None
    groups: Any = None
    csv: Any = None
    jobs: Any = None
    disks: Any = None
    pools: Any = None
    sr_groups: Any = None
    sr_partnerships: Any = None
    cau_run: Any = None
    cau_role: Any = None
    per_node: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> part -> value or error
    read_at: datetime | None = None

    def node_part(self, node: str, part: str) -> Any:
        return self.per_node.get(node, {}).get(part)

    def cluster_node(self, name: str) -> model.ClusterNode | None:
        if problem(self.nodes):
            return None
        return next((n for n in self.nodes if n.name.lower() == name.lower()), None)


async def observe(
    ctx: Context,
    cluster_parts: Iterable[str] = (),
    node_parts: Iterable[str] = (),
    *,
    nodes: Iterable[str] | None = None,
    on_event: Callable[[NodeEvent], None] | None = None,
    node_extra: Callable[[NodeCall], Any] | None = None,
) -> ClusterState:
    """Read the named parts now. Never raises for a node's or a read's failure.

    ``node_extra``, when given, is awaited per node after its parts and its result stored
    under the part name ``"extra"`` (for reads with node-specific parameters).
    """
    emit = on_event or (lambda _e: None)
    state = ClusterState()
    wanted_cluster = list(cluster_parts)
    wanted_node = list(node_parts)
    timeout = ctx.cluster.timeouts.operation

    async def cluster_read(part: str) -> None:
        op = CLUSTER_PARTS[part]
        emit(NodeEvent(ctx.name, EventKind.RUNNING, op.name))
        try:
            setattr(state, part, await ctx.client.invoke_cluster(op, timeout=timeout))
        except RemoteError as exc:
            setattr(state, part, exc)
            emit(NodeEvent(ctx.name, EventKind.FAILED, op.name, exc.message))

    async def per_node(call: NodeCall) -> dict[str, Any]:
        parts: dict[str, Any] = {}
        state.per_node[call.node] = parts
        for part in wanted_node:
            try:
                parts[part] = await call.invoke(NODE_PARTS[part], timeout=timeout)
            except RemoteError as exc:
                parts[part] = exc
                if isinstance(exc, Exception) and exc.outcome in ("unreachable", "rebooting", "timeout"):
                    raise  # the node is gone: its other reads would only wait for the same
        if node_extra is not None:
            parts["extra"] = await node_extra(call)
        return parts

    async def node_reads() -> None:
        if not wanted_node and node_extra is None:
            return
        outcomes = await ctx.client.for_each_node(per_node, nodes=nodes, on_event=emit)
        for name, outcome in outcomes.items():
            parts = state.per_node.setdefault(name, {})
            if not outcome.ok:
                for part in wanted_node:
                    parts.setdefault(part, outcome.error)
                if node_extra is not None:
                    parts.setdefault("extra", outcome.error)

    await asyncio.gather(node_reads(), *(cluster_read(part) for part in wanted_cluster))
    if wanted_cluster:
        emit(NodeEvent(ctx.name, EventKind.OK, None, "cluster-wide reads done"))
    state.read_at = datetime.now(UTC)
    if "os" in wanted_node:
        _record_builds(ctx, state)
    return state


def _record_builds(ctx: Context, state: ClusterState) -> None:
    """Every read of the nodes' OS feeds the change record: the first build seen of each node is
    its build before, the last its build after (whichever step happened to read it)."""
    builds = {node: value.build for node, parts in state.per_node.items()
              if isinstance(value := parts.get("os"), model.OsVersion)}
    if not builds:
        return
    try:
        ctx.journal.record_builds(builds)
    except (JournalError, OSError):
        return  # the builds are for the report; a journal that cannot be written now fails no read
