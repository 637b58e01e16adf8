"""The help screen: every key of the screen it was opened from, plus the global ones.

What the screen is about and its keys scroll together in one box as high as the terminal allows (its title
and the closing line stay), so nothing is lost at 80x24: Up/Down, PgUp/PgDn, Home/End scroll it, and the
closing line says when there is more below (a scroll bar does not show under NO_COLOR).
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

# Textual's own bindings that mean nothing to an operator on a console.
_NOISE = {"ctrl+c", "super+c", "shift+tab", "ctrl+insert"}

CHROME = 4  # rows of the box that never scroll: its border (2), the title and the closing line
CLOSING = "Esc closes this help."
SCROLLS = "Up/Down, PgUp/PgDn scroll"


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


def key_lines(keys: list[tuple[str, str]]) -> list[str]:
    width = max((len(k) for k, _ in keys), default=4)
    return [f"  {key:<{width}}  {text}" for key, text in keys]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
        # The box scrolls whatever has the focus (it has it from the start). No description: not palette commands.
        Binding("up", "scroll('up')", "", show=False),
        Binding("down", "scroll('down')", "", show=False),
        Binding("pageup", "scroll('page_up')", "", show=False),
        Binding("pagedown", "scroll('page_down')", "", show=False),
        Binding("home", "scroll('home')", "", show=False),
        Binding("end", "scroll('end')", "", show=False),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 100%; max-width: 78; height: auto; max-height: 100%;
                            border: solid $primary; padding: 0 1; }
    HelpScreen #help-title { text-style: bold; }
    HelpScreen #help-body { height: auto; }
    HelpScreen #help-about { margin-bottom: 1; }
    """

    def __init__(self, title: str, keys: list[tuple[str, str]], about: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys
        self.about = about

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Help: {self.title_text}", id="help-title", markup=False)
            with VerticalScroll(id="help-body"):
                if self.about:
                    yield Static(self.about, id="help-about", markup=False)
                yield Static("\n".join(key_lines(self.keys)), id="help-keys", markup=False)
            yield Static(CLOSING, id="help-closing", markup=False)

    def on_mount(self) -> None:
        self._fit(self.app.size.height)
        body = self.query_one("#help-body", VerticalScroll)
        body.focus()
        self.watch(body, "scroll_y", self._show_where, init=False)
        self.call_after_refresh(self._show_where)

    def _show_where(self, _value: float | None = None) -> None:
        """The closing line says whether there is more (a scroll bar may not show: NO_COLOR)."""
        if not self.is_attached:
            return  # closed meanwhile
        body = self.query_one("#help-body", VerticalScroll)
        text = CLOSING
        if body.max_scroll_y > 0:
            where = "more below" if body.scroll_y < body.max_scroll_y else "the end"
            text = f"{CLOSING} {SCROLLS} ({where})."
        self.query_one("#help-closing", Static).update(text)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.height)

    def _fit(self, height: int) -> None:
        """The scrolling part takes what the title and the closing line leave: the box never runs off."""
        self.query_one("#help-body", VerticalScroll).styles.max_height = max(1, height - CHROME)
        self.call_after_refresh(self._show_where)

    def action_scroll(self, where: str) -> None:
        body = self.query_one("#help-body", VerticalScroll)
        {"up": body.scroll_up, "down": body.scroll_down, "page_up": body.scroll_page_up,
         "page_down": body.scroll_page_down, "home": body.scroll_home, "end": body.scroll_end}[where](animate=False)
