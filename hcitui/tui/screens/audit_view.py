"""10) Audit log: every remote operation hcitui sent, newest first, with the exact PowerShell of each.

Read-only. Each row names the node the operation acted on (``cluster`` for a cluster-wide one) and,
when it differs, the node it was sent through. ``n`` cycles the node filter (acted on or went
through), ``c`` shows only changes (read from the change log alone), Enter shows the PowerShell and
the error of the highlighted operation, ``e`` exports what is shown (all of it, not just the rows on
screen) to Markdown and JSON in the state folder and says where. Rotated files are read too.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from hcitui.core.journal import cluster_dir
from hcitui.tui.screens.base import HciScreen, cursor_key
from hcitui.tui.screens.checks import Clamped
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow import history
from hcitui.workflow.history import AuditEntry

SHOWN = 500  # rows in the table; the export always holds every matching operation

OUTCOME_STYLE = {"ok": "", "refused": "bold", "unreachable": "bold red", "rebooting": "bold yellow",
                 "timeout": "bold red", "failed": "bold red", "cancelled": "dim"}


class AuditScreen(HciScreen):
    TITLE_TEXT = "10) Audit log"
    ABOUT = ("Every remote operation, newest first: time, the node it acted on ('cluster' for a cluster-wide "
             "one), the node it was sent through when another, operation, outcome, duration; '!' marks an "
             "operation that changes the cluster. Enter shows its exact PowerShell and its error. n cycles the "
             "node filter, c shows only changes, e exports to Markdown and JSON, r reloads.")
    BINDINGS = [
        Binding("enter", "show", "PowerShell"),
        Binding("n", "next_node", "Node"),
        Binding("c", "changes", "Changes only"),
        Binding("e", "export", "Export"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.node: str | None = None
        self.changes_only = False
        self.entries: list[AuditEntry] = []
        self.total = 0
        self.loads = 0  # completed loads (tests wait on this)

    def compose_body(self) -> ComposeResult:
        yield Clamped("", id="audit-filter")
        yield DataTable(cursor_type="row", zebra_stripes=False, id="audit-table")
        yield Clamped("", id="audit-detail")

    def on_mount(self) -> None:
        table = self.query_one("#audit-table", DataTable)
        # 80 columns: 8+10+8+20+11+8 = 65 characters and 12 of cell padding.
        table.add_column("Time", key="time", width=8)
        table.add_column("Node", key="node", width=10)  # the node acted on
        table.add_column("Via", key="via", width=8)  # the node it was sent through, when another
        table.add_column("Operation", key="operation", width=20)
        table.add_column("Outcome", key="outcome", width=11)
        table.add_column("Duration", key="duration", width=8)
        table.focus()
        self.action_reload()

    # ------------------------------------------------------------------ loading
    def action_reload(self) -> None:
        self.run_worker(self._load(), group="audit", exclusive=True, exit_on_error=False)

    async def _load(self) -> None:
        entries, total = await asyncio.to_thread(
            history.load, self.ctx.audit, node=self.node, changes_only=self.changes_only, limit=SHOWN)
        self.entries, self.total = entries, total
        self._show()
        self.loads += 1

    def _filter_text(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("Showing: ", style="bold")
        text.append(f"node {self.node or 'all'}, {'changes only' if self.changes_only else 'every operation'}")
        shown = len(self.entries)
        text.append(f"; {shown} of {self.total}" if shown < self.total else f"; {self.total}")
        text.append(" newest first")
        return text

    def _show(self) -> None:
        self.query_one("#audit-filter", Static).update(self._filter_text())
        table = self.query_one("#audit-table", DataTable)
        wanted = {e.key for e in self.entries}
        with self.app.batch_update():
            for key in [str(k.value) for k in table.rows if str(k.value) not in wanted]:
                table.remove_row(key)
            for entry in self.entries:
                key = entry.key
                if key in table.rows:
                    continue  # a logged operation never changes
                name = ("! " if entry.mutates else "  ") + entry.operation
                via = "" if entry.target and entry.target.lower() == entry.node.lower() else entry.node
                table.add_row(Stamp(entry.local_time(), entry.time), entry.target_text, via,
                              Text(name, style="bold" if entry.mutates else ""),
                              Text(entry.outcome, style=OUTCOME_STYLE.get(entry.outcome, "")),
                              entry.duration_text(), key=key)
            order = [e.key for e in self.entries]
            if [str(row.key.value) for row in table.ordered_rows] != order:
                table.sort("time", key=lambda stamp: getattr(stamp, "order", ""), reverse=True)
        self._show_detail()

    # ------------------------------------------------------------------- detail
    def selected(self) -> AuditEntry | None:
        key = cursor_key(self.query_one("#audit-table", DataTable))
        if key is None:
            return None
        return next((e for e in self.entries if e.key == key), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_show()  # Enter on the table

    def _show_detail(self) -> None:
        detail = self.query_one("#audit-detail", Static)
        entry = self.selected()
        if entry is None:
            detail.update("Nothing logged for this filter." if not self.entries else "")
            return
        text = Text(no_wrap=False)
        text.append(f"{entry.local_time('%Y-%m-%d %H:%M:%S')} {entry.operation} on {entry.target_text}",
                    style="bold")
        if entry.target is None or entry.target.lower() != entry.node.lower():
            text.append(f" via {entry.node}")
        text.append(f" ({'CHANGES THE CLUSTER' if entry.mutates else 'read-only'}) by {entry.operator or '?'}: ")
        text.append(entry.outcome + (f": {entry.error}" if entry.error else ""))
        detail.update(text)

    def action_show(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        parts = [f"# {entry.local_time('%Y-%m-%d %H:%M:%S')} acting on {entry.target_text}, sent to {entry.node}, "
                 f"by {entry.operator or '?'}: "
                 f"{entry.outcome}, {entry.duration_text()}"]
        if entry.error:
            parts.append(f"# error: {entry.error}")
        parts += ["", entry.powershell()]
        self.app.push_screen(PowerShellPreview(f"{entry.operation} on {entry.node}", "\n".join(parts)))

    # ------------------------------------------------------------------ filters
    def action_next_node(self) -> None:
        names = list(self.ctx.client.node_names)  # and every other node the log names (the coordinator)
        seen = {n.lower() for n in names}
        names += [n for n in history.nodes_in(self.ctx.audit) if n.lower() not in seen]
        cycle: list[str | None] = [None, *names]
        index = cycle.index(self.node) if self.node in cycle else 0
        self.node = cycle[(index + 1) % len(cycle)]
        self.action_reload()

    def action_changes(self) -> None:
        self.changes_only = not self.changes_only
        self.action_reload()

    # ------------------------------------------------------------------- export
    def action_export(self) -> None:
        self.run_worker(self._export(), group="audit-export", exclusive=True, exit_on_error=False)

    async def _export(self) -> None:
        folder = cluster_dir(self.ctx.state_root, self.ctx.name) / "exports"
        entries, _ = await asyncio.to_thread(history.load, self.ctx.audit, node=self.node,
                                             changes_only=self.changes_only)
        try:
            md_path, json_path = await asyncio.to_thread(history.export, entries, folder, self.ctx.name)
        except OSError as exc:
            self.app.report_error(f"Audit log: the export could not be written to {folder}: {exc.strerror or exc}.")
            return
        self.notify(f"Exported {len(entries)} operations to {md_path} and {json_path.name}.", timeout=12)


class Stamp(Text):
    """A time cell that also knows its entry's place in the log, so the table sorts newest first."""

    def __init__(self, text: str, order: str) -> None:  # order: the entry's UTC time (ISO, sortable)
        super().__init__(text)
        self.order = order
