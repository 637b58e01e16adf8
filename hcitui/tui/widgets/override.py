"""The registry gate's override: the operator's reason, typed in words, which the journal keeps
(workflow/gates.py, record_override). One field for every form that offers it: 5) CAU run's options
(empty there: no override) and 3) Node drain and restart's manual upgrade (empty there: still refused)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label

LABEL = "Override the registry gate: the reason (empty: no override; journalled)"
PLACEHOLDER = "> type the reason here"


class OverrideReason(Vertical):
    """A label and a one-line input, keyboard only; ``reason`` is the typed text, or None when blank."""

    DEFAULT_CSS = """
    OverrideReason { height: auto; width: 100%; }
    OverrideReason > Label { width: 100%; }
    OverrideReason > Input { width: 100%; margin-bottom: 0; }
    """

    def __init__(self, label: str = LABEL, *, input_id: str = "override-reason", id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.input_id = input_id

    def compose(self) -> ComposeResult:
        yield Label(self.label, markup=False)
        # The hint shows where to type even without colour (NO_COLOR: a compact Input has no background).
        yield Input("", PLACEHOLDER, id=self.input_id, compact=True)

    @property
    def input(self) -> Input:
        return self.query_one(f"#{self.input_id}", Input)

    @property
    def reason(self) -> str | None:
        """What was typed, stripped; None when nothing but blanks (a blank is no reason)."""
        return self.input.value.strip() or None
