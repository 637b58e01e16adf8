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
from hcitui.workflow.context import Context
from hcitui.workflow.steps import Plan, Refused, StepFailed

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

Runner = Callable[[Callable[[str, str, "float | None"], None]], Awaitable[Any]]


class ProgressPrinter:
    """One line per node each time what it is doing changes (not per poll)."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.last: dict[str, str] = {}

    def __call__(self, node: str, text: str, fraction: float | None = None) -> None:
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


def run_mutating(args: argparse.Namespace, ctx: Context, step: str, plan: Plan, runner: Runner) -> int:
    if ctx.read_only:
        print(f"hcitui: {step} refused: this session is read-only and {step} changes the cluster; "
              "nothing was sent", file=sys.stderr)
        return EXIT_FAILED
    if args.dry_run:
        print(plan.preview(), end="")
        print(f"# dry run: nothing was sent to {ctx.name}")
        return EXIT_OK
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


# Steps that change the cluster: refused in read-only mode before anything is sent.
STEPS: dict[str, tuple[Callable[[argparse.Namespace, Context], int], str]] = {
    "drain": (cmd_drain, "phase 1: drain --node N (roles move off, node Paused); refused unless it is safe"),
    "resume": (cmd_resume, "phase 1: resume --node N with failback, then wait for storage"),
    "restart": (cmd_restart, "phase 1: restart --node N: drain, restart, wait, resume, wait for storage"),
    "rolling-restart": (cmd_rolling_restart, "phase 1: restart every node in turn, one at a time; "
                                             "stops at the first failure; resumes where it stopped"),
}
MUTATING_STEPS = frozenset(STEPS)
