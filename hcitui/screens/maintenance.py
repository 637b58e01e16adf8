"""3) Node drain and restart: one node out at a time, every node's state live."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from hcitui import model
from hcitui.journal import StepStatus
from hcitui.remote import RemoteError
from hcitui.screens.base import HciScreen
from hcitui.widgets.confirm import DRY_RUN, RUN, ConfirmStep
from hcitui.widgets.node_table import Column, NodeTable
from hcitui.widgets.preview import PowerShellPreview
from hcitui.workflow import interlocks, maintenance
from hcitui.workflow.observe import ClusterState, observe, problem
from hcitui.workflow.steps import Plan, Refused, StepFailed


DRAIN_WORDS = {"NotInitiated": "-", "InProgress": "draining", "Completed": "drained", "Failed": "FAILED"}


def text_bar(fraction: float | None, width: int = 20) -> str:
    if fraction is None:
        return ""
    done = max(0, min(width, round(fraction * width)))
    return "[" + "#" * done + "." * (width - done) + f"] {fraction:4.0%}"


class MaintenanceScreen(HciScreen):
    TITLE_TEXT = "3) Node drain and restart"
    ABOUT = ("Takes one node out at a time. n drains the selected node (roles move off, it pauses). s "
             "restarts it: drain, restart, wait for WinRM and for the cluster to show it Paused, resume with "
             "failback (unless you had paused it yourself), wait for repair jobs and Healthy disks. g upgrades "
             "it by hand, without CAU: the same cycle with setup.exe from the staged folder (upgrade, keep "
             "files) and a check for build 25398. o restarts every node in turn. Refused unless every other "
             "node is Up, storage is quiet and no other node is out. Every change shows its PowerShell "
             "first; d there is a dry run that sends nothing.")
    MUTATING_ACTIONS = frozenset({"drain", "resume", "restart", "rolling", "upgrade"})
    BINDINGS = [
        Binding("n", "drain", "Drain"),
        Binding("u", "resume", "Resume"),
        Binding("s", "restart", "Restart"),
        Binding("o", "rolling", "Rolling"),
        Binding("g", "upgrade", "Upgrade", show=False),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("p", "preview", "PowerShell", show=False),
    ]

    def __init__(self, start: str | None = None) -> None:
        super().__init__()
        self.start = start
        self.state: ClusterState | None = None
        self.busy: str | None = None  # what is running now (one thing at a time)
        self.outcome: Text | None = None  # how the last action ended, shown until the next one
        self._live_reading = False

    def compose_body(self) -> ComposeResult:
        yield Static("", id="mnt-lock")
        yield NodeTable(self.ctx.client.nodes,
                        extra=[Column("drain", "Drain", 8), Column("roles", "Roles", 5)], id="mnt-nodes")
        yield Static("", id="mnt-check")
        yield Static("", id="mnt-progress")
        yield Static("", id="mnt-summary")

    def on_mount(self) -> None:
        self.query_one("#mnt-nodes", NodeTable).focus()
        self.action_refresh()

    # ------------------------------------------------------------------- reading
    def action_refresh(self) -> None:
        if self.busy:
            return
        self.busy = "refresh"
        self.run_worker(self._refresh(), group="maintenance", exit_on_error=False)

    async def _refresh(self) -> None:
        await self._read()
        if self.start == "rolling":
            self.start = None
            self.action_rolling()

    async def _read(self) -> None:
        """One read of everything the screen shows: cluster parts and every node's OS."""
        self.busy = self.busy or "refresh"
        table = self.query_one("#mnt-nodes", NodeTable)
        try:
            self.state = await observe(self.ctx, maintenance.STATE_PARTS, ("os",), on_event=table.apply_event)
        finally:
            if self.busy == "refresh":
                self.busy = None
        self._show()

    def _show(self) -> None:
        state = self.state
        if state is None:
            return
        table = self.query_one("#mnt-nodes", NodeTable)
        with self.app.batch_update():
            for node in table.node_names():
                info = state.cluster_node(node)
                os_info = state.node_part(node, "os")
                build = os_info.build if isinstance(os_info, model.OsVersion) else (
                    "unreachable" if isinstance(os_info, RemoteError) else "?")
                roles = "?" if problem(state.groups) else str(sum(
                    1 for g in state.groups
                    if (g.owner_node or "").lower() == node.lower() and g.state == model.GroupState.ONLINE))
                table.set_cells(node, state=str(info.state) if info else "?", build=build,
                                drain=DRAIN_WORDS.get(str(info.drain_status), str(info.drain_status)) if info else "?",
                                roles=roles)
        lock = self.ctx.journal.state.lock
        lock_text = Text()
        if lock:
            lock_text.append("OUT OF SERVICE: ", style="bold")
            lock_text.append(f"{lock.node} since {lock.since} ({lock.reason}); "
                             f"{'was paused before' if lock.was_paused else 'was Up before'}")
            record = self.ctx.journal.step(maintenance.PHASE, maintenance.RESTART, lock.node)
            if record and record.status in (StepStatus.UNKNOWN, StepStatus.RUNNING) and not self.busy:
                lock_text.append(f"\nInterrupted restart of {lock.node}: select it and press s to resume it.",
                                 style="bold")
        else:
            lock_text.append("No node is out of service.")
        rolling = self.ctx.journal.step(maintenance.PHASE, maintenance.ROLLING, None)
        if rolling and rolling.status in (StepStatus.UNKNOWN, StepStatus.RUNNING) and not self.busy:
            lock_text.append(f"\nInterrupted rolling restart ({rolling.detail}): press o to resume it.", style="bold")
        self.query_one("#mnt-lock", Static).update(lock_text)
        self._show_check()
        if not self.busy:
            self.query_one("#mnt-summary", Static).update(self.outcome or Text(
                "n drain, u resume, s restart the selected node; o rolling restart; p PowerShell"))

    def _show_check(self) -> None:
        node = self.query_one("#mnt-nodes", NodeTable).selected_node
        if not node or self.state is None:
            return
        lock = self.ctx.journal.state.lock
        reasons = interlocks.take_out_blockers(node, self.state, lock)
        text = Text(f"{node}: ", style="bold")
        if lock is not None and lock.node == node:
            text.append(f"out of service for its {lock.reason}" + (" (in progress below)" if self.busy else ""))
        elif reasons:
            text.append("cannot be taken out now: " + "; ".join(reasons[:2]))
            if len(reasons) > 2:
                text.append(f" (+{len(reasons) - 2} more)")
        else:
            text.append("can be taken out now (other nodes Up, storage quiet)")
        self.query_one("#mnt-check", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_check()

    # ------------------------------------------------------------------- changing
    def _progress(self, node: str, text: str, fraction: float | None = None) -> None:
        table = self.query_one("#mnt-nodes", NodeTable)
        word = "done" if fraction == 1.0 else text.split(":")[0]
        table.set_cells(node, status=Text(word, no_wrap=True, overflow="ellipsis"))
        line = Text(f"{node}: ", style="bold")
        line.append(text)
        if fraction is not None:
            line.append("  " + text_bar(fraction))
        self.query_one("#mnt-progress", Static).update(line)

    def _confirm(self, plan: Plan, label: str, work: Callable[[], Awaitable[Any]]) -> None:
        if self.busy:
            self.notify(f"Busy: {self.busy} is running; one thing at a time.", timeout=4)
            return

        def chosen(choice: str | None) -> None:
            if choice == DRY_RUN:
                self.outcome = Text(f"Dry run of {label}: nothing was sent.")
                self.query_one("#mnt-summary", Static).update(self.outcome)
            elif choice == RUN:
                self.busy = label
                self.run_worker(self._run(label, work), group="maintenance", exit_on_error=False)

        self.app.push_screen(ConfirmStep(plan.title, plan.preview()), callback=chosen)

    async def _live_read(self) -> None:
        """While a step runs: the nodes' states and roles, so the table moves as the cluster does."""
        if self._live_reading:
            return  # polls never overlap
        self._live_reading = True
        try:
            fresh = await observe(self.ctx, ("nodes", "groups"))
            if self.state is not None:
                self.state.nodes, self.state.groups = fresh.nodes, fresh.groups
                self._show()
        finally:
            self._live_reading = False

    async def _run(self, label: str, work: Callable[[], Awaitable[Any]]) -> None:
        self.outcome = None
        self.query_one("#mnt-summary", Static).update(f"Running: {label} ...")
        live = self.set_interval(self.ctx.poll * 3, lambda: self.run_worker(
            self._live_read(), group="maintenance-live", exit_on_error=False))
        try:
            await work()
        except (Refused, StepFailed) as exc:
            self.outcome = Text(exc.sentence, style="bold")
            self.app.report_error(exc.sentence)
        else:
            self.outcome = Text(f"Done: {label}.", style="bold")
        finally:
            live.stop()
            self.busy = None
        self.query_one("#mnt-progress", Static).update("")
        await self._read()

    def _selected(self) -> str | None:
        return self.query_one("#mnt-nodes", NodeTable).selected_node

    def action_drain(self) -> None:
        node = self._selected()
        if node:
            self._confirm(maintenance.plan_drain(self.ctx, node), f"drain {node}",
                          lambda: maintenance.drain(self.ctx, node, self._progress))

    def action_resume(self) -> None:
        node = self._selected()
        if node:
            self._confirm(maintenance.plan_resume(self.ctx, node), f"resume {node}",
                          lambda: maintenance.resume(self.ctx, node, self._progress))

    def action_restart(self) -> None:
        node = self._selected()
        if node:
            self._confirm(maintenance.plan_restart(self.ctx, node), f"restart {node}",
                          lambda: maintenance.restart(self.ctx, node, self._progress))

    def action_upgrade(self) -> None:
        node = self._selected()
        if node:
            self._confirm(maintenance.plan_upgrade(self.ctx, node), f"upgrade {node}",
                          lambda: maintenance.manual_upgrade(self.ctx, node, self._progress))

    def action_rolling(self) -> None:
        nodes = self.ctx.client.node_names
        self._confirm(maintenance.plan_rolling(self.ctx, nodes), "rolling restart",
                      lambda: maintenance.rolling_restart(self.ctx, nodes, self._progress))

    def action_preview(self) -> None:
        node = self._selected() or self.ctx.client.node_names[0]
        self.app.push_screen(PowerShellPreview(f"PowerShell of a restart of {node}",
                                               maintenance.plan_restart(self.ctx, node).preview()))
