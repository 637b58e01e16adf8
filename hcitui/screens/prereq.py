"""1) Prerequisites: the phase-0 checks, per node and cluster-wide, read-only, with live per-node status."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from hcitui.remote import NodeEvent
from hcitui.screens.base import HciScreen
from hcitui.widgets.node_table import Column, NodeTable
from hcitui.widgets.preview import PowerShellPreview
from hcitui.workflow import prereq
from hcitui.workflow.prereq import PrereqReport
from hcitui.workflow.verify import CheckResult, Status

RESULT_TEXT = {
    Status.PASS: ("PASS", "green"),
    Status.FAIL: ("FAIL", "bold red"),
    Status.WARN: ("WARN", "yellow"),
    Status.UNKNOWN: ("UNKN", "bold yellow"),
}
# Worst first: a column that sums up several checks shows the worst of them.
SEVERITY = {Status.FAIL: 0, Status.UNKNOWN: 1, Status.WARN: 2, Status.PASS: 3}
# Node-table column for each per-node check (the Azure connection folds into Reg).
NODE_CHECK_COLUMNS = {
    prereq.NODE_UP: "up",
    prereq.NODE_BUILD: "os",
    prereq.REGISTERED: "reg",
    prereq.CONNECTED: "reg",
    prereq.SECURE_BOOT: "sb",
    prereq.VMS_STOPPED: "vms",
    prereq.ISO_PRESENT: "iso",
}
RESULT_COLUMNS = [Column("up", "Up", 4), Column("os", "OS", 4), Column("reg", "Reg", 4), Column("sb", "SB", 4),
                  Column("vms", "VMs", 4), Column("iso", "ISO", 4)]
# At 80 columns the six results leave no room for the raw build and the timer: the OS result's reason has the build.
DROPPED_COLUMNS = ("build", "elapsed")


def result_text(status: Status) -> Text:
    word, style = RESULT_TEXT[status]
    return Text(word, style=style)


def check_key(check: CheckResult) -> str:
    return f"{check.name}|{check.node or ''}"


class PrereqScreen(HciScreen):
    TITLE_TEXT = "1) Prerequisites"
    ABOUT = ("Phase 0, read-only: every node Up on build 20349 (22H2), registered in Azure and connected, "
             "Cloud Management online, the CAU clustered role present, storage quiet (no storage job, disks "
             "Healthy, SR replicating), the ISO on every node. Secure Boot and running VMs are recommendations: "
             "they warn, they do not block. A check that could not be read is UNKN, never PASS.")
    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("p", "preview", "PowerShell"),
        Binding("tab", "app.focus_next", "Switch table", show=False),
    ]
    DEFAULT_CSS = """
    PrereqScreen #prereq-intro { height: 1; padding: 0 1; color: $text-muted; }
    PrereqScreen #prereq-nodes { margin-bottom: 1; }
    PrereqScreen #prereq-checks { height: 1fr; min-height: 4; }
    PrereqScreen #prereq-detail { height: 3; padding: 0 1; }
    PrereqScreen #prereq-summary { height: 1; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.report: PrereqReport | None = None
        self.running = False

    def compose_body(self) -> ComposeResult:
        yield Static("Phase 0 checks (read-only). r runs them again, p shows the PowerShell.", id="prereq-intro")
        table = NodeTable(self.ctx.client.nodes, extra=RESULT_COLUMNS, id="prereq-nodes")
        table.columns_spec = [c for c in table.columns_spec if c.key not in DROPPED_COLUMNS]
        yield table
        yield DataTable(cursor_type="row", id="prereq-checks")
        yield Static("", id="prereq-detail")
        yield Static("", id="prereq-summary")

    def on_mount(self) -> None:
        checks = self.query_one("#prereq-checks", DataTable)
        checks.add_column("Check", key="check", width=19)
        checks.add_column("Node", key="node", width=8)
        checks.add_column("Res.", key="result", width=4)
        checks.add_column("Reason", key="reason", width=37)
        self.query_one("#prereq-nodes", NodeTable).focus()
        self.action_refresh()

    # ------------------------------------------------------------------- running
    def action_refresh(self) -> None:
        if self.running:
            self.notify("The prerequisite checks are already running.", timeout=3)
            return
        self.running = True
        self.query_one("#prereq-summary", Static).update("Running the checks...")
        self.run_worker(self._run(), group="prereq", exclusive=True, exit_on_error=False)

    async def _run(self) -> None:
        try:
            report = await prereq.run_prerequisites(self.ctx, on_event=self._on_event)
        finally:
            self.running = False
        self.report = report
        self._show(report)

    def _on_event(self, event: NodeEvent) -> None:
        self.query_one("#prereq-nodes", NodeTable).apply_event(event)
        if event.node == self.ctx.name and event.operation:
            self.query_one("#prereq-summary", Static).update(f"Reading {event.operation} ...")

    def _show(self, report: PrereqReport) -> None:
        table = self.query_one("#prereq-nodes", NodeTable)
        with self.app.batch_update():
            for node in table.node_names():
                info = report.observed.cluster_node(node)
                table.set_cells(node, state=str(info.state) if info else "?")
                worst: dict[str, Status] = {}
                for check in report.checks:
                    column = NODE_CHECK_COLUMNS.get(check.name)
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
                    status = Text("ready", style="green")
                table.set_cells(node, status=status)

            checks = self.query_one("#prereq-checks", DataTable)
            for check in report.checks:
                key = check_key(check)
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
        self.query_one("#prereq-summary", Static).update(verdict)
        self._show_detail()

    # -------------------------------------------------------------------- detail
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_descendant_focus(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        if self.report is None:
            return
        detail = self.query_one("#prereq-detail", Static)
        focused = self.focused
        if isinstance(focused, NodeTable) or focused is None:
            node = self.query_one("#prereq-nodes", NodeTable).selected_node
            rows = [c for c in self.report.checks if c.node == node and c.status is not Status.PASS]
            text = Text(f"{node}: ", style="bold")
            if not rows:
                text.append("every check passes")
            for index, check in enumerate(sorted(rows, key=lambda c: SEVERITY[c.status])):
                if index:
                    text.append(" | ")
                text.append(f"{RESULT_TEXT[check.status][0]} {check.name}: {check.reason}")
                if check.remediation:
                    text.append(" Fix: ", style="bold")
                    text.append(check.remediation)
            detail.update(text)
            return
        checks = self.query_one("#prereq-checks", DataTable)
        if not checks.row_count:
            return
        key = checks.coordinate_to_cell_key(checks.cursor_coordinate).row_key.value
        check = next((c for c in self.report.checks if check_key(c) == key), None)
        if check is None:
            return
        text = Text(f"{check.name} ({check.node or 'cluster'}): ", style="bold")
        text.append(f"{RESULT_TEXT[check.status][0]} {check.reason}")
        if check.remediation:
            text.append("\nFix: ", style="bold")
            text.append(check.remediation)
        detail.update(text)

    # ------------------------------------------------------------------- preview
    def action_preview(self) -> None:
        nodes = ", ".join(self.ctx.client.node_names)
        parts = [f"# Prerequisite reads on {self.ctx.name}. All read-only; nothing is changed.",
                 f"# Generated {datetime.now().strftime('%Y-%m-%d %H:%M:%S')}", ""]
        for op in prereq.CLUSTER_READS.values():
            parts += [op.render(node="any node (first that answers)"), ""]
        for op in prereq.NODE_READS:
            parts += [op.render(node="each node: " + nodes), ""]
        iso_path = self.ctx.cluster.iso_path
        if iso_path:
            parts += [prereq.ISO_READ.render({"path": iso_path}, node="each node: " + nodes), ""]
        else:
            parts += ["# No iso_path in the config: the ISO is not looked up.", ""]
        self.app.push_screen(PowerShellPreview("PowerShell run by Prerequisites", "\n".join(parts)))
