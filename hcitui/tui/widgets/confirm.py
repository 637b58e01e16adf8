"""Before any change: the exact PowerShell per node, then run, dry run, or cancel.

``ConfirmStep`` dismisses with ``"run"``, ``"dry-run"`` or ``None`` (cancelled). A step that
cannot be undone asks for a typed confirmation (the cluster's name) before ``y`` counts. A cluster
or node name is a Windows name, which Windows compares without regard to case, so the typed text
is compared that way too (``windows_name=False`` asks for the exact text instead).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

RUN, DRY_RUN = "run", "dry-run"


def typed_matches(typed: str, expected: str, *, windows_name: bool = True) -> bool:
    """Does what the operator typed confirm ``expected``? Surrounding blanks never count. A Windows name
    (a cluster's or a node's) matches in any case, as Windows resolves it; anything else must be exact."""
    typed = typed.strip()
    if windows_name:
        return typed.casefold() == expected.strip().casefold()
    return typed == expected


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

    def __init__(self, title: str, preview: str, *, typed: str | None = None, windows_name: bool = True) -> None:
        super().__init__()
        self.title_text = title
        self.preview = preview
        self.typed = typed
        self.windows_name = windows_name  # the typed text is a Windows name: compared without regard to case

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
        if self.typed is not None and typed_matches(event.value, self.typed, windows_name=self.windows_name):
            self.dismiss(RUN)
        else:
            how = "in any case" if self.windows_name else "exactly"
            self.query_one("#confirm-message", Static).update(
                f"That is not {self.typed}. Nothing was run; type it ({how}), or Esc to cancel.")

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
