"""A cluster as hcitui sees it: its nodes, one session each, and how to reach "the cluster".

The cluster's CAU coordinator, when the config names one, is one more session: a management server
outside the cluster. Operations declared ``coordinator=True`` (the CAU run's) go there, with
``ClusterName`` filled in, instead of to a node; everything else goes to the nodes. That routing
lives here, in :meth:`ClusterClient.invoke_cluster`, :meth:`where` and :meth:`cluster_params`, so a
plan's preview and the call itself always agree on where an operation runs.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from hcitui.ps import Operation, Params
from hcitui.remote.errors import OperationFailed, RemoteError, Unreachable
from hcitui.remote.fanout import EventSink, NodeCall, NodeOutcome, fan_out, for_each_node
from hcitui.remote.session import Session

T = TypeVar("T")


# What a node says when it is up but not (or no longer) a working member: rebooted and still
# joining, cluster service stopped or shutting down. Another node can answer for the cluster.
_NOT_SPEAKING = re.compile(
    r"cluster service is not running|cluster service (on node .*)?(is shutting down|did not reach the running state)"
    r"|cluster node is shutting down|RPC server is unavailable",
    re.IGNORECASE,
)


def cannot_speak_for_cluster(error: RemoteError) -> bool:
    return bool(_NOT_SPEAKING.search(error.message))


@dataclass(frozen=True)
class NodeInfo:
    name: str
    site: str | None = None


class ClusterClient:
    """The sessions to every node of one cluster, with fan-out and cluster-wide calls."""

    def __init__(self, name: str, nodes: list[NodeInfo], sessions: dict[str, Session], *,
                 read_only: bool, concurrency: int = 8, coordinator: Session | None = None) -> None:
        self.name = name
        self.nodes = nodes
        self.sessions = sessions
        self.read_only = read_only
        self.concurrency = concurrency
        self.coordinator = coordinator  # the CAU coordinator's session, or None (the run starts on a node)
        self._preferred: str | None = None

    @property
    def node_names(self) -> list[str]:
        return [n.name for n in self.nodes]

    @property
    def sites(self) -> list[str]:
        return sorted({n.site for n in self.nodes if n.site})

    def site_of(self, node: str) -> str | None:
        return next((n.site for n in self.nodes if n.name == node), None)

    async def invoke(self, node: str, op: Operation, params: Params | dict[str, Any] | None = None, *,
                     timeout: float | None = None) -> Any:
        return await self.sessions[node].invoke(op, params, timeout=timeout)

    # ------------------------------------------------------------ the coordinator
    @property
    def coordinator_name(self) -> str | None:
        return self.coordinator.node if self.coordinator is not None else None

    def on_coordinator(self, op: Operation) -> bool:
        """Does ``op`` run on the CAU coordinator (declared so, and the cluster has one)?"""
        return op.coordinator and self.coordinator is not None

    def where(self, op: Operation) -> str:
        """Where a cluster-wide ``op`` runs, as a plan's preview names it."""
        if self.on_coordinator(op):
            return f"{self.coordinator_name} (CAU coordinator of {self.name}, outside the cluster)"
        return f"any node of {self.name}"

    def cluster_params(self, op: Operation, params: Params | dict[str, Any] | None = None) -> Params:
        """The parameters ``op`` is sent with: on the coordinator, ``ClusterName`` is this cluster's name
        (there ``Get-Cluster`` has no cluster to name); on a node they are left as given."""
        bound = op.make_params(params)
        if self.on_coordinator(op) and getattr(bound, "cluster_name", None) is None:
            bound = bound.model_copy(update={"cluster_name": self.name})
        return bound

    async def invoke_coordinator(self, op: Operation, params: Params | dict[str, Any] | None = None, *,
                                 timeout: float | None = None) -> Any:
        """Run ``op`` on the CAU coordinator itself (its own preflight read)."""
        if self.coordinator is None:
            raise Unreachable(self.name, op.name, "this cluster has no CAU coordinator in the config")
        return await self.coordinator.invoke(op, params, timeout=timeout)

    async def invoke_cluster(self, op: Operation, params: Params | dict[str, Any] | None = None, *,
                             timeout: float | None = None, avoid: Iterable[str] = ()) -> Any:
        """Run a cluster-wide operation on the first node that answers (the last good one first);
        an operation of the CAU run on the coordinator, when there is one.

        Only "nothing answered" moves on to the next node; a PowerShell error is the cluster's
        answer and is raised as it is. The coordinator has no stand-in: when it does not answer,
        the run it coordinates cannot be reached from a node as it would be from there.
        """
        if self.on_coordinator(op):
            assert self.coordinator is not None
            return await self.coordinator.invoke(op, self.cluster_params(op, params), timeout=timeout)
        skip = set(avoid)
        order = [n for n in self.node_names if n not in skip]
        if self._preferred in order:
            order.remove(self._preferred)
            order.insert(0, self._preferred)
        errors: list[str] = []
        for node in order:
            try:
                result = await self.sessions[node].invoke(op, params, timeout=timeout)
            except Unreachable as exc:
                errors.append(f"{node} {exc.outcome}")
                continue
            except OperationFailed as exc:
                if not cannot_speak_for_cluster(exc):
                    raise
                errors.append(f"{node} cluster service not running")
                continue
            self._preferred = node
            return result
        raise Unreachable(self.name, op.name, "no node answered (" + ", ".join(errors or ["no nodes"]) + ")")

    async def fan_out(self, op: Operation, params: Any = None, *, nodes: Iterable[str] | None = None,
                      on_event: EventSink | None = None, timeout: float | None = None) -> dict[str, NodeOutcome[Any]]:
        return await fan_out(self.sessions, op, params, nodes=nodes, concurrency=self.concurrency,
                             on_event=on_event, timeout=timeout)

    async def for_each_node(self, work: Callable[[NodeCall], Awaitable[T]], *, nodes: Iterable[str] | None = None,
                            on_event: EventSink | None = None) -> dict[str, NodeOutcome[T]]:
        return await for_each_node(self.sessions, work, nodes=nodes, concurrency=self.concurrency, on_event=on_event)

    async def close(self) -> None:
        for session in self.sessions.values():
            await session.close()
        if self.coordinator is not None:
            await self.coordinator.close()
