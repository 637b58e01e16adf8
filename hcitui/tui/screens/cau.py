"""5) CAU run: the preflight, then the rolling upgrade run (or the monthly updates), watched live.

The run goes on in the cluster whatever happens to this screen: it is watched with Get-CauRun,
each node's CAU status and its time in the table, where the run is (node 2 of 4) and when it should
end on the run's line, and the screen reattaches to a run in progress whenever it opens. A run that
failed explains itself in a panel that stays: per node, the operation, the error and the key to press.

At 80x24 with 16 nodes: the run's lines stay on top, the preflight's verdict and the progress line at
the bottom, and the table takes what is left, scrolling with the cursor. The footer offers stop (x)
only while a run is in progress and recover (v) only when a failed run left the cluster locked.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static
from textual.worker import Worker

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.units import bar
from hcitui.remote import RemoteError
from hcitui.tui import remedies
from hcitui.tui.screens.cau_options import CauOptions
from hcitui.tui.screens.stepping import SteppingScreen
from hcitui.tui.widgets.failure import FailurePanel
from hcitui.tui.widgets.node_table import Column, NodeTable
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow import cau, eta, gates
from hcitui.workflow.checks import CheckResult, Status
from hcitui.workflow.events import ProgressEvent, Stage
from hcitui.workflow.observe import ClusterState, observe, problem
from hcitui.workflow.steps import StepFailed

COLUMNS = [Column("at", "At", 8), Column("result", "Result", 6)]
RESULT_WORDS = {"Succeeded": ("ok", ""), "Failed": ("FAILED", "bold"), "Canceled": ("cancel", "bold"),
                "PartiallyFailed": ("partly", "bold")}
QUIET_STATUSES = ("Waiting", "Succeeded")  # shown plain; any other CAU status is work under way: bold
# A closed gate's remedy in a few keys, for its preflight row on an 80-column screen.
GATE_KEYS = {
    gates.REGISTRY: "2) a, then 3) o; or override in g's form",
    gates.PREREQ: "1) r",
    gates.SR_SNAPSHOT: "6) s",
    gates.ISO: "4) s, then v",
}


def _clock(stamp: datetime | None) -> str:
    return stamp.astimezone().strftime("%H:%M:%S") if stamp else ""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class CauScreen(SteppingScreen):
    TITLE_TEXT = "5) CAU run"
    ABOUT = ("Phase 2 and 5. f preflight: enables WinRM and PowerShell remoting on every node (proved by a read), "
             "then Test-CauSetup, Test-Cluster (shown running, then where its report went) and an Invoke-CauScan "
             "preview that must offer every node the same update. g starts the rolling upgrade to 23H2 as the "
             "stretched-cluster guide runs it (RollingUpgradePlugin, setup from staging_path; the functional level "
             "is raised only if you choose UpdateClusterFunctionalLevel, typing the cluster's name), after its "
             "options and its PowerShell. It is refused until its gates open (rows under Gate in the preflight): "
             "the registry values in force on every node (or an override with your reason), prerequisites passed "
             "recently, a re-read SR snapshot, the ISO staged and verified; w runs the monthly Windows Update plug-in. "
             "The run goes on in the cluster without hcitui: the table shows each node's CAU status and since when, "
             "live, and the screen reattaches to a run in progress when it opens. A node restarting or the "
             "orchestrator moving makes Get-CauRun fail for a moment: that is a blip, the last state stays. x stops "
             "the run at its next safe point; v recovers a failed run that left the cluster locked.")
    MUTATING_ACTIONS = frozenset({"preflight", "start", "windows_update", "stop", "recover"})
    TABLE_ID, OUTCOME_ID = "cau-nodes", "cau-outcome"
    # One rule for what runs here. Reading the screen, the preflight, starting, stopping and recovering a
    # run are the screen's one job (start_job: one at a time, ``busy`` names it). Watching the run is not
    # a job: it only reads, lasts as long as the run, and a stop (a job) must be possible while it goes on.
    # It is a worker in WATCH_GROUP, and ``watching`` is true while one is pending or running (read from
    # the workers, never a flag kept by hand). While watching, no new run is offered. The nodes' live
    # states while watching are read by workers in LIVE_GROUP, one at a time.
    WATCH_GROUP = "cau-watch"
    # Short labels: the footer fits 80 columns with the palette's key. x and v show only when they apply.
    BINDINGS = [
        Binding("f", "preflight", "Preflight"),
        Binding("g", "start", "Upgrade"),
        Binding("w", "windows_update", "Updates"),
        Binding("x", "stop", "Stop"),
        Binding("v", "recover", "Recover"),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("p", "preview", "PowerShell", show=False),
    ]
    DEFAULT_CSS = """
    CauScreen #cau-run { height: 2; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    CauScreen #cau-nodes { height: 1fr; min-height: 4; max-height: 100%; }
    CauScreen #cau-verdict { display: none; height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    CauScreen #cau-verdict.-shown { display: block; }
    CauScreen #cau-preflight { height: auto; max-height: 6; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    CauScreen.-failed #cau-preflight { max-height: 1; }
    CauScreen.-failed.-verdict #cau-preflight { display: none; }
    CauScreen #cau-progress { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    CauScreen #cau-outcome { height: 2; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.cau_run: model.CauRun | RemoteError | None = None
        self.run_watch: cau.RunWatch | None = None  # the watched run: the monitor keeps it up to date
        self.preflight: cau.PreflightReport | None = None
        self._filling: cau.PreflightReport | None = None  # the preflight's report while it runs
        self._long: ProgressEvent | None = None  # a long wait under way (Test-Cluster): its seconds tick
        self._offered: tuple[bool, bool] | None = None  # (stop, recover) as the footer last showed them
        self.explanation: cau.Explanation | None = None  # why the last run failed, shown until a new one starts

    # ------------------------------------------------------------------ what runs
    @property
    def watching(self) -> bool:
        """Is the run watched now (the monitor's worker pending or running)?"""
        return self.running_in(self.WATCH_GROUP) is not None

    @property
    def failure(self) -> FailurePanel:
        return self.query_one("#cau-failure", FailurePanel)

    def _in_progress(self) -> bool:
        run = self.cau_run
        return self.watching or (isinstance(run, model.CauRun) and run.state == cau.IN_PROGRESS)

    def _locked(self) -> bool:
        """Did the last read find a failed run that left the cluster locked (RunFailed)?"""
        run = self.cau_run
        return not self.watching and isinstance(run, model.CauRun) and run.state == cau.FAILED_STATE

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Stop only while a run is in progress, recover only when a failed run left the cluster locked:
        otherwise their keys are off the footer (and do nothing)."""
        allowed = super().check_action(action, parameters)
        if not allowed:
            return allowed
        if action == "stop":
            return self._in_progress()
        if action == "recover":
            return self._locked()
        return allowed

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == self.WATCH_GROUP:  # watching began or ended: stop and recover change with it
            self._offer_keys()

    def _offer_keys(self) -> None:
        offered = (self._in_progress(), self._locked())
        if offered != self._offered:
            self._offered = offered
            self.refresh_bindings()

    def _here(self, action: Action) -> str:
        """A remedy this screen offers, as its key: ``stop the CAU run: x``."""
        return remedies.render(Remedy(action=action), here=self.TITLE_TEXT)

    def compose_body(self) -> ComposeResult:
        yield Static("Reading the CAU run...", id="cau-run")
        table = NodeTable(self.ctx.client.nodes, extra=COLUMNS, id="cau-nodes")
        # The CAU status leads, then since when and the node's result; a read's elapsed time is not shown.
        by_key = {c.key: c for c in table.columns_spec}
        table.columns_spec = [by_key[k] for k in ("node", "site", "state", "build", "status", "at", "result")]
        yield table
        yield FailurePanel(id="cau-failure")
        yield Static("", id="cau-verdict")
        yield Static(self._preflight_text(), id="cau-preflight")
        yield Static("", id="cau-progress")
        yield Static("", id="cau-outcome")

    def on_mount(self) -> None:
        self.table.focus()
        self.start_job("reading", self._reattach())
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        self._show_run()
        if self._long is not None:
            self.query_one("#cau-progress", Static).update(self._event_line(self._long))

    # ------------------------------------------------------------------ reading
    async def _reattach(self) -> None:
        """On opening: read the cluster and the run; a run in progress (or cut short) is watched at once."""
        await self.read(live=True)
        if not self.watching and cau.should_watch(self.ctx, self.cau_run):
            self._start_watching()

    async def read(self, *, live: bool = True) -> None:
        state = await observe(self.ctx, ("nodes",), ("os",), on_event=self.node_event if live else None)
        self._show_nodes(state)
        self.cau_run = await cau.read_run(self.ctx)
        if isinstance(self.cau_run, model.CauRun) and self.cau_run.run_id and not self.watching:
            self.run_watch = cau.RunWatch()
            self.run_watch.update(self.cau_run)
            self._show_statuses(self.run_watch)
        if self._locked() and not self.failure.shown:  # a failed run found on opening explains itself too
            self._show_failure(await cau.why(self.ctx, self.cau_run))
        self._show_run()

    def _show_nodes(self, state: ClusterState) -> None:
        table = self.table
        with self.app.batch_update():
            for name in table.node_names():
                info = state.cluster_node(name)
                cells: dict[str, str | Text] = {"state": str(info.state) if info else "?"}
                os_info = state.node_part(name, "os")
                if isinstance(os_info, model.OsVersion):
                    cells["build"] = os_info.build
                elif info is not None and info.build_number:
                    cells["build"] = str(info.build_number)
                table.set_cells(name, **cells)

    def _start_live(self) -> None:
        """A look at the nodes while the run is watched; never two at a time."""
        if self.running_in(self.LIVE_GROUP) is None:
            self.run_worker(self._live_nodes(), group=self.LIVE_GROUP, exit_on_error=False)

    async def _live_nodes(self) -> None:
        """While a run is watched: the nodes' states and builds. A node back Up on another build has its
        OS read, so the table shows its update revision too."""
        state = await observe(self.ctx, ("nodes",))
        if problem(state.nodes):
            return
        stale = []
        with self.app.batch_update():
            for node in state.nodes:
                if node.name not in self.table.rows:
                    continue
                shown = str(self.table.get_cell(node.name, "build"))
                cells: dict[str, str] = {"state": str(node.state)}
                if node.build_number and not shown.startswith(str(node.build_number)):
                    cells["build"] = str(node.build_number)
                    shown = cells["build"]
                if node.state == model.NodeState.UP and "." not in shown:
                    stale.append(node.name)
                self.table.set_cells(node.name, **cells)
        if stale:
            versions = await observe(self.ctx, (), ("os",), nodes=stale)
            for name in stale:
                version = versions.node_part(name, "os")
                if isinstance(version, model.OsVersion):
                    self.table.set_cells(name, build=version.build)

    # ----------------------------------------------------------------- showing
    def _show_run(self) -> None:
        """Two lines: the run (state, id, orchestrator, elapsed), then how the watch goes or how it ended."""
        first = Text(no_wrap=True, overflow="ellipsis")
        first.append("Run: ", style="bold")
        second = Text(no_wrap=True, overflow="ellipsis")
        watch, run, watching = self.run_watch, self.cau_run, self.watching
        shown = watch.run if watch is not None and watch.run is not None else (
            run if isinstance(run, model.CauRun) else None)
        ended = watch is not None and watch.ended
        if shown is None or shown.run_id is None:
            if isinstance(run, RemoteError):
                first.append(f"could not read Get-CauRun: {run.message}")
            elif watching:
                first.append("reattaching: reading Get-CauRun ...")
            else:
                first.append(f"{shown.state if shown is not None else '?'}. ")
                first.append("f preflight, then g starts the rolling upgrade.")
        else:
            first.append("ended" if ended else str(shown.state), style="bold")
            first.append(f"  id {shown.run_id[:8]}  orchestrator {shown.current_orchestrator or '?'}")
            elapsed = watch.elapsed() if watch is not None else None
            if elapsed is not None and not ended:
                first.append(f"  {_duration(elapsed)}")
            if shown.cancel_pending and not ended:
                first.append("  STOPPING", style="bold")
        where = self._where(watch) if watching and not ended else ""
        if where:
            second.append(where + " · ", style="bold")
        if ended:
            second.append(watch.outcome, style="" if watch.succeeded else "bold")
        elif watch is not None and watch.note:
            second.append(watch.note, style="bold")
        elif watching:
            read = _clock(watch.read_at) if watch is not None else ""
            second.append(f"{'w' if where else 'W'}atching Get-CauRun every {self.ctx.poll:g} s"
                          + (f", last read {read}" if read else "")
                          + (f", {watch.blips} blips" if watch is not None and watch.blips else ""))
        elif shown is not None and shown.state == model.CauRunState.RUN_FAILED:
            second.append(f"The run failed and left the cluster locked ({self._here(Action.CAU_RECOVER)}).",
                          style="bold")
        first.append("\n")
        first.append(second)
        self.query_one("#cau-run", Static).update(first)
        self._offer_keys()

    @staticmethod
    def _where(watch: cau.RunWatch | None) -> str:
        """``node 2 of 4 · finish about 14:35`` (or ``estimate unknown``) while a run is watched; "" before
        its first read."""
        if watch is None or watch.run is None or watch.run.run_id is None:
            return ""
        position = watch.position()
        words = eta.words(watch.finish())
        parts = ([f"node {position[0]} of {position[1]}"] if position else []) + ([words] if words else [])
        return " · ".join(parts)

    def _show_failure(self, explanation: cau.Explanation | None) -> None:
        """The failed run's explanation in the panel, which stays until a new run starts (a run stopped on
        request failed nothing: no panel)."""
        if explanation is None or (not explanation.failures and explanation.remedy is None):
            return
        self.explanation = explanation
        self.failure.show(explanation.headline, explanation.failures, here=self.TITLE_TEXT,
                          remedy=explanation.remedy)
        self.add_class("-failed")

    def _clear_failure(self) -> None:
        self.explanation = None
        self.failure.clear()
        self.remove_class("-failed")

    def _show_status(self, node: str, status: str, since: datetime | None) -> None:
        """A node's CAU status, since when, and its result once the run has one."""
        if node not in self.table.rows:
            return
        cells: dict[str, str | Text] = {
            "status": Text(status, style="" if status in QUIET_STATUSES else "bold", no_wrap=True,
                           overflow="ellipsis"),
            "at": _clock(since),
        }
        result = self.run_watch.results.get(node) if self.run_watch is not None else None
        if result is not None:
            word, style = RESULT_WORDS.get(str(result.status), (str(result.status)[:6], "bold"))
            cells["result"] = Text(word, style=style)
        self.table.set_cells(node, **cells)

    def _show_statuses(self, watch: cau.RunWatch) -> None:
        with self.app.batch_update():
            for node, entry in watch.statuses.items():
                self._show_status(node, entry.status, entry.timestamp)

    def _event_line(self, event: ProgressEvent) -> Text:
        """The progress line, from the event's fields: who, FAILED, the words, since when (and for a long
        wait how long so far), the bar."""
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"{event.node}: ", style="bold")
        if event.failed:
            line.append("FAILED ", style="bold")
        line.append(event.text, style="bold" if event is self._long else "")
        if event.since is not None:
            line.append(f" (since {_clock(event.since)}")
            if event is self._long:
                now = datetime.now(UTC) if event.since.tzinfo else datetime.now()
                waited = (now - event.since).total_seconds()
                line.append(f", {max(0, waited):.0f} s")
            line.append(")")
        if event.fraction is not None and event.fraction < 1.0:
            line.append("  " + bar(event.fraction))
        return line

    def show_progress(self, event: ProgressEvent) -> None:
        """Every workflow event of this screen, by its fields: a node's CAU status goes to its columns, a
        node's step (enabling remoting) to its Status cell, every event to the progress line; a long wait
        (Test-Cluster) ticks its seconds there. The preflight's checks show as they come."""
        waiting = event.stage is Stage.WAITING and event.since is not None and event.status is None
        self._long = event if waiting else None
        self.query_one("#cau-progress", Static).update(self._event_line(event))
        if event.status is not None:
            self._show_status(event.node, event.status, event.since)
        elif event.node in self.table.rows:
            super().show_progress(event)
        if self._filling is not None and self._filling.checks:
            self._show_preflight(self._filling)
        self._show_run()

    def _preflight_text(self) -> Text:
        """One line per check (the remoting and scan lines name every node that fails), and where
        Test-Cluster's report went on a line of its own."""
        text = Text(no_wrap=True, overflow="ellipsis")
        report = self.preflight
        if report is None:
            record = self.ctx.journal.step(cau.PREFLIGHT_PHASE, cau.PREFLIGHT)
            text.append("Preflight: ", style="bold")
            text.append(f"{record.detail or record.status.value} (last run)" if record else
                        "not run yet. f enables remoting and runs the checks.")
            return text
        by_name: dict[str, list[CheckResult]] = {}
        for check in report.checks:
            # The coordinator's checks and its reach to each node share one line.
            name = cau.COORDINATOR_CHECK if check.name == cau.REACH_CHECK else check.name
            by_name.setdefault(name, []).append(check)
        for name, checks in by_name.items():
            failing = [c for c in checks if not c.ok]
            word = "FAIL" if failing else ("WARN" if any(c.status is Status.WARN for c in checks) else "PASS")
            text.append(f"{word:<4} {name:<13} ", style="bold" if failing or word == "WARN" else "")
            validation = report.validation if name == "Test-Cluster" else None
            if checks[0].gate:
                gate = checks[0]
                reason = gate.reason if gate.ok else f"fix: {GATE_KEYS.get(name, '')} | {gate.reason}"
            elif name == cau.COORDINATOR_CHECK:
                reason = self._coordinator_text(checks)
            elif name == "Remoting":
                reason = f"{sum(1 for c in checks if c.ok)}/{len(checks)} nodes enabled" + (
                    f"; not on {', '.join(c.node or '?' for c in failing)}" if failing else "")
            elif isinstance(validation, model.ClusterValidation):
                reason = (f"{validation.passed} passed, {validation.warnings} warnings, {validation.failed} failed; "
                          f"report:\n  {validation.report_path}")
            elif failing and all(c.node for c in failing):
                reasons = {c.reason for c in failing}
                reason = (f"{', '.join(c.node or '?' for c in failing)}: "
                          + (failing[0].reason if len(reasons) == 1 else "; ".join(sorted(reasons))))
            else:
                first = failing[0] if failing else checks[0]
                reason = (f"{first.node}: " if first.node else "") + first.reason
            text.append(reason + "\n")
        return text

    def _coordinator_text(self, checks: list[CheckResult]) -> str:
        name = self.ctx.client.coordinator_name
        if name is None:
            return "none: the run starts on a node as SYSTEM (its computer account); configure one"
        reach = [c for c in checks if c.name == cau.REACH_CHECK]
        own = [c for c in checks if c.name == cau.COORDINATOR_CHECK and not c.ok]
        unreached = [c.node or "?" for c in reach if not c.ok]
        if own:
            return own[0].reason
        counted = f"reaches {len(reach) - len(unreached)}/{len(reach)} nodes"
        if unreached:
            return f"{name} {counted}; not {', '.join(unreached)}: {next(c for c in reach if not c.ok).reason}"
        return f"{name}: outside the cluster, CAU module, {counted}"

    def _show_preflight(self, report: cau.PreflightReport) -> None:
        self.preflight = report
        self.query_one("#cau-preflight", Static).update(self._preflight_text())
        verdict = Text(no_wrap=True, overflow="ellipsis")
        verdict.append("Preflight ", style="bold")
        verdict.append(report.summary(), style="" if report.passed else "bold")
        verdict.append(f"; {report.gates_summary()}", style="" if report.gates_open else "bold")
        widget = self.query_one("#cau-verdict", Static)
        widget.update(verdict)
        widget.add_class("-shown")  # without a report, the preflight's own line is the verdict
        self.add_class("-verdict")  # a failure's panel may then take the rows' place

    # ----------------------------------------------------------------- watching
    def _start_watching(self) -> None:
        if self.watching:
            return
        self.run_watch = cau.RunWatch(total=len(self.ctx.client.node_names))
        self.run_worker(self._watch(self.run_watch), name="watch the CAU run", group=self.WATCH_GROUP,
                        exit_on_error=False)
        self._show_run()

    async def _watch(self, watch: cau.RunWatch) -> None:
        live = self.set_interval(self.ctx.poll, self._start_live)  # the nodes' states, as often as the run's
        try:
            outcome = await cau.monitor(self.ctx, self.progress, watch=watch)
        except StepFailed as exc:
            self.outcome = Text(exc.message, style="bold")
            self.app.report_error(self.sentence(exc))
        else:
            self.outcome = Text(outcome.sentence, style="bold" if outcome.run_id else "")
        finally:
            live.stop()
        await self.events_shown()  # the run's last events first, then how it ended
        self._long = None
        self._show_statuses(watch)
        self._show_failure(watch.explanation)
        self.say("")  # the run's line says how it ended
        self.query_one("#cau-progress", Static).update("")
        self.cau_run = await cau.read_run(self.ctx)
        await self._live_nodes()
        self._show_run()

    # ----------------------------------------------------------------- actions
    def action_preflight(self) -> None:
        self.confirm(cau.plan_preflight(self.ctx), "CAU preflight", self._preflight)

    async def _preflight(self) -> str | None:
        self._filling = cau.PreflightReport()
        try:
            report = await cau.preflight(self.ctx, self.progress, on_event=self.node_event, report=self._filling)
        finally:
            self._filling = None
        await self.events_shown()
        self._long = None
        self._show_preflight(report)
        self.query_one("#cau-progress", Static).update("")
        if not report.passed:
            raise StepFailed("CAU preflight", report.summary())
        if self.ctx.client.coordinator_name is None:  # passed, but the run would start on a node: say so
            return (f"Preflight {report.summary()}: no CAU coordinator, so the run starts on a node as SYSTEM "
                    "(its computer account). Fix: [clusters.coordinator].")
        return None

    def _ask_options(self, plugin: str) -> None:
        if self.watching:
            self.notify(f"A CAU run is in progress and watched here ({self._here(Action.CAU_STOP)}).", timeout=5)
            return
        if self.is_busy():
            return
        defaults = cau.RunOptions.defaults(plugin)
        form = CauOptions(defaults, len(self.ctx.client.node_names), cau.form_note(self.ctx))

        def chosen(options: cau.RunOptions | None) -> None:
            if options is None:
                self.say("Cancelled: no run was started.")
                return
            label = f"the CAU {cau.PLUGIN_TITLE.get(options.plugin, options.plugin)}"
            override = form.override if options.plugin == cau.ROLLING_UPGRADE else None
            plan = cau.plan_start(self.ctx, options)
            if override:
                plan.notes.append(f"The registry gate is OVERRIDDEN if it is closed, journalled with: {override}")
            # Raising the functional level cannot be undone: then the cluster's name is typed to run it.
            self.confirm(plan, label, lambda: self._start(options, override),
                         typed=options.update_functional_level)

        self.app.push_screen(form, callback=chosen)

    def action_start(self) -> None:
        self._ask_options(cau.ROLLING_UPGRADE)

    def action_windows_update(self) -> None:
        self._ask_options(cau.WINDOWS_UPDATE)

    async def _start(self, options: cau.RunOptions, override: str | None = None) -> str:
        """Start the run and watch it: it is started, not done (it goes on in the cluster for hours)."""
        run = await cau.start(self.ctx, options, self.progress, override_registry=override)
        self._clear_failure()
        self._start_watching()
        title = cau.PLUGIN_TITLE.get(options.plugin, options.plugin)
        return (f"Started: run {cau.short_id(run.run_id)} of the CAU {title}; watching it. It goes on in the "
                "cluster without hcitui; the run's line says how it ends.")

    def action_stop(self) -> None:
        self.confirm(cau.plan_stop(self.ctx), "stop the CAU run", lambda: cau.stop(self.ctx, self.progress))

    def action_recover(self) -> None:
        self.confirm(cau.plan_recover(self.ctx), "recover the failed CAU run", self._recover)

    async def _recover(self) -> None:
        """Recover; the failure's panel stays (the node still needs its fix), its next step now the fix."""
        await cau.recover(self.ctx, self.progress)
        was = self.explanation
        if self.failure.shown and was is not None:
            fix = Remedy(text="recovered: fix what failed, then start the run again")
            self._show_failure(dataclasses.replace(
                was, headline=f"{was.headline} Recovered at {datetime.now():%H:%M}.", remedy=fix,
                failures=tuple(dataclasses.replace(f, remedy=fix) for f in was.failures)))

    def action_refresh(self) -> None:
        if self.watching and not self.busy:  # the run's own reads go on: a look at the nodes is enough
            self._start_live()
            return
        super().action_refresh()

    async def _refresh(self) -> None:
        await super()._refresh()
        if not self.watching and cau.should_watch(self.ctx, self.cau_run):
            self._start_watching()

    def action_preview(self) -> None:
        plans = [cau.plan_preflight(self.ctx), cau.plan_start(self.ctx, cau.RunOptions.defaults()),
                 cau.plan_start(self.ctx, cau.RunOptions.defaults(cau.WINDOWS_UPDATE)), cau.plan_stop(self.ctx),
                 cau.plan_recover(self.ctx)]
        stamp = datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
        text = f"# CAU on {self.ctx.name}: what each key runs (generated {stamp}; nothing has run)\n\n"
        self.app.push_screen(PowerShellPreview("PowerShell of 5) CAU run",
                                               text + "\n".join(plan.preview() for plan in plans)))
