"""The steps that change the cluster, headless: the same workflow as the screens, for scripts and for
runs without a screen.

One runner serves every one of them (:func:`run_mutating`): refuse in read-only mode before anything
is sent, print the plan's PowerShell on ``--dry-run`` and run nothing, ask (or require ``--yes``
without a terminal), print one progress line per change of a node's status, and end with
``STEP: done``. A refusal or a failure reaches main as the workflow's error (exit 1).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from hcitui.cli import output
from hcitui.cli.commands.base import Command, dry_run, node_of, nodes_of, run
from hcitui.cli.output import UsageError
from hcitui.core.errors import ExitCode
from hcitui.workflow import maintenance, registry, staging
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress
from hcitui.workflow.steps import Plan

Runner = Callable[[Progress], Coroutine[Any, Any, Any]]

OVERRIDE_HELP = ("start although the registry values (RefsEnableMetadataValidation, SkipSmallLocalAllocations 0) "
                 "are not proved in force on every node; REASON is journalled with your name")


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
    without --yes it refuses rather than asking. With ``--json`` standard output is left to the step's
    JSON: progress and the closing line go to standard error."""
    if ctx.read_only:
        return output.fail(f"{step} refused: this session is read-only and {step} changes the cluster; "
                           "nothing was sent")
    if callable(plan):
        plan = plan()
    if args.dry_run:
        return dry_run(ctx, plan)
    if not args.yes and destructive:
        return output.fail(f"{step} cannot be undone: add --yes (it stands for typing the cluster's name); "
                           "nothing was sent")
    if not args.yes:
        if not sys.stdin.isatty():
            return output.fail(f"{step} changes the cluster: add --yes to run it without a prompt "
                               "(or --dry-run to see what it would send)")
        if not _ask(plan):
            return output.fail(f"{step} cancelled; nothing was sent")
    stream = sys.stderr if args.json else sys.stdout
    run(runner(output.Printer(stream)))
    print(f"{step}: done", file=stream)
    return ExitCode.OK


def override_reason(args: argparse.Namespace, step: str) -> str | None:
    """``--override-registry REASON``: the reason in words, or None when not given."""
    reason = args.override_registry
    if reason is not None and not reason.strip():
        raise UsageError(f"{step}: --override-registry needs the reason, in words")
    return reason


# ------------------------------------------------------------------ node drain and restart


def drain(args: argparse.Namespace, ctx: Context) -> int:
    node = node_of(args, ctx, "drain")
    return run_mutating(args, ctx, "drain", maintenance.plan_drain(ctx, node),
                        lambda progress: maintenance.drain(ctx, node, progress))


def resume(args: argparse.Namespace, ctx: Context) -> int:
    node = node_of(args, ctx, "resume")
    return run_mutating(args, ctx, "resume", maintenance.plan_resume(ctx, node),
                        lambda progress: maintenance.resume(ctx, node, progress))


def restart(args: argparse.Namespace, ctx: Context) -> int:
    node = node_of(args, ctx, "restart")
    return run_mutating(args, ctx, "restart", maintenance.plan_restart(ctx, node),
                        lambda progress: maintenance.restart(ctx, node, progress))


def rolling_restart(args: argparse.Namespace, ctx: Context) -> int:
    nodes = nodes_of(args, ctx)
    return run_mutating(args, ctx, "rolling-restart", maintenance.plan_rolling(ctx, nodes),
                        lambda progress: maintenance.rolling_restart(ctx, nodes, progress))


def manual_upgrade(args: argparse.Namespace, ctx: Context) -> int:
    node = node_of(args, ctx, "manual-upgrade")
    override = override_reason(args, "manual-upgrade")
    return run_mutating(args, ctx, "manual-upgrade", maintenance.plan_upgrade(ctx, node),
                        lambda progress: maintenance.manual_upgrade(ctx, node, progress,
                                                                    override_registry=override))


def _manual_upgrade_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--override-registry", metavar="REASON", default=None, help=OVERRIDE_HELP)


# ------------------------------------------------------------------ registry, ISO, post-upgrade


def registry_keys(args: argparse.Namespace, ctx: Context) -> int:
    nodes = nodes_of(args, ctx)
    if args.remediate_refs:
        return run_mutating(args, ctx, "registry --remediate-refs", registry.plan_remediate(ctx, nodes),
                            lambda progress: registry.remediate_refs(ctx, nodes, progress))
    return run_mutating(args, ctx, "registry", registry.plan_set(ctx, nodes),
                        lambda progress: registry.set_values(ctx, nodes, progress))


def _registry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--remediate-refs", action="store_true",
                        help="instead: the ReFS remediation, RefsEnableMetadataValidation 1 then 0 (each verified)")


def iso_stage(args: argparse.Namespace, ctx: Context) -> int:
    nodes = nodes_of(args, ctx)
    return run_mutating(args, ctx, "iso-stage", staging.plan_stage(ctx, nodes),
                        lambda progress: staging.stage(ctx, nodes, progress))


def post_upgrade(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import post

    def plan() -> Plan:  # the pools are read, so the preview names each one
        return post.plan_all(ctx, post.pool_names(run(post.read(ctx))))

    return run_mutating(args, ctx, "post-upgrade", plan, lambda progress: post.run_all(ctx, progress),
                        destructive=True)


DRAIN = Command("drain", drain)
RESUME = Command("resume", resume)
RESTART = Command("restart", restart)
MANUAL_UPGRADE = Command("manual-upgrade", manual_upgrade, options=_manual_upgrade_options)
POST_UPGRADE = Command("post-upgrade", post_upgrade)
ROLLING_RESTART = Command("rolling-restart", rolling_restart)
REGISTRY = Command("registry", registry_keys, options=_registry_options)
ISO_STAGE = Command("iso-stage", iso_stage)
