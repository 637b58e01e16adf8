"""The Textual app: screen routing, help, and the one place errors reach the operator."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterable
from typing import ClassVar

from textual.app import App, SystemCommand, get_system_commands_provider
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from hcitui import __version__
from hcitui.core.config import state_dir
from hcitui.core.errors import ExitCode, HciError
from hcitui.core.files import log_crash
from hcitui.tui import remedies
from hcitui.tui.screens.base import HciScreen
from hcitui.tui.screens.menu import MenuScreen
from hcitui.tui.theme import use_terminal_palette, wants_ansi_theme
from hcitui.tui.widgets.help import HelpScreen, describe_keys
from hcitui.tui.widgets.leave import LeaveStep, RunningChange
from hcitui.tui.widgets.palette import CommandPalette, ScreenCommands, allowed_system_command, app_commands
from hcitui.workflow.context import Context

HANGUP_GRACE = 15.0  # seconds after SIGHUP before hcitui exits even if the terminal is gone
LEAVE_GRACE = 10.0  # seconds the step stopped on leaving may take to end before hcitui exits anyway

MENU_KEYS = [
    ("0-9", "type an option's number (opens at once when unambiguous)"),
    ("Enter", "open the option typed"),
    ("Backspace", "correct the number typed"),
]


class HciApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "hcitui"
    BINDINGS: ClassVar = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding("f1", "help", "Help", show=False),
    ]
    # The palette (Ctrl+P) offers hcitui's app commands and the current screen's keys, as check_action allows
    # (widgets/palette.py); never Textual's own system commands.
    COMMANDS: ClassVar = {get_system_commands_provider, ScreenCommands}

    def __init__(self, ctx: Context, start: Callable[[], Screen] | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.start = start  # a screen to open over the menu at once (hcitui monitor)
        self.hung_up = False
        self.exit_watchdog = False  # run_app: after a hang-up, end the process even if the exit stalls

    def on_mount(self) -> None:
        if wants_ansi_theme():
            use_terminal_palette(self)
        self.push_screen(MenuScreen())
        if self.start is not None:
            self.push_screen(self.start())
        # Steps cut short (found running now, or left unknown by an earlier stop) are offered for re-verification.
        from hcitui.tui.screens.resume import ResumeModal, interrupted_steps

        if interrupted_steps(self.ctx.journal):
            self.push_screen(ResumeModal(interrupted_steps(self.ctx.journal)))
        self._catch_hangup()
        # hcitui --lab serves its lab and opens the pools only once the menu is painted (cli/commands/console).
        opener = self.ctx.open_after_paint
        if opener is not None:
            self.call_after_refresh(opener)

    # ------------------------------------------------------------- SSH hang-up
    def _catch_hangup(self) -> None:
        """SIGHUP (the SSH session dropped) and SIGTERM end the app the normal way, restoring the terminal."""
        import asyncio

        if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
            return  # not POSIX, or not the main thread (signal handlers live there)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._hang_up, sig)
            except (RuntimeError, ValueError):
                return

    def _release_hangup(self) -> None:
        import asyncio

        if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            loop.remove_signal_handler(sig)

    def _hang_up(self, sig: int = signal.SIGHUP) -> None:
        if self.hung_up:
            return
        self.hung_up = True
        # Workers are cancelled on exit: a step cut short is journalled as interrupted, never as done.
        self.exit(return_code=128 + int(sig))
        if self.exit_watchdog:
            # If the exit cannot finish (a terminal that takes no more writes, a node that does not answer
            # the session's close), do not linger for ever: the journal is written atomically at every step.
            timer = threading.Timer(HANGUP_GRACE, os._exit, args=(128 + int(sig),))
            timer.daemon = True
            timer.start()

    # ------------------------------------------------------------ leaving mid-step
    def running_change(self) -> tuple[HciScreen, RunningChange] | None:
        """The change to the cluster running now, on any open screen, and that screen (None: only reads,
        or nothing, run: leaving needs no question)."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, HciScreen) and (change := screen.running_change()) is not None:
                return screen, change
        return None

    async def action_quit(self) -> None:
        """q, Ctrl+Q and the palette's Quit: at once, unless a change runs; then ask first."""
        if self.running_change() is None:
            self.exit()
            return
        self.ask_to_leave()

    def ask_to_leave(self) -> None:
        """Ask before leaving while a change runs: stay (it goes on) or leave (it stops where it stands)."""
        found = self.running_change()
        if found is None or any(isinstance(s, LeaveStep) for s in self.screen_stack):
            return
        screen, change = found

        async def chosen(leave: bool | None) -> None:
            if leave:
                await self._leave_mid_step()

        self.push_screen(LeaveStep(change, screen.leaving_note(change), ExitCode.LEFT_MID_STEP), callback=chosen)

    async def _leave_mid_step(self) -> None:
        """Stop the running change, note in the journal that the operator left mid-step, and exit with
        ExitCode.LEFT_MID_STEP. A change that ended while the question was open leaves nothing half-way."""
        import asyncio

        found = self.running_change()
        if found is None:
            self.exit()
            return
        screen, change = found
        note = screen.leaving_note(change)
        journal = self.ctx.journal
        keys = journal.running_here()  # before the step stops: a step's own cancel handler may rewrite it
        workers = self.workers.cancel_node(screen)
        if workers:
            try:
                await asyncio.wait_for(asyncio.gather(*(w.wait() for w in workers), return_exceptions=True),
                                       LEAVE_GRACE)
            except TimeoutError:
                pass
        journal.note_left_mid_step(keys)
        self.exit(return_code=ExitCode.LEFT_MID_STEP,
                  message=f"hcitui: left during {change.label}. {note} (noted in the journal)")

    # ------------------------------------------------------------------ palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """hcitui's own commands only (Help, Quit): not Textual's Theme, Keys, Maximize, Screenshot or Quit."""
        for command in app_commands(self.action_help, self.action_quit):
            if allowed_system_command(screen, command.callback):
                yield command

    def action_command_palette(self) -> None:
        """Ctrl+P: the palette with the providers that filter by check_action, never a screen's own."""
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(providers=[get_system_commands_provider(), ScreenCommands],
                                            id="--command-palette"))

    async def on_unmount(self) -> None:
        self._release_hangup()
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
        if isinstance(error, HciError):  # a sentence, with its remedy as a key where hcitui has one
            self.report_error(remedies.sentence(error, here=getattr(event.worker.node, "TITLE_TEXT", "")))
        else:
            where = log_crash(error, state_dir(), __version__) if isinstance(error, BaseException) else ""
            self.report_error(f"{type(error).__name__}: {error} (details in {where})")


def run_app(ctx: Context, start: Callable[[], Screen] | None = None) -> int:
    app = HciApp(ctx, start)
    app.exit_watchdog = True
    app.run()
    return app.return_code or 0
