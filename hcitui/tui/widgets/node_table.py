"""The per-node status table every screen reuses.

Rows are keyed by node name and cells by column key, and updates go through
``update_cell`` inside ``app.batch_update()``: the table is never cleared, so the cursor
and scroll position stay where the operator left them while status streams in.

The table takes the height its screen leaves it (``1fr``), never capped: with more nodes than
lines, it scrolls with the cursor, and the lines below it (a verdict, a summary) stay in view.
When the table is resized (a summary grew), the cursor's row is scrolled back into view.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from hcitui.remote import EventKind, NodeEvent, NodeInfo


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


BASE_COLUMNS = [
    Column("node", "Node", 10),
    Column("site", "Site", 5),
    Column("state", "State", 7),
    Column("build", "Build", 10),
]
TAIL_COLUMNS = [
    Column("status", "Status", 11),
    Column("elapsed", "Time", 5),
]

STATUS_STYLE = {
    EventKind.QUEUED: ("queued", "dim"),
    EventKind.RUNNING: ("running", "bold"),
    EventKind.OK: ("ok", "green"),
    EventKind.FAILED: ("FAILED", "bold red"),
    EventKind.UNREACHABLE: ("UNREACHABLE", "bold red"),
}


class ScrollingTable(DataTable):
    """A table that takes the height its screen leaves it and keeps the cursor's row in view: the per-node
    table, and a screen's table of other rows (Storage Replica's partnerships)."""

    DEFAULT_CSS = """
    ScrollingTable { height: 1fr; min-height: 4; }
    """

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_cursor_into_view(animate=False)


class NodeTable(ScrollingTable):

    def __init__(self, nodes: list[NodeInfo], extra: list[Column] | None = None, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.nodes = nodes
        self.columns_spec = [*BASE_COLUMNS, *(extra or []), *TAIL_COLUMNS]
        self._started: dict[str, float] = {}

    def on_mount(self) -> None:
        for column in self.columns_spec:
            self.add_column(column.label, key=column.key, width=column.width)
        for node in self.nodes:
            cells = {c.key: "" for c in self.columns_spec}
            cells.update(node=node.name, site=node.site or "-", state="?", build="?", status="-")
            self.add_row(*[cells[c.key] for c in self.columns_spec], key=node.name)

    def node_names(self) -> list[str]:
        return [n.name for n in self.nodes]

    def set_cell(self, node: str, column: str, value: str | Text) -> None:
        if node in self.rows and column in self.columns:
            self.update_cell(node, column, value)

    def set_cells(self, node: str, **values: str | Text) -> None:
        with self.app.batch_update():
            for column, value in values.items():
                self.set_cell(node, column, value)

    def apply_event(self, event: NodeEvent) -> None:
        """Show a fan-out event in the node's Status and Time cells."""
        if event.node not in self.rows:
            return
        label, style = STATUS_STYLE[event.kind]
        if event.kind is EventKind.QUEUED:
            self._started[event.node] = time.monotonic()
        if event.kind is EventKind.RUNNING and event.operation:
            label = event.operation.removeprefix("get_").replace("_", " ")
        text = Text(label, style=style, no_wrap=True, overflow="ellipsis")
        elapsed = time.monotonic() - self._started.get(event.node, time.monotonic())
        self.set_cells(event.node, status=text, elapsed=f"{elapsed:.1f}s")

    @property
    def selected_node(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:  # no cursor yet
            return None
