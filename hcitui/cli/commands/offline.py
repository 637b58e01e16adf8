"""``hcitui offline-update``: the fast offline update, headless (seed 004). ALL WORKLOADS GO DOWN for the window, so
it is refused without ``--yes``, which stands for the console's typed confirmation (the cluster's name); on a
stretched cluster that replicates with Storage Replica it also needs ``--accept-sr-downtime``."""

from __future__ import annotations

import argparse
import sys

from hcitui.cli import output
from hcitui.cli.commands.base import Command, dry_run, run
from hcitui.core.errors import ExitCode
from hcitui.workflow import offline
from hcitui.workflow.context import Context

STEP = "offline-update"


def offline_update(args: argparse.Namespace, ctx: Context) -> int:
    if ctx.read_only:
        return output.fail(f"{STEP} refused: this session is read-only and {STEP} changes the cluster; "
                           "nothing was sent")
    if args.dry_run:
        return dry_run(ctx, offline.plan(ctx))
    resuming = offline.window_open(ctx)
    if not args.yes:
        return output.fail(f"{STEP} stops the whole cluster: {offline.downtime_sentence(ctx)} Add --yes (it stands "
                           "for typing the cluster's name); nothing was sent")
    stream = sys.stderr if args.json else sys.stdout
    if resuming:
        print(f"{STEP}: the window is open since an earlier run (reached {offline.reached(ctx)}); going on",
              file=stream)
    else:
        print(offline.downtime_sentence(ctx), file=stream)
        if ctx.stretched and args.accept_sr_downtime:
            print(offline.SR_CONSEQUENCES, file=stream)
    report = run(offline.offline_update(ctx, output.Printer(stream), accept_sr_downtime=args.accept_sr_downtime))
    if args.json:
        output.checks_json(report.as_json())
    else:
        output.checks_table(report.checks, stream)
        print(f"{STEP}: closing checks {report.summary()}", file=stream)
    return ExitCode.OK if report.passed else ExitCode.FAILED


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accept-sr-downtime", action="store_true",
                        help="on a stretched cluster with Storage Replica: accept that both sites go down and "
                             "replication stops for the window (and may resynchronize after it)")


OFFLINE_UPDATE = Command(STEP, offline_update, options=_options)
