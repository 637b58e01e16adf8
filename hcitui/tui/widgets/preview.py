"""The PowerShell preview: exactly what a step runs (or would run), per node."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class PowerShellPreview(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("p", "dismiss", "Close", show=False),
    ]
    DEFAULT_CSS = """
    PowerShellPreview { align: center middle; }
    PowerShellPreview > Vertical { width: 100%; height: 100%; border: solid $primary; padding: 0 1; }
    PowerShellPreview #preview-title { text-style: bold; height: 1; }
    PowerShellPreview #preview-hint { height: 1; color: $text-muted; }
    """

    def __init__(self, title: str, script: str) -> None:
        super().__init__()
        self.title_text = title
        self.script = script

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="preview-title", markup=False)
            with VerticalScroll(id="preview-scroll"):
                yield Static(self.script, id="preview-body", markup=False)
            yield Static("Up/Down/PgUp/PgDn scroll  Esc close", id="preview-hint")

    def on_mount(self) -> None:
        self.query_one("#preview-scroll").focus()
