"""What a screen with mutating steps shares: one worker at a time, confirm before every change,
refusals and failures as sentences, and a refresh after each change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.widgets import Static

from hcitui.remote import RemoteError
from hcitui.tui.screens.base import HciScreen, RunningChange
from hcitui.tui.widgets.confirm import DRY_RUN, RUN, ConfirmStep
from hcitui.tui.widgets.node_table import NodeTable
from hcitui.workflow.events import ProgressEvent
from hcitui.workflow.steps import Plan, Refused, StepFailed


def text_bar(fraction: float | None, width: int = 20) -> str:
    """A progress bar in characters, readable without colour: ``[#########...........]  45%``."""
    if fraction is None:
        return ""
    done = max(0, min(width, int(fraction * width)))
    return "[" + "#" * done + "." * (width - done) + f"] {fraction:4.0%}"


class SteppingScreen(HciScreen):
    """Subclasses name their widgets (``TABLE_ID``, ``OUTCOME_ID``) and implement :meth:`read`."""

    TABLE_ID: ClassVar[str] = ""
    OUTCOME_ID: ClassVar[str] = ""
    WORKER_GROUP: ClassVar[str] = ""
    LIVE_POLL: ClassVar[bool] = False  # read (live_read) while a change runs

    def __init__(self) -> None:
        super().__init__()
        self.busy: str | None = None  # what runs now (a read or a change): one thing at a time
        self.outcome: Text | None = None  # how the last action ended, shown until the next one
        self._live_reading = False

    # ------------------------------------------------------------------ helpers
    @property
    def table(self) -> NodeTable:
        return self.query_one(f"#{self.TABLE_ID}", NodeTable)

    @property
    def selected(self) -> str | None:
        return self.table.selected_node

    def say(self, text: str | Text) -> None:
        self.query_one(f"#{self.OUTCOME_ID}", Static).update(text)

    def progress(self, event: ProgressEvent) -> None:
        node, text, fraction = event.node, event.text, event.fraction
        """A workflow's progress callback: the node's Status cell, in words."""
        self.table.set_cells(node, status=Text(text, no_wrap=True, overflow="ellipsis"))

    def is_busy(self) -> bool:
        if self.busy:
            self.notify(f"Busy: {self.busy} is running; one thing at a time.", timeout=4)
            return True
        return False

    # ------------------------------------------------------------------ reading
    async def read(self, *, live: bool = True) -> None:
        """Read what the screen shows and show it (``live``: per-node events in the Status cells).
        Every subclass overrides it; this one shows nothing."""
        return None

    def action_refresh(self) -> None:
        if self.is_busy():
            return
        self.busy = "refresh"
        self.run_worker(self._refresh(), group=self.WORKER_GROUP, exit_on_error=False)

    async def _refresh(self) -> None:
        try:
            await self.read(live=True)
        except RemoteError as exc:
            self.app.report_error(exc.sentence)
        finally:
            self.busy = None

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
                if self.is_busy():
                    return
                self.busy = label
                self.change = RunningChange(self.TITLE_TEXT, label, node)
                self.run_worker(self._run(label, work, done), group=self.WORKER_GROUP, exit_on_error=False)
            else:
                self.outcome = Text(f"Cancelled {label}: nothing was sent.")
                self.say(self.outcome)

        self.app.push_screen(ConfirmStep(plan.title, plan.preview(), typed=self.ctx.name if typed else None),
                             callback=chosen)

    async def _live_tick(self) -> None:
        if self._live_reading:
            return  # polls never overlap
        self._live_reading = True
        try:
            await self.live_read()
        except RemoteError:
            pass  # a missed look while the cluster moves; the step's own reads decide
        finally:
            self._live_reading = False

    async def _run(self, label: str, work: Callable[[], Awaitable[Any]], done: str) -> None:
        self.outcome = None
        self.say(f"Running: {label} ...")
        live = None
        if self.LIVE_POLL:
            live = self.set_interval(self.ctx.poll * 3, lambda: self.run_worker(
                self._live_tick(), group=f"{self.WORKER_GROUP}-live", exit_on_error=False))
        try:
            try:
                result = await work()
            except (Refused, StepFailed, RemoteError) as exc:
                self.outcome = Text(exc.sentence, style="bold")
                self.app.report_error(exc.sentence)
            else:
                text = result if isinstance(result, str) else f"Done: {label}." + (f" {done}" if done else "")
                self.outcome = Text(text, style="bold")
            if live is not None:
                live.stop()
            self.say(self.outcome)
            await self.read(live=False)
        finally:
            if live is not None:
                live.stop()
            self.busy = None
            self.change = None
        self.say(self.outcome or "")
