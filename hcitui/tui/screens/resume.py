"""At start: the journal shows steps that were running when hcitui last stopped. Say so, offer to re-verify.

Nothing is assumed done. ``v`` re-verifies every interrupted step hcitui knows how to check (reads
only); the others are named with where to check and re-run them. ``j`` opens the journal view.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from hcitui.core.journal import Journal, StepRecord, StepStatus
from hcitui.tui.screens.jobs import JobGuard
from hcitui.workflow import resume


def interrupted_steps(journal: Journal) -> list[StepRecord]:
    """Every step whose outcome is unknown: interrupted, and not re-verified since."""
    return [r for r in journal.steps() if r.status is StepStatus.UNKNOWN]


class ResumeModal(JobGuard, ModalScreen[None]):
    BINDINGS = [
        Binding("v", "reverify", "Re-verify"),
        Binding("j", "journal", "Journal"),
        Binding("escape", "dismiss", "Close"),
    ]
    DEFAULT_CSS = """
    ResumeModal { align: center middle; }
    ResumeModal > Vertical { width: 100%; max-width: 78; height: auto; max-height: 100%;
                             border: heavy $warning; padding: 0 1; }
    ResumeModal #resume-title { text-style: bold; }
    ResumeModal #resume-steps { height: auto; max-height: 12; }
    """

    def __init__(self, records: list[StepRecord]) -> None:
        super().__init__()
        self.records = list(records)
        self.results: list[resume.Reverified] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("hcitui stopped while a step was running", id="resume-title", markup=False)
            yield Static("These steps were interrupted. Their outcome is unknown: nothing is assumed done. "
                         "Re-verify before going on.", markup=False)
            with VerticalScroll(id="resume-steps"):
                yield Static(self._lines(), id="resume-list")
            yield Static(self._keys(), id="resume-keys", markup=False)

    def _lines(self) -> Text:
        text = Text()
        done = {id(r.record): r for r in self.results}
        for record in self.records:
            result = done.get(id(record))
            if result is not None:
                text.append(("  ok  " if result.status else "  ??  ") + result.sentence + "\n")
            elif resume.has_reverifier(record):
                text.append(f"  -   {resume.describe(record)}: v re-verifies it\n")
            else:
                text.append(f"  -   {resume.describe(record)}: check it and run it again from its screen\n")
        return text

    def _keys(self) -> str:
        if self.busy:
            return "Re-verifying... (reads only)"
        return "v re-verify  j open the journal  Esc close"

    def _refresh(self) -> None:
        self.query_one("#resume-list", Static).update(self._lines())
        self.query_one("#resume-keys", Static).update(self._keys())

    def action_reverify(self) -> None:
        if self.busy:
            return  # the keys line says it re-verifies
        pending = [r for r in self.records if resume.has_reverifier(r)
                   and not any(x.record is r for x in self.results)]
        if not pending:
            self.notify("Nothing here that hcitui can re-verify by itself: open the steps' screens.", timeout=5)
            return
        if self.start_job("re-verify", self._reverify(pending)):
            self._refresh()

    async def _reverify(self, pending: list[StepRecord]) -> None:
        try:
            for record in pending:
                self.results.append(await resume.reverify(self.app.ctx, record))  # type: ignore[attr-defined]
                self._refresh()
        finally:
            self.call_later(self._ended)

    def _ended(self) -> None:
        """Called once the job has ended (``busy`` is None): the keys line says so."""
        if self.is_attached:
            self._refresh()

    def action_journal(self) -> None:
        from hcitui.tui.screens.journal_view import JournalScreen

        self.dismiss()
        self.app.push_screen(JournalScreen())
