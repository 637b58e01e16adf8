"""The console: ``hcitui`` without a command opens it on the main menu, ``hcitui monitor`` on the Monitor.
The console closes its sessions itself when it ends."""

from __future__ import annotations

import argparse

from hcitui.cli import output
from hcitui.cli.commands.base import Command, Kind
from hcitui.core.errors import ExitCode
from hcitui.workflow.context import Context


def prepare(args: argparse.Namespace) -> int | None:
    """Before the console opens: the monitor's options, and the cluster picker when the config has several.

    Returns an exit status when there is nothing to open (a bad option, or no cluster chosen).
    """
    if args.step == "monitor":
        if args.interval is not None and not 1 <= args.interval <= 3600:
            return output.fail(f"--interval {args.interval:g}: choose from 1 to 3600 seconds", ExitCode.USAGE)
        if not args.live:
            args.read_only = True
    if args.lab or args.cluster is not None:
        return None
    from hcitui.core.config import load_config

    config = load_config(args.config)
    if len(config.clusters) < 2:
        return None
    from hcitui.tui.picker import pick_cluster

    chosen = pick_cluster(config.clusters, read_only=args.read_only)
    if chosen is None:
        return output.fail("no cluster chosen", ExitCode.OK)
    args.cluster = chosen
    return None


def console(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.tui.app import run_app

    return run_app(ctx)


def monitor(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.tui.app import run_app
    from hcitui.tui.screens.monitor import MonitorScreen

    interval = args.interval
    return run_app(ctx, start=lambda: MonitorScreen(interval))


def _monitor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--live", action="store_true",
                        help="open the console live instead of read-only (the Monitor itself only reads)")
    parser.add_argument("--interval", type=float, metavar="S",
                        help="seconds between refreshes, 1 to 3600 (default: the cluster's monitor_interval, 5)")


CONSOLE = Command("", "open the console", console, Kind.CONSOLE)  # no command given: not a subcommand
MONITOR = Command("monitor", "open the console on the Monitor, a dashboard that refreshes on its own (read-only)",
                  monitor, Kind.CONSOLE, _monitor_options)
