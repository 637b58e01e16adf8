"""The terminal's own palette for 16-colour consoles and NO_COLOR, readable in both.

Textual picks its NO_COLOR filter when the app is created, for the default (truecolor) theme:
``Monochrome``, which turns each colour into a grey. With the ANSI theme the colours are the
terminal's own, and ``Monochrome`` turns them all to black: black text on a black background.
With the terminal's palette the right filter is ``NoColor`` (the terminal's default colours).
"""

from __future__ import annotations

import os

from textual.app import App
from textual.filter import Monochrome, NoColor


def use_terminal_palette(app: App) -> None:
    app.theme = "ansi-dark"
    if app.no_color:
        app._filters = [NoColor() if isinstance(f, Monochrome) else f for f in app._filters]
        app.refresh(layout=True)


def wants_ansi_theme() -> bool:
    """16-colour consoles (TERM=linux, vt100...) and NO_COLOR get the terminal's own palette."""
    term = os.environ.get("TERM", "")
    if "NO_COLOR" in os.environ:
        return True
    return term in ("linux", "vt100", "vt220", "xterm", "screen", "ansi", "cons25") or term.startswith("vt")
