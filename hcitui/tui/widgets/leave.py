"""Asked before hcitui is left while a change to the cluster runs (q, Ctrl+Q, Esc).

``LeaveStep`` dismisses with True (leave: the step stops where it stands) or False (stay: the step
goes on). Keyboard only; words, not colours, carry the meaning (NO_COLOR and 16-colour terminals).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


@dataclass(frozen=True)
class RunningChange:
    """A change to the cluster that a screen runs now (what the leave question names)."""

    screen: str  # the screen's title, e.g. "3) Node drain and restart"
    label: str  # the step, e.g. "restart LAB-A1"
    node: str | None = None  # the node it works on, when it works on one


class LeaveStep(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "leave", "Leave"),
        Binding("n", "stay", "Stay"),
        Binding("escape", "stay", "Stay", show=False),
        Binding("q", "stay", "Stay", show=False),  # a second q does not leave by accident
    ]
    DEFAULT_CSS = """
    LeaveStep { align: center middle; }
    LeaveStep > Vertical { width: 100%; max-width: 78; height: auto; max-height: 100%;
                           border: double $warning; padding: 0 1; }
    LeaveStep #leave-title { text-style: bold; }
    LeaveStep #leave-keys { text-style: bold; margin-top: 1; }
    """

    def __init__(self, change: RunningChange, note: str, exit_code: int) -> None:
        super().__init__()
        self.change = change
        self.note = note  # what stays as it is if hcitui stops now
        self.exit_code = exit_code

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Leave hcitui while a change runs?", id="leave-title", markup=False)
            body = Text()
            body.append("Running now: ", style="bold")
            body.append(f"{self.change.label}" + (f" on {self.change.node}" if self.change.node
                                                   and self.change.node not in self.change.label else ""))
            body.append(f" ({self.change.screen})\n")
            body.append("If you leave, it stops where it stands and nothing is undone:\n", style="bold")
            body.append(self.note + "\n")
            body.append(f"The journal records that you left mid-step; hcitui exits with status {self.exit_code}.")
            yield Static(body, id="leave-body")
            yield Static("n or Esc  stay (the step goes on)     y  leave hcitui now", id="leave-keys",
                         markup=False)

    def action_leave(self) -> None:
        self.dismiss(True)

    def action_stay(self) -> None:
        self.dismiss(False)
