"""Headless Storage Replica reads: ``sr-snapshot`` and ``sr-diff``.

Both only read the cluster. ``sr-snapshot`` writes the snapshot file into the journal folder and
re-reads it (so it also works in read-only mode). ``sr-diff`` compares the cluster with the
re-read snapshot: exit 0 the same, 1 different (or the cluster could not be read: fail closed),
2 no usable snapshot. The changes, ``sr-remove`` and ``sr-recreate``, are in :mod:`hcitui.cli.headless`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from hcitui.ps import reads
from hcitui.workflow import sr
from hcitui.workflow.context import Context
from hcitui.workflow.steps import Refused, StepFailed
from hcitui.workflow.events import ProgressEvent

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


async def _closing(ctx: Context, coro: Any) -> Any:
    try:
        return await coro
    finally:
        await ctx.close()


def _printer(stream: Any) -> Any:
    last: dict[str, str] = {}

    def progress(event: ProgressEvent) -> None:
        where, text = event.node, event.text
        if last.get(where) != text:
            last[where] = text
            print(f"{where}: {text}", file=stream, flush=True)

    return progress


def _dry_run(ctx: Context, what: str) -> int:
    print(f"# {what} on {ctx.name}: read-only; these operations would run (nothing was run)")
    for op in (reads.get_sr_groups, reads.get_sr_partnerships):
        print(op.render(node=f"any node of {ctx.name}") + "\n")
    asyncio.run(ctx.close())
    return EXIT_OK


def cmd_sr_snapshot(args: argparse.Namespace, ctx: Context) -> int:
    if args.dry_run:
        print(f"# then the snapshot would be written to {sr.snapshot_dir(ctx)} and re-read")
        return _dry_run(ctx, "sr-snapshot")
    try:
        snapshot = asyncio.run(_closing(ctx, sr.take_snapshot(ctx, _printer(sys.stderr))))
    except (Refused, StepFailed) as exc:
        print(f"hcitui: {exc.sentence}", file=sys.stderr)
        return EXIT_FAILED
    info = sr.snapshot_info(ctx)
    if args.json:
        print(snapshot.model_dump_json(indent=2))
        return EXIT_OK
    print(sr.view_text(snapshot, info.path if info else None, info.sha256 if info else None)
          .split("\n# The snapshot file:")[0])
    print(f"sr-snapshot: {len(snapshot.partnerships)} partnerships written and re-read: "
          f"{info.path if info else '?'}")
    return EXIT_OK


def cmd_sr_diff(args: argparse.Namespace, ctx: Context) -> int:
    if args.dry_run:
        return _dry_run(ctx, "sr-diff")
    try:
        snapshot = sr.load_snapshot(ctx)
    except sr.SnapshotError as exc:
        asyncio.run(ctx.close())
        print(f"hcitui: sr-diff: nothing to compare with: {exc.sentence}", file=sys.stderr)
        return EXIT_USAGE
    try:
        differences = asyncio.run(_closing(ctx, sr.compare(ctx, snapshot)))
    except StepFailed as exc:
        print(f"hcitui: {exc.sentence} (not compared: treated as different)", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps({"same": not differences, "snapshot": str(sr.snapshot_info(ctx).path),
                          "differences": [{"partnership": d.partnership, "field": d.field, "snapshot": d.expected,
                                           "now": d.actual, "kind": d.kind} for d in differences]}, indent=2))
        return EXIT_FAILED if differences else EXIT_OK
    for difference in differences:
        print(f"DIFFERS {difference.sentence}")
    if differences:
        print(f"DIFFERENT: {len(differences)} difference{'s' if len(differences) != 1 else ''} from the snapshot "
              f"taken {snapshot.taken_at.astimezone():%Y-%m-%d %H:%M}")
        return EXIT_FAILED
    print(f"SAME: {len(snapshot.partnerships)} partnerships as in the snapshot taken "
          f"{snapshot.taken_at.astimezone():%Y-%m-%d %H:%M} (ids, status and LSNs ignored)")
    return EXIT_OK
