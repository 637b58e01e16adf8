"""What a screen with mutating steps shares: one job at a time, confirm before every change,
refusals and failures as sentences with their remedy, and a refresh after each change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.widgets import Static

from hcitui.core.errors import HciError
from hcitui.core.units import clock
from hcitui.remote import NodeEvent
from hcitui.tui import remedies
from hcitui.tui.screens.base import HciScreen, RunningChange
from hcitui.tui.widgets.confirm import DRY_RUN, RUN, ConfirmStep
from hcitui.tui.widgets.node_table import NodeTable
from hcitui.workflow.events import ProgressEvent, Stage
from hcitui.workflow.steps import Plan


def event_words(event: ProgressEvent) -> str:
    """A progress event in words: its text, marked FAILED when the node's part failed, with the time
    a long wait began."""
    words = event.text
    if event.stage is Stage.FAILED:
        words = f"FAILED: {words}" if words else "FAILED"
    if event.since is not None:
        words += f" (since {clock(event.since)})"
    return words


def status_text(event: ProgressEvent) -> Text:
    """A progress event for a node's Status cell (cut to the cell, never wrapped)."""
    style = "bold" if event.stage is Stage.FAILED else "dim" if event.stage is Stage.SKIPPED else ""
    return Text(event_words(event), style=style, no_wrap=True, overflow="ellipsis")


class SteppingScreen(HciScreen):
    """Subclasses name their widgets (``TABLE_ID``, ``OUTCOME_ID``) and implement :meth:`read`."""

    TABLE_ID: ClassVar[str] = ""
    OUTCOME_ID: ClassVar[str] = ""
    LIVE_POLL: ClassVar[bool] = False  # read (live_read) while a change runs
    LIVE_GROUP: ClassVar[str] = "live"  # the live reads' workers: one at a time, beside the job

    def __init__(self) -> None:
        super().__init__()
        self.outcome: Text | None = None  # how the last action ended, shown until the next one

    # ------------------------------------------------------------------ helpers
    @property
    def table(self) -> NodeTable:
        return self.query_one(f"#{self.TABLE_ID}", NodeTable)

    @property
    def selected(self) -> str | None:
        return self.table.selected_node

    def say(self, text: str | Text) -> None:
        self.query_one(f"#{self.OUTCOME_ID}", Static).update(text)

    def sentence(self, error: HciError) -> str:
        """A refusal or failure as the operator reads it here: its sentence and its remedy's key."""
        return remedies.sentence(error, here=self.TITLE_TEXT)

    # ------------------------------------------------------------------ events
    def show_progress(self, event: ProgressEvent) -> None:
        """A step's progress event: the node's Status cell, in words."""
        self.table.set_cells(event.node, status=status_text(event))

    def show_node_event(self, event: NodeEvent) -> None:
        self.table.apply_event(event)

    # ------------------------------------------------------------------ reading
    async def read(self, *, live: bool = True) -> None:
        """Read what the screen shows and show it (``live``: per-node events in the Status cells).
        Every subclass overrides it; this one shows nothing."""
        return None

    def action_refresh(self) -> None:
        self.start_job("refresh", self._refresh())

    async def _refresh(self) -> None:
        try:
            await self.read(live=True)
        except HciError as exc:
            self.app.report_error(self.sentence(exc))
        await self.events_shown()

    # ----------------------------------------------------------------- changing
    async def live_read(self) -> None:
        """Read while a change runs (LIVE_POLL screens), so the table moves as the cluster does."""
        return None

    def confirm(self, plan: Plan, label: str, work: Callable[[], Awaitable[Any]], done: str = "", *,
                typed: bool = False, node: str | None = None) -> None:
        """Show the plan's PowerShell; on "run" do ``work`` in a worker, on "dry-run" send nothing.
        ``typed``: the step cannot be undone, so the cluster's name must be typed to run it.
        ``node``: the node the step works on (named if the operator leaves while it runs).
        If ``work`` returns a string, that sentence is the outcome shown afterwards.
        While ``work`` runs, :meth:`running_change` names it: leaving then asks first."""
        if self.ctx.read_only:  # the keys are hidden; this guards a direct call too
            self.say(f"Read-only: {label} changes the cluster; nothing was sent.")
            return
        if self.is_busy():
            return

        def chosen(choice: str | None) -> None:
            if choice == DRY_RUN:
                self.outcome = Text(f"Dry run of {label}: nothing was sent to {self.ctx.name}.", style="bold")
                self.say(self.outcome)
            elif choice == RUN:
                if self.start_job(label, self._run(label, work, done)):
                    self.change = RunningChange(self.TITLE_TEXT, label, node)
            else:
                self.outcome = Text(f"Cancelled {label}: nothing was sent.")
                self.say(self.outcome)

        self.app.push_screen(ConfirmStep(plan.title, plan.preview(), typed=self.ctx.name if typed else None),
                             callback=chosen)

    def _live_poll(self) -> None:
        if self.running_in(self.LIVE_GROUP):
            return  # polls never overlap: the last one has not ended
        self.run_worker(self._live_tick(), group=self.LIVE_GROUP, exit_on_error=False)

    async def _live_tick(self) -> None:
        try:
            await self.live_read()
        except HciError:
            pass  # a missed look while the cluster moves; the step's own reads decide

    async def _run(self, label: str, work: Callable[[], Awaitable[Any]], done: str) -> None:
        self.outcome = None
        self.say(f"Running: {label} ...")
        live = None
        if self.LIVE_POLL:
            live = self.set_interval(self.ctx.poll * 3, self._live_poll)
        try:
            try:
                result = await work()
            except HciError as exc:  # refused, failed, or a node that did not answer
                await self.events_shown()
                self.outcome = Text(self.sentence(exc), style="bold")
                self.app.report_error(self.sentence(exc))
            else:
                await self.events_shown()  # the step's last events first, then how it ended
                text = result if isinstance(result, str) else f"Done: {label}." + (f" {done}" if done else "")
                self.outcome = Text(text, style="bold")
            if live is not None:
                live.stop()
            self.say(self.outcome)
            await self.read(live=False)
        finally:
            if live is not None:
                live.stop()
            self.change = None
        self.say(self.outcome or "")
