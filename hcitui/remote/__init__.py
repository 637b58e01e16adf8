"""Sessions to nodes: the Session protocol, fan-out, and the read-only guard."""

from hcitui.remote.cluster import ClusterClient, NodeInfo
from hcitui.remote.errors import (
    AuthenticationFailed,
    OperationFailed,
    ParametersInvalid,
    ReadOnlyRefused,
    Rebooting,
    RemoteError,
    ResultInvalid,
    TimedOut,
    TlsFailed,
    Unreachable,
)
from hcitui.remote.fanout import EventKind, NodeCall, NodeEvent, NodeOutcome, fan_out, for_each_node
from hcitui.remote.session import BaseSession, Session

__all__ = [
    "AuthenticationFailed", "BaseSession", "ClusterClient", "EventKind", "NodeCall", "NodeEvent", "NodeInfo",
    "NodeOutcome", "OperationFailed", "ParametersInvalid", "ReadOnlyRefused", "Rebooting", "RemoteError",
    "ResultInvalid", "Session",
    "TimedOut", "TlsFailed", "Unreachable", "fan_out", "for_each_node",
]
