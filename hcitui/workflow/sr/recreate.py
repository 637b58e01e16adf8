"""Phase 6: recreate the partnerships from the re-read snapshot, one at a time, then diff the whole.

Each ``New-SRPartnership`` is followed by a wait until its destination group is
ContinuouslyReplicating with NumOfBytesRemaining 0; a partnership found present is not created
again (this is how a run killed half way resumes). Each one, and then the whole, is proved by
:func:`diff`. Refused (nothing sent) unless every node is Up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from hcitui.core.journal import StepStatus
from hcitui.core.units import human_bytes
from hcitui.ps import sr as sr_ops
from hcitui.remote import RemoteError
from hcitui.workflow import eta
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.observe import observe, problem
from hcitui.workflow.sr.commands import recreate_params
from hcitui.workflow.sr.diff import Difference, diff, differences_of
from hcitui.workflow.sr.interlocks import not_stretched, recreate_blockers, sr_unreadable
from hcitui.workflow.sr.snapshot import (
    DIFF,
    PHASE_RECREATE,
    RECREATE,
    REPLICATING,
    SR_PARTS,
    PartnershipSnapshot,
    SRSnapshot,
    find_live,
    groups_by_name,
    replicating,
)
from hcitui.workflow.sr.store import load_snapshot, verified
from hcitui.workflow.steps import Refused, StepFailed


def sites_of(ctx: Context) -> dict[str, str]:
    """Node -> site (lower-case names): a group's owner may move within its site without differing."""
    return {n.name.lower(): n.site for n in ctx.client.nodes if n.site}


async def _wait_for_sync(ctx: Context, sp: PartnershipSnapshot, progress: Progress, step: str,
                         position: tuple[int, int]) -> None:
    """Until the destination group is ContinuouslyReplicating with nothing remaining; progress from
    NumOfBytesRemaining against the partition sizes (or the most seen remaining), and the sync's finish
    at the rate the bytes remaining went down over the last minute."""
    deadline = time.monotonic() + ctx.cluster.timeouts.storage_sync
    since = datetime.now(UTC)
    most = 0
    pace = eta.Transfer()
    while True:
        state = await observe(ctx, ("sr_groups",))
        group = None if problem(state.sr_groups) else groups_by_name(state.sr_groups).get(sp.destination_rg.lower())
        if problem(state.sr_groups):
            event = ProgressEvent(sp.label, f"cannot read Get-SRGroup now: {problem(state.sr_groups)}",
                                  stage=Stage.WAITING, since=since, position=position)
        elif group is None:
            event = ProgressEvent(sp.label, f"waiting for group {sp.destination_rg} to appear",
                                  stage=Stage.WAITING, since=since, position=position)
        else:
            statuses = [str(r.replication_status or "?") for r in group.replicas]
            if any(s.lower() == "failed" for s in statuses):
                raise StepFailed(step, f"{sp.label}: the destination group {group.name} is Failed")
            remaining = group.bytes_remaining
            total = sum(r.partition_size or 0 for r in group.replicas)
            if replicating(group) and remaining == 0:
                progress(ProgressEvent(sp.label, "initial sync done: ContinuouslyReplicating", 1.0,
                                       status=statuses[0], done=total or None, total=total or None,
                                       position=position))
                return
            most = max(most, remaining)
            base = total if total >= remaining and total > 0 else most
            fraction = max(0.0, min(1.0, 1 - remaining / base)) if base else None
            status = next((s for s in statuses if s.lower() not in REPLICATING), statuses[0] if statuses else "?")
            pace.note(-remaining)  # what went down: the rate holds however the base moves
            event = ProgressEvent(sp.label, f"initial sync: {human_bytes(remaining)} left ({status})", fraction,
                                  stage=Stage.WAITING, status=status, since=since,
                                  done=base - remaining if base else None, total=base or None, position=position,
                                  eta=pace.finish(remaining))
        if time.monotonic() > deadline:
            raise StepFailed(step, f"{sp.label}: the initial sync did not finish within "
                                   f"{ctx.cluster.timeouts.storage_sync:g} s ({event.text})")
        progress(event)
        await asyncio.sleep(ctx.poll)


def _failed(ctx: Context, progress: Progress, sp: PartnershipSnapshot, why: str, position: tuple[int, int],
            journal: str | None = None) -> None:
    """Show one partnership's failure (and journal it, ``journal`` being the step's detail)."""
    if journal is not None:
        ctx.journal.set_step(PHASE_RECREATE, RECREATE, sp.label, StepStatus.FAILED, journal)
    progress(ProgressEvent(sp.label, why, stage=Stage.FAILED, position=position))


async def _recreate_one(ctx: Context, sp: PartnershipSnapshot, progress: Progress, step: str,
                        sites: Mapping[str, str], position: tuple[int, int]) -> None:
    state = await observe(ctx, ("sr_groups", "sr_partnerships"))
    if problem(state.sr_partnerships):
        why = f"Storage Replica partnerships: {problem(state.sr_partnerships)}"
        _failed(ctx, progress, sp, why, position)
        raise StepFailed(step, f"{sp.label}: {why}")
    record = ctx.journal.step(PHASE_RECREATE, RECREATE, sp.label)
    if find_live(state.sr_partnerships, sp.key) is None:
        if record is not None and record.data.get("sent"):
            progress(ProgressEvent(sp.label, "was sent before an interruption but is not there: creating it again",
                                   position=position))
        ctx.journal.set_step(PHASE_RECREATE, RECREATE, sp.label, StepStatus.RUNNING, "creating",
                             data={"sent": False}, fresh=True)
        progress(ProgressEvent(sp.label, "New-SRPartnership", None, position=position))
        try:
            await ctx.client.invoke_cluster(sr_ops.new_sr_partnership, recreate_params(sp))
        except RemoteError as exc:
            again = await observe(ctx, ("sr_partnerships",))
            if problem(again.sr_partnerships) or find_live(again.sr_partnerships, sp.key) is None:
                _failed(ctx, progress, sp, exc.message, position, journal=exc.message)
                raise StepFailed(step, f"{sp.label}: {exc.message}") from None
        ctx.journal.set_step(PHASE_RECREATE, RECREATE, sp.label, StepStatus.RUNNING, "initial block copy",
                             data={"sent": True})
    elif record is None or record.status is not StepStatus.DONE:
        progress(ProgressEvent(sp.label, "already present: checking its sync", None, position=position))
        ctx.journal.set_step(PHASE_RECREATE, RECREATE, sp.label, StepStatus.RUNNING,
                             "present; checking its initial sync", data={"sent": True})
    try:
        await _wait_for_sync(ctx, sp, progress, step, position)
    except StepFailed as exc:
        _failed(ctx, progress, sp, exc.message.removeprefix(f"{sp.label}: "), position, journal=exc.message)
        raise
    after = await observe(ctx, ("sr_groups", "sr_partnerships"))
    reasons = sr_unreadable(after, ("sr_groups", "sr_partnerships"))
    if reasons:
        why = "cannot compare it with the snapshot: " + "; ".join(reasons)
        _failed(ctx, progress, sp, why, position, journal="; ".join(reasons))
        raise StepFailed(step, f"{sp.label}: {why}")
    differences = differences_of(sp, after.sr_groups, after.sr_partnerships, sites, ctx.name)
    if differences:
        message = "replicates, but differs from the snapshot: " + "; ".join(
            d.sentence.removeprefix(f"{sp.label}: ") for d in differences)
        _failed(ctx, progress, sp, message, position, journal=message)
        raise StepFailed(step, f"{sp.label} {message}")
    ctx.journal.set_step(PHASE_RECREATE, RECREATE, sp.label, StepStatus.DONE,
                         "ContinuouslyReplicating; same as the snapshot")
    progress(ProgressEvent(sp.label, "replicating, same as the snapshot", 1.0, stage=Stage.DONE, position=position))


def record_diff(ctx: Context, differences: list[Difference]) -> None:
    if differences:
        ctx.journal.set_step(PHASE_RECREATE, DIFF, None, StepStatus.FAILED,
                             f"{len(differences)} difference{'s' if len(differences) != 1 else ''}: "
                             + "; ".join(d.sentence for d in differences[:3]))
    else:
        ctx.journal.set_step(PHASE_RECREATE, DIFF, None, StepStatus.DONE, "same as the snapshot")


async def recreate(ctx: Context, progress: Progress = no_progress) -> list[Difference]:
    """Recreate every partnership of the snapshot, one at a time, then diff the whole against it."""
    step = "recreate SR partnerships"
    state = await observe(ctx, SR_PARTS)
    outside = not_stretched(ctx, state, SR_PARTS)
    if outside:
        raise Refused(step, outside)
    snapshot = verified(ctx, step)
    reasons = recreate_blockers(state)
    if reasons:
        raise Refused(step, reasons)
    sites = sites_of(ctx)
    count = len(snapshot.partnerships)
    for index, sp in enumerate(snapshot.partnerships):
        await _recreate_one(ctx, sp, progress, step, sites, (index + 1, count))
    differences = await compare(ctx, snapshot)
    if differences:
        raise StepFailed(step, "the recreated configuration differs from the snapshot: "
                         + "; ".join(d.sentence for d in differences[:3]))
    return differences


async def compare(ctx: Context, snapshot: SRSnapshot | None = None, *, record: bool = True) -> list[Difference]:
    """Read the cluster and diff it against the (re-read) snapshot. Raises SnapshotError or StepFailed; Refused on
    a cluster that is not stretched."""
    state = await observe(ctx, ("sr_groups", "sr_partnerships"))
    outside = not_stretched(ctx, state, ("sr_groups", "sr_partnerships"))
    if outside:
        raise Refused("SR diff", outside)
    snapshot = snapshot or load_snapshot(ctx)
    reasons = sr_unreadable(state, ("sr_groups", "sr_partnerships"))
    if reasons:
        raise StepFailed("SR diff", "; ".join(reasons))
    differences = diff(snapshot, state.sr_groups, state.sr_partnerships, sites_of(ctx))
    if record:
        record_diff(ctx, differences)
    return differences
