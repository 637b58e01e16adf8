"""The Session: one node, declared operations only, read-only enforced here.

Every session, whatever carries its bytes (the in-process lab, pypsrp), goes through
:meth:`BaseSession.invoke`, which refuses mutating operations on a read-only session
before anything is sent, bounds the call with a timeout from the outside, turns every
failure into a :class:`RemoteError` sentence, and writes one audit record.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import getpass
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from hcitui.ps import Operation, Params, ResultError
from hcitui.remote.errors import (
    OperationFailed,
    ParametersInvalid,
    ReadOnlyRefused,
    RemoteError,
    ResultInvalid,
    TimedOut,
    Unreachable,
)

AuditSink = Callable[[dict[str, Any]], None]


@runtime_checkable
class Session(Protocol):
    node: str
    read_only: bool

    async def invoke(self, op: Operation, params: Params | dict[str, Any] | None = None, *,
                     timeout: float | None = None) -> Any: ...

    async def close(self) -> None: ...


def _operator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in a container
        return "unknown"


class BaseSession(abc.ABC):
    """Shared behaviour of every session; subclasses implement :meth:`_run`."""

    def __init__(self, node: str, *, read_only: bool = False, audit: AuditSink | None = None,
                 default_timeout: float | None = None) -> None:
        self.node = node
        self.read_only = read_only
        self._audit = audit
        self._default_timeout = default_timeout
        self._operator = _operator()

    @abc.abstractmethod
    async def _run(self, op: Operation, parameters: dict[str, Any], timeout: float) -> str | None:
        """Run ``op.script`` with ``parameters`` on the node; return its JSON text."""

    async def close(self) -> None:
        return None

    def timeout_for(self, op: Operation, timeout: float | None) -> float:
        if timeout is not None:
            return timeout
        if self._default_timeout is not None:
            return max(self._default_timeout, op.timeout) if op.mutates else self._default_timeout
        return op.timeout

    async def invoke(self, op: Operation, params: Params | dict[str, Any] | None = None, *,
                     timeout: float | None = None) -> Any:
        started = time.monotonic()
        try:
            bound = op.make_params(params)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "parameters"
            error = ParametersInvalid(self.node, op.name,
                                      f"invalid parameter {where}: {first['msg']}; nothing was sent")
            self._write(op, None, {"parameters": {}, "outcome": error.outcome, "error": error.message,
                                   "duration_ms": 0.0})
            raise error from None
        if op.mutates and self.read_only:
            error = ReadOnlyRefused(self.node, op.name)
            self._record(op, bound, error.outcome, 0.0, error.message)
            raise error
        limit = self.timeout_for(op, timeout)
        try:
            # The outer bound: whatever the transport does inside, the caller gets its answer in time.
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that arrives as the
            # call completes, so a cancelled watcher would go on watching.
            async with asyncio.timeout(limit * 1.1 + 0.5):
                payload = await self._run(op, bound.to_ps(), limit)
            result = op.parse_result(payload)
        except TimeoutError:
            error = TimedOut(self.node, op.name, limit)
            self._record(op, bound, error.outcome, time.monotonic() - started, error.message)
            raise error from None
        except ResultError as exc:
            error = ResultInvalid(self.node, op.name, str(exc).removeprefix(f"{op.name}: "))
            self._record(op, bound, error.outcome, time.monotonic() - started, error.message)
            raise error from None
        except RemoteError as error:
            self._record(op, bound, error.outcome, time.monotonic() - started, error.message)
            raise
        except asyncio.CancelledError:
            self._record(op, bound, "cancelled", time.monotonic() - started, "cancelled by hcitui")
            raise
        except Exception as exc:  # a transport bug must still reach the operator as a sentence
            error = OperationFailed(self.node, op.name, f"{type(exc).__name__}: {exc}")
            self._record(op, bound, error.outcome, time.monotonic() - started, error.message)
            raise error from exc
        self._record(op, bound, "ok", time.monotonic() - started, None)
        return result

    def _record(self, op: Operation, params: Params, outcome: str, duration: float, error: str | None) -> None:
        self._write(op, params, {"parameters": params.to_audit(), "outcome": outcome, "error": error,
                                 "duration_ms": round(duration * 1000, 1)})

    def _write(self, op: Operation, params: Params | None, fields: dict[str, Any]) -> None:
        """One audit record. ``target`` is the node the operation acts on (None: the cluster), ``via``
        (and ``node``, its older name) the node it was sent to; ``mutates`` says whether it changes
        anything (the log keeps changes and reads apart on it)."""
        if self._audit is None:
            return
        # Microseconds: the audit log keeps changes and reads in two files and merges them by time.
        record = {"time": datetime.now(UTC).isoformat(timespec="microseconds"), "node": self.node,
                  "target": op.target(params, self.node), "via": self.node, "operation": op.name,
                  "mutates": op.mutates}
        record.update(fields)
        record["operator"] = self._operator
        self._audit(record)


class Opening:
    """Sessions whose carrier is opened later, once, in a thread: the console paints first and only then
    opens its connections (``hcitui --lab`` serves its lab then). ``open`` returns the real sessions by
    node name; :meth:`start` begins (at most once); a call that comes first starts it and waits for it."""

    def __init__(self, open_sessions: Callable[[], dict[str, Session]], *,
                 after: Callable[[dict[str, Session]], None] | None = None) -> None:
        self._open = open_sessions
        self._after = after  # run in the same thread once the sessions exist (to warm their pools)
        self._future: concurrent.futures.Future[dict[str, Session]] = concurrent.futures.Future()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._work, name="hcitui-open", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        try:
            sessions = self._open()
        except BaseException as exc:  # noqa: BLE001  (every call made meanwhile is told why)
            self._future.set_exception(exc)
            return
        self._future.set_result(sessions)
        if self._after is not None:
            try:
                self._after(sessions)
            except Exception:  # noqa: BLE001  (warming is a courtesy: the first call opens what is missing)
                pass

    async def session(self, node: str) -> Session:
        self.start()
        return (await asyncio.wrap_future(self._future))[node]

    def opened(self) -> dict[str, Session] | None:
        """The sessions, when they exist (None while opening, or when opening failed)."""
        if not self._future.done() or self._future.exception() is not None:
            return None
        return self._future.result()

    def wait(self, timeout: float) -> None:
        """Wait (bounded) for an opening that started to finish; at exit, before its carrier stops."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


class DeferredSession:
    """One node's session while :class:`Opening` opens the real one: every call waits for it, then is
    the real session's (read-only guard, timeout and audit included). An opening that failed is the
    call's :class:`Unreachable`, in one sentence."""

    def __init__(self, node: str, opening: Opening, *, read_only: bool) -> None:
        self.node = node
        self.read_only = read_only
        self._opening = opening

    async def invoke(self, op: Operation, params: Params | dict[str, Any] | None = None, *,
                     timeout: float | None = None) -> Any:
        try:
            session = await self._opening.session(self.node)
        except RemoteError:
            raise
        except Exception as exc:
            raise Unreachable(self.node, op.name, f"the connection could not be opened: {exc}") from None
        return await session.invoke(op, params, timeout=timeout)

    async def close(self) -> None:
        sessions = self._opening.opened()
        if sessions is not None and self.node in sessions:
            await sessions[self.node].close()
