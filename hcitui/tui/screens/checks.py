"""A read-only screen that judges checks (prerequisites, verification): a per-node table with a result
column per check, every check with its reason, a detail line with the remediation, live status.

Also what the read-only screens share to fit 80x24 with many nodes: :class:`Clamped` (a line or a few,
word-wrapped and cut with an ellipsis, never wrapped off the screen), :func:`stretch_column` (the last
column takes the room a wider terminal gives) and :func:`node_column` (as wide as the longest node name).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey

from hcitui.core.units import clock
from hcitui.remote import NodeEvent
from hcitui.tui import remedies
from hcitui.tui.screens.base import HciScreen
from hcitui.tui.widgets.node_table import Column, NodeTable
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow.context import Context
from hcitui.workflow.steps import Plan
from hcitui.workflow.verify import CheckResult, ChecksReport, Status

RESULT_TEXT = {
    Status.PASS: ("PASS", "green"),
    Status.FAIL: ("FAIL", "bold red"),
    Status.WARN: ("WARN", "yellow"),
    Status.UNKNOWN: ("UNKN", "bold yellow"),
}
# Worst first: a column that sums up several checks shows the worst of them.
SEVERITY = {Status.FAIL: 0, Status.UNKNOWN: 1, Status.WARN: 2, Status.PASS: 3}


ELLIPSIS = "\u2026"


def clamp(text: Text, width: int, height: int, console: Any) -> Text:
    """``text`` word-wrapped to ``width`` and cut to ``height`` lines; what does not fit ends in an ellipsis."""
    if width <= 0 or height <= 0:
        return Text("")
    lines = text.wrap(console, width, overflow="ellipsis")
    for line in lines:
        line.rstrip()
    if len(lines) <= height:
        return Text("\n").join(lines)
    kept = list(lines[:height])
    last = kept[-1]
    if last.cell_len >= width:
        last.truncate(width - 1)
        last.rstrip()
    last.append(ELLIPSIS)
    return Text("\n").join(kept)


class Clamped(Static):
    """A Static cut to its size: word-wrapped, and an ellipsis where the text goes on (never a word cut
    off at the screen's edge or a line wrapped off it). ``content`` keeps the whole text."""

    def render(self) -> RenderResult:
        content = self.content
        # A string is shown as it is (a reason or an error may hold brackets): no markup here.
        text = content.copy() if isinstance(content, Text) else Text(str(getattr(content, "plain", content)))
        size = self.content_size
        if not size.width or not size.height:
            return text
        out = clamp(text, size.width, size.height, self.app.console)
        out.no_wrap = True
        out.overflow = "ellipsis"
        return out


def node_column(nodes: list[Any], *, least: int = 6) -> Column:
    """The Node column as wide as the longest node name (so the other columns keep the room)."""
    return Column("node", "Node", max([least, *(len(n.name) for n in nodes)]))


def stretch_column(table: DataTable, key: str, least: int, most: int = 200) -> None:
    """Give column ``key`` the width the table's other columns leave it (at least ``least``, at most
    ``most``), so a wider terminal shows more of it. Room for a vertical scrollbar is always kept."""
    column = table.columns.get(ColumnKey(key))
    width = table.size.width
    if column is None or not width:
        return
    others = sum(c.get_render_width(table) for c in table.columns.values() if c is not column)
    scrollbar = table.styles.scrollbar_size_vertical
    wanted = max(least, min(most, width - scrollbar - others - 2 * table.cell_padding))
    if column.width != wanted:
        # DataTable has no flexible column: set the width, then have it measure and draw again.
        column.width = wanted
        table._clear_caches()
        table._require_update_dimensions = True
        table.refresh()


def result_text(status: Status) -> Text:
    word, style = RESULT_TEXT[status]
    return Text(word, style=style)


def check_key(check: CheckResult) -> str:
    return f"{check.name}|{check.node or ''}"


def fix_text(check: CheckResult, *, here: str = "") -> str:
    """What to do about a check: its remediation in words and, when the check carries a remedy hcitui
    can carry out, where (``stage the ISO: s on 4) ISO staging``); "" when there is nothing to do."""
    remedy = getattr(check, "remedy", None)
    place = remedies.where(remedy, here=here)
    words = check.remediation or (remedy.words() if remedy is not None else "")
    return f"{words}: {place}" if words and place else words or place


class ChecksScreen(HciScreen):
    """Subclasses name their ids (PREFIX), columns, workflow (RUN, PLAN) and what a passing node is called.

    At 80x24 with 16 nodes: the intro, the node table (at most 45% of the height; it scrolls with the
    cursor), the checks table (the rest), two lines of detail and the verdict, all on screen."""

    PREFIX: ClassVar[str] = ""
    INTRO: ClassVar[str] = ""
    RESULT_COLUMNS: ClassVar[list[Column]] = []
    DROPPED_COLUMNS: ClassVar[tuple[str, ...]] = ()
    NODE_CHECK_COLUMNS: ClassVar[dict[str, str]] = {}  # check name -> node-table column
    CHECK_WIDTH: ClassVar[int] = 22  # the Check column (the longest check name)
    REASON_WIDTH: ClassVar[int] = 20  # the Reason column at least; it takes what the others leave
    ALL_PASS: ClassVar[str] = "ready"
    RUN: ClassVar[Callable[..., Awaitable[ChecksReport]]]
    PLAN: ClassVar[Callable[[Context], Plan]]

    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("p", "preview", "PowerShell"),
        Binding("tab", "app.focus_next", "Switch table", show=False),
    ]
    DEFAULT_CSS = """
    ChecksScreen .checks-intro { height: 1; padding: 0 1; color: $text-muted; }
    ChecksScreen .checks-nodes { height: auto; max-height: 45%; scrollbar-size-vertical: 1; }
    ChecksScreen .checks-table { height: 1fr; min-height: 3; scrollbar-size-vertical: 1; }
    ChecksScreen .checks-detail { height: 2; padding: 0 1; }
    ChecksScreen .checks-summary { height: 1; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.report: ChecksReport | None = None

    def part(self, name: str) -> Any:
        return self.query_one(f"#{self.PREFIX}-{name}")

    def compose_body(self) -> ComposeResult:
        yield Clamped(self.INTRO, id=f"{self.PREFIX}-intro", classes="checks-intro")
        nodes = self.ctx.client.nodes
        table = NodeTable(nodes, extra=self.RESULT_COLUMNS, id=f"{self.PREFIX}-nodes", classes="checks-nodes")
        table.columns_spec = [node_column(nodes) if c.key == "node" else c
                              for c in table.columns_spec if c.key not in self.DROPPED_COLUMNS]
        yield table
        yield DataTable(cursor_type="row", id=f"{self.PREFIX}-checks", classes="checks-table")
        yield Clamped("", id=f"{self.PREFIX}-detail", classes="checks-detail")
        yield Clamped("", id=f"{self.PREFIX}-summary", classes="checks-summary")

    def on_mount(self) -> None:
        checks = self.part("checks")
        node_width = max(len("cluster"), node_column(self.ctx.client.nodes).width)
        for key, label, width in (("check", "Check", self.CHECK_WIDTH), ("node", "Node", node_width),
                                  ("result", "Result", 6), ("reason", "Reason", self.REASON_WIDTH)):
            checks.add_column(label, key=key, width=width)
        self.part("nodes").focus()
        self.call_after_refresh(self._fit)
        self.action_refresh()

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """The last columns take the room: the node's Status, the check's Reason."""
        stretch_column(self.part("nodes"), "status", 10, 24)
        stretch_column(self.part("checks"), "reason", self.REASON_WIDTH)

    # ------------------------------------------------------------------- running
    def busy_note(self, label: str) -> str:
        return "The checks are already running."

    def action_refresh(self) -> None:
        if self.is_busy():
            return
        self.part("summary").update("Running the checks...")
        self.start_job("checks", self._run())

    async def _run(self) -> None:
        report = await type(self).RUN(self.ctx, on_event=self.node_event)
        await self.events_shown()  # the reads' last events first, then the verdict
        self.report = report
        self._show(report)

    def show_node_event(self, event: NodeEvent) -> None:
        self.part("nodes").apply_event(event)
        if event.node == self.ctx.name and event.operation:
            self.part("summary").update(f"Reading {event.operation} ...")

    def node_cells(self, report: ChecksReport, node: str) -> dict[str, Any]:
        """Facts for a node's row besides the results (the cluster's view of its state by default)."""
        info = report.observed.cluster_node(node)
        return {"state": str(info.state) if info else "?"}

    def _show(self, report: ChecksReport) -> None:
        table: NodeTable = self.part("nodes")
        with self.app.batch_update():
            for node in table.node_names():
                table.set_cells(node, **self.node_cells(report, node))
                worst: dict[str, Status] = {}
                for check in report.checks:
                    column = self.NODE_CHECK_COLUMNS.get(check.name)
                    if check.node != node or column is None:
                        continue
                    if column not in worst or SEVERITY[check.status] < SEVERITY[worst[column]]:
                        worst[column] = check.status
                for column, status in worst.items():
                    table.set_cell(node, column, result_text(status))
                mine = [c for c in report.checks if c.node == node]
                blocking = sum(1 for c in mine if c.status in (Status.FAIL, Status.UNKNOWN))
                warnings = sum(1 for c in mine if c.status is Status.WARN)
                if blocking:
                    status = Text(f"{blocking} blocking", style="bold red")
                elif warnings:
                    status = Text(f"{warnings} warning{'s' if warnings != 1 else ''}", style="yellow")
                else:
                    status = Text(self.ALL_PASS, style="green")
                table.set_cells(node, status=status)

            checks: DataTable = self.part("checks")
            for check in report.checks:
                key = check_key(check)
                cells = (check.name, check.node or "cluster", result_text(check.status),
                         Text(check.reason, no_wrap=True, overflow="ellipsis"))
                if key in checks.rows:
                    for column, value in zip(("check", "node", "result", "reason"), cells):
                        checks.update_cell(key, column, value)
                else:
                    checks.add_row(*cells, key=key)
        stamp = clock(report.finished)
        verdict = Text(report.summary(), style="bold green" if report.passed else "bold red")
        verdict.append(f"  (checked {stamp})", style="")
        self.part("summary").update(verdict)
        self._show_detail()

    # -------------------------------------------------------------------- detail
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_descendant_focus(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        if self.report is None:
            return
        detail = self.part("detail")
        focused = self.focused
        if isinstance(focused, NodeTable) or focused is None:
            node = self.part("nodes").selected_node
            rows = [c for c in self.report.checks if c.node == node and c.status is not Status.PASS]
            text = Text(f"{node}: ", style="bold")
            if not rows:
                text.append("every check passes")
            for index, check in enumerate(sorted(rows, key=lambda c: SEVERITY[c.status])):
                if index:
                    text.append(" | ")
                text.append(f"{RESULT_TEXT[check.status][0]} {check.name}: {check.reason}")
                if fix := fix_text(check, here=self.TITLE_TEXT):
                    text.append(" Fix: ", style="bold")
                    text.append(fix)
            detail.update(text)
            return
        checks: DataTable = self.part("checks")
        if not checks.row_count:
            return
        key = checks.coordinate_to_cell_key(checks.cursor_coordinate).row_key.value
        check = next((c for c in self.report.checks if check_key(c) == key), None)
        if check is None:
            return
        text = Text(f"{check.name} ({check.node or 'cluster'}): ", style="bold")
        text.append(f"{RESULT_TEXT[check.status][0]} {check.reason}")
        if fix := fix_text(check, here=self.TITLE_TEXT):
            text.append("\nFix: ", style="bold")
            text.append(fix)
        detail.update(text)

    # ------------------------------------------------------------------- preview
    def action_preview(self) -> None:
        plan = type(self).PLAN(self.ctx)
        self.app.push_screen(PowerShellPreview(f"PowerShell run by {self.TITLE_TEXT}", plan.preview()))
