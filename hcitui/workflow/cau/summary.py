"""The CAU step on the main menu: one line, from the journal alone (no read of the cluster)."""

from __future__ import annotations

from datetime import datetime

from hcitui.core.journal import Journal, StepStatus
from hcitui.workflow.cau.options import PREFLIGHT, PREFLIGHT_PHASE
from hcitui.workflow.cau.watch import run_record


def menu_state(journal: Journal) -> str:
    """The menu's line, from the journal alone."""
    record = run_record(journal)
    if record is not None:
        if record.status is StepStatus.UNKNOWN:
            return "interrupted: open it to reattach"
        if record.status is StepStatus.RUNNING:
            return _fit(record.detail or "run in progress")
        when = _hhmm(record.finished)
        word = "done" if record.status is StepStatus.DONE else "FAILED"
        return _fit(f"{word}{when}: {record.detail or ''}")
    pre = journal.step(PREFLIGHT_PHASE, PREFLIGHT)
    if pre is None:
        return "not run yet"
    if pre.status is StepStatus.RUNNING:
        return "preflight running"
    return f"preflight {(pre.detail or pre.status.value).split(':')[0]}{_hhmm(pre.finished)}"


def _fit(text: str, width: int = 46) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _hhmm(stamp: str | None) -> str:
    if not stamp:
        return ""
    try:
        return " at " + datetime.fromisoformat(stamp).astimezone().strftime("%H:%M")
    except ValueError:
        return ""
