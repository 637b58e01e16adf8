"""The command line's grammar: global options, which may stand before or after the command, and each
command's own (declared with the command, in :mod:`hcitui.cli.commands`).

Parsing imports one command module at most: the one named on the command line. The commands are listed
from :data:`hcitui.cli.commands.ENTRIES` (names and help lines), so ``hcitui --help`` imports none.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hcitui import __version__
from hcitui.cli.commands import ENTRIES, load

GLOBAL_DEFAULTS: dict[str, Any] = {
    "lab": False,
    "lab_nodes": 4,
    "lab_sites": 2,
    "lab_reset": False,
    "lab_no_coordinator": False,
    "config": None,
    "cluster": None,
    "read_only": False,
    "insecure": False,
    "node": None,
    "yes": False,
    "dry_run": False,
    "json": False,
}


def _global_options(parser: argparse.ArgumentParser) -> None:
    """The options every command accepts. SUPPRESS: a value given anywhere is kept, none overwrites it."""
    s = argparse.SUPPRESS
    g = parser.add_argument_group("cluster and mode")
    g.add_argument("--lab", action="store_true", default=s, help="use the embedded lab cluster (LAB-STRETCH)")
    g.add_argument("--lab-nodes", type=int, metavar="N", default=s, help="lab size: 2-16, even if 2 sites (default 4)")
    g.add_argument("--lab-sites", type=int, choices=(1, 2), metavar="N", default=s,
                   help="lab sites: 2 (default), stretched LAB-STRETCH; 1, LAB-SINGLE without Storage Replica")
    g.add_argument("--lab-reset", action="store_true", default=s, help="start the lab over from a fresh 22H2 cluster")
    g.add_argument("--lab-no-coordinator", action="store_true", default=s,
                   help="the lab without its CAU coordinator (LAB-MGMT): the CAU run starts on a node, as the "
                        "CAU preflight warns")
    g.add_argument("--config", type=Path, metavar="PATH", default=s,
                   help="config file (default: the platform config folder)")
    g.add_argument("--cluster", metavar="NAME", default=s, help="which cluster of the config")
    g.add_argument("--read-only", action="store_true", default=s, help="watch only: every change is refused")
    g.add_argument("--insecure", action="store_true", default=s,
                   help="do not validate the nodes' TLS certificates (the header then says so)")
    g = parser.add_argument_group("step options")
    g.add_argument("--node", metavar="NODE", default=s, help="limit the step to one node")
    g.add_argument("--yes", action="store_true", default=s, help="do not ask for confirmation")
    g.add_argument("--dry-run", action="store_true", default=s, help="print the PowerShell per node; run nothing")
    g.add_argument("--json", action="store_true", default=s, help="print the result as JSON on standard output")


def build_parser(only: str | None = None, *, stubs: bool = False) -> argparse.ArgumentParser:
    """The whole grammar. ``only``: the options of that command alone are declared (the others are
    listed, as ``--help`` lists them, without their options); ``stubs``: no command's options at all,
    nor their ``--help`` (what :func:`parse_args` reads the command's name with)."""
    parser = argparse.ArgumentParser(
        prog="hcitui",
        description="Upgrade an Azure Stack HCI stretched cluster from 22H2 to 23H2, node by node. "
        "Without a step, opens the console.",
        epilog="Examples: hcitui --lab | hcitui --lab verify --json | hcitui --config hci.toml verify | "
        "hcitui config example > hci.toml",
    )
    parser.add_argument("--version", action="version", version=f"hcitui {__version__}")
    _global_options(parser)
    steps = parser.add_subparsers(dest="step", metavar="STEP")
    for entry in ENTRIES:
        sub = steps.add_parser(entry.name, help=entry.help, description=entry.help, add_help=not stubs)
        _global_options(sub)
        if stubs or (only is not None and entry.name != only):
            continue
        command = load(entry.name)
        if command.options is not None:
            command.options(sub)
    return parser


def _command_named(argv: list[str]) -> str | None:
    """The command ``argv`` names (None: the console), read by a grammar that knows no command's options;
    a usage error, ``--help`` or ``--version`` before the command ends here exactly as it would later."""
    args, _rest = build_parser(stubs=True).parse_known_args(argv)
    return args.step


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parsed options, every global one present (its default when not given). Raises SystemExit for
    ``--help``, ``--version`` and a usage error, as argparse does."""
    step = _command_named(argv)
    args = build_parser(only=step or "").parse_args(argv)
    for key, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return args
