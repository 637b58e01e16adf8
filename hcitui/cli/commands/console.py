"""The console: ``hcitui`` without a command opens it on the main menu, ``hcitui monitor`` on the Monitor.
The console closes its sessions itself when it ends.

``hcitui --lab`` paints first: the lab is served and the sessions open their pools in the background once
the menu is on the screen (:func:`open_console`); a call made before then waits for them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hcitui.cli import output
from hcitui.cli.commands.base import Command, Kind
from hcitui.core.errors import ExitCode

if TYPE_CHECKING:
    from hcitui.remote import Session
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


def open_console(args: argparse.Namespace) -> Context:
    """The console's Context: as every command's (:func:`hcitui.cli.context.make_context`, whose lab branch
    this follows), except that with ``--lab`` the lab is opened now but served later: its sessions wait for
    :meth:`Opening.start`, which the app calls once it has painted (``ctx.open_after_paint``), or for their
    first call."""
    from hcitui.cli import context as wiring
    from hcitui.core.audit import AuditLog
    from hcitui.core.config import ConfigError
    from hcitui.remote.session import DeferredSession, Opening

    if not args.lab or args.config:
        return wiring.make_context(args)  # --lab with --config: its usage error
    root = wiring.state_root()
    try:
        lab = wiring.open_lab(root, args.lab_nodes, reset=args.lab_reset, sites=args.lab_sites)
    except wiring.LabError as exc:  # the lab's own file cannot be used: a usage problem, in one sentence
        raise ConfigError([str(exc)]) from None
    if args.lab_reset:
        print(wiring.reset_lab_records(root, lab.state.cluster_name), file=sys.stderr, flush=True)
    coordinator = not args.lab_no_coordinator
    read_only = args.read_only
    cluster = wiring.lab_cluster_config(lab, coordinator=coordinator)
    audit = AuditLog.open(root, cluster.name, max_bytes=cluster.audit_max_bytes, keep=cluster.audit_keep)
    served: list[wiring.ServedLab] = []

    def serve() -> dict[str, Session]:
        from hcitui.remote.psrp import PsrpSessionFactory

        lab_served = wiring.serve_lab(lab, root, coordinator=coordinator)
        served.append(lab_served)
        factory = PsrpSessionFactory(lab_served.cluster, password=lab_served.password)
        audit.add_secret(factory.password)
        sessions: dict[str, Session] = {
            node.name: factory.session(node, read_only=read_only, audit=audit) for node in lab_served.cluster.nodes}
        extra = wiring._coordinator_session(lab_served.cluster, factory, read_only=read_only, audit=audit)
        if extra is not None:
            sessions[extra.node] = extra
        ctx.transport_note = "lab over WinRM, " + factory.describe()
        return sessions

    def warm(sessions: dict[str, Session]) -> None:
        from hcitui.remote.psrp import PsrpSession, PsrpSessionFactory

        pool = PsrpSessionFactory.executor()
        for session in sessions.values():
            if isinstance(session, PsrpSession):
                pool.submit(session.warm_up)

    def stop() -> None:
        opening.wait(30)
        for lab_served in served:
            lab_served.stop()

    opening = Opening(serve, after=warm)
    nodes = {node.name: DeferredSession(node.name, opening, read_only=read_only) for node in cluster.nodes}
    deferred_coordinator = (DeferredSession(cluster.coordinator.host, opening, read_only=read_only)
                            if cluster.coordinator is not None else None)
    ctx = wiring._context(cluster, nodes, audit, root, read_only=read_only, lab=True,
                          note="lab over WinRM, " + _lab_note(wiring, lab, coordinator),
                          coordinator=deferred_coordinator)
    ctx.cleanup.append(stop)
    ctx.open_after_paint = opening.start  # read by the app (tui/app.py)
    return ctx


def _lab_note(wiring: Any, lab: Any, coordinator: bool) -> str:  # the context module, the Lab
    """How the served lab will be reached, in the header's words, before it is served: one HTTPS port per
    node, Basic, the lab's CA (the same words the sessions give once they exist)."""
    from hcitui.remote.psrp import PsrpSessionFactory

    names = [*lab.state.nodes]
    cluster = wiring.lab_cluster_config(lab, {name: f"127.0.0.1:{index + 1}" for index, name in enumerate(names)},
                                        coordinator=coordinator)
    # The CA file is written when the lab is served: named here, not checked (model_copy validates nothing).
    transport = cluster.transport.model_copy(update={"ca_file": Path("lab-ca.pem")})
    cluster = cluster.model_copy(update={"transport": transport})
    return PsrpSessionFactory(cluster, password="-", prompt=False).describe()


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


CONSOLE = Command("", console, Kind.CONSOLE)  # no command given: not a subcommand
MONITOR = Command("monitor", monitor, Kind.CONSOLE, _monitor_options)
