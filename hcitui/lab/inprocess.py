"""A session that runs declared operations straight against an in-process lab.

Used by tests for speed. Every script passes the lab's PowerShell front door first, as it
does at the WinRM endpoint. It goes through :class:`BaseSession`, so the read-only guard, the timeout and the audit
record are exactly those of a real session; only the carrier differs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hcitui.lab import frontdoor
from hcitui.lab.cluster import Lab, LabPowerShellError, LabUnreachable
from hcitui.ps import Operation
from hcitui.remote.errors import OperationFailed, Rebooting, Unreachable
from hcitui.remote.session import AuditSink, BaseSession


class InProcessSession(BaseSession):
    def __init__(self, lab: Lab, node: str, *, read_only: bool = False, audit: AuditSink | None = None,
                 default_timeout: float | None = None, latency: float = 0.0) -> None:
        super().__init__(node, read_only=read_only, audit=audit, default_timeout=default_timeout)
        self.lab = lab
        self.latency = latency

    async def _run(self, op: Operation, parameters: dict[str, Any], timeout: float) -> str | None:
        if self.latency:
            await asyncio.sleep(self.latency)
        try:
            # The same front door as the WinRM endpoint: what a node would refuse, the lab refuses.
            frontdoor.admit(op.script)
        except frontdoor.Refusal as refusal:
            raise OperationFailed(self.node, op.name, str(refusal)) from None
        try:
            # In a thread: an operation such as a drain waits on lab time, as a real cmdlet blocks.
            return await asyncio.to_thread(self.lab.execute, self.node, op.name, parameters)
        except LabUnreachable as exc:
            if exc.rebooting:
                raise Rebooting(self.node, op.name, "the node is restarting and does not answer yet") from None
            raise Unreachable(self.node, op.name, "host unreachable: nothing answered on its WinRM port") from None
        except LabPowerShellError as exc:
            raise OperationFailed(self.node, op.name, str(exc)) from None
