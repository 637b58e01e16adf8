"""The main menu's lines and its next step: the one place the menu asks where the upgrade stands.

Every entry of the menu has a :class:`Summary`: its text (each phase module's own phrase where it has one,
e.g. :func:`hcitui.workflow.registry.journal_summary`), a :class:`State` and when its result was taken.
:func:`recommend` walks the runbook's phases in order (RUNBOOK.md section 1) and names the entry to open next,
with its phase and a one-line why. An entry is named by :class:`Entry`, never by a menu number or key: the
menu gives it its number.

What this is judged on: the journal, and what the last live reads left in it (the lock, every step's runs,
each node's build as the last read of its OS saw it: ``journal.state.inventory``). The menu sends nothing to
the cluster itself: every remote operation is audited, and the menu is shown after every screen.

Stale: a read-only result (the prerequisites, the CAU preflight, the verification) describes the cluster as
it was when it was taken. A step hcitui ran that changes the cluster (:data:`CHANGES`), active after that
result was taken, makes it stale: it says so, and the walk asks for it again where a later phase relies on it.

One concern a module: ``base`` (the entries, states, times, what changes the cluster, :class:`Facts`),
``lines`` (a :class:`Summary` per entry, :func:`summarize`) and ``walk`` (:func:`recommend`). Callers use the
names below: ``from hcitui.workflow import summaries; summaries.summarize(ctx)``.
"""

from __future__ import annotations

from hcitui.workflow.summaries.base import (
    CHANGES,
    PHASES,
    STALE_NOTE,
    Change,
    Entry,
    Facts,
    Recommendation,
    State,
    Summary,
    changed_since,
    entry_of,
    pending_reboot,
    preflight_stale,
    step_words,
)
from hcitui.workflow.summaries.lines import (
    Overview,
    audit_line,
    cau_line,
    iso_line,
    journal_line,
    maintenance_line,
    monitor_line,
    offline_line,
    post_line,
    prerequisites_line,
    readiness_line,
    registry_line,
    sr_line,
    summarize,
    verification_line,
)
from hcitui.workflow.summaries.walk import recommend, upgrade_begun, upgraded

__all__ = [
    "CHANGES", "PHASES", "STALE_NOTE", "Change", "Entry", "Facts", "Overview", "Recommendation", "State", "Summary",
    "audit_line", "cau_line", "changed_since", "entry_of", "iso_line", "journal_line", "maintenance_line",
    "monitor_line", "offline_line", "pending_reboot", "post_line", "preflight_stale", "prerequisites_line",
    "readiness_line", "recommend",
    "registry_line", "sr_line", "step_words", "summarize", "upgrade_begun", "upgraded", "verification_line",
]
