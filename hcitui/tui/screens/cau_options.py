"""The CAU run's options form (5) CAU run, g or w): what the run is asked to do, before its PowerShell is
shown. Keyboard only: Tab, Space, Enter, Esc; it fits 80x24."""

from __future__ import annotations

import dataclasses

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from hcitui.tui.widgets.override import OverrideReason
from hcitui.workflow import cau

LEVEL_WHY = "Off by default: 8) Post-upgrade raises it after verification; it cannot be undone."


class CauOptions(ModalScreen["cau.RunOptions | None"]):
    """The run's options before its PowerShell is shown: keyboard only (Tab, Space, Enter, Esc)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    CauOptions { align: center middle; }
    CauOptions > Vertical { width: 76; height: auto; max-height: 100%; border: double $warning; padding: 0 1; }
    CauOptions #opt-title { text-style: bold; }
    CauOptions Input { width: 12; margin-bottom: 1; }
    CauOptions #opt-override { width: 100%; margin-bottom: 0; }
    CauOptions Checkbox { margin-top: 0; }
    CauOptions #opt-level-why { height: 1; margin-bottom: 1; }
    CauOptions #opt-message { height: auto; text-style: bold; }
    CauOptions #opt-where { height: auto; max-height: 3; }
    CauOptions #opt-keys { height: 1; }
    """

    def __init__(self, options: cau.RunOptions, node_count: int, where: str = "") -> None:
        super().__init__()
        self.options = options
        self.node_count = node_count
        self.where = where  # where the run runs (a WARNING without a CAU coordinator), and -ForceSelfUpdate
        self.override: str | None = None  # the typed reason to override the registry gate (rolling upgrade)

    def compose(self) -> ComposeResult:
        title = cau.PLUGIN_TITLE.get(self.options.plugin, self.options.plugin)
        with Vertical():
            yield Static(f"Options of the CAU {title}", id="opt-title", markup=False)
            if self.where:
                yield Static(Text(self.where, style="bold" if self.where.startswith("WARNING") else ""),
                             id="opt-where", markup=False)
            yield Label(f"MaxFailedNodes: stop the run when more nodes fail (0 to {max(0, self.node_count - 1)})")
            yield Input(str(self.options.max_failed_nodes if self.options.max_failed_nodes is not None else ""),
                        restrict=r"\d{0,2}", id="opt-failed", compact=True)
            yield Label("MaxRetriesPerNode: retries of one node (0 to 64)")
            yield Input(str(self.options.max_retries_per_node if self.options.max_retries_per_node is not None
                            else ""), restrict=r"\d{0,2}", id="opt-retries", compact=True)
            yield Checkbox("RequireAllNodesOnline", self.options.require_all_nodes_online, id="opt-online",
                           compact=True)
            if self.options.plugin == cau.ROLLING_UPGRADE:
                yield Checkbox("UpdateClusterFunctionalLevel (ON: type the cluster's name to run)",
                               self.options.update_functional_level, id="opt-level", compact=True)
                yield Static(LEVEL_WHY, id="opt-level-why", markup=False)
                yield OverrideReason(input_id="opt-override")
            yield Button("Continue: show the PowerShell", id="opt-go", compact=True)
            yield Static("", id="opt-message", markup=False)
            yield Static("Tab next  Space toggles  Enter continues  Esc cancels", id="opt-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#opt-failed", Input).focus()

    def _chosen(self) -> cau.RunOptions | None:
        def number(widget_id: str) -> int | None:
            text = self.query_one(widget_id, Input).value.strip()
            return int(text) if text else None

        options = dataclasses.replace(self.options, max_failed_nodes=number("#opt-failed"),
                                      max_retries_per_node=number("#opt-retries"),
                                      require_all_nodes_online=self.query_one("#opt-online", Checkbox).value)
        if options.plugin == cau.ROLLING_UPGRADE:
            options = dataclasses.replace(options,
                                          update_functional_level=self.query_one("#opt-level", Checkbox).value)
            self.override = self.query_one(OverrideReason).reason
        problems = options.problems(self.node_count)
        if problems:
            self.query_one("#opt-message", Static).update("; ".join(problems))
            return None
        return options

    def _go(self) -> None:
        options = self._chosen()
        if options is not None:
            self.dismiss(options)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._go()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self._go()

    def action_cancel(self) -> None:
        self.dismiss(None)
