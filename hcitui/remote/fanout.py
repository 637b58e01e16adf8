"""Fan-out over the cluster's nodes with bounded concurrency and live per-node events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

from hcitui.ps import Operation, Params
from hcitui.remote.errors import OperationFailed, RemoteError, Unreachable
from hcitui.remote.session import Session

T = TypeVar("T")


class EventKind(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class NodeEvent:
    node: str
    kind: EventKind
    operation: str | None = None
    detail: str = ""
    elapsed: float = 0.0

    def line(self) -> str:
        """One progress line, as the headless commands print it."""
        what = {
            EventKind.QUEUED: "queued",
            EventKind.RUNNING: f"running {self.operation}",
            EventKind.OK: "ok",
            EventKind.FAILED: "FAILED",
            EventKind.UNREACHABLE: "UNREACHABLE",
        }[self.kind]
        tail = f": {self.detail}" if self.detail else ""
        elapsed = f" ({self.elapsed:.1f} s)" if self.kind not in (EventKind.QUEUED, EventKind.RUNNING) else ""
        return f"{self.node:<16} {what}{elapsed}{tail}"


EventSink = Callable[[NodeEvent], None]


@dataclass
class NodeOutcome(Generic[T]):
    node: str
    value: T | None = None
    error: RemoteError | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class NodeCall:
    """Handed to per-node work: invokes on that node and reports what it is running."""

    session: Session
    emit: EventSink
    _started: float = field(default_factory=time.monotonic)

    @property
    def node(self) -> str:
        return self.session.node

    async def invoke(self, op: Operation, params: Params | dict[str, Any] | None = None, *,
                     timeout: float | None = None) -> Any:
        self.emit(NodeEvent(self.node, EventKind.RUNNING, op.name, elapsed=time.monotonic() - self._started))
        return await self.session.invoke(op, params, timeout=timeout)


async def for_each_node(
    sessions: Mapping[str, Session],
    work: Callable[[NodeCall], Awaitable[T]],
    *,
    nodes: Iterable[str] | None = None,
    concurrency: int = 8,
    on_event: EventSink | None = None,
) -> dict[str, NodeOutcome[T]]:
    """Run ``work`` once per node, at most ``concurrency`` at a time; never raises for a node's failure."""
    targets = list(nodes) if nodes is not None else list(sessions)
    emit: EventSink = on_event or (lambda _event: None)
    gate = asyncio.Semaphore(max(1, concurrency))
    for node in targets:
        emit(NodeEvent(node, EventKind.QUEUED))

    async def one(node: str) -> NodeOutcome[T]:
        async with gate:
            started = time.monotonic()
            call = NodeCall(sessions[node], emit, started)
            try:
                value = await work(call)
            except Unreachable as exc:
                outcome = NodeOutcome(node, error=exc, elapsed=time.monotonic() - started)
                emit(NodeEvent(node, EventKind.UNREACHABLE, exc.operation, exc.message, outcome.elapsed))
                return outcome
            except RemoteError as exc:
                outcome = NodeOutcome(node, error=exc, elapsed=time.monotonic() - started)
                emit(NodeEvent(node, EventKind.FAILED, exc.operation, exc.message, outcome.elapsed))
                return outcome
            except Exception as exc:  # work code failing must not take the other nodes down
                error = OperationFailed(node, "hcitui", f"{type(exc).__name__}: {exc}")
                outcome = NodeOutcome(node, error=error, elapsed=time.monotonic() - started)
                emit(NodeEvent(node, EventKind.FAILED, None, error.message, outcome.elapsed))
                return outcome
            outcome = NodeOutcome(node, value=value, elapsed=time.monotonic() - started)
            emit(NodeEvent(node, EventKind.OK, None, "", outcome.elapsed))
            return outcome

    results = await asyncio.gather(*(one(node) for node in targets))
    return {outcome.node: outcome for outcome in results}


async def fan_out(
    sessions: Mapping[str, Session],
    op: Operation,
    params: Params | dict[str, Any] | Callable[[str], Params | dict[str, Any]] | None = None,
    *,
    nodes: Iterable[str] | None = None,
    concurrency: int = 8,
    on_event: EventSink | None = None,
    timeout: float | None = None,
) -> dict[str, NodeOutcome[Any]]:
    """Invoke one operation on every node (``params`` may be a function of the node name)."""

    async def work(call: NodeCall) -> Any:
        bound = params(call.node) if callable(params) else params
        return await call.invoke(op, bound, timeout=timeout)

    return await for_each_node(sessions, work, nodes=nodes, concurrency=concurrency, on_event=on_event)
