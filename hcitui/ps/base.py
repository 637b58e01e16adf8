"""The declared-operation mechanism.

An :class:`Operation` is the only way hcitui talks to a node. It holds a PowerShell
script whose ``param()`` block names exactly the fields of its parameters model, a
result type, and whether it changes anything. Values travel to PowerShell only as PSRP
parameters; the script text never contains a value. :meth:`Operation.render` shows the
exact PowerShell an operator could paste into a console on the node.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic.alias_generators import to_pascal

from hcitui.core.errors import HciError

P = TypeVar("P", bound=BaseModel)
R = TypeVar("R")


class Scope(str, Enum):
    """Where an operation runs: on every node it names, or once for the cluster on any node."""

    NODE = "node"
    CLUSTER = "cluster"


class Params(BaseModel):
    """Base for parameter models: PascalCase on the wire, nothing extra allowed."""

    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="forbid", frozen=True)

    def to_ps(self) -> dict[str, Any]:
        """The PSRP parameters, keyed by their PowerShell names, Nones left out."""
        out: dict[str, Any] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, Enum):
                value = value.value
            out[info.alias or to_pascal(name)] = value
        return out

    def to_audit(self) -> dict[str, Any]:
        """The parameters as the audit log records them: secrets replaced by a marker, and bulk
        (a file chunk, any value longer than ``AUDIT_BULK_CHARS``) by its size and sha256."""
        out = self.to_ps()
        for name, info in type(self).model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if extra.get("secret"):
                key = info.alias or to_pascal(name)
                if key in out:
                    out[key] = "<redacted>"
        return {key: audit_value(value) for key, value in out.items()}


# A parameter value longer than this (a string, or a list/dict once written as JSON) is recorded as its
# size and sha256, never its content: a file chunk is a quarter MiB of base64, and an audit log that kept
# them would grow by the size of the ISO for every node it was copied to.
AUDIT_BULK_CHARS = 4096
BULK_PREFIX = "<bulk: "


def bulk_marker(value: str | bytes) -> str:
    """What the audit log keeps of a bulk value: ``<bulk: N chars, sha256 HEX>`` (``bytes`` for bytes).

    The hash is of the value as sent (a string's UTF-8), so it can be checked against its source.
    """
    data = value if isinstance(value, bytes) else value.encode("utf-8")
    unit = "bytes" if isinstance(value, bytes) else "chars"
    return f"{BULK_PREFIX}{len(value)} {unit}, sha256 {hashlib.sha256(data).hexdigest()}>"


def audit_value(value: Any) -> Any:
    """``value`` as the audit log records it: bulk replaced by :func:`bulk_marker`, anywhere in it."""
    if isinstance(value, (bytes, bytearray)):
        return bulk_marker(bytes(value))
    if isinstance(value, str):
        return bulk_marker(value) if len(value) > AUDIT_BULK_CHARS else value
    if isinstance(value, (list, tuple, dict)):
        if isinstance(value, dict):
            inner: Any = {str(k): audit_value(v) for k, v in value.items()}
        else:
            inner = [audit_value(v) for v in value]
        text = json.dumps(inner, separators=(",", ":"), default=str)
        return bulk_marker(text) if len(text) > AUDIT_BULK_CHARS else inner
    return value


class NoParams(Params):
    pass


class ResultError(HciError):
    """The node answered, but not with what the operation declares."""


def _param_body(script: str) -> str | None:
    """The text inside the script's leading ``param( ... )``, matched by bracket depth."""
    low = script.lower()
    idx = low.find("param")
    while idx != -1:
        rest = script[idx + 5 :].lstrip()
        if rest.startswith("(") and (idx == 0 or not (script[idx - 1].isalnum() or script[idx - 1] in "-_$")):
            start = script.index("(", idx)
            depth = 0
            for pos in range(start, len(script)):
                ch = script[pos]
                if ch in "([{":
                    depth += 1
                elif ch in ")]}":
                    depth -= 1
                    if depth == 0:
                        return script[start + 1 : pos]
            return None
        idx = low.find("param", idx + 5)
    return None


def _split_top_level(body: str) -> list[str]:
    parts, depth, quote, current = [], 0, "", []
    for ch in body:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


_VARIABLE = re.compile(r"\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)")


def script_parameter_names(script: str) -> list[str]:
    """The parameter names a script's leading ``param()`` block declares, in order."""
    body = _param_body(script)
    if body is None:
        return []
    names = []
    for part in _split_top_level(body):
        # Attributes and type constraints ([Parameter(Mandatory)], [string]) come first.
        depth, cut = 0, 0
        for pos, ch in enumerate(part):
            if ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
            elif ch == "$" and depth == 0:
                cut = pos
                break
        match = _VARIABLE.match(part, cut)
        if match:
            names.append(match.group("name"))
    return names


def ps_quote(value: Any) -> str:
    """A PowerShell literal for ``value``, for display only (preview, dry-run).

    Strings become single-quoted literals; every quote character PowerShell treats as a
    single quote (including the typographic ones) is doubled, so the rendering cannot be
    broken out of. Execution never uses this: values go as PSRP parameters.
    """
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if value is None:
        return "$null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, (list, tuple)):
        return "@(" + ", ".join(ps_quote(v) for v in value) + ")"
    if isinstance(value, dict):
        inner = "; ".join(f"{ps_quote(str(k))} = {ps_quote(v)}" for k, v in value.items())
        return "@{ " + inner + " }"
    text = str(value)
    for quote in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):
        text = text.replace(quote, quote + quote)
    return "'" + text + "'"


@dataclass(frozen=True)
class Operation(Generic[P, R]):
    """One remote PowerShell operation, declared once."""

    name: str
    summary: str
    script: str
    params: type[P]
    result: Any
    mutates: bool
    scope: Scope = Scope.NODE
    timeout: float = 60.0
    # A cluster-wide operation of the CAU run (RUNBOOK phase 5): it runs on the cluster's CAU coordinator,
    # a management server outside the cluster, when the config names one (else on any node, as CLUSTER).
    # Such a script takes ``ClusterName`` (it cannot ask ``Get-Cluster`` there: the server is no member);
    # the ClusterClient fills it in when it routes the call to the coordinator.
    coordinator: bool = False
    # The parameter (its field name) that names the node this operation acts on, when it is not the node
    # it is sent to: suspend_node's ``name`` drains that node whichever node runs the cmdlet. See target().
    target_param: str | None = None
    _adapter: TypeAdapter = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_adapter", TypeAdapter(self.result))
        if self.coordinator and (self.scope is not Scope.CLUSTER or "cluster_name" not in self.params.model_fields):
            raise TypeError(f"{self.name}: a coordinator operation is cluster-wide and takes ClusterName")
        if self.target_param is not None and self.target_param not in self.params.model_fields:
            raise TypeError(f"{self.name}: target_param {self.target_param!r} is not one of its parameters")

    def target(self, params: P | None, via: str | None) -> str | None:
        """The node this call acts on (what the audit log and the report name), derived here only:
        the ``target_param`` value when it has one; else ``via`` (the node it is sent to) for a
        node-scoped operation; else None: a cluster-wide operation acts on the cluster."""
        if self.target_param is not None:
            value = getattr(params, self.target_param, None) if params is not None else None
            if value:
                return str(value)
        return via if self.scope is Scope.NODE else None

    # ---------------------------------------------------------------- parameters
    def make_params(self, values: P | dict[str, Any] | None = None) -> P:
        if isinstance(values, self.params):
            return values
        return self.params.model_validate(values or {})

    # -------------------------------------------------------------------- result
    def parse_result(self, payload: str | None) -> R:
        """Turn the script's JSON output into the declared result type."""
        if payload is None or not str(payload).strip():
            data: Any = None
        else:
            try:
                data = json.loads(payload)
            except json.JSONDecodeError as exc:
                raise ResultError(f"{self.name}: the node did not return JSON ({exc.msg})") from None
        try:
            return self._adapter.validate_python(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "result"
            raise ResultError(f"{self.name}: unexpected result at {where}: {first['msg']}") from None

    def dump_result(self, value: R) -> Any:
        """The JSON-ready form of a result (for reports and the lab)."""
        return self._adapter.dump_python(value, mode="json", by_alias=True)

    # ------------------------------------------------------------------- preview
    def render(self, values: P | dict[str, Any] | None = None, node: str | None = None) -> str:
        """The exact PowerShell an operator could paste into a console on ``node``."""
        params = self.make_params(values)
        args = " ".join(f"-{key} {ps_quote(val)}" for key, val in params.to_ps().items())
        header = f"# {self.name} ({'CHANGES THE CLUSTER' if self.mutates else 'read-only'})"
        if node:
            header += f" on {node}"
        body = self.script.strip("\n")
        call = "} " + args if args else "}"
        return f"{header}\n& {{\n{body}\n{call}"
