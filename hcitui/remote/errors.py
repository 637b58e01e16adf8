"""Remote failures, each of which reads as a sentence for the operator."""

from __future__ import annotations

from hcitui.core.errors import HciError


class RemoteError(HciError):
    """A remote operation did not succeed. ``outcome`` is what the audit log and events record."""

    outcome = "failed"

    def __init__(self, node: str, operation: str, message: str) -> None:
        self.node = node
        self.operation = operation
        self.message = message.strip().rstrip(".") if message else "failed"
        super().__init__(self.sentence)

    @property
    def sentence(self) -> str:
        return f"{self.node}: {self.operation}: {self.message}."


class OperationFailed(RemoteError):
    """The node ran the operation and PowerShell reported an error."""


class ParametersInvalid(RemoteError):
    """hcitui was asked to send values the operation does not accept; nothing was sent."""

    outcome = "invalid"


class ResultInvalid(RemoteError):
    """The node answered with something the operation does not declare."""


class Unreachable(RemoteError):
    """Nothing answered: connection refused, reset, name unknown, host rebooting."""

    outcome = "unreachable"


class Rebooting(Unreachable):
    """The node is known to be restarting."""

    outcome = "rebooting"


class TimedOut(RemoteError):
    outcome = "timeout"

    def __init__(self, node: str, operation: str, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(node, operation, f"timed out after {seconds:g} s")


class AuthenticationFailed(RemoteError):
    outcome = "auth"


class TlsFailed(RemoteError):
    outcome = "tls"


class ReadOnlyRefused(RemoteError):
    """A read-only session was asked to change something; nothing was sent."""

    outcome = "refused"

    def __init__(self, node: str, operation: str) -> None:
        super().__init__(node, operation, "refused: this session is read-only and the operation changes the cluster")
