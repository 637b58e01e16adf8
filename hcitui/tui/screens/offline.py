"""13) Offline update: the fast offline update (seed 004). Every node updated at once while the whole cluster is
down: the node table shows each node's cluster service, start type, revision and updates, with the stage it is
at; the stage list above it marks where the update stands. ``g`` runs it (or goes on with an open window) after
its PowerShell and a typed confirmation that names the downtime; on a stretched cluster with Storage Replica a
second typed confirmation names the replication's consequences."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding

from hcitui.core.errors import HciError, Remedy
from hcitui.tui.screens.checks import Clamped, node_column, stretch_column
from hcitui.tui.screens.stepping import SteppingScreen, status_text
from hcitui.tui.widgets.confirm import RUN, ConfirmStep
from hcitui.tui.widgets.failure import FailurePanel
from hcitui.tui.widgets.node_table import Column, NodeTable
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow import offline
from hcitui.workflow.events import ProgressEvent, Stage
from hcitui.workflow.steps import StepFailed

SERVICE_COLUMN = Column("service", "ClusSvc", 17)
UPDATES_COLUMN = Column("updates", "Updates", 8)
HINT = "g run the update (typed; ALL WORKLOADS GO DOWN), r read again, p PowerShell"
READ_ONLY_HINT = "Read-only: r read again, p the PowerShell of the update (it is not offered here)"
SR_TYPED = "both sites"  # what the second confirmation asks to type on a stretched cluster with Storage Replica


@dataclass(frozen=True)
class _NodeFailure:
    node: str
    operation: str
    error: str
    remedy: Remedy | None = None


def stages_line(reached: str | None, running: str | None) -> Text:
    """``Stages: 0 1 2 [3] 4 ...``: done ones plain, the running one in brackets, those to come dim."""
    text = Text("Stages: ", style="bold")
    done_to = offline.STAGE_NAMES.index(reached) if reached in offline.STAGE_NAMES else -1
    for index, name in enumerate(offline.STAGE_NAMES):
        if name == running:
            text.append(f"[{index}]", style="bold reverse")
        elif index <= done_to:
            text.append(f"{index}")
        else:
            text.append(f"{index}", style="dim")
        text.append(" ")
    if running:
        text.append(f" {offline.stage_title(running)}")
    return text


class OfflineUpdateScreen(SteppingScreen):
    TITLE_TEXT = "13) Offline update"
    TABLE_ID, OUTCOME_ID = "offline-nodes", "offline-summary"
    ABOUT = ("The fast offline update (Microsoft's 'Perform a fast, offline update of all servers in a cluster'): "
             "the update packages are staged on every node, then the virtual disks go offline, the cluster is "
             "stopped, the cluster service is Disabled on every node, the updates are installed on every node at "
             "once, every node restarts at once, the service goes back to Automatic, the cluster starts, the "
             "pool and then the disks come back, and the closing checks run. ALL WORKLOADS GO DOWN for the whole "
             "window. g shows the PowerShell and asks you to type the cluster's name; on a stretched cluster "
             "with Storage Replica, a second confirmation names what happens to the replication. An interrupted "
             "or failed update leaves the window open: g goes on from where it stood.")
    MUTATING_ACTIONS = frozenset({"run"})
    BINDINGS = [
        Binding("g", "run", "Run update"),
        Binding("r", "refresh", "Refresh"),
        Binding("p", "preview", "PowerShell"),
    ]
    DEFAULT_CSS = """
    OfflineUpdateScreen #offline-window, OfflineUpdateScreen #offline-stages { height: 1; padding: 0 1; }
    OfflineUpdateScreen #offline-nodes { height: 1fr; max-height: 100%; min-height: 3; scrollbar-size-vertical: 1; }
    OfflineUpdateScreen #offline-summary { height: 2; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.state: offline.common.OfflineState | None = None
        self.running_stage: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Clamped("", id="offline-window")
        yield Clamped("", id="offline-stages")
        nodes = self.ctx.client.nodes
        table = NodeTable(nodes, extra=[SERVICE_COLUMN, UPDATES_COLUMN], id="offline-nodes")
        table.columns_spec = [node_column(nodes) if c.key == "node" else c for c in table.columns_spec
                              if c.key not in ("elapsed", "state")]
        yield table
        yield FailurePanel(id="offline-failure")
        yield Clamped("", id="offline-summary")

    @property
    def failure(self) -> FailurePanel:
        return self.query_one("#offline-failure", FailurePanel)

    def on_mount(self) -> None:
        self.table.focus()
        self.call_after_refresh(self._fit)
        self._show_window()
        self.action_refresh()

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        stretch_column(self.table, "status", 12, 30)

    # ------------------------------------------------------------------ reading
    def _show_window(self) -> None:
        line = Text()
        if offline.window_open(self.ctx):
            line.append("WINDOW OPEN", style="bold reverse")
            line.append(f" since stage {offline.reached(self.ctx)}: the cluster is down; g goes on")
        else:
            line.append(offline.journal_summary(self.ctx))
        self.query_one("#offline-window", Clamped).update(line)
        self.query_one("#offline-stages", Clamped).update(stages_line(offline.reached(self.ctx),
                                                                      self.running_stage))

    async def read(self, *, live: bool = True) -> None:
        self.state = await offline.read_state(self.ctx, on_event=self.node_event if live else None)
        if live:
            await self.events_shown()
        self._show()

    def _show(self) -> None:
        state = self.state
        if state is None:
            return
        wanted = len(offline.packages(self.ctx))
        with self.app.batch_update():
            for node in self.table.node_names():
                read = state.node(node)
                if read is None:
                    self.table.set_cells(node, service="unreachable", build="?", updates="?")
                    continue
                service = f"{read.service.status or '?'} {read.service.start_type or '?'}"
                updates = f"{len(read.hot_fixes)}/{wanted}" + (f" +{read.pending_packages}p"
                                                               if read.pending_packages else "")
                self.table.set_cells(node, service=service, build=read.build, updates=updates)
        self._show_window()
        if self.change is None:
            self.say(self.outcome or Text(READ_ONLY_HINT if self.ctx.read_only else HINT))

    # ------------------------------------------------------------------ progress
    def show_progress(self, event: ProgressEvent) -> None:
        if event.status in offline.STAGE_NAMES and event.node == self.ctx.name:
            self.running_stage = event.status if event.stage is not Stage.DONE else None
            self._show_window()
            self.say(event.text)
            return
        if event.node in self.table.node_names():
            self.table.set_cells(event.node, status=status_text(event))
        else:
            self.say(event.text)

    # ------------------------------------------------------------------ the update
    def action_run(self) -> None:
        if self.ctx.read_only:
            self.say("Read-only: the offline update changes the cluster; nothing was sent.")
            return
        if self.is_busy():
            return
        plan = offline.plan(self.ctx)
        resuming = offline.window_open(self.ctx)
        title = ("Go on with the open window: " if resuming else "") + plan.title
        text = plan.preview()  # its notes name the downtime first

        def first(choice: str | None) -> None:
            if choice != RUN:
                self.outcome = Text("Cancelled the offline update: nothing was sent." if choice is None else
                                    f"Dry run of the offline update: nothing was sent to {self.ctx.name}.")
                self.say(self.outcome)
                return
            if self.ctx.stretched and not resuming:
                self.app.push_screen(ConfirmStep("Storage Replica: both sites go down", offline.SR_CONSEQUENCES,
                                                 typed=SR_TYPED, windows_name=False), callback=second)
            else:
                self._start(accept_sr=False)

        def second(choice: str | None) -> None:
            if choice == RUN:
                self._start(accept_sr=True)
            else:
                self.outcome = Text("Cancelled the offline update: nothing was sent.")
                self.say(self.outcome)

        self.app.push_screen(ConfirmStep(title, text, typed=self.ctx.name), callback=first)

    def _start(self, *, accept_sr: bool) -> None:
        from hcitui.tui.screens.base import RunningChange

        label = "the fast offline update"
        self.failure.clear()
        # What was read before the window no longer holds once it opens (the service is Disabled, the nodes
        # restart): the read columns say so until the reading at the end; the Status column follows each node.
        with self.app.batch_update():
            for node in self.table.node_names():
                self.table.set_cells(node, service="changing", build="?", updates="?")

        async def work() -> str:
            try:
                report = await offline.offline_update(self.ctx, self.progress, accept_sr_downtime=accept_sr)
            except StepFailed as exc:
                self.failure.show(exc.sentence, self._node_failures(), here=self.TITLE_TEXT, remedy=exc.remedy)
                raise
            except HciError:
                raise
            self.running_stage = None
            return f"Done: the fast offline update: closing checks {report.summary()}."

        if self.start_job(label, self._run(label, work, "")):
            self.change = RunningChange(self.TITLE_TEXT, label, None)

    def _node_failures(self) -> list[_NodeFailure]:
        out = []
        for node in self.ctx.client.node_names:
            record = self.ctx.journal.step(offline.PHASE, offline.NODE_STEP, node)
            if record is not None and record.status.value == "failed":
                out.append(_NodeFailure(node, "offline update", record.detail or "failed",
                                        Remedy(action=offline.run.AGAIN.action)))
        return out

    def action_preview(self) -> None:
        self.app.push_screen(PowerShellPreview("PowerShell of the fast offline update",
                                               offline.plan(self.ctx).preview()))
