"""The Textual app: screen routing, help, and the one place errors reach the operator."""

from __future__ import annotations

import os
from typing import ClassVar

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from hcitui.remote import RemoteError
from hcitui.screens.menu import MenuScreen
from hcitui.widgets.help import HelpScreen, describe_keys
from hcitui.workflow.context import Context

MENU_KEYS = [
    ("0-9", "type an option's number (opens at once when unambiguous)"),
    ("Enter", "open the option typed"),
    ("Backspace", "correct the number typed"),
]


def wants_ansi_theme() -> bool:
    """16-colour consoles (TERM=linux, vt100...) and NO_COLOR get the terminal's own palette."""
    term = os.environ.get("TERM", "")
    if "NO_COLOR" in os.environ:
        return True
    return term in ("linux", "vt100", "vt220", "xterm", "screen", "ansi", "cons25") or term.startswith("vt")


class HciApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "hcitui"
    BINDINGS: ClassVar = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding("f1", "help", "Help", show=False),
    ]

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx

    def on_mount(self) -> None:
        if wants_ansi_theme():
            self.theme = "ansi-dark"
        self.push_screen(MenuScreen())

    async def on_unmount(self) -> None:
        await self.ctx.close()

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        title = getattr(screen, "TITLE_TEXT", "") or "hcitui"
        about = getattr(screen, "ABOUT", "")
        extra = MENU_KEYS if isinstance(screen, MenuScreen) else []
        self.push_screen(HelpScreen(title, describe_keys(screen, extra), about))

    def report_error(self, message: str) -> None:
        """The single path by which a failure reaches the screen: a sentence, never a traceback."""
        self.notify(message, title="Error", severity="error", timeout=10)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, RemoteError):
            self.report_error(error.sentence)
        else:
            from hcitui.cli import _log_crash

            where = _log_crash(error) if isinstance(error, BaseException) else ""
            self.report_error(f"{type(error).__name__}: {error} (details in {where})")


def run_app(ctx: Context) -> int:
    app = HciApp(ctx)
    app.run()
    return app.return_code or 0
