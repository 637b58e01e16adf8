"""2) Registry keys: the two upgrade values on every node, whether they are in force, and setting them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from hcitui.core.journal import StepStatus, local_time
from hcitui.tui.screens.checks import Clamped, node_column, stretch_column
from hcitui.tui.screens.stepping import SteppingScreen
from hcitui.tui.widgets.node_table import Column, NodeTable
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow import registry
from hcitui.workflow.registry import EFFECT_WORD, MEANING, Effect, RegistryReport

# Refs: RefsEnableMetadataValidation; Skip: SkipSmallLocalAllocations ("-": not set); Vid key: whether
# Services\Vid\Parameters exists; In force: since a restart after they were set.
COLUMNS = [Column("refs", "Refs", 4), Column("skip", "Skip", 4), Column("vid", "Vid key", 7),
           Column("effect", "In force", 8)]
# Not read here (state, the timer), or not needed to set the values (the site): the room goes to Status,
# which says what each node's values mean once read ("not set", "set, restart pending", "in force").
DROPPED_COLUMNS = ("site", "state", "elapsed")
STATUS_COLUMN = Column("status", "Status", 20)
EFFECT_STYLE = {Effect.NOT_SET: "bold", Effect.PENDING: "bold", Effect.EFFECTIVE: "", Effect.UNKNOWN: "bold",
                Effect.UNREADABLE: "bold"}


class RegistryScreen(SteppingScreen):
    TITLE_TEXT = "2) Registry keys"
    ABOUT = ("Phase 1: RefsEnableMetadataValidation = 0 (Control\\FileSystem) and SkipSmallLocalAllocations = 0 "
             "(Services\\Vid\\Parameters, created only if missing) on every node. The kernel reads them at boot: "
             "In force says 'pending' until the node restarted after they were set, 'yes' once it did, 'unknown' "
             "when they were found set without hcitui's record (restart to be sure); Status says it in words. "
             "Refs and Skip are the two values ('-': not set); Vid key: whether Vid\\Parameters exists. Without "
             "SkipSmallLocalAllocations, draining a node with dynamic-memory VMs fails. x is the ReFS remediation "
             "(1, then 0) for ReFS volumes that stay offline after a restart. o opens the rolling restart. A step that "
             "found every value already set says so.")
    MUTATING_ACTIONS = frozenset({"set_all", "set_node", "remediate", "rolling"})
    TABLE_ID, OUTCOME_ID = "reg-nodes", "reg-outcome"
    # The footer fits 80 columns: short labels; ? lists them all.
    BINDINGS = [
        Binding("a", "set_all", "Set all"),
        Binding("s", "set_node", "Set node"),
        Binding("x", "remediate", "ReFS fix"),
        Binding("o", "rolling", "Restarts"),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("p", "preview", "PowerShell", show=False),
    ]
    # 80x24 with 16 nodes: the table takes what the lines around it leave, and scrolls with the cursor.
    DEFAULT_CSS = """
    RegistryScreen #reg-intro { height: 1; padding: 0 1; color: $text-muted; }
    RegistryScreen #reg-nodes { height: 1fr; max-height: 100%; min-height: 3; scrollbar-size-vertical: 1; }
    RegistryScreen #reg-detail { height: 2; padding: 0 1; }
    RegistryScreen #reg-summary { height: 1; padding: 0 1; }
    RegistryScreen #reg-outcome { height: 2; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.report: RegistryReport | None = None
        self.refresh_on_resume = False

    def compose_body(self) -> ComposeResult:
        intro = "Refs: RefsEnableMetadataValidation, Skip: SkipSmallLocalAllocations; both 0"
        yield Clamped(intro, id="reg-intro")
        nodes = self.ctx.client.nodes
        table = NodeTable(nodes, extra=COLUMNS, id="reg-nodes")
        spec = {"status": STATUS_COLUMN, "node": node_column(nodes)}
        table.columns_spec = [spec.get(c.key, c) for c in table.columns_spec if c.key not in DROPPED_COLUMNS]
        yield table
        yield Clamped("", id="reg-detail")
        yield Clamped("Reading...", id="reg-summary")
        yield Clamped("", id="reg-outcome")

    def on_mount(self) -> None:
        self.table.focus()
        self.call_after_refresh(self._fit)
        self.action_refresh()

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        stretch_column(self.table, "status", STATUS_COLUMN.width, 40)

    # ------------------------------------------------------------------- reading
    async def read(self, *, live: bool = True) -> None:
        self.report = await registry.read_registry(self.ctx, on_event=self.node_event if live else None)
        if live:
            await self.events_shown()  # the reads' own events first: then each Status says what it read
        # After a refresh each Status says what the values mean; after a step it keeps what the step did.
        self._show(self.report, meaning=live)

    def _show(self, report: RegistryReport, *, meaning: bool = True) -> None:
        table = self.table
        with self.app.batch_update():
            for node in table.node_names():
                row = report.rows.get(node)
                if row is None:
                    continue
                table.set_cells(node, refs=row.refs, vid=row.vid_key, skip=row.skip,
                                effect=Text(EFFECT_WORD[row.effect], style=EFFECT_STYLE[row.effect]),
                                build=row.build or ("unreadable" if row.error else "?"))
                if meaning and row.effect is not Effect.UNREADABLE:  # a failed read keeps its FAILED
                    table.set_cells(node, status=Text(MEANING[row.effect], style=EFFECT_STYLE[row.effect],
                                                      no_wrap=True, overflow="ellipsis"))
        summary = Text(report.summary())
        if report.count(Effect.PENDING) or report.count(Effect.UNKNOWN):
            summary.append("  o: rolling restart", style="bold")
        self.query_one("#reg-summary", Static).update(summary)
        self._show_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        node = self.selected
        if self.report is None or node is None or node not in self.report.rows:
            return
        text = Text(self.report.rows[node].sentence())
        for step in registry.RECORD_STEPS:
            record = self.ctx.journal.step(registry.PHASE, step, node)
            if record is not None:
                what = "set" if step == registry.STEP else "ReFS remediation"
                state = "done" if record.status is StepStatus.DONE else record.status.value
                text.append(f". hcitui {what}: {state}, started {local_time(record.started, '?', '%Y-%m-%d %H:%M')}")
        self.query_one("#reg-detail", Static).update(text)

    # ------------------------------------------------------------------ changing
    def _verified(self, label: str, step: Callable[[], Awaitable[dict[str, str]]], after: str) -> Callable[
            [], Awaitable[str]]:
        """The step, then its outcome in words from what it verified: "Done" only when it changed a value."""
        async def work() -> str:
            outcomes = await step()
            words = registry.outcome_words(outcomes)
            if registry.changed(outcomes):
                return f"Done: {label}: {words}. {after}"
            return f"Nothing to do: {words}."
        return work

    def action_set_all(self) -> None:
        nodes = list(self.ctx.client.node_names)
        label = "set the registry values on all nodes"
        self.confirm(registry.plan_set(self.ctx, nodes), label,
                     self._verified(label, lambda: registry.set_values(self.ctx, nodes, self.progress),
                                    "They take effect at each node's next restart: o for the rolling restart."))

    def action_set_node(self) -> None:
        node = self.selected
        if node:
            label = f"set the registry values on {node}"
            self.confirm(registry.plan_set(self.ctx, [node]), label,
                         self._verified(label, lambda: registry.set_values(self.ctx, [node], self.progress),
                                        f"They take effect when {node} restarts: o for the rolling restart."))

    def action_remediate(self) -> None:
        node = self.selected
        if node:
            label = f"the ReFS remediation on {node}"
            self.confirm(registry.plan_remediate(self.ctx, [node]), label,
                         self._verified(label, lambda: registry.remediate_refs(self.ctx, [node], self.progress),
                                        f"It takes effect when {node} restarts: o for the rolling restart."))

    def action_rolling(self) -> None:
        if self.ctx.read_only or self.is_busy():
            return
        try:
            from hcitui.tui.screens.maintenance import MaintenanceScreen
        except ImportError:
            self.app.report_error("The node maintenance screen is not in this build: "
                                  "run 'hcitui rolling-restart' to restart the nodes one at a time.")
            return
        self.refresh_on_resume = True
        self.app.push_screen(MaintenanceScreen(start="rolling"))

    def on_screen_resume(self) -> None:
        if self.refresh_on_resume and not self.busy:
            self.refresh_on_resume = False
            self.outcome = None
            self.say("")
            self.action_refresh()  # back from the restart: show what is in force now

    # ------------------------------------------------------------------- preview
    def action_preview(self) -> None:
        self.app.push_screen(PowerShellPreview("PowerShell run by Registry keys", registry.plan_reads(self.ctx)))
