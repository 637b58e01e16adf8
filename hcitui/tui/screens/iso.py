"""4) ISO staging: the ISO on every node, copied where it is missing, extracted to the same folder on each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from hcitui.core.errors import HciError
from hcitui.core.journal import StepStatus
from hcitui.core.units import bar, human_bytes
from hcitui.tui.screens.stepping import SteppingScreen
from hcitui.tui.widgets.node_table import Column, NodeTable
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow import eta, staging
from hcitui.workflow.events import ProgressEvent, Stage
from hcitui.workflow.staging import IsoReport, IsoState, NodeIso, judge_staging

COLUMNS = [Column("iso", "ISO", 9), Column("files", "Files", 5), Column("setup", "Setup", 5),
           Column("verified", "Verified", 8)]
DROPPED_COLUMNS = ("state", "build", "elapsed")  # not read here; the room goes to the Status cell
STATUS_COLUMN = Column("status", "Status", 20)


def iso_cell(row: NodeIso, source_size: int | None) -> Text:
    state = row.iso_state(source_size)
    if state is IsoState.PRESENT and row.iso is not None:
        return Text(human_bytes(row.iso.length))
    if state is IsoState.PARTIAL and source_size and row.iso is not None:
        return Text(f"part {int((row.iso.length or 0) * 100 / source_size)}%", style="bold")
    words = {IsoState.MISSING: "missing", IsoState.WRONG_SIZE: "bad size", IsoState.FOLDER: "folder",
             IsoState.UNREADABLE: "?", IsoState.UNCHECKED: "-"}
    return Text(words.get(state, state.value), style="bold" if state.needs_copy else "")


class IsoScreen(SteppingScreen):
    TITLE_TEXT = "4) ISO staging"
    ABOUT = ("Phase 3: the ISO must be at iso_path on every node; c copies it from iso_source on this machine "
             "to the nodes that lack it (in chunks, resumable). s stages it on every node: copies it first where "
             "missing, then mounts it, copies its contents to staging_path (the same path on every node) and "
             "dismounts it, and proves setup.exe is there with the same file count and bytes on every node. "
             "Nodes already staged and verified are skipped. v verifies the staged folders again.")
    MUTATING_ACTIONS = frozenset({"copy", "stage"})
    TABLE_ID, OUTCOME_ID = "iso-nodes", "iso-outcome"
    BINDINGS = [
        Binding("c", "copy", "Copy ISO"),
        Binding("s", "stage", "Stage all"),
        Binding("v", "verify", "Verify"),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("p", "preview", "PowerShell", show=False),
    ]
    # 80x24 with 16 nodes: the table (1fr, NodeTable's) scrolls with the cursor; the lines below it stay.
    DEFAULT_CSS = """
    IsoScreen #iso-intro { height: 1; padding: 0 1; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }
    IsoScreen #iso-detail { height: auto; max-height: 3; padding: 0 1; }
    IsoScreen #iso-summary { height: auto; max-height: 2; padding: 0 1; }
    IsoScreen #iso-progress { height: auto; max-height: 2; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    IsoScreen #iso-outcome { height: auto; max-height: 3; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.report: IsoReport | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("Verified: same files as the others. r refresh, p PowerShell, ? help", id="iso-intro")
        table = NodeTable(self.ctx.client.nodes, extra=COLUMNS, id="iso-nodes")
        table.columns_spec = [STATUS_COLUMN if c.key == "status" else c
                              for c in table.columns_spec if c.key not in DROPPED_COLUMNS]
        yield table
        yield Static("", id="iso-detail")
        yield Static("Reading...", id="iso-summary")
        yield Static("", id="iso-progress")
        yield Static("", id="iso-outcome")

    def on_mount(self) -> None:
        self.table.focus()
        self.action_refresh()

    # ------------------------------------------------------------------- reading
    async def read(self, *, live: bool = True) -> None:
        self.report = await staging.read_iso(self.ctx, on_event=self.node_event if live else None)
        self._show(self.report)

    def _verified(self, node: str, row: NodeIso, report: IsoReport) -> Text:
        record = self.ctx.journal.step(staging.PHASE, staging.STAGE, node)
        if row.staging_error:
            return Text("?")
        if row.counts is None:
            return Text("FAILED" if record is not None and record.status is StepStatus.FAILED else "-",
                        style="bold")
        ok, _reason = judge_staging(row, report.reference, self.ctx.cluster.staging_path)
        if not ok:
            return Text("DIFFERS", style="bold")
        if record is not None and record.status is StepStatus.DONE:
            return Text("yes")
        return Text("no (v)", style="bold")

    def _show(self, report: IsoReport) -> None:
        table = self.table
        with self.app.batch_update():
            for node in table.node_names():
                row = report.rows.get(node)
                if row is None:
                    continue
                info = row.staging
                table.set_cells(
                    node,
                    iso=iso_cell(row, report.source_size),
                    files=str(info.file_count) if info is not None and info.exists else ("?" if row.staging_error
                                                                                       else "-"),
                    setup=("yes" if info.has_setup else "no") if info is not None and info.exists else "-",
                    verified=self._verified(node, row, report),
                )
        rows = list(report.rows.values())
        present = sum(1 for r in rows if r.iso_state(report.source_size) is IsoState.PRESENT)
        staged = sum(1 for r in rows if str(self._verified(r.node, r, report)) == "yes")
        text = Text(f"ISO on {present}/{len(rows)} nodes, staged on {staged}/{len(rows)}; ")
        if report.source is not None:
            text.append(f"source {report.source.path.name} ({human_bytes(report.source.size)})")
        else:
            text.append(report.source_problem or "No iso_source: c cannot copy.", style="bold")
        self.query_one("#iso-summary", Static).update(text)
        self._show_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        node = self.selected
        report = self.report
        if report is None or node is None or node not in report.rows:
            return
        row = report.rows[node]
        cluster = self.ctx.cluster
        text = Text(f"{node}: ", style="bold")
        state = row.iso_state(report.source_size)
        if state is IsoState.PRESENT:
            text.append(f"ISO {cluster.iso_path} present ({human_bytes(row.iso.length if row.iso else None)}). ")
        elif state is IsoState.UNREADABLE:
            text.append(f"ISO could not be looked up: {row.iso_error}. ")
        elif state is IsoState.UNCHECKED:
            text.append("No iso_path in the config. ")
        else:
            text.append(f"ISO {cluster.iso_path} {state.value}", style="bold")
            text.append(": c copies it. " if report.source is not None else ". ")
        _ok, reason = judge_staging(row, report.reference, cluster.staging_path)
        text.append(f"Staging: {reason}.")
        record = self.ctx.journal.step(staging.PHASE, staging.COPY, node)
        if record is not None and record.status is not StepStatus.DONE:
            text.append(f" Copy: {record.detail or record.status.value}.")
        self.query_one("#iso-detail", Static).update(text)

    # ------------------------------------------------------------------ changing
    def show_progress(self, event: ProgressEvent) -> None:
        """The ISO copy (bytes done of the whole) on the progress line, with which node of the copies it is
        and when they should all be done; while it runs, in the Status cell too. Every other event in the
        Status cell, in words."""
        if event.total:
            done = event.done or 0
            fraction = event.fraction if event.fraction is not None else done / event.total
            line = Text(f"Copy to {event.node}: ", style="bold")
            line.append(f"{bar(fraction, 30)}  {human_bytes(done)} of {human_bytes(event.total)}")
            then = [f"node {event.position[0]} of {event.position[1]} to copy"] if event.position else []
            finish = eta.words(event.eta)
            if finish:
                then.append(finish + (" (every copy)" if event.position and event.position[1] > 1 else ""))
            if then:
                line.append("\n" + " · ".join(then))
            self.query_one("#iso-progress", Static).update(line)
            if event.stage is Stage.WORKING and done < event.total:
                self.table.set_cells(event.node, status=Text(f"copy {fraction:4.0%} {bar(fraction, 8, percent=False)}",
                                                             no_wrap=True))
                return
        super().show_progress(event)

    def _missing(self) -> list[str]:
        report = self.report
        if report is None:
            return []
        return [n for n, r in report.rows.items() if r.iso_state(report.source_size).needs_copy]

    def action_copy(self) -> None:
        if self.report is None:
            self.notify("Reading the nodes first; try again in a moment.", timeout=3)
            return
        nodes = self._missing()
        if not nodes:
            self.say(Text("Every node has the ISO (of the source's size): nothing to copy.", style="bold"))
            return
        self.confirm(staging.plan_copy(self.ctx, nodes), f"copy the ISO to {', '.join(nodes)}",
                     lambda: staging.copy_iso(self.ctx, nodes, self.progress), "s stages it on every node.")

    def action_stage(self) -> None:
        nodes = list(self.ctx.client.node_names)
        missing = self._missing() if self.report is not None else None
        self.confirm(staging.plan_stage(self.ctx, nodes, missing), "stage the ISO on all nodes",
                     lambda: staging.stage(self.ctx, nodes, self.progress))

    async def _run(self, label: str, work: Callable[[], Awaitable[Any]], done: str) -> None:
        """A change, then the copy's progress line cleared however it ended."""
        try:
            await super()._run(label, work, done)
        finally:
            self.query_one("#iso-progress", Static).update("")

    def action_verify(self) -> None:
        self.start_job("verify", self._verify())

    async def _verify(self) -> None:
        self.say("Verifying the staged folders ...")
        try:
            verdicts = await staging.verify_staging(self.ctx, on_event=self.node_event)
        except HciError as exc:
            self.outcome = Text(self.sentence(exc), style="bold")
            self.app.report_error(self.sentence(exc))
        else:
            self.outcome = Text(f"Verified: {len(verdicts)} nodes staged alike, setup.exe on each.", style="bold")
        await self.events_shown()  # the reads' last events first: the journal's word stays in the Status cell
        for node in self.table.node_names():
            record = self.ctx.journal.step(staging.PHASE, staging.STAGE, node)
            if record is not None:
                word = "verified" if record.status is StepStatus.DONE else record.status.value.upper()
                self.table.set_cells(node, status=Text(word, no_wrap=True, overflow="ellipsis"))
        await self.read(live=False)
        self.say(self.outcome or "")

    # ------------------------------------------------------------------- preview
    def action_preview(self) -> None:
        self.app.push_screen(PowerShellPreview("PowerShell run by ISO staging", staging.plan_reads(self.ctx)))
