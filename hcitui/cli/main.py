"""Command line: argv to the app or to a headless step. No logic of its own.

Exit codes: 0 done, 1 refused or failed (with the reason), 2 usage or config error, 3 the console was
left while a change ran (the journal records it), 128+N ended by signal N (SIGHUP: the SSH session dropped).
Global options may stand before or after the step name.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hcitui import __version__
from hcitui.core.errors import ExitCode
from hcitui.core.files import log_crash
from hcitui.cli.headless import MUTATING_STEPS  # noqa: F401  (re-exported: the steps that change the cluster)
from hcitui.cli.headless import STEP_OPTIONS
from hcitui.cli.headless import STEPS as MUTATING
from hcitui.cli import headless_sr

EXIT_OK, EXIT_FAILED, EXIT_USAGE = ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE
EXIT_LEFT_MID_STEP = ExitCode.LEFT_MID_STEP

GLOBAL_DEFAULTS: dict[str, Any] = {
    "lab": False,
    "lab_nodes": 4,
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
    """The options every step accepts. SUPPRESS: a value given anywhere is kept, none overwrites it."""
    s = argparse.SUPPRESS
    g = parser.add_argument_group("cluster and mode")
    g.add_argument("--lab", action="store_true", default=s, help="use the embedded lab cluster (LAB-STRETCH)")
    g.add_argument("--lab-nodes", type=int, metavar="N", default=s, help="lab size: an even number 2-16 (default 4)")
    g.add_argument("--lab-reset", action="store_true", default=s, help="start the lab over from a fresh 22H2 cluster")
    g.add_argument("--lab-no-coordinator", action="store_true", default=s,
                   help="the lab without its CAU coordinator (LAB-MGMT): the CAU run starts on a node, as the "
                        "CAU preflight warns")
    g.add_argument("--config", type=Path, metavar="PATH", default=s, help="config file (default: the platform config folder)")
    g.add_argument("--cluster", metavar="NAME", default=s, help="which cluster of the config")
    g.add_argument("--read-only", action="store_true", default=s, help="watch only: every change is refused")
    g.add_argument("--insecure", action="store_true", default=s,
                   help="do not validate the nodes' TLS certificates (the header then says so)")
    g = parser.add_argument_group("step options")
    g.add_argument("--node", metavar="NODE", default=s, help="limit the step to one node")
    g.add_argument("--yes", action="store_true", default=s, help="do not ask for confirmation")
    g.add_argument("--dry-run", action="store_true", default=s, help="print the PowerShell per node; run nothing")
    g.add_argument("--json", action="store_true", default=s, help="print the result as JSON on standard output")


def build_parser() -> argparse.ArgumentParser:
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

    def step(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = steps.add_parser(name, help=help_text, description=help_text)
        _global_options(sub)
        return sub

    step("prereq", "phase 0: check nodes Up on 20349, Azure registration, CAU role, storage quiet, the ISO (read-only)")
    step("verify", "phase 7: check nodes Up on 25398, CSVs online, SR replicating, storage quiet (read-only)")
    step("sr-snapshot", "phase 4: snapshot every SR partnership and group into the journal folder and re-read it "
                        "(reads the cluster only)")
    step("sr-diff", "phase 6: compare the SR configuration with the snapshot; exit 0 same, 1 different (read-only)")
    for name, (_fn, help_text) in MUTATING.items():
        sub = step(name, help_text)
        if name in STEP_OPTIONS:
            STEP_OPTIONS[name](sub)
    ops = step("ops", "list the declared PowerShell operations, or 'ops show NAME' to print one")
    ops.add_argument("words", nargs="*", metavar="show NAME")
    cfg = step("config", "'config example' prints a commented config; 'config check [PATH]' validates one")
    cfg.add_argument("words", nargs="*", metavar="example | check [PATH]")
    lab = step("lab", "'lab serve': serve the lab over WinRM (HTTPS, Basic) on 127.0.0.1 until interrupted")
    lab.add_argument("words", nargs="*", metavar="serve")
    lab.add_argument("--nodes", type=int, metavar="N", help="lab size: an even number 2-16 (default: --lab-nodes, 4)")
    lab.add_argument("--port", type=int, metavar="P", default=None,
                     help="first port: node i listens on P+i, the CAU coordinator after the nodes "
                          "(default: free ports)")
    lab.add_argument("--write-config", type=Path, metavar="PATH", help="also write an hcitui config for this lab")
    knobs = lab.add_argument_group("fault knobs")
    knobs.add_argument("--latency", type=float, metavar="S", help="seconds added to every WinRM request")
    knobs.add_argument("--pool-open-delay", type=float, metavar="S", help="seconds to open a RunspacePool")
    knobs.add_argument("--reboot-seconds", type=float, metavar="S", help="how long a restart takes (default 6)")
    knobs.add_argument("--cau-fail-node", metavar="NODE", help="a CAU run fails on NODE (every attempt)")
    for name, what in (("unreachable", "does not answer at all"), ("http-500", "answers HTTP 500"),
                       ("auth-failure", "refuses every credential"), ("hang", "never answers a request")):
        knobs.add_argument(f"--{name}", action="append", metavar="NODE", default=[], help=f"NODE {what}")
    mon = step("monitor", "open the console on the Monitor, a dashboard that refreshes on its own (read-only)")
    mon.add_argument("--live", action="store_true",
                     help="open the console live instead of read-only (the Monitor itself only reads)")
    mon.add_argument("--interval", type=float, metavar="S",
                     help="seconds between refreshes, 1 to 3600 (default: the cluster's monitor_interval, 5)")
    rep = step("report", "the run history and last verification as Markdown or JSON, for a change record; "
                         "reads the journal and audit log only (the cluster need not be reachable)")
    rep.add_argument("--format", choices=("md", "json"), default=None, help="md (default) or json")
    rep.add_argument("--output", type=Path, metavar="PATH", help="write the report there (default: standard output)")
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    for key, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return args


def fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"hcitui: {message}", file=sys.stderr)
    return code


# ------------------------------------------------------------------------ steps


def cmd_ops(args: argparse.Namespace) -> int:
    from hcitui import ps

    words = args.words
    if not words:
        width = max(len(name) for name in ps.OPERATIONS)
        print(f"{'NAME':<{width}}  {'MUTATES':<7}  {'SCOPE':<7}  SUMMARY")
        for op in ps.OPERATIONS.values():
            print(f"{op.name:<{width}}  {'yes' if op.mutates else 'no':<7}  {op.scope.value:<7}  {op.summary}")
        return EXIT_OK
    if len(words) == 2 and words[0] == "show":
        try:
            op = ps.get(words[1])
        except KeyError as exc:
            return fail(str(exc.args[0]), EXIT_USAGE)
        defaults = {}
        for name, field in op.params.model_fields.items():
            if field.is_required():
                defaults[name] = f"<{field.alias or name}>"
        print(op.render(op.params.model_construct(**defaults)))
        from hcitui.lab import propreads

        print("\n".join(propreads.evidence(op.script)))
        return EXIT_OK
    return fail("usage: hcitui ops [show NAME]", EXIT_USAGE)


def cmd_config(args: argparse.Namespace) -> int:
    from hcitui.core.config import EXAMPLE, ConfigError, default_config_path, load_config

    words = args.words
    if words == ["example"]:
        sys.stdout.write(EXAMPLE)
        return EXIT_OK
    if words and words[0] == "check" and len(words) <= 2:
        path = Path(words[1]) if len(words) == 2 else (args.config or default_config_path())
        try:
            config = load_config(path)
        except ConfigError as exc:
            for problem in exc.problems:
                print(f"hcitui: {problem}", file=sys.stderr)
            return EXIT_USAGE
        for cluster in config.clusters:
            sites = ", ".join(cluster.sites) or "no sites"
            print(f"{path}: ok: cluster {cluster.name}: {len(cluster.nodes)} nodes ({sites}), "
                  f"{cluster.transport.scheme} {cluster.transport.auth}")
        return EXIT_OK
    return fail("usage: hcitui config example | hcitui config check [PATH]", EXIT_USAGE)


def make_context(args: argparse.Namespace) -> Any:
    """The Context for --lab or --config; raises ConfigError for anything wrong."""
    from hcitui.cli import context as wiring

    if args.lab and args.config:
        from hcitui.core.config import ConfigError

        raise ConfigError(["--lab and --config exclude each other"])
    if args.lab:
        lab = wiring.open_lab(_state_root(), args.lab_nodes, reset=args.lab_reset)
        if args.lab_reset:
            print(wiring.reset_lab_records(_state_root(), lab.state.cluster_name), file=sys.stderr)
        return wiring.context_for_lab(lab, read_only=args.read_only, state_root=_state_root(), transport="winrm",
                                      coordinator=not args.lab_no_coordinator)
    cluster = wiring.select_cluster(args.config, args.cluster)
    if args.insecure:
        transport = cluster.transport.model_copy(update={"insecure": True, "ca_file": None})
        changes: dict[str, Any] = {"transport": transport}
        if cluster.coordinator is not None:
            changes["coordinator"] = cluster.coordinator.model_copy(update={"insecure": True, "ca_file": None})
        cluster = cluster.model_copy(update=changes)
    return wiring.context_for_config(cluster, read_only=args.read_only, state_root=_state_root())


def prepare_console(args: argparse.Namespace) -> int | None:
    """Before the console opens: the monitor's options, and the cluster picker when the config has several.

    Returns an exit status when there is nothing to open (a bad option, or no cluster chosen).
    """
    if args.step == "monitor":
        if args.interval is not None and not 1 <= args.interval <= 3600:
            return fail(f"--interval {args.interval:g}: choose from 1 to 3600 seconds", EXIT_USAGE)
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
        return fail("no cluster chosen", EXIT_OK)
    args.cluster = chosen
    return None


def cmd_monitor(args: argparse.Namespace, ctx: Any) -> int:
    from hcitui.tui.app import run_app
    from hcitui.tui.screens.monitor import MonitorScreen

    interval = args.interval
    return run_app(ctx, start=lambda: MonitorScreen(interval))


def cmd_report(args: argparse.Namespace) -> int:
    """Offline: from the journal and the audit log only. No session is opened, no lab is served."""
    from hcitui.cli import context as wiring
    from hcitui.core.config import ConfigError
    from hcitui.core.files import atomic_write_text
    from hcitui.workflow import report

    if args.lab and args.config:
        raise ConfigError(["--lab and --config exclude each other"])
    fmt = args.format or ("json" if args.json else "md")
    root = _state_root()
    if args.lab:
        from hcitui.lab import LabState

        name, nodes = wiring.LAB_CLUSTER, []
        path = wiring.lab_path(root)
        if path.exists():
            try:
                state = LabState.model_validate_json(path.read_text(encoding="utf-8"))
            except ValueError:
                state = None
            if state is not None:
                name = state.cluster_name
                nodes = [report.NodeRef(n.name, n.site) for n in state.nodes.values()]
    else:
        cluster = wiring.select_cluster(args.config, args.cluster)
        name, nodes = cluster.name, [report.NodeRef(n.name, n.site) for n in cluster.nodes]
    data = report.build(name, nodes, report.read_journal(root, name), report.read_audit(root, name))
    text = report.render(data, fmt)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    target = args.output.expanduser()
    if not target.parent.is_dir():
        return fail(f"--output {args.output}: the folder does not exist", EXIT_USAGE)
    try:
        atomic_write_text(target, text, mode=0o644)
    except OSError as exc:
        return fail(f"--output {args.output}: cannot be written ({exc.strerror or exc})")
    print(f"hcitui: report on {name} written to {target}", file=sys.stderr)
    return EXIT_OK


def _state_root() -> Path:
    from hcitui.core.config import state_dir

    return state_dir()


def _event_printer(stream: Any) -> Any:
    def emit(event: Any) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        print(f"{stamp} {event.line()}", file=stream, flush=True)

    return emit


STATUS_WORDS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "unknown": "UNKN"}


def _checks_step(args: argparse.Namespace, ctx: Any, run: Any, read_plan: Any) -> int:
    """A read-only step that judges checks (verify, prereq): dry run, progress, table or JSON, exit status."""
    if args.node and args.node.lower() not in {n.lower() for n in ctx.client.node_names}:
        return fail(f"--node {args.node}: not a node of {ctx.name} ({', '.join(ctx.client.node_names)})", EXIT_USAGE)
    if args.dry_run:
        nodes = [n for n in ctx.client.node_names if not args.node or n.lower() == args.node.lower()]
        print(read_plan(ctx, nodes).preview(), end="")
        print(f"# dry run: nothing was sent to {ctx.name}")
        return EXIT_OK
    progress = sys.stderr if args.json else sys.stdout
    report = asyncio.run(_run_and_close(ctx, run(ctx, on_event=_event_printer(progress)))).for_node(args.node)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
        return EXIT_OK if report.passed else EXIT_FAILED
    print()
    width = max(len(c.name) for c in report.checks)
    for check in report.checks:
        print(f"{STATUS_WORDS[check.status.value]:<5} {check.name:<{width}}  {check.node or '(cluster)':<16} "
              f"{check.reason}")
        if check.remediation and check.status.value != "pass":
            print(f"{'':<5} {'':<{width}}  {'':<16} fix: {check.remediation}")
    print()
    print(report.summary())
    return EXIT_OK if report.passed else EXIT_FAILED


def cmd_verify(args: argparse.Namespace, ctx: Any) -> int:
    from hcitui.workflow import verify

    return _checks_step(args, ctx, verify.run_verification, verify.read_plan)


def cmd_prereq(args: argparse.Namespace, ctx: Any) -> int:
    from hcitui.workflow import prereq

    return _checks_step(args, ctx, prereq.run_prerequisites, prereq.read_plan)


async def _run_and_close(ctx: Any, coro: Any) -> Any:
    try:
        return await coro
    finally:
        await ctx.close()


def cmd_lab(args: argparse.Namespace) -> int:
    import signal
    import threading

    from hcitui.cli import context as wiring

    if args.words != ["serve"]:
        return fail("usage: hcitui lab serve [--nodes N] [--port P] [--write-config PATH] [fault knobs]", EXIT_USAGE)
    nodes = args.nodes or args.lab_nodes
    coordinator = not args.lab_no_coordinator
    endpoints = nodes + (1 if coordinator else 0)  # the CAU coordinator listens after the nodes
    if args.port is not None and not 0 < args.port < 65536 - endpoints:
        return fail(f"--port {args.port}: choose a port from 1024 to {65535 - endpoints}", EXIT_USAGE)
    if args.write_config is not None and not args.write_config.expanduser().parent.is_dir():
        return fail(f"--write-config {args.write_config}: the folder does not exist", EXIT_USAGE)
    lab = wiring.open_lab(_state_root(), nodes, reset=args.lab_reset)
    if args.lab_reset:
        print(wiring.reset_lab_records(_state_root(), lab.state.cluster_name), file=sys.stderr, flush=True)
    from hcitui.lab.state import COORDINATOR

    # The per-node knobs also take the CAU coordinator's name (it is served too, unless --lab-no-coordinator).
    computers = [*lab.state.nodes, *([COORDINATOR] if coordinator else [])]
    # Computer names are Windows names: any case names the computer (its own spelling is kept).
    spelled = {n.lower(): n for n in computers}
    args.unreachable, args.http_500, args.auth_failure, args.hang = (
        [spelled.get(n.lower(), n) for n in names]
        for names in (args.unreachable, args.http_500, args.auth_failure, args.hang))
    if args.cau_fail_node:
        args.cau_fail_node = spelled.get(args.cau_fail_node.lower(), args.cau_fail_node)
    unknown = [n for n in args.unreachable + args.http_500 + args.auth_failure + args.hang if n not in computers]
    unknown += [args.cau_fail_node] if args.cau_fail_node and args.cau_fail_node not in lab.state.nodes else []
    if unknown:
        return fail(f"no lab node named {unknown[0]} (nodes: {', '.join(computers)})", EXIT_USAGE)
    faults = lab.state.faults
    if args.latency is not None:
        faults.latency = max(0.0, args.latency)
    if args.pool_open_delay is not None:
        faults.pool_open_delay = max(0.0, args.pool_open_delay)
    if args.reboot_seconds is not None:
        lab.state.timings.reboot = max(0.5, args.reboot_seconds)
    faults.unreachable, faults.http_500 = list(args.unreachable), list(args.http_500)
    faults.auth_failure, faults.hang = list(args.auth_failure), list(args.hang)
    faults.cau_fail_node = args.cau_fail_node
    lab.save()
    try:
        served = wiring.serve_lab(lab, _state_root(), base_port=args.port, coordinator=coordinator)
    except OSError as exc:
        return fail(f"cannot listen: {exc.strerror or exc}", EXIT_FAILED)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if args.write_config is not None:
            from hcitui.core.files import atomic_write_text

            atomic_write_text(args.write_config.expanduser(), wiring.served_config_text(served), mode=0o600)
        for line in served.lines():
            print(line, flush=True)
        if args.write_config is not None:
            print(f"config {args.write_config}", flush=True)
        while not stop.wait(1.0):  # a timed wait: signal handlers always get to run
            pass
    finally:
        served.stop()
        lab.save()
    return EXIT_OK


HEADLESS = {"verify": cmd_verify, "prereq": cmd_prereq}
HEADLESS.update({"sr-snapshot": headless_sr.cmd_sr_snapshot, "sr-diff": headless_sr.cmd_sr_diff})

# The steps that change the cluster live in hcitui.cli.headless; read-only refuses them up front.
HEADLESS.update({name: fn for name, (fn, _help) in MUTATING.items()})


def _log_crash(exc: BaseException) -> str:
    return log_crash(exc, _state_root(), __version__)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version (0) or a usage error (2)
        return int(exc.code or 0)
    from hcitui.core.config import ConfigError
    from hcitui.core.journal import JournalError
    from hcitui.lab import LabError

    try:
        if args.step == "ops":
            return cmd_ops(args)
        if args.step == "config":
            return cmd_config(args)
        if args.step == "lab":
            return cmd_lab(args)
        if args.step == "report":
            return cmd_report(args)
        if args.step in (None, "monitor"):
            stop = prepare_console(args)
            if stop is not None:
                return stop
        try:
            ctx = make_context(args)
        except ConfigError as exc:
            for problem in exc.problems:
                print(f"hcitui: {problem}", file=sys.stderr)
            return EXIT_USAGE
        except (LabError, JournalError) as exc:
            return fail(str(exc), EXIT_USAGE)
        if args.step is None:
            from hcitui.tui.app import run_app

            return run_app(ctx)
        if args.step == "monitor":
            return cmd_monitor(args, ctx)
        return HEADLESS[args.step](args, ctx)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"hcitui: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # never a traceback on the operator's screen
        where = _log_crash(exc)
        return fail(f"internal error: {type(exc).__name__}: {exc} (details in {where})")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
