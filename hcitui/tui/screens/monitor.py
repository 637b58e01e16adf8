"""9) Monitor: the cluster at a glance, refreshing on its own. Reads only; there is nothing to change here.

The next refresh is armed only when the last one finished (never two at once), and after a failed
refresh the wait grows (backoff). What changed since the previous refresh is marked with ``*`` and
shown in reverse video, which reads without colour. A node that does not answer says so, with how long.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import DataTable, Static

from hcitui.core.errors import HciError
from hcitui.core.units import clock, duration
from hcitui.tui import remedies
from hcitui.tui.screens.base import HciScreen
from hcitui.tui.screens.checks import node_column
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow.monitor import OPERATIONS, Monitor, Snapshot

CHANGED = "bold reverse"
# Node columns: (key, label, width). The first set fits 80 columns; the wide set adds to it.
COLUMNS: list[tuple[str, str, int]] = [
    ("node", "Node", 10),
    ("site", "Site", 6),
    ("state", "State", 8),
    ("build", "Build", 16),
    ("drain", "Drain", 11),
    ("roles", "Roles", 5),
    ("csv", "CSV", 6),
]
WIDE_COLUMNS: list[tuple[str, str, int]] = [
    ("version", "Version", 7),
    ("boot", "Last boot", 11),
    ("cau", "CAU", 12),
]
WIDE_AT = 110  # terminal width from which the wide columns are shown


def status_line(monitor: Monitor, snapshot: Snapshot | None, seconds_to_next: float | None, *,
                refreshing: bool = False) -> str:
    """``refreshed 12:03:04, next in 5 s`` or ``refresh failed: ..., retrying in 20 s``."""
    wait = "" if seconds_to_next is None else f"{max(0, round(seconds_to_next))} s"
    if monitor.running or refreshing:
        last = f" (last {clock(snapshot.read_at)})" if snapshot is not None else ""
        return "refreshing..." + last
    if monitor.failures and monitor.last_error:
        return f"refresh failed: {monitor.last_error}; retrying in {wait or '?'}"
    if snapshot is None:
        return "not refreshed yet"
    text = f"refreshed {clock(snapshot.read_at)}, every {monitor.interval:g} s"
    if wait:
        text += f", next in {wait}"
    if snapshot.problems:
        text += f"; {len(snapshot.problems)} part(s) unreadable"
    return text


class MonitorScreen(HciScreen):
    TITLE_TEXT = "9) Monitor"
    ABOUT = ("A read-only dashboard that refreshes on its own: each node's state, site, build, drain status, "
             "roles owned and CSV state; storage jobs with progress; Storage Replica groups with bytes "
             "remaining; the CAU run. '*' and reverse video mark what changed since the last refresh. "
             "A refresh starts only after the previous one ended, and waits longer after failures. "
             "The node table scrolls with the cursor; Tab moves to the sections under it (they scroll too).")
    BINDINGS = [
        Binding("r", "refresh", "Refresh now"),
        Binding("p", "preview", "PowerShell"),
    ]

    def __init__(self, interval: float | None = None) -> None:
        super().__init__()
        self.monitor: Monitor | None = None
        self._interval = interval
        self.snapshot: Snapshot | None = None
        self.refreshes = 0  # completed refreshes (tests wait on this)
        self._timer: Timer | None = None
        self._next_at: float | None = None
        self._wide = False

    def compose_body(self) -> ComposeResult:
        yield Static("starting...", id="monitor-status")
        yield DataTable(cursor_type="row", zebra_stripes=False, id="monitor-nodes")
        with VerticalScroll(id="monitor-sections"):
            yield Static("", id="monitor-detail")

    def on_mount(self) -> None:
        self.monitor = Monitor(self.ctx, self._interval)
        table = self.query_one("#monitor-nodes", DataTable)
        node_width = node_column(self.ctx.client.nodes).width  # as wide as the longest name: Build gets the room
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=node_width if key == "node" else width)
        for node in self.ctx.client.nodes:
            cells = {key: "" for key, _, _ in COLUMNS}
            cells.update(node=node.name, site=node.site or "-", state="...", build="...")
            table.add_row(*[cells[key] for key, _, _ in COLUMNS], key=node.name)
        self._fit_width(self.app.size.width)
        table.focus()
        self.set_interval(1.0, self._tick)
        self._start()

    # ------------------------------------------------------------------ layout
    def on_resize(self, event: events.Resize) -> None:
        self._fit_width(event.size.width)

    def _fit_width(self, width: int) -> None:
        """Wider terminals show more columns; 80 columns show what matters."""
        wide = width >= WIDE_AT
        if wide == self._wide:
            return
        table = self.query_one("#monitor-nodes", DataTable)
        with self.app.batch_update():
            if wide:
                for key, label, col_width in WIDE_COLUMNS:
                    table.add_column(label, key=key, width=col_width, default="")
                if self.snapshot is not None:
                    self._fill_rows(self.snapshot, only=[k for k, _, _ in WIDE_COLUMNS])
            else:
                for key, _, _ in WIDE_COLUMNS:
                    if key in table.columns:
                        table.remove_column(key)
        self._wide = wide

    # ------------------------------------------------------------------ refresh
    # A refresh is the screen's one job: r while one runs is refused, and the next one is armed only
    # when the last one ended (by _refresh itself), so two never overlap.
    def busy_note(self, label: str) -> str:
        return "A refresh is already running; the next one starts when it ends."

    def action_refresh(self) -> None:
        self._start()

    def _start(self) -> None:
        if self.monitor is None or self.is_busy():
            return
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._next_at = None
        self.start_job("refresh", self._refresh())
        self._show_status()

    async def _refresh(self) -> None:
        assert self.monitor is not None
        cancelled = False
        try:
            snapshot = await self.monitor.refresh()
            self.snapshot = snapshot
            self._show(snapshot)
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception as exc:  # noqa: BLE001 - a sentence for the operator, and the next refresh still comes
            message = remedies.sentence(exc, here=self.TITLE_TEXT) if isinstance(exc, HciError) else (
                f"{type(exc).__name__}: {exc}")
            self.app.report_error(f"Monitor: the refresh failed: {message}")
        finally:
            if not cancelled and self.is_attached:
                self.refreshes += 1
                delay = self.monitor.next_delay()
                self._next_at = time.monotonic() + delay
                self._timer = self.set_timer(delay, self._start)
                self.call_later(self._show_status)  # once this job has ended: no longer "refreshing"

    # ------------------------------------------------------------------- render
    def _tick(self) -> None:
        """Every second: the countdown and the unreachable durations (no remote call)."""
        self._show_status()
        if self.snapshot is not None and self.monitor is not None and self.monitor.unreachable_since:
            self._fill_rows(self.snapshot, only=["build"])

    def _show_status(self) -> None:
        if self.monitor is None:
            return
        wait = None if self._next_at is None else self._next_at - time.monotonic()
        line = status_line(self.monitor, self.snapshot, wait, refreshing=self.busy is not None)
        style = "bold" if self.monitor.failures else ""
        self.query_one("#monitor-status", Static).update(Text(line, style=style, no_wrap=True, overflow="ellipsis"))

    def _cell(self, snapshot: Snapshot, node: str, column: str) -> Text:
        value = snapshot.rows.get(node, {}).get(column, "")
        if column == "build" and node in snapshot.unreachable and self.monitor is not None:
            gone_for = self.monitor.unreachable_for(node)
            value = f"unreachable {duration(gone_for or 0)}"
            return Text(value, style="bold", no_wrap=True, overflow="ellipsis")
        if column in snapshot.changed.get(node, ()):
            return Text("*" + value, style=CHANGED, no_wrap=True, overflow="ellipsis")
        return Text(value, no_wrap=True, overflow="ellipsis")

    def _fill_rows(self, snapshot: Snapshot, only: list[str] | None = None) -> None:
        table = self.query_one("#monitor-nodes", DataTable)
        with self.app.batch_update():
            for node in snapshot.rows:
                if node not in table.rows:
                    continue
                for column in only or list(table.columns):
                    key = str(getattr(column, "value", column))
                    if key in table.columns:
                        table.update_cell(node, key, self._cell(snapshot, node, key))

    def _show(self, snapshot: Snapshot) -> None:
        self._fill_rows(snapshot)
        text = Text(no_wrap=True, overflow="ellipsis")
        for title, lines in snapshot.sections():
            text.append(f"{title}\n", style="bold underline")
            for line in lines:
                if line.changed:
                    text.append("* " + line.text, style=CHANGED)
                else:
                    text.append("  " + line.text)
                text.append("\n")
        if snapshot.problems:
            text.append("Could not read\n", style="bold underline")
            for item in snapshot.problems:
                text.append(f"  {item}\n")
        self.query_one("#monitor-detail", Static).update(text)

    # ------------------------------------------------------------------ preview
    def action_preview(self) -> None:
        parts = [f"# Monitor reads on {self.ctx.name}, every refresh. All read-only; nothing is changed.",
                 f"# Generated {clock(datetime.now(), date=True)}", ""]
        nodes = ", ".join(self.ctx.client.node_names)
        client = self.ctx.client
        for op in OPERATIONS:
            where = "any node (first that answers)" if op.scope.value == "cluster" else f"each node: {nodes}"
            if client.on_coordinator(op):  # Get-CauRun: on the CAU coordinator, naming the cluster
                parts += [op.render(client.cluster_params(op), node=client.where(op)), ""]
                continue
            parts += [op.render(node=where), ""]
        self.app.push_screen(PowerShellPreview("PowerShell run by the Monitor", "\n".join(parts)))
