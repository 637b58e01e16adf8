"""The console script: argv to the console or to a headless command. No logic of its own.

Exit codes (:class:`hcitui.core.errors.ExitCode`): 0 done, 1 refused or failed (with the reason), 2 usage
or config error, 3 the console was left while a change ran (the journal records it), 128+N ended by
signal N (SIGHUP: the SSH session dropped). Global options may stand before or after the command.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from hcitui.cli.parser import parse_args

if TYPE_CHECKING:
    from hcitui.cli.commands.base import Command

# Imported on first use (PEP 562 below): printing the help, or a usage error, imports no more than the
# grammar; a command imports what it runs, the console what it shows first.
_LAZY = {
    "COMMANDS": "hcitui.cli.commands", "CONSOLE": "hcitui.cli.commands", "MUTATING_STEPS": "hcitui.cli.commands",
    "build_parser": "hcitui.cli.parser",
    # Kept for tests/tui/test_maintenance_ui.py, which imports it; everything else uses ExitCode.
    "EXIT_LEFT_MID_STEP": "hcitui.core.errors",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        return module.ExitCode.LEFT_MID_STEP if name == "EXIT_LEFT_MID_STEP" else getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_gc_paused = False  # main() paused the garbage collector for start-up (see there)


def _resume_gc(*, freeze: bool = False) -> None:
    """Start-up is over: the collector runs again (``freeze``: what start-up made is left out of its
    walks for good, the console's long-lived screens and models)."""
    global _gc_paused
    if _gc_paused:
        _gc_paused = False
        if freeze:
            gc.freeze()
        gc.enable()


def _dispatch(args: argparse.Namespace, command: Command) -> int:
    from hcitui.cli import context as wiring
    from hcitui.cli import output
    from hcitui.cli.commands.base import Kind, close
    from hcitui.core.errors import ExitCode

    if command.kind is Kind.OFFLINE:
        _resume_gc()
        return command.run(args)
    if command.kind is Kind.CONSOLE:
        from hcitui.cli.commands.console import prepare

        stop = prepare(args)
        if stop is not None:
            return stop
    from hcitui.core.journal import JournalError

    try:
        if command.kind is Kind.CONSOLE:
            from hcitui.cli.commands.console import open_console

            ctx = open_console(args)  # with --lab, the lab is served once the console has painted
        else:
            ctx = wiring.make_context(args)
    except JournalError as exc:
        return output.fail(str(exc), ExitCode.USAGE)
    if command.kind is Kind.CONSOLE:
        opener = ctx.open_after_paint

        def painted() -> None:  # the app calls it once the first screen is on the terminal
            _resume_gc(freeze=True)
            if opener is not None:
                opener()

        ctx.open_after_paint = painted
        return command.run(args, ctx)  # the console closes its sessions itself
    _resume_gc()
    try:
        return command.run(args, ctx)
    finally:
        close(ctx)


def main(argv: list[str] | None = None) -> int:
    """Start-up imports a great deal and frees next to nothing: the garbage collector is paused until a
    command runs, or until the console has painted its first screen, and restored when main returns."""
    global _gc_paused
    paused = gc.isenabled()
    if paused:
        gc.disable()
        _gc_paused = True
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    finally:
        if paused:
            _resume_gc()


def _main(argv: list[str]) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version (0) or a usage error (2)
        return int(exc.code or 0)
    from hcitui.cli import output
    from hcitui.cli.commands import load
    from hcitui.core.errors import HciError

    try:
        return int(_dispatch(args, load(args.step or "")))
    except KeyboardInterrupt:
        return output.fail("interrupted", 128 + signal.SIGINT)
    except BrokenPipeError:  # the reader went away (hcitui ops | head): nobody is left to tell
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail
        return 128 + signal.SIGPIPE
    except HciError as exc:  # a sentence, and the exit code it ends with
        return int(output.error(exc))
    except Exception as exc:  # noqa: BLE001  (never a traceback on the operator's screen)
        from hcitui import __version__
        from hcitui.cli import context as wiring
        from hcitui.core.files import log_crash

        where = log_crash(exc, wiring.state_root(), __version__)
        return output.fail(f"internal error: {type(exc).__name__}: {exc} (details in {where})")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
