"""Reports for a change record: the run history and the last verification, as Markdown or JSON.

Built from what hcitui wrote down, never from the cluster: the journal (every step's outcome,
the one-node-out lock, the last verification, each node's build when first and last seen) and
the audit log (every change sent, with its outcome). So a report works offline, and reading
the journal here never changes it (no recovery, no write).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hcitui.core.audit import AuditLog
from hcitui.core.journal import JournalError, JournalState, cluster_dir, local_time
from hcitui.core.units import md_cell, md_table, milliseconds
from hcitui.workflow import history
from hcitui.workflow.resume import phase_name

FORMATS = ("md", "json")


@dataclass(frozen=True)
class NodeRef:
    name: str
    site: str | None = None


def read_journal(state_root: Path, cluster: str) -> JournalState:
    """The journal as it is on disk, untouched; an empty one when the cluster has none yet."""
    path = cluster_dir(state_root, cluster) / "journal.json"
    if not path.exists():
        return JournalState(cluster=cluster)
    try:
        return JournalState.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError) as exc:
        raise JournalError(f"the journal {path} cannot be read ({exc.__class__.__name__})") from None


def read_audit(state_root: Path, cluster: str) -> AuditLog:
    """The cluster's audit log, to read (every rotated file of its changes and reads)."""
    return AuditLog(cluster_dir(state_root, cluster) / "audit.jsonl")


def build(cluster: str, nodes: list[NodeRef], journal: JournalState, audit: AuditLog) -> dict[str, Any]:
    """The report as plain data (what ``--format json`` prints)."""
    known = {n.name.lower() for n in nodes}
    node_rows = []
    for node in [*nodes, *(NodeRef(name) for name in journal.inventory if name.lower() not in known)]:
        seen = journal.inventory.get(node.name)
        node_rows.append({
            "name": node.name,
            "site": node.site,
            "build_before": seen.first_build if seen else None,
            "first_seen": seen.first_seen if seen else None,
            "build_after": seen.last_build if seen else None,
            "last_seen": seen.last_seen if seen else None,
        })
    phases: dict[int, list[dict[str, Any]]] = {}
    for record in sorted(journal.steps.values(), key=lambda r: (r.phase, r.step, r.node or "")):
        phases.setdefault(record.phase, []).append({
            "step": record.step, "node": record.node, "status": record.status.value,
            "started": record.started, "finished": record.finished, "detail": record.detail,
        })
    runs = []
    for record in journal.steps.values():
        for number, run in enumerate(record.runs, 1):
            runs.append({"phase": record.phase, "step": record.step, "node": record.node, "run": number,
                         "status": run.status.value, "started": _utc(run.started), "finished": _utc(run.finished),
                         "detail": run.detail, "operator": run.operator})
    runs.sort(key=lambda r: (_sort_time(r["started"] or r["finished"]), r["phase"], r["step"], r["node"] or "",
                             r["run"]))
    entries, _ = history.load(audit)
    entries.reverse()  # a run history reads oldest first
    changes = [e for e in entries if e.mutates]
    counts = {"total": len(entries), "reads": sum(1 for e in entries if not e.mutates), "changes": len(changes),
              "failed": sum(1 for e in entries if e.outcome not in ("ok", "refused")),
              "refused": sum(1 for e in entries if e.outcome == "refused")}
    return {
        "cluster": cluster,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "journal_updated": journal.updated,
        "nodes": node_rows,
        "phases": [{"phase": p, "name": phase_name(p), "steps": steps} for p, steps in sorted(phases.items())],
        "runs": runs,
        "lock": journal.lock.model_dump() if journal.lock else None,
        "verification": journal.last_verification,
        "operations": counts,
        "changes": [{k: v for k, v in e.as_json().items() if k != "mutates"} for e in changes],
    }


def _utc(stamp: str | None) -> str | None:
    """A journal time as ISO 8601 in UTC (``2026-11-24T17:58:03Z``); as written when it cannot be read."""
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sort_time(stamp: str | None) -> datetime:
    try:
        when = datetime.fromisoformat(stamp or "")
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def to_markdown(report: dict[str, Any]) -> str:
    out = [f"# hcitui report: {report['cluster']}", "",
           f"Generated {local_time(report['generated'])} (local time). Journal last written "
           f"{local_time(report['journal_updated']) or 'never'}.", ""]

    out += ["## Nodes", ""]
    out += md_table(["node", "site", "build before", "first seen", "build after", "last seen"],
                    ([n["name"], n["site"] or "-", n["build_before"] or "not observed", local_time(n["first_seen"]),
                      n["build_after"] or "not observed", local_time(n["last_seen"])] for n in report["nodes"]))
    out.append("")

    out += ["## Steps", ""]
    if not report["phases"]:
        out += ["No step has been run yet.", ""]
    for phase in report["phases"]:
        out += [f"### Phase {phase['phase']}: {phase['name']}", ""]
        out += md_table(["step", "node", "status", "started", "finished", "detail"],
                        ([s["step"], s["node"] or "cluster", s["status"].upper(), local_time(s["started"]),
                          local_time(s["finished"]), s["detail"]] for s in phase["steps"]))
        out.append("")
    out += ["## Runs", "", "Every run of every step, oldest first (times in UTC).", ""]
    if not report["runs"]:
        out += ["No step has been run yet.", ""]
    else:
        out += md_table(["started (UTC)", "finished (UTC)", "phase", "step", "node", "run", "status", "operator",
                         "detail"],
                        ([r["started"], r["finished"], r["phase"], r["step"], r["node"] or "cluster", r["run"],
                          r["status"].upper(), r["operator"], r["detail"]] for r in report["runs"]))
        out.append("")
    lock = report["lock"]
    if lock:
        out += [f"One-node-out lock held: **{md_cell(lock['node'])}** since {local_time(lock['since'])} "
                f"({md_cell(lock['reason'])}); "
                f"the node was {'paused' if lock['was_paused'] else 'not paused'} before.", ""]

    out += ["## Last verification", ""]
    verification = report["verification"]
    if not verification:
        out += ["Verification has not been run.", ""]
    else:
        verdict = "PASSED" if verification.get("passed") else "NOT PASSED"
        out += [f"**{verdict}**, checked {local_time(verification.get('finished'))}.", ""]
        out += md_table(["check", "node", "result", "reason"],
                        ([c.get("name"), c.get("node") or "cluster", str(c.get("status", "")).upper(), c.get("reason")]
                         for c in verification.get("checks", [])))
        out.append("")

    ops = report["operations"]
    out += ["## Changes sent to the cluster", "",
            f"{ops['total']} remote operations logged: {ops['reads']} reads, {ops['changes']} changes, "
            f"{ops['failed']} failed, {ops['refused']} refused (read-only).", ""]
    if report["changes"]:
        out += md_table(["time", "target", "via", "operation", "outcome", "duration", "error"],
                        ([local_time(c["time"]), c["target"] or "cluster", c["via"], c["operation"], c["outcome"],
                          milliseconds(c["duration_ms"], ""), c["error"]] for c in report["changes"]))
        out.append("")
    else:
        out += ["No change was sent.", ""]
    return "\n".join(out)


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2) + "\n"
    if fmt == "md":
        return to_markdown(report)
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
