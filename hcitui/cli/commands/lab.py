"""``hcitui lab serve``: the lab over WinRM (HTTPS, Basic) on 127.0.0.1 until interrupted, with its
fault knobs, and an hcitui config for it on request (:mod:`hcitui.lab.serve` does the serving)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hcitui.cli import context as wiring
from hcitui.cli import output
from hcitui.cli.commands.base import Command, Kind, spelled
from hcitui.core.config import ConfigError
from hcitui.core.errors import ExitCode

USAGE = "usage: hcitui lab serve [--nodes N] [--sites 1|2] [--port P] [--write-config PATH] [fault knobs]"
KNOBS = (("unreachable", "does not answer at all"), ("http-500", "answers HTTP 500"),
         ("auth-failure", "refuses every credential"), ("hang", "never answers a request"))


def _computer(name: str, computers: list[str]) -> str:
    """A fault knob's computer, as the lab spells it."""
    try:
        match = spelled(name, computers)
    except ConfigError:
        match = None
    if match is None:
        raise output.UsageError(f"no lab node named {name} (nodes: {', '.join(computers)})")
    return match


def serve(args: argparse.Namespace) -> int:
    from hcitui.core.files import atomic_write_text
    from hcitui.lab import serve as lab_serve
    from hcitui.lab.state import COORDINATOR

    if args.words != ["serve"]:
        return output.fail(USAGE, ExitCode.USAGE)
    nodes = args.nodes or args.lab_nodes
    sites = args.sites or args.lab_sites
    coordinator = not args.lab_no_coordinator
    endpoints = nodes + (1 if coordinator else 0)  # the CAU coordinator listens after the nodes
    if args.port is not None and not 0 < args.port < 65536 - endpoints:
        return output.fail(f"--port {args.port}: choose a port from 1024 to {65535 - endpoints}", ExitCode.USAGE)
    if args.write_config is not None and not args.write_config.expanduser().parent.is_dir():
        return output.fail(f"--write-config {args.write_config}: the folder does not exist", ExitCode.USAGE)
    root = wiring.state_root()
    lab = wiring.open_lab(root, nodes, reset=args.lab_reset, sites=sites)
    if args.lab_reset:
        output.note(wiring.reset_lab_records(root, lab.state.cluster_name))
    # The per-node knobs also take the CAU coordinator's name (it is served too, unless --lab-no-coordinator).
    computers = [*lab.state.nodes, *([COORDINATOR] if coordinator else [])]
    per_node = {knob: [_computer(n, computers) for n in getattr(args, knob)]
                for knob in ("unreachable", "http_500", "auth_failure", "hang")}
    cau_fail = _computer(args.cau_fail_node, list(lab.state.nodes)) if args.cau_fail_node else None
    lab_serve.set_knobs(lab, latency=args.latency, pool_open_delay=args.pool_open_delay,
                        reboot_seconds=args.reboot_seconds, cau_fail_node=cau_fail, **per_node)
    lab.save()
    try:
        served = wiring.serve_lab(lab, root, base_port=args.port, coordinator=coordinator)
    except OSError as exc:
        return output.fail(f"cannot listen: {exc.strerror or exc}")
    stop = lab_serve.stop_on_signals()
    try:
        if args.write_config is not None:
            atomic_write_text(args.write_config.expanduser(), wiring.served_config_text(served), mode=0o600)
        for line in served.lines():
            print(line, flush=True)
        if args.write_config is not None:
            print(f"config {args.write_config}", flush=True)
        lab_serve.serve_until(stop)
    finally:
        served.stop()
        lab.save()
    return ExitCode.OK


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("words", nargs="*", metavar="serve")
    parser.add_argument("--nodes", type=int, metavar="N",
                        help="lab size: 2-16, even with two sites (default: --lab-nodes, 4)")
    parser.add_argument("--sites", type=int, choices=(1, 2), metavar="N",
                        help="2: the stretched lab LAB-STRETCH; 1: LAB-SINGLE, one site without Storage Replica "
                             "(default: --lab-sites, 2)")
    parser.add_argument("--port", type=int, metavar="P", default=None,
                        help="first port: node i listens on P+i, the CAU coordinator after the nodes "
                             "(default: free ports)")
    parser.add_argument("--write-config", type=Path, metavar="PATH", help="also write an hcitui config for this lab")
    knobs = parser.add_argument_group("fault knobs")
    knobs.add_argument("--latency", type=float, metavar="S", help="seconds added to every WinRM request")
    knobs.add_argument("--pool-open-delay", type=float, metavar="S", help="seconds to open a RunspacePool")
    knobs.add_argument("--reboot-seconds", type=float, metavar="S", help="how long a restart takes (default 6)")
    knobs.add_argument("--cau-fail-node", metavar="NODE", help="a CAU run fails on NODE (every attempt)")
    for name, what in KNOBS:
        knobs.add_argument(f"--{name}", action="append", metavar="NODE", default=[], help=f"NODE {what}")


LAB = Command("lab", serve,
              Kind.OFFLINE, _options)
