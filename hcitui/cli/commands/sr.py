"""Storage Replica, headless: ``sr-snapshot`` and ``sr-diff`` (reads), ``sr-remove`` and ``sr-recreate``.

``sr-snapshot`` writes the snapshot file into the journal folder and re-reads it (it only reads the
cluster, so it also works read-only). ``sr-diff`` compares the cluster with the re-read snapshot:
exit 0 the same, 1 different (or the cluster could not be read: fail closed), 2 no usable snapshot.
"""

from __future__ import annotations

import argparse
import json
import sys

from hcitui.cli import output
from hcitui.cli.commands.base import Command, run
from hcitui.cli.commands.steps import run_mutating
from hcitui.core.errors import ExitCode
from hcitui.ps import reads
from hcitui.workflow import sr
from hcitui.workflow.context import Context
from hcitui.workflow.steps import StepFailed


def _dry_run(ctx: Context, what: str) -> int:
    print(f"# {what} on {ctx.name}: read-only; these operations would run (nothing was run)")
    for op in (reads.get_sr_groups, reads.get_sr_partnerships):
        print(op.render(node=f"any node of {ctx.name}") + "\n")
    return ExitCode.OK


def snapshot(args: argparse.Namespace, ctx: Context) -> int:
    if args.reread:  # the snapshot already taken, read back from its file: nothing is sent
        if args.dry_run:
            print(f"# sr-snapshot --reread: reads {sr.snapshot_dir(ctx)} only; nothing is sent to {ctx.name}")
            return ExitCode.OK
        taken = sr.reread_snapshot(ctx)
        said = "re-read"
    elif args.dry_run:
        print(f"# then the snapshot would be written to {sr.snapshot_dir(ctx)} and re-read")
        return _dry_run(ctx, "sr-snapshot")
    else:
        taken = run(sr.take_snapshot(ctx, output.Printer(sys.stderr)))
        said = "written and re-read"
    info = sr.snapshot_info(ctx)
    if args.json:
        print(taken.model_dump_json(indent=2))
        return ExitCode.OK
    print(sr.view_text(taken, info.path if info else None, info.sha256 if info else None)
          .split("\n# The snapshot file:")[0])
    print(f"sr-snapshot: {len(taken.partnerships)} partnerships {said}: {info.path if info else '?'}")
    return ExitCode.OK


def _snapshot_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reread", action="store_true",
                        help="instead: read the snapshot already taken back from its file and check it is what "
                             "was written (the cluster is not read)")


def diff(args: argparse.Namespace, ctx: Context) -> int:
    if args.dry_run:
        return _dry_run(ctx, "sr-diff")
    try:  # compare() refuses a cluster that is not stretched before it looks for a snapshot
        differences = run(sr.compare(ctx))
    except sr.SnapshotError as exc:
        return output.fail(f"sr-diff: nothing to compare with: {exc.sentence}", ExitCode.USAGE)
    except StepFailed as exc:
        return output.fail(f"{exc.sentence} (not compared: treated as different)")
    taken = sr.load_snapshot(ctx)
    if args.json:
        print(json.dumps({"same": not differences, "snapshot": str(sr.snapshot_info(ctx).path),
                          "differences": [{"partnership": d.partnership, "field": d.field, "snapshot": d.expected,
                                           "now": d.actual, "kind": d.kind} for d in differences]}, indent=2))
        return ExitCode.FAILED if differences else ExitCode.OK
    for difference in differences:
        print(f"DIFFERS {difference.sentence}")
    if differences:
        print(f"DIFFERENT: {len(differences)} difference{'s' if len(differences) != 1 else ''} from the snapshot "
              f"taken {taken.taken_at.astimezone():%Y-%m-%d %H:%M}")
        return ExitCode.FAILED
    print(f"SAME: {len(taken.partnerships)} partnerships as in the snapshot taken "
          f"{taken.taken_at.astimezone():%Y-%m-%d %H:%M} (ids, status and LSNs ignored)")
    return ExitCode.OK


def remove(args: argparse.Namespace, ctx: Context) -> int:
    return run_mutating(args, ctx, "sr-remove", lambda: sr.plan_remove(ctx),
                        lambda progress: sr.remove_partnerships(ctx, progress), destructive=True)


def recreate(args: argparse.Namespace, ctx: Context) -> int:
    return run_mutating(args, ctx, "sr-recreate", lambda: sr.plan_recreate(ctx),
                        lambda progress: sr.recreate(ctx, progress))


SNAPSHOT = Command("sr-snapshot", snapshot, options=_snapshot_options)
DIFF = Command("sr-diff", diff)
REMOVE = Command("sr-remove", remove)
RECREATE = Command("sr-recreate", recreate)
