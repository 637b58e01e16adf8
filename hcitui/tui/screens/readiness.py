"""12) Readiness: the solution update's readiness checks (seed 001, "Step 2: prepare for the solution update"),
per node and cluster-wide, and the remedies that change the nodes: f installs the missing features node by node,
b suspends BitLocker on every node, B resumes it."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding

from hcitui.core import model
from hcitui.tui.screens.base import RunningChange
from hcitui.tui.screens.checks import ChecksScreen, Clamped
from hcitui.tui.screens.maintenance import STAGE_WORDS, progress_line
from hcitui.tui.screens.stepping import SteppingScreen
from hcitui.tui.widgets.node_table import Column
from hcitui.workflow import readiness, solution
from hcitui.workflow.checks import ChecksReport
from hcitui.workflow.events import ProgressEvent
from hcitui.workflow.observe import observe, problem
from hcitui.workflow.steps import StepFailed

REMEDY_KEYS = {"f": "features", "b": "suspend", "B": "resume"}
READ_ONLY_NOTE = "Read-only: f, b and B change the nodes: refused, nothing sent."


class ReadinessScreen(ChecksScreen, SteppingScreen):
    TITLE_TEXT = "12) Readiness"
    ABOUT = ("After phase 8, before the solution update: the environment checker's readiness checks, read with plain "
             "cmdlets (nothing is installed to read them). Critical checks block; the TPM checks are warnings. "
             "Columns: OS (23H2), Feat (Windows and optional features, Network ATC), BitL (BitLocker suspended), "
             "WDAC (no policy enforced), Lang (English), AKS (no AKS/MOC left), TPM. f installs what is missing, "
             "one node at a time: drained, the features installed, restarted only when one needs it (else "
             "resumed), then proved; it stops at the first node that fails and goes on where it stopped. b "
             "suspends BitLocker on every protected volume (-RebootCount 0: until resumed), B resumes it after "
             "the solution update. Each shows its PowerShell first: y runs it, d is a dry run. On a stretched "
             "cluster the solution upgrade does not apply.")
    PREFIX = "rdy"
    LIVE_POLL = True  # while a change runs, the State column follows the cluster (a drain, a restart)
    TABLE_ID, OUTCOME_ID = "rdy-nodes", "rdy-outcome"
    INTRO = "Readiness for the solution update. f install features, b BitLocker off, B on."
    RESULT_COLUMNS = [Column("os", "OS", 4), Column("feat", "Feat", 4), Column("bitl", "BitL", 4),
                      Column("wdac", "WDAC", 4), Column("lang", "Lang", 4), Column("aks", "AKS", 4),
                      Column("tpm", "TPM", 4)]
    # At 80 columns the seven results leave no room for the site (the solution upgrade is for one site), the
    # raw build (the OS result's reason has it) or the timer.
    DROPPED_COLUMNS = ("site", "build", "elapsed")
    NODE_CHECK_COLUMNS = {
        readiness.OS_23H2: "os",
        readiness.WINDOWS_FEATURES: "feat",
        readiness.OPTIONAL_FEATURES: "feat",
        readiness.NETWORK_ATC_INSTALLED: "feat",
        readiness.BITLOCKER: "bitl",
        readiness.WDAC: "wdac",
        readiness.LANGUAGE: "lang",
        readiness.AKS: "aks",
        readiness.MOC_INSTALL: "aks",
        readiness.MOC_SERVICES: "aks",
        **{name: "tpm" for name in readiness.TPM_CHECKS},
    }
    CHECK_WIDTH = 26
    ALL_PASS = "ready"
    RUN = readiness.run_readiness
    PLAN = readiness.read_plan
    MUTATING_ACTIONS = frozenset({"features", "suspend", "resume"})
    BINDINGS = [
        Binding("f", "features", "Features"),
        Binding("b", "suspend", "BitLocker off"),
        Binding("B", "resume", "BitLocker on", key_display="B"),
    ]
    DEFAULT_CSS = """
    ReadinessScreen #rdy-outcome { height: auto; max-height: 2; padding: 0 1; }
    """

    def compose_body(self) -> ComposeResult:
        yield from super().compose_body()
        yield Clamped("", id="rdy-outcome")

    def on_mount(self) -> None:
        # Textual calls ChecksScreen.on_mount too (each class's handler in turn): only the intro here.
        intro = self.INTRO
        if self.ctx.stretched:
            intro = ("Does not apply: stretched cluster. The solution upgrade is not available for it (seed 001); "
                     "the checks are shown for information.")
        elif self.ctx.read_only:
            intro = "Solution-upgrade readiness, read-only mode: f, b and B are refused. Tab: each check."
        self.part("intro").update(intro)

    # ---------------------------------------------------------- both bases' jobs
    async def _run(self, *args: Any) -> None:
        """Both bases call their job ``_run``: the checks take nothing, a change (label, work, done)."""
        if args:
            await SteppingScreen._run(self, *args)
        else:
            await ChecksScreen._run(self)

    async def read(self, *, live: bool = True) -> None:
        """After a change: the checks again (the node table shows their results)."""
        await ChecksScreen._run(self)

    async def live_read(self) -> None:
        fresh = await observe(self.ctx, ("nodes",))
        if problem(fresh.nodes) is None:
            for node in fresh.nodes:
                self.table.set_cells(node.name, state=str(node.state))

    def _show(self, report: ChecksReport) -> None:
        super()._show(report)
        if self.ctx.read_only and self.change is None:
            self.say(READ_ONLY_NOTE)

    # ---------------------------------------------------------- progress of a change
    def show_progress(self, event: ProgressEvent) -> None:
        word = STAGE_WORDS.get(event.stage) or ("done" if event.fraction == 1.0 else event.text)
        self.table.set_cells(event.node, status=Text(word, no_wrap=True, overflow="ellipsis"))
        self.say(progress_line(event))

    def leaving_note(self, change: RunningChange) -> str:
        lock = self.ctx.journal.state.lock
        if change.label.startswith("features") and lock is not None:
            return (f"{lock.node} stays out of service ({lock.reason}); run f again (or `hcitui features-install`) "
                    f"to go on where it stopped, or resume it with 3) u (`hcitui resume --node {lock.node}`).")
        return super().leaving_note(change)

    # ---------------------------------------------------------- read-only: the keys say why
    def on_key(self, event: events.Key) -> None:
        if self.ctx.read_only and event.key in REMEDY_KEYS:
            event.stop()
            self.say(READ_ONLY_NOTE)

    # ---------------------------------------------------------- the remedies
    def _read(self, node: str) -> model.NodeReadiness | None:
        """The node's readiness as the last checks read it (None: not read, or the read failed)."""
        if self.report is None:
            return None
        value = self.report.observed.node_part(node, "extra")
        return value if isinstance(value, model.NodeReadiness) else None

    def _missing(self, nodes: list[str]) -> dict[str, solution.Missing | str] | None:
        if self.report is None:
            return None
        found: dict[str, solution.Missing | str] = {}
        for node in nodes:
            read = self._read(node)
            if read is None:
                found[node] = "not read by the last checks"
                continue
            try:
                found[node] = solution.missing_of(node, read, "features-install")
            except StepFailed as exc:
                found[node] = exc.message
        return found

    def _volumes(self, nodes: list[str], direction: solution.Direction) -> dict[str, list[str] | str] | None:
        if self.report is None:
            return None
        found: dict[str, list[str] | str] = {}
        for node in nodes:
            read = self._read(node)
            if read is None:
                found[node] = "not read by the last checks"
                continue
            try:
                found[node] = [v.mount_point for v in direction.volumes(node, read, direction.step)]
            except StepFailed as exc:
                found[node] = exc.message
        return found

    def _not_here(self, what: str) -> bool:
        """On a stretched cluster there is nothing to prepare: say so at once, before any preview."""
        if self.ctx.stretched:
            self.say(f"{what} refused, nothing sent: no solution upgrade on a stretched cluster.")
            return True
        return False

    def action_features(self) -> None:
        if self._not_here("f"):
            return
        nodes = self.ctx.client.node_names
        self.confirm(solution.plan_features(self.ctx, nodes, self._missing(nodes)), "features install",
                     lambda: solution.install_features(self.ctx, None, self.progress))

    def _bitlocker(self, direction: solution.Direction) -> None:
        nodes = self.ctx.client.node_names
        work = solution.suspend if direction is solution.SUSPEND else solution.resume
        self.confirm(solution.plan_bitlocker(self.ctx, nodes, direction, self._volumes(nodes, direction)),
                     f"BitLocker {direction.verb}", lambda: work(self.ctx, None, self.progress))

    def action_suspend(self) -> None:
        if self._not_here("b"):
            return
        self._bitlocker(solution.SUSPEND)

    def action_resume(self) -> None:
        self._bitlocker(solution.RESUME)
