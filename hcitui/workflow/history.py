"""The command log as the operator reads it: every remote operation, newest first, with its PowerShell.

The audit log (one JSON line per operation) is written by the sessions; this module reads it
back: entries newest first, filtered by node or to changes only, each able to show the exact
PowerShell that ran (the declared operation rendered with the recorded parameters), and exports
to Markdown and JSON for a change record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hcitui import ps
from hcitui.core.audit import AuditLog
from hcitui.core.files import atomic_write_text
from hcitui.core.units import clock, md_table, milliseconds


@dataclass(frozen=True)
class AuditEntry:
    index: int  # position in what was read, oldest = 0 (rotation can move it: ``key`` does not)
    time: str
    node: str  # the node it was sent to (``via``)
    operation: str
    mutates: bool
    outcome: str
    duration_ms: float | None
    error: str | None
    parameters: dict[str, Any]
    operator: str | None
    target: str | None = None  # the node it acted on; None: the cluster (a cluster-wide operation)

    @property
    def via(self) -> str:
        return self.node

    @property
    def target_text(self) -> str:
        return self.target or "cluster"

    @property
    def key(self) -> str:
        """A row key that stays the same when the log rotates (the time has microseconds)."""
        return f"{self.time}|{self.node}|{self.operation}"

    @classmethod
    def from_record(cls, index: int, record: dict[str, Any]) -> AuditEntry:
        params = record.get("parameters")
        duration = record.get("duration_ms")
        via = str(record.get("via") or record.get("node") or "?")
        # A record written before targets were recorded: it named only the node it was sent to.
        target = record["target"] if "target" in record else via
        return cls(
            index=index,
            time=str(record.get("time") or ""),
            node=via,
            target=str(target) if target else None,
            operation=str(record.get("operation") or "?"),
            mutates=bool(record.get("mutates")),
            outcome=str(record.get("outcome") or "?"),
            duration_ms=float(duration) if isinstance(duration, (int, float)) else None,
            error=record.get("error") or None,
            parameters=params if isinstance(params, dict) else {},
            operator=record.get("operator"),
        )

    @property
    def when(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.time)
        except ValueError:
            return None

    def local_time(self, date: bool = False) -> str:
        """When it ran, in local time (``date``: with the date); as recorded when that cannot be read."""
        when = self.when
        return clock(when.astimezone() if when else None, self.time[:19], date=date)

    def duration_text(self) -> str:
        return milliseconds(self.duration_ms)

    def powershell(self) -> str:
        return render_powershell(self.operation, self.parameters, self.node)

    def concerns(self, node: str) -> bool:
        """Did this operation act on ``node`` or go through it?"""
        return node.lower() in {self.node.lower(), (self.target or "").lower()}

    def as_json(self) -> dict[str, Any]:
        return {
            "time": self.time, "target": self.target, "via": self.node, "operation": self.operation,
            "mutates": self.mutates,
            "outcome": self.outcome, "duration_ms": self.duration_ms, "error": self.error,
            "parameters": self.parameters, "operator": self.operator, "powershell": self.powershell(),
        }


def render_powershell(operation: str, parameters: dict[str, Any], node: str | None = None) -> str:
    """The exact PowerShell of one recorded operation (parameters as recorded, secrets stay redacted)."""
    try:
        op = ps.get(operation)
    except KeyError:
        return f"# {operation}: not an operation this version of hcitui declares; parameters: {json.dumps(parameters)}"
    try:
        params = op.params.model_validate(parameters)
    except ValueError:
        # A redacted or since-changed value: show what was recorded, as it was recorded.
        by_alias = {info.alias or name: name for name, info in op.params.model_fields.items()}
        params = op.params.model_construct(**{by_alias.get(k, k): v for k, v in parameters.items()})
    return op.render(params, node=node)


def load(audit: AuditLog, *, node: str | None = None, changes_only: bool = False,
         limit: int | None = None) -> tuple[list[AuditEntry], int]:
    """Entries newest first (at most ``limit`` of them) and how many matched in all, across the
    rotated files. ``node``: the operations that acted on it or went through it. ``changes_only``
    reads only the change log (a monitor's thousands of reads are not even opened)."""
    matched: list[AuditEntry] = []
    for index, record in enumerate(audit.records(reads=not changes_only)):
        if not isinstance(record, dict):
            continue
        entry = AuditEntry.from_record(index, record)
        if node is not None and not entry.concerns(node):
            continue
        if changes_only and not entry.mutates:
            continue
        matched.append(entry)
    matched.reverse()
    total = len(matched)
    return (matched[:limit] if limit is not None else matched), total


def nodes_in(audit: AuditLog) -> list[str]:
    """Every node the log names, as target or as the node an operation went through."""
    names = set()
    for record in audit.records():
        names.update(str(record[k]) for k in ("node", "via", "target") if record.get(k))
    return sorted(names)


def to_markdown(entries: Iterable[AuditEntry], cluster: str, *, title: str = "Command log") -> str:
    entries = list(entries)
    lines = [f"# {title}: {cluster}", "",
             f"Generated {datetime.now(UTC).isoformat(timespec='seconds')} by hcitui; "
             f"{len(entries)} operations, newest first.", ""]
    lines += md_table(["time (UTC)", "target", "via", "operation", "changes", "outcome", "duration", "error"],
                      ([e.time, e.target_text, e.node, e.operation, "yes" if e.mutates else "no", e.outcome,
                        e.duration_text(), e.error or ""] for e in entries))
    lines += ["", "## PowerShell", ""]
    for e in entries:
        lines += [f"### {e.time} {e.operation} on {e.target_text} via {e.node} ({e.outcome})", "", "```powershell",
                  e.powershell(), "```", ""]
    return "\n".join(lines)


def export(entries: list[AuditEntry], folder: Path, cluster: str, *, stem: str | None = None) -> tuple[Path, Path]:
    """Write the entries as Markdown and JSON into ``folder``; return both paths."""
    stem = stem or "audit-" + datetime.now().strftime("%Y%m%d-%H%M%S")
    md_path, json_path = Path(folder) / f"{stem}.md", Path(folder) / f"{stem}.json"
    atomic_write_text(md_path, to_markdown(entries, cluster))
    payload = {"cluster": cluster, "generated": datetime.now(UTC).isoformat(timespec="seconds"),
               "operations": [e.as_json() for e in entries]}
    atomic_write_text(json_path, json.dumps(payload, indent=2) + "\n")
    return md_path, json_path
