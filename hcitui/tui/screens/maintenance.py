"""3) Node drain and restart: one node out at a time, every node's state live."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from hcitui.core import model
from hcitui.core.journal import StepStatus, local_time
from hcitui.core.units import bar, human_bytes
from hcitui.remote import RemoteError
from hcitui.tui.screens.base import RunningChange
from hcitui.tui.screens.stepping import SteppingScreen, event_words
from hcitui.tui.widgets.node_table import Column, NodeTable
from hcitui.tui.widgets.override import OverrideReason
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow import eta, interlocks, maintenance
from hcitui.workflow.events import ProgressEvent, Stage
from hcitui.workflow.observe import ClusterState, observe, problem
from hcitui.workflow.steps import Refused

DRAIN_WORDS = {"NotInitiated": "-", "InProgress": "draining", "Completed": "drained", "Failed": "FAILED"}
STAGE_WORDS = {Stage.DONE: "done", Stage.FAILED: "FAILED", Stage.SKIPPED: "skipped"}
SHOWN_REASONS = 4  # the registry gate's reasons shown in the override prompt (one per node: 16 do not fit)


class RegistryOverride(ModalScreen[str | None]):
    """After ``g`` was refused by the registry gate alone: the reason to override it, typed (keyboard only:
    Enter continues to the PowerShell, Esc cancels). A blank reason is no reason: the prompt stays."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    RegistryOverride { align: center middle; }
    RegistryOverride > Vertical { width: 78; height: auto; max-height: 100%; border: double $warning; padding: 0 1; }
    RegistryOverride #ovr-title { text-style: bold; }
    RegistryOverride #ovr-reasons { height: auto; max-height: 6; text-wrap: nowrap; text-overflow: ellipsis; }
    RegistryOverride #ovr-why { height: auto; margin: 1 0; }
    RegistryOverride #ovr-message { height: auto; text-style: bold; }
    RegistryOverride #ovr-keys { height: 1; }
    """

    def __init__(self, node: str, reasons: list[str]) -> None:
        super().__init__()
        self.node = node
        self.reasons = reasons

    def compose(self) -> ComposeResult:
        lines = [f"- {reason}" for reason in self.reasons[:SHOWN_REASONS]]
        if len(self.reasons) > SHOWN_REASONS:
            lines.append(f"  (+{len(self.reasons) - SHOWN_REASONS} more nodes; the refusal names them all)")
        shown = Text("\n".join(lines), no_wrap=True, overflow="ellipsis")
        with Vertical():
            yield Static(f"Upgrade {self.node}: refused by the registry gate alone", id="ovr-title", markup=False)
            yield Static(shown, id="ovr-reasons", markup=False)
            yield Static("Every other gate is open. Override only if the values are in force by other means or "
                         "not needed; the journal keeps who, when, the reason and what it waived.",
                         id="ovr-why", markup=False)
            yield OverrideReason("The reason, in words (journalled; empty: no override)", input_id="ovr-reason")
            yield Static("", id="ovr-message", markup=False)
            yield Static("Enter continues to the PowerShell  Esc cancels", id="ovr-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one(OverrideReason).input.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        reason = self.query_one(OverrideReason).reason
        if reason is None:
            self.query_one("#ovr-message", Static).update(
                f"No reason typed: the upgrade of {self.node} stays refused. Type the reason, or Esc to cancel.")
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)


def progress_line(event: ProgressEvent) -> Text:
    """``LAB-A2 (node 2 of 4): restarting · finish about 14:35``, then the bar and the bytes (the repair
    jobs' while storage settles) when the event measures something."""
    line = Text(f"{event.node}: " if event.position is None else f"{event.node} (node {event.position[0]} of "
                f"{event.position[1]}): ", style="bold")
    line.append(event_words(event))
    finish = eta.words(event.eta)
    if finish:
        line.append(" · " + finish)
    measures = []
    if event.fraction is not None:
        measures.append(bar(event.fraction))
    if event.total:
        measures.append(f"{human_bytes(event.done)} of {human_bytes(event.total)}")
    if measures:
        line.append("\n" + "  ".join(measures))
    return line


class MaintenanceScreen(SteppingScreen):
    TITLE_TEXT = "3) Node drain and restart"
    TABLE_ID, OUTCOME_ID = "mnt-nodes", "mnt-summary"
    LIVE_POLL = True
    ABOUT = ("Takes one node out at a time. n drains the selected node (roles move off, it pauses). s "
             "restarts it: drain, restart, wait for WinRM and for the cluster to show it Paused, resume with "
             "failback (unless you had paused it yourself), wait for repair jobs and Healthy disks. g upgrades "
             "it by hand, without CAU: the same cycle with setup.exe from the staged folder (upgrade, keep "
             "files) and a check for build 25398; refused by the registry gate alone, it asks for a typed "
             "reason to override it (journalled). o restarts every node in turn. Refused unless every other "
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
    # 80x24 with 16 nodes: the table takes what the lines around it leave (it scrolls with the cursor);
    # the check, the progress and the summary stay in view below it.
    DEFAULT_CSS = """
    MaintenanceScreen #mnt-lock { height: auto; max-height: 3; padding: 0 1; }
    MaintenanceScreen #mnt-check { height: auto; max-height: 2; padding: 0 1; }
    MaintenanceScreen #mnt-progress { height: auto; max-height: 3; padding: 0 1; }
    MaintenanceScreen #mnt-summary { height: auto; max-height: 4; padding: 0 1; }
    """

    def __init__(self, start: str | None = None) -> None:
        super().__init__()
        self.start = start
        self.state: ClusterState | None = None
        self._override_offer: tuple[str, list[str]] | None = None  # g refused by the registry gate alone

    def compose_body(self) -> ComposeResult:
        yield Static("", id="mnt-lock")
        yield NodeTable(self.ctx.client.nodes,
                        extra=[Column("drain", "Drain", 8), Column("roles", "Roles", 5)], id="mnt-nodes")
        yield Static("", id="mnt-check")
        yield Static("", id="mnt-progress")
        yield Static("", id="mnt-summary")

    def on_mount(self) -> None:
        self.table.focus()
        self.action_refresh()

    # ------------------------------------------------------------------- reading
    async def read(self, *, live: bool = True) -> None:
        """One read of everything the screen shows: cluster parts and every node's OS."""
        events = self.node_event if live else None
        self.state = await observe(self.ctx, maintenance.STATE_PARTS, ("os",), on_event=events)
        self._show()
        if self.start == "rolling":
            self.start = None
            self.call_later(self.action_rolling)

    async def live_read(self) -> None:
        fresh = await observe(self.ctx, ("nodes", "groups"))
        if self.state is not None:
            self.state.nodes, self.state.groups = fresh.nodes, fresh.groups
            self._show()

    def _show(self) -> None:
        state = self.state
        if state is None:
            return
        table = self.table
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
        idle = self.change is None  # no change runs (a read, the refresh, may: it is this screen's job)
        lock = self.ctx.journal.state.lock
        lock_text = Text()
        if lock:
            lock_text.append("OUT OF SERVICE: ", style="bold")
            lock_text.append(f"{lock.node} since {local_time(lock.since, fmt='%Y-%m-%d %H:%M')} ({lock.reason}); "
                             f"{'was paused before' if lock.was_paused else 'was Up before'}")
            record = self.ctx.journal.step(maintenance.PHASE, maintenance.RESTART, lock.node)
            if record and record.status in (StepStatus.UNKNOWN, StepStatus.RUNNING) and idle:
                lock_text.append(f"\nInterrupted restart of {lock.node}: select it and press s to resume it.",
                                 style="bold")
        else:
            lock_text.append("No node is out of service.")
        rolling = self.ctx.journal.step(maintenance.PHASE, maintenance.ROLLING, None)
        if rolling and rolling.status in (StepStatus.UNKNOWN, StepStatus.RUNNING) and idle:
            lock_text.append(f"\nInterrupted rolling restart ({rolling.detail}): press o to resume it.", style="bold")
        self.query_one("#mnt-lock", Static).update(lock_text)
        self._show_check()
        if idle:
            self.say(self.outcome or Text(
                "n drain, u resume, s restart, g upgrade by hand (setup) the selected node; "
                "o rolling restart; p PowerShell"))

    def _show_check(self) -> None:
        node = self.selected
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
    @staticmethod
    def status_word(event: ProgressEvent) -> str:
        """The node's Status cell: how its part ended, the status the node reported, or the step's words."""
        if event.stage in STAGE_WORDS:
            return STAGE_WORDS[event.stage]
        if event.fraction == 1.0:
            return "done"
        if event.status:
            return DRAIN_WORDS.get(event.status, event.status)
        return event.text

    def show_progress(self, event: ProgressEvent) -> None:
        node = event.node
        self.table.set_cells(node, status=Text(self.status_word(event), no_wrap=True, overflow="ellipsis"))
        self.query_one("#mnt-progress", Static).update(progress_line(event))

    async def _run(self, label: str, work: Callable[[], Awaitable[Any]], done: str) -> None:
        self._override_offer = None
        await super()._run(label, work, done)
        self.query_one("#mnt-progress", Static).update("")
        offer, self._override_offer = self._override_offer, None
        if offer is not None:  # the refusal is shown; now the one gate a reason may open
            self._ask_override(*offer)

    def leaving_note(self, change: RunningChange) -> str:
        """The node out of service stays out: in which state, and how to bring it back."""
        lock = self.ctx.journal.state.lock
        if lock is None:
            return (f"No node is out of service yet: {change.label} has not taken one out, "
                    "and the journal marks the step interrupted.")
        node, reason = lock.node, lock.reason
        resume = f"resume it with 3) u or `hcitui resume --node {node}`"
        if change.label.startswith("resume "):
            return (f"{node} stays as far as its resume got (Paused or Up) and out of service in the journal: "
                    f"run 3) u on it again or `hcitui resume --node {node}`.")
        if reason not in ("restart", "upgrade"):
            return f"{node} stays Paused; {resume}."
        info = self.state.cluster_node(node) if self.state is not None else None
        stays = ("stays Paused" if info is not None and info.state == model.NodeState.PAUSED
                 else f"stays out of service (Paused once it is back from its {reason})")
        key, command = ("s", "restart") if reason == "restart" else ("g", "manual-upgrade")
        return (f"{node} {stays}; {resume}, or finish the {reason} with 3) {key} "
                f"(`hcitui {command} --node {node}`).")

    def action_drain(self) -> None:
        if node := self.selected:
            self.confirm(maintenance.plan_drain(self.ctx, node), f"drain {node}",
                         lambda: maintenance.drain(self.ctx, node, self.progress), node=node)

    def action_resume(self) -> None:
        if node := self.selected:
            self.confirm(maintenance.plan_resume(self.ctx, node), f"resume {node}",
                         lambda: maintenance.resume(self.ctx, node, self.progress), node=node)

    def action_restart(self) -> None:
        if node := self.selected:
            self.confirm(maintenance.plan_restart(self.ctx, node), f"restart {node}",
                         lambda: maintenance.restart(self.ctx, node, self.progress), node=node)

    def action_upgrade(self, override: str | None = None) -> None:
        """``override``: the typed reason to override the registry gate (asked for once g was refused
        by that gate alone); record_override journals it, as headless --override-registry does."""
        if node := self.selected:
            plan = maintenance.plan_upgrade(self.ctx, node)
            if override:
                plan.notes.append(f"The registry gate is OVERRIDDEN if it is closed, journalled with: {override}")
            self.confirm(plan, f"upgrade {node}", lambda: self._upgrade(node, override), node=node)

    async def _upgrade(self, node: str, override: str | None) -> None:
        try:
            await maintenance.manual_upgrade(self.ctx, node, self.progress, override_registry=override)
        except Refused as exc:
            if exc.overridable and override is None:
                self._override_offer = (node, list(exc.reasons))
            raise

    def _ask_override(self, node: str, reasons: list[str]) -> None:
        def chosen(reason: str | None) -> None:
            if reason is None:
                self.outcome = Text(f"Cancelled: no override; the upgrade of {node} stays refused.")
                self.say(self.outcome)
                return
            self.action_upgrade(override=reason)

        self.app.push_screen(RegistryOverride(node, reasons), callback=chosen)

    def action_rolling(self) -> None:
        nodes = self.ctx.client.node_names
        self.confirm(maintenance.plan_rolling(self.ctx, nodes), "rolling restart",
                     lambda: maintenance.rolling_restart(self.ctx, nodes, self.progress))

    def action_preview(self) -> None:
        node = self.selected or self.ctx.client.node_names[0]
        self.app.push_screen(PowerShellPreview(f"PowerShell of a restart of {node}",
                                               maintenance.plan_restart(self.ctx, node).preview()))
