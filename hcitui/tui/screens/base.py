"""What every hcitui screen shares: header, footer, back and help keys, read-only hiding, one job at a
time (JobGuard), and workflow events delivered as messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer

from hcitui.remote import NodeEvent
from hcitui.tui.messages import NodeRead, Progressed, handled
from hcitui.tui.screens.jobs import JobGuard
from hcitui.tui.widgets.header import StatusHeader
from hcitui.tui.widgets.leave import RunningChange
from hcitui.workflow.events import ProgressEvent

if TYPE_CHECKING:
    from hcitui.workflow.context import Context


class HciScreen(JobGuard, Screen):
    """Base screen. Subclasses compose their body in :meth:`compose_body`. What reads or changes the
    cluster runs as the screen's one job (:class:`JobGuard`: ``busy``, ``is_busy``, ``start_job``)."""

    TITLE_TEXT: ClassVar[str] = ""
    ABOUT: ClassVar[str] = ""
    # Actions that change the cluster: hidden from keys, footer and palette in read-only mode.
    MUTATING_ACTIONS: ClassVar[frozenset[str]] = frozenset()

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        # The change this screen runs now: set while a confirmed change runs (SteppingScreen.confirm and
        # its worker), None otherwise and during reads. The app asks before leaving while one is set.
        self.change: RunningChange | None = None

    @property
    def ctx(self) -> Context:
        return self.app.ctx  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        ctx = self.ctx
        yield StatusHeader(cluster=ctx.name, read_only=ctx.read_only, nodes=len(ctx.client.nodes),
                           sites=len(ctx.client.sites), transport=ctx.transport_note, title=self.TITLE_TEXT)
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        return iter(())

    # ------------------------------------------------------------ workflow events
    # A step's callbacks run in the job's worker: they only post messages. The widgets change in the
    # handlers (show_progress, show_node_event), on the screen's message loop, in the events' order.
    def progress(self, event: ProgressEvent) -> None:
        """The workflow's progress callback."""
        self.post_message(Progressed(event))

    def node_event(self, event: NodeEvent) -> None:
        """The fan-out's per-node event callback (``on_event`` of a read)."""
        self.post_message(NodeRead(event))

    def on_progressed(self, message: Progressed) -> None:
        self.show_progress(message.event)

    def on_node_read(self, message: NodeRead) -> None:
        self.show_node_event(message.event)

    def show_progress(self, event: ProgressEvent) -> None:
        """Show a step's progress event (screens that run steps say how)."""

    def show_node_event(self, event: NodeEvent) -> None:
        """Show a read's per-node event (screens that read say where)."""

    async def events_shown(self) -> None:
        """In a job: wait until every event posted so far is on screen (before showing an outcome)."""
        await handled(self)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MUTATING_ACTIONS and self.ctx.read_only:
            return False
        return True

    def running_change(self) -> RunningChange | None:
        """The change to the cluster running on this screen now, or None (nothing runs, or only reads)."""
        return self.change

    def leaving_note(self, change: RunningChange) -> str:
        """What stays as it is if hcitui stops in the middle of ``change`` (screens say it more exactly)."""
        return (f"What {change.label} changed so far stays as it is, and the journal marks the step interrupted: "
                f"re-verify it from 11) Journal, or run it again from {change.screen}.")

    def action_back(self) -> None:
        if self.running_change() is not None:
            # Leaving the screen would stop its change half-way: ask first, as quitting does.
            self.app.ask_to_leave()  # type: ignore[attr-defined]
            return
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()


def cursor_key(table: DataTable) -> str | None:
    """The row key under ``table``'s cursor; None for an empty table or before the cursor exists."""
    if not table.row_count:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:  # noqa: BLE001  (no cursor yet)
        return None
