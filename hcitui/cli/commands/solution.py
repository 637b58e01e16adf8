"""Preparing the solution update, headless: install the required features node by node, suspend and resume
BitLocker. Each reads the nodes first, so its preview (and ``--dry-run``) names exactly what it will change;
a read-only session is refused before anything is sent, the read included."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable

from hcitui.cli import output
from hcitui.cli.commands.base import Command, nodes_of, run
from hcitui.cli.commands.steps import run_mutating
from hcitui.workflow import solution
from hcitui.workflow.context import Context
from hcitui.workflow.steps import Plan, Refused


async def _said(work: Awaitable[str]) -> None:
    """The step's closing sentence (what it did, or that there was nothing to do), on its own line."""
    print(await work, flush=True)


def _refused_early(ctx: Context, step: str, *, stretched_too: bool = False) -> int | None:
    """The refusals that need no read: read-only (run_mutating says it), a stretched cluster."""
    if ctx.read_only:
        return None
    if ctx.stretched and not stretched_too:
        return output.error(Refused(step, [solution.STRETCHED]))
    return None


def features_install(args: argparse.Namespace, ctx: Context) -> int:
    nodes = nodes_of(args, ctx)
    chosen = nodes if args.node else None  # without --node: the whole run, resumed where it stopped

    def plan() -> Plan:
        return solution.plan_features(ctx, nodes, run(solution.read_missing(ctx, nodes)))

    early = _refused_early(ctx, "features-install")
    if early is not None:
        return early
    return run_mutating(args, ctx, "features-install", plan,
                        lambda progress: _said(solution.install_features(ctx, chosen, progress)))


def _bitlocker(args: argparse.Namespace, ctx: Context, direction: solution.Direction) -> int:
    nodes = nodes_of(args, ctx)
    step = f"bitlocker-{direction.verb}"

    def plan() -> Plan:
        return solution.plan_bitlocker(ctx, nodes, direction, run(solution.read_volumes(ctx, nodes, direction)))

    early = _refused_early(ctx, step, stretched_too=direction.stretched_too)
    if early is not None:
        return early
    work = solution.suspend if direction is solution.SUSPEND else solution.resume
    return run_mutating(args, ctx, step, plan, lambda progress: _said(work(ctx, nodes, progress)))


def bitlocker_suspend(args: argparse.Namespace, ctx: Context) -> int:
    return _bitlocker(args, ctx, solution.SUSPEND)


def bitlocker_resume(args: argparse.Namespace, ctx: Context) -> int:
    return _bitlocker(args, ctx, solution.RESUME)


FEATURES_INSTALL = Command("features-install", features_install)
BITLOCKER_SUSPEND = Command("bitlocker-suspend", bitlocker_suspend)
BITLOCKER_RESUME = Command("bitlocker-resume", bitlocker_resume)
