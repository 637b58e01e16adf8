"""Before any change: the exact PowerShell per node, then run, dry run, or cancel.

``ConfirmStep`` dismisses with ``"run"``, ``"dry-run"`` or ``None`` (cancelled). A step that
cannot be undone asks for a typed confirmation (the cluster's name) before ``y`` counts.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

RUN, DRY_RUN = "run", "dry-run"


class ConfirmStep(ModalScreen[str | None]):
    BINDINGS = [
        Binding("y", "run", "Run it"),
        Binding("d", "dry_run", "Dry run"),
        Binding("escape", "cancel", "Cancel"),
        Binding("n", "cancel", "Cancel", show=False),
    ]
    DEFAULT_CSS = """
    ConfirmStep { align: center middle; }
    ConfirmStep > Vertical { width: 100%; height: 100%; border: double $warning; padding: 0 1; }
    ConfirmStep #confirm-title { text-style: bold; height: auto; }
    ConfirmStep #confirm-scroll { height: 1fr; }
    ConfirmStep #confirm-typed { height: 3; }
    ConfirmStep #confirm-keys { height: 1; text-style: bold; }
    ConfirmStep #confirm-message { height: auto; color: $warning; }
    """

    def __init__(self, title: str, preview: str, *, typed: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.preview = preview
        self.typed = typed

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="confirm-title", markup=False)
            with VerticalScroll(id="confirm-scroll"):
                yield Static(self.preview, id="confirm-preview", markup=False)
            if self.typed:
                hint = f"type {self.typed} to confirm, then Enter"
                yield Input("", hint, id="confirm-typed")  # (value, hint shown while empty)
            yield Static("", id="confirm-message", markup=False)
            keys = "y run it   d dry run (sends nothing)   Esc cancel   Up/Down/PgUp/PgDn scroll"
            if self.typed:
                keys = f"type {self.typed} + Enter to run   Esc cancel   Tab to the preview, d dry run"
            yield Static(keys, id="confirm-keys", markup=False)

    def on_mount(self) -> None:
        if self.typed:
            self.query_one("#confirm-typed", Input).focus()
        else:
            self.query_one("#confirm-scroll").focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip() == self.typed:
            self.dismiss(RUN)
        else:
            self.query_one("#confirm-message", Static).update(
                f"That is not {self.typed}. Nothing was run; type it exactly, or Esc to cancel.")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # With a typed confirmation, 'y' is just a letter in the box.
        if action == "run" and self.typed:
            return False
        return True

    def action_run(self) -> None:
        self.dismiss(RUN)

    def action_dry_run(self) -> None:
        if self.typed and isinstance(self.focused, Input):
            return  # 'd' is a letter while typing
        self.dismiss(DRY_RUN)

    def action_cancel(self) -> None:
        self.dismiss(None)
