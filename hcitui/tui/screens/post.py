"""8) Post-upgrade: functional level, storage pools, VM configuration versions, Test-Cluster."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding

from hcitui.core import model
from hcitui.remote import RemoteError
from hcitui.tui.screens.checks import Clamped, node_column, stretch_column
from hcitui.tui.screens.stepping import SteppingScreen, event_words
from hcitui.tui.widgets.node_table import Column, NodeTable
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow import post
from hcitui.workflow.events import Progress, ProgressEvent, Stage
from hcitui.workflow.observe import problem

# "2 of 3": how many of the node's VMs are below its highest configuration version, of how many it has.
VMS_COLUMN = Column("vms", "VMs to update", 13)
HINT = "l level, s pools, m VM versions (each typed), t Test-Cluster, p PowerShell"
READ_ONLY_HINT = "Read-only: t Test-Cluster, p the PowerShell of the steps (they are not offered here)"


def vms_cell(rows: object) -> str:
    if not isinstance(rows, list):
        return "unreadable" if isinstance(rows, RemoteError) else "?"
    if not rows:
        return "no VMs"
    return f"{sum(1 for vm in rows if post.outdated(vm))} of {len(rows)}"


def pools_text(state: post.PostState) -> Text:
    """``Storage pools: Pool-SiteA, Pool-SiteB (Windows Server 2022)``: the pools by version."""
    text = Text("Storage pools: ", style="bold")
    if problem(state.pools):
        text.append(problem(state.pools) or "")
        return text
    by_version: dict[str, list[str]] = {}
    for pool in state.pools:
        if not pool.is_primordial:
            by_version.setdefault(pool.version or "version ?", []).append(pool.friendly_name)
    text.append("; ".join(f"{', '.join(names)} ({version})" for version, names in by_version.items()) or "none")
    return text


class PostUpgradeScreen(SteppingScreen):
    TITLE_TEXT = "8) Post-upgrade"
    TABLE_ID, OUTCOME_ID = "post-nodes", "post-summary"
    ABOUT = ("The last steps, and they cannot be undone: l raises the cluster functional level (only when "
             "every node is on 25398), s upgrades every non-primordial storage pool (after the level), m "
             "updates the configuration version of the VMs that are shut down. Each asks you to type the "
             "cluster's name. t runs Test-Cluster (read-only) and shows where its report went. The table: each "
             "node's state in the cluster, its build, how many of its VMs are below the newest configuration "
             "version; Status says whether it is on 25398. A step that found nothing to change says so.")
    MUTATING_ACTIONS = frozenset({"level", "pools", "vms"})
    BINDINGS = [
        Binding("l", "level", "Level"),
        Binding("s", "pools", "Pools"),
        Binding("m", "vms", "VMs"),
        Binding("t", "validate", "Test-Cluster"),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("p", "preview", "PowerShell", show=False),
    ]
    # 80x24 with 16 nodes: a line above, the table (it scrolls with the cursor when it must), two below.
    DEFAULT_CSS = """
    PostUpgradeScreen #post-level, PostUpgradeScreen #post-pools { height: 1; padding: 0 1; }
    PostUpgradeScreen #post-nodes { height: 1fr; max-height: 100%; min-height: 3; scrollbar-size-vertical: 1; }
    PostUpgradeScreen #post-summary { height: 2; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.state: post.PostState | None = None

    def compose_body(self) -> ComposeResult:
        yield Clamped("", id="post-level")
        nodes = self.ctx.client.nodes
        table = NodeTable(nodes, extra=[VMS_COLUMN], id="post-nodes")
        # No Time column: how long each read took is not what this screen is about; the room goes to Status.
        table.columns_spec = [node_column(nodes) if c.key == "node" else c for c in table.columns_spec
                              if c.key != "elapsed"]
        yield table
        yield Clamped("", id="post-pools")
        yield Clamped("", id="post-summary")

    def on_mount(self) -> None:
        self.table.focus()
        self.call_after_refresh(self._fit)
        self.action_refresh()

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        stretch_column(self.table, "status", 12, 30)

    async def read(self, *, live: bool = True) -> None:
        self.state = await post.read(self.ctx, on_event=self.node_event if live else None)
        if live:
            await self.events_shown()  # the reads' own events first: then each Status says what it read
        self._show(live=live)

    def _show(self, *, live: bool = True) -> None:
        state = self.state
        if state is None:
            return
        table = self.query_one("#post-nodes", NodeTable)
        with self.app.batch_update():
            for node in table.node_names():
                version = state.builds.get(node)
                build = version.build if isinstance(version, model.OsVersion) else (
                    "unreachable" if isinstance(version, RemoteError) else "?")
                table.set_cells(node, state=state.node_state(node), build=build, vms=vms_cell(state.vms.get(node)))
                if live and isinstance(version, model.OsVersion):  # a failed read keeps its FAILED
                    upgraded = version.current_build_number == model.UPGRADE_TO_BUILD
                    table.set_cells(node, status=f"{'on' if upgraded else 'not on'} {model.UPGRADE_TO_BUILD}")
        level = Text()
        if problem(state.level):
            level.append(f"Functional level: {problem(state.level)}")
        else:
            current, target = state.level.cluster_functional_level, state.level.upgrade_version
            level.append(f"Functional level {current}", style="bold")
            if target and current < target:
                level.append(f"; every node supports {target}: l raises it (cannot be undone)")
            elif state.behind():
                level.append(f"; {len(state.behind())} nodes are not on 25398 yet")
            else:
                level.append("; nothing to raise")
        self.query_one("#post-level", Clamped).update(level)
        self.query_one("#post-pools", Clamped).update(pools_text(state))
        if self.change is None:  # a running step says its own outcome when it ends
            self.say(self.outcome or Text(READ_ONLY_HINT if self.ctx.read_only else HINT))

    # ---------------------------------------------------------------- actions
    def show_progress(self, event: ProgressEvent) -> None:
        """The steps here are cluster-wide: their events go to the line under the table."""
        self.say(f"{event.node}: {event_words(event)}")

    def _verified(self, label: str, step: Callable[[Progress], Awaitable[object]]) -> Callable[[], Awaitable[str]]:
        """The step, then its outcome as its verification read it: the step's last event says what changed
        (done), that there was nothing to change (skipped), or what did not change (failed)."""
        async def work() -> str:
            ends: list[ProgressEvent] = []

            def progress(event: ProgressEvent) -> None:
                if event.stage in (Stage.DONE, Stage.SKIPPED, Stage.FAILED):
                    ends.append(event)
                self.progress(event)

            await step(progress)
            end = ends[-1] if ends else None
            if end is None:
                return f"Ended: {label}; read the table to see where it stands."
            if end.stage is Stage.SKIPPED:
                return f"Nothing done: {end.text}."
            if end.stage is Stage.FAILED:
                return f"Not all done: {label}: {end.text}."
            return f"Done: {label}: {end.text}."
        return work

    def action_level(self) -> None:
        label = "raise the functional level"
        self.confirm(post.plan_level(self.ctx), label,
                     self._verified(label, lambda progress: post.update_level(self.ctx, progress)), typed=True)

    def action_pools(self) -> None:
        names = post.pool_names(self.state) if self.state else []
        label = "upgrade the storage pools"
        self.confirm(post.plan_pools(self.ctx, names), label,
                     self._verified(label, lambda progress: post.update_pools(self.ctx, progress)), typed=True)

    def action_vms(self) -> None:
        vms = self.state.outdated_vms() if self.state else []
        label = "update VM configuration versions"
        self.confirm(post.plan_vms(self.ctx, vms), label,
                     self._verified(label, lambda progress: post.update_vms(self.ctx, progress)), typed=True)

    def action_validate(self) -> None:
        async def work() -> str:
            result = await post.validate(self.ctx, self.progress)
            return (f"Test-Cluster: {result.passed} passed, {result.warnings} warnings, {result.failed} failed. "
                    f"Report: {result.report_path}")

        self.start_job("Test-Cluster", self._run("Test-Cluster", work, ""))

    def action_preview(self) -> None:
        names = post.pool_names(self.state) if self.state else []
        self.app.push_screen(PowerShellPreview("PowerShell of the post-upgrade steps",
                                               post.plan_all(self.ctx, names).preview()))
