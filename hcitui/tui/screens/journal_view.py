"""11) Journal: where the upgrade stands, phase by phase and node by node; what runs, what failed and why.

Read from the journal file, so a run in another hcitui process shows here too (it is re-read every few
seconds). An interrupted step (``unknown``) can be re-verified from here when hcitui knows how.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import DataTable, Static

from hcitui.core.journal import StepRecord, StepStatus, local_time
from hcitui.tui.screens.base import HciScreen, cursor_key
from hcitui.tui.screens.checks import Clamped
from hcitui.workflow import resume

RELOAD_SECONDS = 2.0

STATUS_TEXT = {
    StepStatus.PENDING: ("pending", "dim"),
    StepStatus.RUNNING: ("RUNNING", "bold"),
    StepStatus.DONE: ("done", "green"),
    StepStatus.FAILED: ("FAILED", "bold red"),
    StepStatus.UNKNOWN: ("UNKNOWN", "bold yellow"),
}


def status_text(status: StepStatus) -> Text:
    word, style = STATUS_TEXT.get(status, (str(status), ""))
    return Text(word, style=style)


def clock(stamp: str | None) -> str:
    if not stamp:
        return ""
    try:
        when = datetime.fromisoformat(stamp).astimezone()
    except ValueError:
        return stamp[:8]
    return when.strftime("%H:%M:%S") if when.date() == datetime.now().date() else when.strftime("%m-%d %H:%M")


def full_time(stamp: str | None) -> str:
    """A journal time in local time with its date (the detail line)."""
    return local_time(stamp, "-")


def _row_order(cells: tuple) -> tuple:
    """The journal's own order (phase, step, node; cluster-wide first) from a row's cells."""
    phase, step, node = (str(c) for c in cells)
    return (int(phase.split()[0]) if phase.split() and phase.split()[0].isdigit() else 0, step,
            "" if node == "cluster" else node)


class JournalScreen(HciScreen):
    TITLE_TEXT = "11) Journal"
    ABOUT = ("Every step hcitui has recorded, grouped by runbook phase, with its node, status, start and end "
             "(its latest run; local time, with the date when not today); "
             "the line under the table gives the highlighted step's detail. UNKNOWN means a step was "
             "interrupted (hcitui stopped while it ran): re-verify it (v) before going on. The one-node-out "
             "lock is shown at the top. The journal is re-read every few seconds.")
    BINDINGS = [
        Binding("r", "reload", "Reload"),
        Binding("v", "reverify", "Re-verify"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._timer: Timer | None = None

    def compose_body(self) -> ComposeResult:
        yield Clamped("", id="journal-lock")
        yield DataTable(cursor_type="row", zebra_stripes=False, id="journal-steps")
        yield Clamped("", id="journal-detail")

    def on_mount(self) -> None:
        table = self.query_one("#journal-steps", DataTable)
        # Started/Ended: the time today, the date and time (local) on another day.
        table.add_column("Phase", key="phase", width=15)
        table.add_column("Step", key="step", width=14)
        table.add_column("Node", key="node", width=8)
        table.add_column("Status", key="status", width=7)
        table.add_column("Started", key="started", width=11)
        table.add_column("Ended", key="finished", width=11)
        table.focus()
        self.action_reload()

    # ------------------------------------------------------------------ loading
    def action_reload(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.ctx.journal.refresh()
        self._show()
        self._timer = self.set_timer(RELOAD_SECONDS, self.action_reload)

    def _show(self) -> None:
        journal = self.ctx.journal
        lock = journal.state.lock
        lock_line = Text("One-node-out lock: ", style="bold")
        if lock is None:
            lock_line.append("free (no node is out of service)")
        else:
            lock_line.append(f"{lock.node}", style="bold reverse")
            lock_line.append(f" since {clock(lock.since)}: {lock.reason}; "
                             f"{'was' if lock.was_paused else 'was not'} paused before"
                             + (f"; by {lock.operator}" if lock.operator else ""))
        self.query_one("#journal-lock", Static).update(lock_line)

        table = self.query_one("#journal-steps", DataTable)
        steps = journal.steps()
        last_phase = None
        with self.app.batch_update():
            for record in steps:
                # The phase's name on its first row; its number on the others (it also sorts the rows).
                phase = (f"{record.phase} {resume.phase_name(record.phase)}" if record.phase != last_phase
                         else Text(str(record.phase), style="dim"))
                last_phase = record.phase
                cells = {"phase": phase, "step": record.step, "node": record.node or "cluster",
                         "status": status_text(record.status), "started": clock(record.started),
                         "finished": clock(record.finished)}
                if record.key in table.rows:
                    for column, value in cells.items():
                        if table.get_cell(record.key, column) != value:
                            table.update_cell(record.key, column, value)
                else:
                    table.add_row(*cells.values(), key=record.key)
            keys = [r.key for r in steps]
            for key in [str(k.value) for k in table.rows if str(k.value) not in keys]:
                table.remove_row(key)
            if [str(row.key.value) for row in table.ordered_rows] != keys:
                table.sort("phase", "step", "node", key=_row_order)
        if not steps:
            self.query_one("#journal-detail", Static).update("No step has been recorded yet.")
        else:
            self._show_detail()

    # ------------------------------------------------------------------- detail
    def selected(self) -> StepRecord | None:
        key = cursor_key(self.query_one("#journal-steps", DataTable))
        if key is None:
            return None
        return next((r for r in self.ctx.journal.steps() if r.key == key), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        record = self.selected()
        if record is None:
            return
        text = Text(f"{record.step} ({record.node or 'cluster'}): ", style="bold")
        text.append((record.detail or record.status.value).rstrip("."))
        if record.status is StepStatus.UNKNOWN:
            how = "v re-verifies it" if resume.has_reverifier(record) else "check it and run it again from its screen"
            text.append(f". Interrupted: {how}")
        text.append(".")
        if record.runs:
            text.append(f" Run {len(record.runs)}, started {full_time(record.started)}, "
                        f"ended {full_time(record.finished)}" + (f", by {record.operator}" if record.operator else ""))
            if len(record.runs) > 1:
                before = record.runs[-2]
                text.append(f"; run before: {before.status.value}, started {full_time(before.started)}, "
                            f"ended {full_time(before.finished)}")
            text.append(".")
        self.query_one("#journal-detail", Static).update(text)

    # ----------------------------------------------------------------- reverify
    def action_reverify(self) -> None:
        record = self.selected()
        if record is None:
            self.notify("No step to re-verify.", timeout=3)
            return
        if record.status not in (StepStatus.UNKNOWN, StepStatus.FAILED):
            self.notify(f"{record.step} is {record.status.value}: nothing to re-verify.", timeout=4)
            return
        if not resume.has_reverifier(record):
            self.notify(f"hcitui cannot check {record.step} by itself: check it and run it again from its screen.",
                        timeout=6)
            return
        if self.start_job("re-verification", self._reverify(record)):
            self.notify(f"Re-verifying {resume.describe(record)} ...", timeout=3)

    def busy_note(self, label: str) -> str:
        return "A re-verification is already running."

    async def _reverify(self, record: StepRecord) -> None:
        outcome = await resume.reverify(self.ctx, record)
        self.notify(outcome.sentence, timeout=8, severity="information" if outcome.status else "warning")
        if self.is_attached:
            self._show()
