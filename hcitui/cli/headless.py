"""Headless mutating steps: the same workflow as the screens, for scripts and runs without one.

One runner serves every mutating step: refuse in read-only mode before anything is sent,
print the plan's PowerShell on ``--dry-run`` and run nothing, ask (or require ``--yes``
without a terminal), print one progress line per change of a node's status, and turn a
refusal or a failure into sentences with exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from hcitui.workflow import maintenance
from hcitui.workflow import registry, staging
from hcitui.workflow.context import Context
from hcitui.workflow.steps import Plan, Refused, StepFailed
from hcitui.workflow.events import Progress, ProgressEvent

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

Runner = Callable[[Progress], Awaitable[Any]]


class ProgressPrinter:
    """One line per node each time what it is doing changes (not per poll)."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.last: dict[str, str] = {}

    def __call__(self, event: ProgressEvent) -> None:
        node, text, fraction = event.node, event.text, event.fraction
        shown = text if fraction is None else f"{text} [{fraction:.0%}]"
        key = text.split(":")[0] if fraction is not None else text  # a moving percentage is one status
        if self.last.get(node) == key and (fraction is None or fraction < 1.0):
            return
        self.last[node] = key
        print(f"{datetime.now():%H:%M:%S} {node:<16} {shown}", file=self.stream, flush=True)


def _ask(plan: Plan) -> bool:
    print(plan.preview())
    try:
        answer = input("Run this? Type yes to proceed: ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def run_mutating(args: argparse.Namespace, ctx: Context, step: str, plan: Plan | Callable[[], Plan],
                 runner: Runner, *, destructive: bool = False) -> int:
    """``plan`` may be a function when building it needs reads (called after the read-only check).
    ``destructive``: a step that cannot be undone; --yes stands for its typed confirmation, and
    without --yes it refuses rather than asking."""
    if ctx.read_only:
        print(f"hcitui: {step} refused: this session is read-only and {step} changes the cluster; "
              "nothing was sent", file=sys.stderr)
        return EXIT_FAILED
    if callable(plan):
        plan = plan()
    if args.dry_run:
        print(plan.preview(), end="")
        print(f"# dry run: nothing was sent to {ctx.name}")
        return EXIT_OK
    if not args.yes and destructive:
        print(f"hcitui: {step} cannot be undone: add --yes (it stands for typing the cluster's name); "
              "nothing was sent", file=sys.stderr)
        return EXIT_FAILED
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"hcitui: {step} changes the cluster: add --yes to run it without a prompt "
                  "(or --dry-run to see what it would send)", file=sys.stderr)
            return EXIT_FAILED
        if not _ask(plan):
            print(f"hcitui: {step} cancelled; nothing was sent", file=sys.stderr)
            return EXIT_FAILED
    printer = ProgressPrinter()

    async def go() -> Any:
        try:
            return await runner(printer)
        finally:
            await ctx.close()

    try:
        asyncio.run(go())
    except Refused as exc:
        print(f"hcitui: {exc.step} refused; nothing was changed:", file=sys.stderr)
        for reason in exc.reasons:
            print(f"hcitui:   - {reason}", file=sys.stderr)
        return EXIT_FAILED
    except StepFailed as exc:
        print(f"hcitui: {exc.sentence}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{step}: done")
    return EXIT_OK


def _node(args: argparse.Namespace, ctx: Context, step: str) -> str | None:
    if not args.node:
        print(f"hcitui: {step} needs --node NODE (one of {', '.join(ctx.client.node_names)})", file=sys.stderr)
        return None
    match = next((n for n in ctx.client.node_names if n.lower() == args.node.lower()), None)
    if match is None:
        print(f"hcitui: --node {args.node}: not a node of {ctx.name} ({', '.join(ctx.client.node_names)})",
              file=sys.stderr)
    return match


def cmd_drain(args: argparse.Namespace, ctx: Context) -> int:
    node = _node(args, ctx, "drain")
    if node is None:
        return EXIT_USAGE
    return run_mutating(args, ctx, "drain", maintenance.plan_drain(ctx, node),
                        lambda progress: maintenance.drain(ctx, node, progress))


def cmd_resume(args: argparse.Namespace, ctx: Context) -> int:
    node = _node(args, ctx, "resume")
    if node is None:
        return EXIT_USAGE
    return run_mutating(args, ctx, "resume", maintenance.plan_resume(ctx, node),
                        lambda progress: maintenance.resume(ctx, node, progress))


def cmd_restart(args: argparse.Namespace, ctx: Context) -> int:
    node = _node(args, ctx, "restart")
    if node is None:
        return EXIT_USAGE
    return run_mutating(args, ctx, "restart", maintenance.plan_restart(ctx, node),
                        lambda progress: maintenance.restart(ctx, node, progress))


def cmd_rolling_restart(args: argparse.Namespace, ctx: Context) -> int:
    nodes = ctx.client.node_names
    if args.node:
        node = _node(args, ctx, "rolling-restart")
        if node is None:
            return EXIT_USAGE
        nodes = [node]
    return run_mutating(args, ctx, "rolling-restart", maintenance.plan_rolling(ctx, nodes),
                        lambda progress: maintenance.rolling_restart(ctx, nodes, progress))


def _some_nodes(args: argparse.Namespace, ctx: Context, step: str) -> list[str] | None:
    """Every node, or the one --node names (None after a usage message)."""
    if not args.node:
        return list(ctx.client.node_names)
    node = _node(args, ctx, step)
    return [node] if node else None


def cmd_registry(args: argparse.Namespace, ctx: Context) -> int:
    nodes = _some_nodes(args, ctx, "registry")
    if nodes is None:
        return EXIT_USAGE
    if getattr(args, "remediate_refs", False):
        return run_mutating(args, ctx, "registry --remediate-refs", registry.plan_remediate(ctx, nodes),
                            lambda progress: registry.remediate_refs(ctx, nodes, progress))
    return run_mutating(args, ctx, "registry", registry.plan_set(ctx, nodes),
                        lambda progress: registry.set_values(ctx, nodes, progress))


def cmd_iso_stage(args: argparse.Namespace, ctx: Context) -> int:
    nodes = _some_nodes(args, ctx, "iso-stage")
    if nodes is None:
        return EXIT_USAGE
    return run_mutating(args, ctx, "iso-stage", staging.plan_stage(ctx, nodes),
                        lambda progress: staging.stage(ctx, nodes, progress))


def _registry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--remediate-refs", action="store_true",
                        help="instead: the ReFS remediation, RefsEnableMetadataValidation 1 then 0 (each verified)")


def cmd_manual_upgrade(args: argparse.Namespace, ctx: Context) -> int:
    node = _node(args, ctx, "manual-upgrade")
    if node is None:
        return EXIT_USAGE
    override = getattr(args, "override_registry", None)
    if override is not None and not override.strip():
        print("hcitui: manual-upgrade: --override-registry needs the reason, in words", file=sys.stderr)
        return EXIT_USAGE
    return run_mutating(args, ctx, "manual-upgrade", maintenance.plan_upgrade(ctx, node),
                        lambda progress: maintenance.manual_upgrade(ctx, node, progress,
                                                                    override_registry=override))


OVERRIDE_HELP = ("start although the registry values (RefsEnableMetadataValidation, SkipSmallLocalAllocations 0) "
                 "are not proved in force on every node; REASON is journalled with your name")


def _manual_upgrade_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--override-registry", metavar="REASON", default=None, help=OVERRIDE_HELP)


def cmd_post_upgrade(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import post

    def plan() -> Plan:  # the pools are read, so the preview names each one
        return post.plan_all(ctx, post.pool_names(asyncio.run(post.read(ctx))))

    return run_mutating(args, ctx, "post-upgrade", plan, lambda progress: post.run_all(ctx, progress),
                        destructive=True)


def cmd_sr_remove(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import sr

    return run_mutating(args, ctx, "sr-remove", lambda: sr.plan_remove(ctx),
                        lambda progress: sr.remove_partnerships(ctx, progress), destructive=True)


def cmd_sr_recreate(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import sr

    return run_mutating(args, ctx, "sr-recreate", lambda: sr.plan_recreate(ctx),
                        lambda progress: sr.recreate(ctx, progress))


# ------------------------------------------------------ Cluster-Aware Updating (phases 2 and 5)


def _cau_preflight_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tests-only", action="store_true",
                        help="only the checks (remoting state, the CAU coordinator, Test-CauSetup, Test-Cluster, "
                             "Invoke-CauScan): "
                             "nothing is changed, so it also runs --read-only")


def _print_preflight(report: Any) -> None:
    print()
    for check in report.checks:
        print(f"{check.status.upper():<5} {check.name:<13} {check.node or '(cluster)':<16} {check.reason}")
        if check.remedy and check.status != "pass":
            print(f"{'':<37}fix: {check.remedy}")
    print()
    print(report.summary())
    print(report.gates_summary())


def cmd_cau_preflight(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import cau

    if getattr(args, "tests_only", False):  # reads only: allowed in a read-only session
        if args.dry_run:
            print(cau.plan_preflight(ctx, remoting=False).preview(), end="")
            print(f"# dry run: nothing was sent to {ctx.name}")
            return EXIT_OK

        async def checks() -> Any:
            try:
                return await cau.preflight(ctx, ProgressPrinter(), remoting=False)
            finally:
                await ctx.close()

        report = asyncio.run(checks())
        _print_preflight(report)
        return EXIT_OK if report.passed else EXIT_FAILED

    async def runner(progress: Progress) -> Any:
        report = await cau.preflight(ctx, progress)
        _print_preflight(report)
        if not report.passed:
            raise StepFailed("cau-preflight", report.summary())
        return report

    return run_mutating(args, ctx, "cau-preflight", cau.plan_preflight(ctx), runner)


def _cau_run_options(parser: argparse.ArgumentParser) -> None:
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
                             "off: 8) Post-upgrade raises it after verification); it cannot be undone, so it "
                             "needs --yes, which stands for typing the cluster's name")
    parser.add_argument("--override-registry", metavar="REASON", default=None, help=OVERRIDE_HELP)


def _cau_watch(ctx: Context, run_id: str | None) -> int:
    """Watch the run in progress (reads only) until it ends; one line per node status change."""
    from hcitui.workflow import cau

    print(f"hcitui: a CAU run ({(run_id or 'interrupted')[:8]}) is in progress on {ctx.name}: watching it; "
          "nothing new is started", flush=True)

    async def go() -> Any:
        try:
            return await cau.monitor(ctx, ProgressPrinter())
        finally:
            await ctx.close()

    try:
        outcome = asyncio.run(go())
    except StepFailed as exc:
        print(f"hcitui: {exc.sentence}", file=sys.stderr)
        return EXIT_FAILED
    print(outcome.sentence)
    return EXIT_OK


def cmd_cau_run(args: argparse.Namespace, ctx: Context) -> int:
    import dataclasses

    from hcitui.workflow import cau

    plugin = cau.WINDOWS_UPDATE if getattr(args, "plugin", None) == "windows-update" else cau.ROLLING_UPGRADE
    options = cau.RunOptions.defaults(plugin)
    chosen = {"max_failed_nodes": getattr(args, "max_failed_nodes", None),
              "max_retries_per_node": getattr(args, "max_retries_per_node", None),
              "require_all_nodes_online": getattr(args, "require_all_nodes_online", None)}
    options = dataclasses.replace(options, **{k: v for k, v in chosen.items() if v is not None})
    level = bool(getattr(args, "update_functional_level", False))
    override = getattr(args, "override_registry", None)
    if plugin != cau.ROLLING_UPGRADE and (level or override is not None):
        print("hcitui: cau-run: --update-functional-level and --override-registry are for the rolling upgrade, "
              "not --plugin windows-update", file=sys.stderr)
        return EXIT_USAGE
    if override is not None and not override.strip():
        print("hcitui: cau-run: --override-registry needs the reason, in words", file=sys.stderr)
        return EXIT_USAGE
    options = dataclasses.replace(options, update_functional_level=level)
    problems = options.problems(len(ctx.client.node_names))
    if problems:
        for problem in problems:
            print(f"hcitui: cau-run: {problem}", file=sys.stderr)
        return EXIT_USAGE
    no_wait = getattr(args, "no_wait", False)
    if not args.dry_run:
        run = asyncio.run(cau.read_run(ctx))
        if cau.should_watch(ctx, run):  # reattach: a run is in progress, or was when hcitui last stopped
            run_id = getattr(run, "run_id", None)
            if no_wait:
                asyncio.run(ctx.close())
                print(f"hcitui: a CAU run ({(run_id or '?')[:8]}) is in progress on {ctx.name}; nothing new "
                      "was started")
                return EXIT_OK
            return _cau_watch(ctx, run_id)

    async def runner(progress: Progress) -> Any:
        run = await cau.start(ctx, options, progress, override_registry=override)
        if no_wait:
            print(f"run {(run.run_id or '?')[:8]} started; it goes on without hcitui. "
                  "'hcitui cau-run' watches it until it ends.")
            return run
        outcome = await cau.monitor(ctx, progress)
        print(outcome.sentence)
        return outcome

    return run_mutating(args, ctx, "cau-run", cau.plan_start(ctx, options), runner, destructive=level)


def cmd_cau_stop(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import cau

    return run_mutating(args, ctx, "cau-stop", cau.plan_stop(ctx), lambda progress: cau.stop(ctx, progress))


def cmd_cau_recover(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import cau

    return run_mutating(args, ctx, "cau-recover", cau.plan_recover(ctx), lambda progress: cau.recover(ctx, progress))


# Steps that change the cluster: refused in read-only mode before anything is sent.
STEPS: dict[str, tuple[Callable[[argparse.Namespace, Context], int], str]] = {
    "drain": (cmd_drain, "phase 1: drain --node N (roles move off, node Paused); refused unless it is safe"),
    "resume": (cmd_resume, "phase 1: resume --node N with failback, then wait for storage"),
    "restart": (cmd_restart, "phase 1: restart --node N: drain, restart, wait, resume, wait for storage"),
    "manual-upgrade": (cmd_manual_upgrade, "phase 5, without CAU: upgrade --node N by hand: drain, setup from "
                                           "the staged folder, wait for 25398, resume, wait for storage"),
    "post-upgrade": (cmd_post_upgrade, "phase 8: raise the functional level, upgrade every storage pool, run "
                                       "Test-Cluster; CANNOT BE UNDONE: refused without --yes"),
    "rolling-restart": (cmd_rolling_restart, "phase 1: restart every node in turn, one at a time; "
                                             "stops at the first failure; resumes where it stopped"),
    "registry": (cmd_registry, "phase 1: set RefsEnableMetadataValidation and SkipSmallLocalAllocations to 0 "
                               "on every node (--node N: one); effective after a restart; --remediate-refs: "
                               "the ReFS 1-then-0 toggle"),
    "iso-stage": (cmd_iso_stage, "phase 3: copy the ISO from iso_source to nodes that lack it, extract it to "
                                 "staging_path on every node (--node N: one), prove setup.exe and equal counts"),
    "sr-remove": (cmd_sr_remove, "phase 4: remove every SR partnership, one at a time, each proved gone; refused "
                                 "without a re-read snapshot (sr-snapshot) that still describes them; needs --yes"),
    "sr-recreate": (cmd_sr_recreate, "phase 6: recreate the SR partnerships from the snapshot, one at a time, each "
                                     "waiting for its initial sync; then the diff against the snapshot"),
    "cau-preflight": (cmd_cau_preflight, "phase 2: enable remoting on every node, then Test-CauSetup, Test-Cluster "
                                         "and an Invoke-CauScan preview (--tests-only: the checks alone)"),
    "cau-run": (cmd_cau_run, "phase 5: start the CAU rolling upgrade (or --plugin windows-update) and print each "
                             "node's status change until it ends; --no-wait returns once it started; reattaches to "
                             "a run in progress"),
    "cau-stop": (cmd_cau_stop, "phase 5: stop the CAU run; it ends at its next safe point"),
    "cau-recover": (cmd_cau_recover, "phase 5: clear a stale failed CAU run (Invoke-CauRun -ForceRecovery)"),
}
MUTATING_STEPS = frozenset(STEPS)
# Options of one step only: name -> a function that adds them to that step's parser.
STEP_OPTIONS: dict[str, Callable[[argparse.ArgumentParser], None]] = {"registry": _registry_options,
                                                                  "cau-preflight": _cau_preflight_options,
                                                                  "cau-run": _cau_run_options,
                                                                  "manual-upgrade": _manual_upgrade_options}
