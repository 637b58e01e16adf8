"""The help screen: every key of the screen it was opened from, plus the global ones."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

# Textual's own bindings that mean nothing to an operator on a console.
_NOISE = {"ctrl+c", "super+c", "shift+tab", "ctrl+insert"}


def describe_keys(screen: Screen, extra: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """(key, what it does) for every binding the screen and the app would act on now."""
    rows: list[tuple[str, str]] = list(extra or [])
    seen = {key for key, _ in rows}
    for node in (screen, screen.app):
        for binding in node._bindings.key_to_bindings.values():
            for b in binding:
                if not b.description or b.key in seen or b.key in _NOISE or b.description.startswith("Focus "):
                    continue
                if node.check_action(b.action, ()) is False:
                    continue  # hidden here (e.g. a change in read-only mode)
                seen.add(b.key)
                rows.append((b.key_display or b.key, b.description))
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 100%; max-width: 78; height: auto; max-height: 100%;
                            border: solid $primary; padding: 0 1; }
    HelpScreen #help-title { text-style: bold; }
    HelpScreen #help-keys { height: auto; max-height: 16; }
    """

    def __init__(self, title: str, keys: list[tuple[str, str]], about: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys
        self.about = about

    def compose(self) -> ComposeResult:
        width = max((len(k) for k, _ in self.keys), default=4)
        lines = [f"  {key:<{width}}  {text}" for key, text in self.keys]
        with Vertical():
            yield Static(f"Help: {self.title_text}", id="help-title", markup=False)
            if self.about:
                yield Static(self.about, markup=False)
            with VerticalScroll(id="help-keys"):
                yield Static("\n".join(lines), markup=False)
            yield Static("Esc closes this help.", markup=False)
