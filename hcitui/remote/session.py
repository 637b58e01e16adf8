"""The Session: one node, declared operations only, read-only enforced here.

Every session, whatever carries its bytes (the in-process lab, pypsrp), goes through
:meth:`BaseSession.invoke`, which refuses mutating operations on a read-only session
before anything is sent, bounds the call with a timeout from the outside, turns every
failure into a :class:`RemoteError` sentence, and writes one audit record.
"""

from __future__ import annotations

import abc
import asyncio
import getpass
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
