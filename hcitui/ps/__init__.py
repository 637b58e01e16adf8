"""Declared PowerShell operations: the only way hcitui talks to a node."""

from __future__ import annotations

from hcitui.ps.base import NoParams, Operation, Params, ResultError, Scope, ps_quote, script_parameter_names
from hcitui.ps.cau import CAU_OPS
from hcitui.ps.iso import ISO_OPS
from hcitui.ps.nodes import NODE_OPS
from hcitui.ps.offline import OFFLINE_OPS
from hcitui.ps.post import POST_OPS
from hcitui.ps.readiness import READINESS_OPS
from hcitui.ps.reads import READS
from hcitui.ps.remedies import REMEDY_OPS
from hcitui.ps.sr import SR_OPS
from hcitui.ps.upgrade import UPGRADE_OPS

OPERATIONS: dict[str, Operation] = {}
for _op in [*READS, *NODE_OPS, *ISO_OPS, *UPGRADE_OPS, *POST_OPS, *SR_OPS, *CAU_OPS, *REMEDY_OPS,
            *READINESS_OPS, *OFFLINE_OPS]:
    if _op.name in OPERATIONS:  # pragma: no cover - a declaration error, caught by tests
        raise RuntimeError(f"operation {_op.name} declared twice")
    OPERATIONS[_op.name] = _op


def get(name: str) -> Operation:
    try:
        return OPERATIONS[name]
    except KeyError:
        raise KeyError(f"no operation named {name!r}; 'hcitui ops' lists them") from None


__all__ = [
    "OPERATIONS",
    "NoParams",
    "Operation",
    "Params",
    "ResultError",
    "Scope",
    "get",
    "ps_quote",
    "script_parameter_names",
]
