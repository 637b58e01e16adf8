"""The console script: argv to the console or to a headless command. No logic of its own.

Exit codes (:class:`hcitui.core.errors.ExitCode`): 0 done, 1 refused or failed (with the reason), 2 usage
or config error, 3 the console was left while a change ran (the journal records it), 128+N ended by
signal N (SIGHUP: the SSH session dropped). Global options may stand before or after the command.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from hcitui import __version__
from hcitui.cli import context as wiring
from hcitui.cli import output
from hcitui.cli.commands import COMMANDS, CONSOLE, MUTATING_STEPS  # noqa: F401  (MUTATING_STEPS: re-exported)
from hcitui.cli.commands.base import Command, Kind, close
from hcitui.cli.commands.console import prepare
from hcitui.cli.parser import build_parser, parse_args  # noqa: F401  (build_parser: re-exported)
from hcitui.core.errors import ExitCode, HciError
from hcitui.core.files import log_crash

# Kept for tests/tui/test_maintenance_ui.py, which imports it; everything else uses ExitCode.
EXIT_LEFT_MID_STEP = ExitCode.LEFT_MID_STEP


def _dispatch(args: argparse.Namespace, command: Command) -> int:
    if command.kind is Kind.OFFLINE:
        return command.run(args)
    if command.kind is Kind.CONSOLE:
        stop = prepare(args)
        if stop is not None:
            return stop
    from hcitui.core.journal import JournalError

    try:
        ctx = wiring.make_context(args)
    except JournalError as exc:
        return output.fail(str(exc), ExitCode.USAGE)
    if command.kind is Kind.CONSOLE:
        return command.run(args, ctx)  # the console closes its sessions itself
    try:
        return command.run(args, ctx)
    finally:
        close(ctx)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version (0) or a usage error (2)
        return int(exc.code or 0)
    command = COMMANDS[args.step] if args.step else CONSOLE
    try:
        return int(_dispatch(args, command))
    except KeyboardInterrupt:
        return output.fail("interrupted", 128 + signal.SIGINT)
    except BrokenPipeError:  # the reader went away (hcitui ops | head): nobody is left to tell
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail
        return 128 + signal.SIGPIPE
    except HciError as exc:  # a sentence, and the exit code it ends with
        return int(output.error(exc))
    except Exception as exc:  # noqa: BLE001  (never a traceback on the operator's screen)
        where = log_crash(exc, wiring.state_root(), __version__)
        return output.fail(f"internal error: {type(exc).__name__}: {exc} (details in {where})")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
