"""``hcitui readiness``: the solution-upgrade readiness checks of the environment checker, read with plain
cmdlets (read-only). Exit 0 when they pass (warnings allowed), 1 when not, and 1 on a stretched cluster, to
which the solution upgrade does not apply (said first)."""

from __future__ import annotations

import argparse
import sys
from typing import IO

from hcitui.cli import output
from hcitui.cli.commands.base import Command, dry_run, node_of, run
from hcitui.cli.remedies import command_for
from hcitui.core.errors import ExitCode
from hcitui.workflow.checks import CheckResult, Status
from hcitui.workflow.context import Context

SEVERITY_WIDTH = 8  # "critical", "warning"


def table(checks: list[CheckResult], stream: IO[str] | None = None) -> None:
    """The checks as prereq prints them, with the severity: ``FAIL  critical BitLocker suspension  LAB-N1
    protection On: C:`` and, under a check that did not pass, ``fix: ...`` and the command that does it."""
    out = stream or sys.stdout
    width = max((len(c.name) for c in checks), default=0)
    indent = " " * (5 + 1 + SEVERITY_WIDTH + 1 + width + 1 + output.NODE_WIDTH + 1)
    print(file=out)
    for check in checks:
        status = Status(check.status)
        print(f"{output.STATUS_WORDS[status]:<5} {check.severity or '':<{SEVERITY_WIDTH}} {check.name:<{width}} "
              f"{check.node or '(cluster)':<{output.NODE_WIDTH}} {check.reason}", file=out)
        if status is not Status.PASS and check.remediation:
            print(f"{indent}fix: {check.remediation}", file=out)
            command = command_for(check.remedy)
            if command:
                print(f"{indent}run: {command}", file=out)
    print(file=out)


def readiness(args: argparse.Namespace, ctx: Context) -> int:
    from hcitui.workflow import readiness as step

    node = node_of(args, ctx)
    nodes = [node] if node else None
    if args.dry_run:
        return dry_run(ctx, step.read_plan(ctx, nodes or list(ctx.client.node_names)))
    printer = output.Printer(sys.stderr if args.json else sys.stdout)
    report = run(step.run_readiness(ctx, on_event=printer, nodes=nodes)).for_node(node)
    if not report.applies:
        why = f"hcitui: {ctx.name} is stretched: {step.NOT_STRETCHED_REASON}"
        if args.json:
            output.note(why)
        else:
            print(why)
    if args.json:
        output.checks_json(report.as_json())
    else:
        table(report.checks)
        print(report.summary())
    return ExitCode.OK if report.passed and report.applies else ExitCode.FAILED


READINESS = Command("readiness", readiness)
