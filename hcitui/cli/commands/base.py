"""What every command shares: its declaration, running workflow coroutines, and the one check of a
node's name."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from hcitui.cli.output import UsageError
from hcitui.core.config import ConfigError, check_node_name
from hcitui.workflow.context import Context
from hcitui.workflow.steps import Plan

T = TypeVar("T")


class Kind(Enum):
    OFFLINE = "offline"  # no cluster is reached: ops, config, report, lab serve
    HEADLESS = "headless"  # opens the cluster, runs, prints; main closes the sessions after it
    CONSOLE = "console"  # opens the cluster in the console (which closes the sessions itself)


@dataclass(frozen=True)
class Command:
    """One command of ``hcitui``: its name, its own options, what it runs and how. ``run`` takes the
    parsed options, and the Context unless the command is OFFLINE. Its help line and whether it changes
    the cluster are said once, in :data:`hcitui.cli.commands.ENTRIES` (which ``--help`` reads without
    importing any command module)."""

    name: str
    run: Callable[..., int]
    kind: Kind = Kind.HEADLESS
    options: Callable[[argparse.ArgumentParser], None] | None = None

    @property
    def help(self) -> str:
        from hcitui.cli.commands import BY_NAME

        entry = BY_NAME.get(self.name)  # the console itself (name "") is no listed command
        return entry.help if entry else ""

    @property
    def mutates(self) -> bool:
        """It changes the cluster: a read-only session refuses it before anything is sent."""
        from hcitui.cli.commands import BY_NAME

        entry = BY_NAME.get(self.name)
        return entry.mutates if entry else False


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run one piece of the workflow to its end. The command's sessions stay open for what it does next;
    :func:`close` ends them once the command returns (main does), whichever way it returns."""
    return asyncio.run(work)


def close(ctx: Context) -> None:
    """Close the sessions (and stop a served lab). Closing twice does no harm."""
    asyncio.run(ctx.close())


def dry_run(ctx: Context, plan: Plan | str) -> int:
    """``--dry-run``: the PowerShell that would be sent, then the line that says nothing was."""
    print(plan.preview() if isinstance(plan, Plan) else plan, end="")
    print(f"# dry run: nothing was sent to {ctx.name}")
    return 0


# ---------------------------------------------------------------------- node names


def spelled(name: str, names: Iterable[str]) -> str | None:
    """``name`` as ``names`` spell it, or None when it is none of them. Computer names are Windows names:
    any case names the computer. Raises ConfigError when ``name`` cannot be a node's name at all."""
    wanted = check_node_name(name).lower()
    return next((n for n in names if n.lower() == wanted), None)


def node_of(args: argparse.Namespace, ctx: Context, step: str | None = None) -> str | None:
    """The node ``--node`` names, as the cluster spells it. Without ``--node``: None, or, when ``step``
    needs one node, a usage error. A name that is no node of the cluster is a usage error."""
    nodes = list(ctx.client.node_names)
    if not args.node:
        if step is None:
            return None
        raise UsageError(f"{step} needs --node NODE (one of {', '.join(nodes)})")
    try:
        match = spelled(args.node, nodes)
    except ConfigError as exc:
        raise UsageError(f"--node {args.node}: {exc.sentence}") from None
    if match is None:
        raise UsageError(f"--node {args.node}: not a node of {ctx.name} ({', '.join(nodes)})")
    return match


def nodes_of(args: argparse.Namespace, ctx: Context) -> list[str]:
    """Every node of the cluster, or the one ``--node`` names."""
    node = node_of(args, ctx)
    return [node] if node else list(ctx.client.node_names)

