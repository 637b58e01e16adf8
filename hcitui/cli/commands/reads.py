"""Commands that only read: ``verify`` and ``prereq`` (the cluster), ``report`` (the journal and the
audit log), ``ops`` (the declared operations) and ``config`` (an example, or a check of a file)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hcitui.cli import context as wiring
from hcitui.cli import output
from hcitui.cli.commands.base import Command, Kind, dry_run, node_of, run
from hcitui.core.errors import ExitCode
from hcitui.workflow.context import Context
from hcitui.workflow.steps import Plan


def _checks(args: argparse.Namespace, ctx: Context, judge: Callable[..., Any],
            read_plan: Callable[[Context, list[str]], Plan]) -> int:
    """A step that judges checks (verify, prereq): dry run, progress, the table or JSON, exit status."""
    node = node_of(args, ctx)
    if args.dry_run:
        return dry_run(ctx, read_plan(ctx, [node] if node else list(ctx.client.node_names)))
    printer = output.Printer(sys.stderr if args.json else sys.stdout)
    report = run(judge(ctx, on_event=printer)).for_node(node)
    if args.json:
        output.checks_json(report.as_json())
    else:
        output.checks_table(report.checks)
        print(report.summary())
    return ExitCode.OK if report.passed else ExitCode.FAILED


def verify(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import verify as step

    return _checks(args, ctx, step.run_verification, step.read_plan)


def prereq(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import prereq as step

    return _checks(args, ctx, step.run_prerequisites, step.read_plan)


def report(args: argparse.Namespace) -> int:
    """Offline: from the journal and the audit log only. No session is opened, no lab is served."""
    from hcitui.core.config import ConfigError
    from hcitui.core.files import atomic_write_text
    from hcitui.workflow import report as history

    if args.lab and args.config:
        raise ConfigError(["--lab and --config exclude each other"])
    fmt = args.format or ("json" if args.json else "md")
    root = wiring.state_root()
    if args.lab:
        sites = getattr(args, "lab_sites", 2)
        name, nodes = (wiring.LAB_CLUSTER if sites > 1 else wiring.LAB_SINGLE), []
        found = wiring.lab_cluster_nodes(root, sites)
        if found is not None:
            name, nodes = found[0], [history.NodeRef(node, site) for node, site in found[1]]
    else:
        cluster = wiring.select_cluster(args.config, args.cluster)
        name, nodes = cluster.name, [history.NodeRef(n.name, n.site) for n in cluster.nodes]
    data = history.build(name, nodes, history.read_journal(root, name), history.read_audit(root, name))
    text = history.render(data, fmt)
    if args.output is None:
        sys.stdout.write(text)
        return ExitCode.OK
    target = args.output.expanduser()
    if not target.parent.is_dir():
        return output.fail(f"--output {args.output}: the folder does not exist", ExitCode.USAGE)
    try:
        atomic_write_text(target, text, mode=0o644)
    except OSError as exc:
        return output.fail(f"--output {args.output}: cannot be written ({exc.strerror or exc})")
    output.note(f"hcitui: report on {name} written to {target}")
    return ExitCode.OK


def _report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("md", "json"), default=None, help="md (default) or json")
    parser.add_argument("--output", type=Path, metavar="PATH",
                        help="write the report there (default: standard output)")


def ops(args: argparse.Namespace) -> int:
    from hcitui import ps

    words = args.words
    if not words:
        width = max(len(name) for name in ps.OPERATIONS)
        print(f"{'NAME':<{width}}  {'MUTATES':<7}  {'SCOPE':<7}  SUMMARY")
        for op in ps.OPERATIONS.values():
            print(f"{op.name:<{width}}  {'yes' if op.mutates else 'no':<7}  {op.scope.value:<7}  {op.summary}")
        return ExitCode.OK
    if len(words) == 2 and words[0] == "show":
        try:
            op = ps.get(words[1])
        except KeyError as exc:
            return output.fail(str(exc.args[0]), ExitCode.USAGE)
        defaults = {}
        for name, field in op.params.model_fields.items():
            if field.is_required():
                defaults[name] = f"<{field.alias or name}>"
        print(op.render(op.params.model_construct(**defaults)))
        print("\n".join(wiring.script_evidence(op.script)))
        return ExitCode.OK
    return output.fail("usage: hcitui ops [show NAME]", ExitCode.USAGE)


def config(args: argparse.Namespace) -> int:
    from hcitui.core.config import EXAMPLE, default_config_path, load_config

    words = args.words
    if words == ["example"]:
        sys.stdout.write(EXAMPLE)
        return ExitCode.OK
    if words and words[0] == "check" and len(words) <= 2:
        path = Path(words[1]) if len(words) == 2 else (args.config or default_config_path())
        loaded = load_config(path)  # a ConfigError says each problem on a line of its own (exit 2)
        for cluster in loaded.clusters:
            sites = ", ".join(cluster.sites) or "no sites"
            print(f"{path}: ok: cluster {cluster.name}: {len(cluster.nodes)} nodes ({sites}), "
                  f"{cluster.transport.scheme} {cluster.transport.auth}")
        return ExitCode.OK
    return output.fail("usage: hcitui config example | hcitui config check [PATH]", ExitCode.USAGE)


def _words(metavar: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("words", nargs="*", metavar=metavar)

    return add


PREREQ = Command("prereq", prereq)
VERIFY = Command("verify", verify)
OPS = Command("ops", ops, Kind.OFFLINE,
              _words("show NAME"))
CONFIG = Command("config", config, Kind.OFFLINE, _words("example | check [PATH]"))
REPORT = Command("report", report, Kind.OFFLINE, _report_options)
