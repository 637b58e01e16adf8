"""7) Verification: the phase-7 checks, per node and cluster-wide, with live per-node status."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from hcitui import model
from hcitui.remote import NodeEvent, RemoteError
from hcitui.screens.base import HciScreen
from hcitui.widgets.node_table import Column, NodeTable
from hcitui.widgets.preview import PowerShellPreview
from hcitui.workflow import verify
from hcitui.workflow.verify import Status, VerificationReport

RESULT_TEXT = {
    Status.PASS: ("PASS", "green"),
    Status.FAIL: ("FAIL", "bold red"),
    Status.WARN: ("WARN", "yellow"),
    Status.UNKNOWN: ("UNKN", "bold yellow"),
}
NODE_CHECK_COLUMNS = {verify.NODE_UP: "up", verify.NODE_BUILD: "os", verify.NODE_CSV: "csv"}


def result_text(status: Status) -> Text:
    word, style = RESULT_TEXT[status]
    return Text(word, style=style)


class VerifyScreen(HciScreen):
    TITLE_TEXT = "7) Verification"
    ABOUT = ("Phase 7, read-only: every node Up on build 25398, CSVs online from every node, Storage Replica "
             "groups ContinuouslyReplicating, no storage jobs, virtual disks Healthy, Cloud Management online. "
             "A check that could not be read is UNKN, never PASS.")
    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("p", "preview", "PowerShell"),
        Binding("tab", "app.focus_next", "Switch table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.report: VerificationReport | None = None
        self.running = False

    def compose_body(self) -> ComposeResult:
        yield Static("Phase 7 checks (read-only). r runs them again, p shows the PowerShell.", id="verify-intro")
        yield NodeTable(self.ctx.client.nodes,
                        extra=[Column("up", "Up", 4), Column("os", "OS", 4), Column("csv", "CSV", 4)],
                        id="verify-nodes")
        yield DataTable(cursor_type="row", id="verify-checks")
        yield Static("", id="verify-detail")
        yield Static("", id="verify-summary")

    def on_mount(self) -> None:
        checks = self.query_one("#verify-checks", DataTable)
        checks.add_column("Check", key="check", width=22)
        checks.add_column("Node", key="node", width=8)
        checks.add_column("Result", key="result", width=6)
        checks.add_column("Reason", key="reason", width=32)
        self.query_one("#verify-nodes", NodeTable).focus()
        self.action_refresh()

    # ------------------------------------------------------------------- running
    def action_refresh(self) -> None:
        if self.running:
            self.notify("Verification is already running.", timeout=3)
            return
        self.running = True
        self.query_one("#verify-summary", Static).update("Running the checks...")
        self.run_worker(self._run(), group="verify", exclusive=True, exit_on_error=False)

    async def _run(self) -> None:
        table = self.query_one("#verify-nodes", NodeTable)
        try:
            report = await verify.run_verification(self.ctx, on_event=self._on_event)
        finally:
            self.running = False
        self.report = report
        self._show(report)
        # The table shows the outcome per node, not the last event of the read.
        for node in table.node_names():
            failed = [c for c in report.checks if c.node == node and c.status is not Status.PASS]
            table.set_cells(node, status=Text("checked" if not failed else f"{len(failed)} not pass",
                                              style="green" if not failed else "bold red"))

    def _on_event(self, event: NodeEvent) -> None:
        self.query_one("#verify-nodes", NodeTable).apply_event(event)
        if event.node == self.ctx.name and event.operation:
            self.query_one("#verify-summary", Static).update(f"Reading {event.operation} ...")

    def _show(self, report: VerificationReport) -> None:
        table = self.query_one("#verify-nodes", NodeTable)
        observed = report.observed
        cluster_nodes = {} if isinstance(observed.nodes, (RemoteError, type(None))) else {
            n.name.lower(): n for n in observed.nodes}
        with self.app.batch_update():
            for node in table.node_names():
                info = cluster_nodes.get(node.lower())
                state = str(info.state) if info else "?"
                version = observed.node_part(node, "os")
                build = version.build if isinstance(version, model.OsVersion) else (
                    "unreachable" if isinstance(version, RemoteError) else "?")
                table.set_cells(node, state=state, build=build)
                for check in report.checks:
                    if check.node == node and check.name in NODE_CHECK_COLUMNS:
                        table.set_cell(node, NODE_CHECK_COLUMNS[check.name], result_text(check.status))

            checks = self.query_one("#verify-checks", DataTable)
            for check in report.checks:
                key = f"{check.name}|{check.node or ''}"
                cells = (check.name, check.node or "cluster", result_text(check.status),
                         Text(check.reason, no_wrap=True, overflow="ellipsis"))
                if key in checks.rows:
                    for column, value in zip(("check", "node", "result", "reason"), cells):
                        checks.update_cell(key, column, value)
                else:
                    checks.add_row(*cells, key=key)
        stamp = report.finished.astimezone().strftime("%H:%M:%S")
        verdict = Text(report.summary(), style="bold green" if report.passed else "bold red")
        verdict.append(f"  (checked {stamp})", style="")
        self.query_one("#verify-summary", Static).update(verdict)
        self._show_detail()

    # -------------------------------------------------------------------- detail
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one("#verify-detail", Static)
        if self.report is None:
            return
        focused = self.focused
        if isinstance(focused, NodeTable) or focused is None:
            node = self.query_one("#verify-nodes", NodeTable).selected_node
            rows = [c for c in self.report.checks if c.node == node and c.status is not Status.PASS]
            text = Text(f"{node}: ", style="bold")
            text.append("; ".join(f"{c.name}: {c.reason}" for c in rows) if rows else "every check passes")
            detail.update(text)
            return
        checks = self.query_one("#verify-checks", DataTable)
        if not checks.row_count:
            return
        key = checks.coordinate_to_cell_key(checks.cursor_coordinate).row_key.value
        check = next((c for c in self.report.checks if f"{c.name}|{c.node or ''}" == key), None)
        if check:
            text = Text(f"{check.name} ({check.node or 'cluster'}): ", style="bold")
            text.append(check.reason)
            detail.update(text)

    def on_descendant_focus(self) -> None:
        self._show_detail()

    # ------------------------------------------------------------------- preview
    def action_preview(self) -> None:
        parts = [f"# Verification reads on {self.ctx.name}. All read-only; nothing is changed.",
                 f"# Generated {datetime.now().strftime('%Y-%m-%d %H:%M:%S')}", ""]
        for op in verify.CLUSTER_READS.values():
            parts += [op.render(node="any node (first that answers)"), ""]
        for op in verify.NODE_READS:
            parts += [op.render(node="each node: " + ", ".join(self.ctx.client.node_names)), ""]
        self.app.push_screen(PowerShellPreview("PowerShell run by Verification", "\n".join(parts)))
