"""8) Post-upgrade: functional level, storage pools, VM configuration versions, Test-Cluster."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from hcitui.core import model
from hcitui.remote import RemoteError
from hcitui.tui.screens.stepping import SteppingScreen, event_words
from hcitui.tui.widgets.node_table import Column, NodeTable
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow import post
from hcitui.workflow.events import ProgressEvent
from hcitui.workflow.observe import problem


class PostUpgradeScreen(SteppingScreen):
    TITLE_TEXT = "8) Post-upgrade"
    TABLE_ID, OUTCOME_ID = "post-nodes", "post-summary"
    ABOUT = ("The last steps, and they cannot be undone: l raises the cluster functional level (only when "
             "every node is on 25398), s upgrades every non-primordial storage pool (after the level), m "
             "updates the configuration version of the VMs that are shut down. Each asks you to type the "
             "cluster's name. t runs Test-Cluster (read-only) and shows where its report went.")
    MUTATING_ACTIONS = frozenset({"level", "pools", "vms"})
    BINDINGS = [
        Binding("l", "level", "Level"),
        Binding("s", "pools", "Pools"),
        Binding("m", "vms", "VMs"),
        Binding("t", "validate", "Test-Cluster"),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("p", "preview", "PowerShell", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state: post.PostState | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="post-level")
        yield NodeTable(self.ctx.client.nodes, extra=[Column("vms", "VMs old", 7)], id="post-nodes")
        yield Static("", id="post-pools")
        yield Static("", id="post-summary")

    def on_mount(self) -> None:
        self.table.focus()
        self.action_refresh()

    async def read(self, *, live: bool = True) -> None:
        self.state = await post.read(self.ctx, on_event=self.node_event if live else None)
        self._show()

    def _show(self) -> None:
        state = self.state
        if state is None:
            return
        table = self.query_one("#post-nodes", NodeTable)
        with self.app.batch_update():
            for node in table.node_names():
                version = state.builds.get(node)
                build = version.build if isinstance(version, model.OsVersion) else (
                    "unreachable" if isinstance(version, RemoteError) else "?")
                vms = state.vms.get(node)
                old = "?" if not isinstance(vms, list) else str(
                    sum(1 for vm in vms if vm.highest_supported and vm.version != vm.highest_supported))
                table.set_cells(node, build=build, vms=old)
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
        self.query_one("#post-level", Static).update(level)
        pools = Text("Storage pools: ", style="bold")
        pools.append(problem(state.pools) or ", ".join(f"{p.friendly_name} ({p.version or '?'})"
                                                       for p in state.pools if not p.is_primordial) or "none")
        self.query_one("#post-pools", Static).update(pools)
        if not self.busy:
            self.say(self.outcome or Text(
                "l level, s pools, m VM versions (each typed), t Test-Cluster, p PowerShell"))

    # ---------------------------------------------------------------- actions
    def show_progress(self, event: ProgressEvent) -> None:
        """The steps here are cluster-wide: their events go to the line under the table."""
        self.say(f"{event.node}: {event_words(event)}")

    def action_level(self) -> None:
        self.confirm(post.plan_level(self.ctx), "raise the functional level",
                     lambda: post.update_level(self.ctx, self.progress), typed=True)

    def action_pools(self) -> None:
        names = post.pool_names(self.state) if self.state else []
        self.confirm(post.plan_pools(self.ctx, names), "upgrade the storage pools",
                     lambda: post.update_pools(self.ctx, self.progress), typed=True)

    def action_vms(self) -> None:
        vms = self.state.outdated_vms() if self.state else []

        async def work() -> str:
            skipped = await post.update_vms(self.ctx, self.progress)
            return "Done: update VM configuration versions." + (
                f" Not updated: {'; '.join(skipped)}" if skipped else "")

        self.confirm(post.plan_vms(self.ctx, vms), "update VM configuration versions", work, typed=True)

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
