"""Cluster-Aware Updating, headless (phases 2 and 5): ``cau-preflight``, ``cau-run`` (which reattaches
to a run in progress), ``cau-stop`` and ``cau-recover``. A run that fails is explained before the error
line: per node, the operation that failed, the PowerShell error's text and the command to run next."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from hcitui.cli import output, remedies
from hcitui.cli.commands.base import Command, dry_run, run
from hcitui.cli.commands.steps import OVERRIDE_HELP, override_reason, run_mutating
from hcitui.cli.output import UsageError
from hcitui.core.errors import ExitCode
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress
from hcitui.workflow.steps import StepFailed


def _short(run_id: str | None, unknown: str = "?") -> str:
    return (run_id or unknown)[:8]


# ---------------------------------------------------------------------------- preflight


def _show_preflight(args: argparse.Namespace, ctx: Context, report: Any) -> None:
    """The preflight's checks as verify's and prereq's are shown: the table and its summaries, or JSON."""
    if args.json:
        output.checks_json({"cluster": ctx.name, "passed": report.passed, "gates_open": report.gates_open,
                            "summary": report.summary(), "gates": report.gates_summary(),
                            "checks": [{**c.as_json(), **({"gate": True} if c.gate else {})} for c in report.checks]})
        return
    output.checks_table(report.checks)
    print(report.summary())
    print(report.gates_summary())


def preflight(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import cau

    if args.tests_only:  # reads only: allowed in a read-only session
        if args.dry_run:
            return dry_run(ctx, cau.plan_preflight(ctx, remoting=False))
        printer = output.Printer(sys.stderr if args.json else sys.stdout)
        report = run(cau.preflight(ctx, printer, remoting=False))
        _show_preflight(args, ctx, report)
        return ExitCode.OK if report.passed else ExitCode.FAILED

    async def runner(progress: Progress) -> Any:
        report = await cau.preflight(ctx, progress)
        _show_preflight(args, ctx, report)
        if not report.passed:
            raise StepFailed("cau-preflight", report.summary())
        return report

    return run_mutating(args, ctx, "cau-preflight", cau.plan_preflight(ctx), runner)


def _preflight_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tests-only", action="store_true",
                        help="only the checks (remoting state, the CAU coordinator, Test-CauSetup, Test-Cluster, "
                             "Invoke-CauScan): nothing is changed, so it also runs --read-only")


# ---------------------------------------------------------------------------------- run


def _options(args: argparse.Namespace, ctx: Context) -> tuple[Any, str | None]:
    """The run's options and the registry override's reason, checked (a usage error says what is wrong)."""
    from hcitui.workflow import cau

    plugin = cau.WINDOWS_UPDATE if args.plugin == "windows-update" else cau.ROLLING_UPGRADE
    options = cau.RunOptions.defaults(plugin)
    chosen = {"max_failed_nodes": args.max_failed_nodes, "max_retries_per_node": args.max_retries_per_node,
              "require_all_nodes_online": args.require_all_nodes_online}
    options = dataclasses.replace(options, **{k: v for k, v in chosen.items() if v is not None})
    if plugin != cau.ROLLING_UPGRADE and (args.update_functional_level or args.override_registry is not None):
        raise UsageError("cau-run: --update-functional-level and --override-registry are for the rolling upgrade, "
                         "not --plugin windows-update")
    override = override_reason(args, "cau-run")
    options = dataclasses.replace(options, update_functional_level=args.update_functional_level)
    problems = options.problems(len(ctx.client.node_names))
    if problems:
        raise UsageError("cau-run: " + "; ".join(problems))
    return options, override


def explain(explanation: Any, stream: Any = None) -> None:
    """Why the run failed, per node: its operation, the error's text and what to run next."""
    if explanation is None:
        return
    stream = stream or sys.stderr
    print(f"why: {explanation.headline}", file=stream)
    for failure in explanation.failures:
        print(f"  {failure.node}: {failure.operation}", file=stream)
        print(f"    error: {failure.error}", file=stream)
        advice = remedies.advice(failure.remedy)
        if advice:
            print(f"    next: {advice}", file=stream)
    if not explanation.failures and explanation.remedy is not None:
        print(f"  next: {remedies.advice(explanation.remedy)}", file=stream)
    stream.flush()


async def _monitor(ctx: Context, progress: Progress) -> Any:
    """Watch the run until it ends; a failure is explained before it is raised (and printed as an error)."""
    from hcitui.workflow import cau

    watch = cau.RunWatch()
    try:
        outcome = await cau.monitor(ctx, progress, watch=watch)
    except StepFailed:
        explain(watch.explanation)
        raise
    print(outcome.sentence)
    return outcome


def _watch(ctx: Context, run_id: str | None) -> int:
    """Watch the run in progress (reads only) until it ends; one line per node status change."""
    print(f"hcitui: a CAU run ({_short(run_id, 'interrupted')}) is in progress on {ctx.name}: watching it; "
          "nothing new is started", flush=True)
    run(_monitor(ctx, output.Printer()))
    return ExitCode.OK


def run_cau(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import cau

    options, override = _options(args, ctx)
    if not args.dry_run:
        found = run(cau.read_run(ctx))
        if cau.should_watch(ctx, found):  # reattach: a run is in progress, or was when hcitui last stopped
            run_id = getattr(found, "run_id", None)
            if args.no_wait:
                print(f"hcitui: a CAU run ({_short(run_id)}) is in progress on {ctx.name}; nothing new was started")
                return ExitCode.OK
            return _watch(ctx, run_id)

    async def runner(progress: Progress) -> Any:
        started = await cau.start(ctx, options, progress, override_registry=override)
        if args.no_wait:
            print(f"run {_short(started.run_id)} started; it goes on without hcitui. "
                  "'hcitui cau-run' watches it until it ends.")
            return started
        return await _monitor(ctx, progress)

    # --no-wait hands the run over: what is done is its start, not the run ("cau-run start: done").
    return run_mutating(args, ctx, "cau-run start" if args.no_wait else "cau-run", cau.plan_start(ctx, options),
                        runner, destructive=options.update_functional_level)


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", choices=("rolling-upgrade", "windows-update"), default="rolling-upgrade",
                        help="rolling-upgrade: the 23H2 OS upgrade from staging_path (default); windows-update: "
                             "the monthly updates")
    parser.add_argument("--max-failed-nodes", type=int, metavar="N", default=None,
                        help="the run stops when more nodes fail (default: 0 for the upgrade, 1 for updates)")
    parser.add_argument("--max-retries-per-node", type=int, metavar="N", default=None,
                        help="retries of one node before it counts as failed (default 3)")
    parser.add_argument("--require-all-nodes-online", action=argparse.BooleanOptionalAction, default=None,
                        help="every node must be online before the run begins (default: on)")
    parser.add_argument("--no-wait", action="store_true",
                        help="start the run and return; a later cau-run reattaches to it and waits")
    parser.add_argument("--update-functional-level", action="store_true",
                        help="UpdateClusterFunctionalLevel: the run raises the functional level at its end (default "
                             "off: post-upgrade raises it after verification); it cannot be undone, so it "
                             "needs --yes, which stands for typing the cluster's name")
    parser.add_argument("--override-registry", metavar="REASON", default=None, help=OVERRIDE_HELP)


# ------------------------------------------------------------------------ stop, recover


def stop(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import cau

    return run_mutating(args, ctx, "cau-stop", cau.plan_stop(ctx), lambda progress: cau.stop(ctx, progress))


def recover(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import cau

    return run_mutating(args, ctx, "cau-recover", cau.plan_recover(ctx), lambda progress: cau.recover(ctx, progress))


PREFLIGHT = Command("cau-preflight", preflight, options=_preflight_options)
RUN = Command("cau-run", run_cau, options=_run_options)
STOP = Command("cau-stop", stop)
RECOVER = Command("cau-recover", recover)
