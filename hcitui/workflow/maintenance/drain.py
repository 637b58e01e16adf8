"""Taking a node out (drain) and bringing it back (resume), each proved by a read, and the wait for
storage to settle that follows every return."""

from __future__ import annotations

import asyncio
import time

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepStatus
from hcitui.ps import nodes as node_ops
from hcitui.remote import RemoteError
from hcitui.workflow import interlocks
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.maintenance.common import (
    DRAIN,
    PHASE,
    RESUME,
    read_state,
    roles_on,
    storage_bytes,
    take_lock,
)
from hcitui.workflow.observe import observe
from hcitui.workflow.steps import Refused, StepFailed


async def drain_node(ctx: Context, node: str, progress: Progress, step: str, *, final: bool = False) -> None:
    """Suspend-ClusterNode -Drain -Wait, showing roles and DrainStatus live, then prove it.
    ``final``: the drain is the whole step (its proof ends the node's part), not a stage of a cycle."""
    task = asyncio.ensure_future(ctx.client.invoke_cluster(
        node_ops.suspend_node, {"name": node}, timeout=ctx.cluster.timeouts.drain, avoid=[node]))
    try:
        while not task.done():
            state = await observe(ctx, ("nodes", "groups"))
            target = state.cluster_node(node)
            roles = roles_on(state, node)
            status = str(target.drain_status) if target else None
            progress(ProgressEvent(node, f"draining: {len(roles)} roles left, DrainStatus {status or '?'}",
                                   status=status))
            await asyncio.wait({task}, timeout=ctx.poll)
        task.result()
    except RemoteError as exc:
        hint, remedy = "", None
        if "live migration" in exc.message.lower():
            hint = (" (set SkipSmallLocalAllocations = 0 with the registry keys, or shut down the "
                    "dynamic-memory VMs, then try again)")
            remedy = Remedy(action=Action.REGISTRY_SET)
        raise StepFailed(step, f"{node}: {exc.message}{hint}", remedy=remedy) from None
    finally:
        if not task.done():
            task.cancel()
    state = await read_state(ctx)
    contradictions = interlocks.drained(node, state)
    if contradictions:
        raise StepFailed(step, f"{node} is not drained: " + "; ".join(contradictions))
    progress(ProgressEvent(node, "drained: Paused, nothing Online", 1.0,
                           stage=Stage.DONE if final else Stage.WORKING, status=str(model.DrainStatus.COMPLETED)))


async def undo_failed_drain(ctx: Context, node: str, was_paused: bool, progress: Progress) -> str:
    """A failed drain leaves the node as it was: resume it (roles fail back) unless it was paused."""
    if was_paused:
        return f"{node} stays Paused, as it was before"
    try:
        await ctx.client.invoke_cluster(node_ops.resume_node, {"name": node},
                                        timeout=ctx.cluster.timeouts.operation, avoid=[node])
    except RemoteError as exc:
        return f"resuming {node} after the failed drain failed too ({exc.message}): resume it by hand"
    progress(ProgressEvent(node, "drain failed; resumed as it was", stage=Stage.FAILED))
    return f"{node} was resumed as it was before"


async def drain(ctx: Context, node: str, progress: Progress = no_progress) -> None:
    """Take ``node`` out: interlocks, the lock, the drain, the proof. A failure undoes the drain."""
    state = await read_state(ctx)
    lock = ctx.journal.state.lock
    reasons = interlocks.take_out_blockers(node, state, lock, stretched=ctx.stretched)
    if reasons:
        raise Refused(f"drain {node}", reasons, remedy=interlocks.cau_remedy(state))
    target = state.cluster_node(node)
    if lock is not None and lock.node == node:
        was_paused = lock.was_paused  # we hold it already: its prior state was noted then
    else:
        was_paused = target is not None and target.state == model.NodeState.PAUSED
    take_lock(ctx, node, "drain", was_paused)
    ctx.journal.set_step(PHASE, DRAIN, node, StepStatus.RUNNING, "draining", fresh=True)
    try:
        await drain_node(ctx, node, progress, f"drain {node}", final=True)
    except StepFailed as exc:
        outcome = await undo_failed_drain(ctx, node, was_paused, progress)
        ctx.journal.release_lock(node)
        ctx.journal.set_step(PHASE, DRAIN, node, StepStatus.FAILED, f"{exc.message}; {outcome}")
        raise StepFailed(exc.step, f"{exc.message}; {outcome}", remedy=exc.remedy) from None
    ctx.journal.set_step(PHASE, DRAIN, node, StepStatus.DONE, "Paused, nothing Online")


async def wait_for_storage(ctx: Context, node: str, progress: Progress, step: str) -> None:
    """Until no storage job runs, every disk is Healthy and no SR group is in initial sync."""
    deadline = time.monotonic() + ctx.cluster.timeouts.storage_sync
    while True:
        state = await observe(ctx, ("jobs", "disks", "sr_groups"))
        reasons = interlocks.storage_blockers(state, stretched=ctx.stretched)
        if not reasons:
            progress(ProgressEvent(node, "storage quiet: no jobs, disks Healthy", 1.0))
            return
        if time.monotonic() > deadline:
            raise StepFailed(step, f"storage did not settle within {ctx.cluster.timeouts.storage_sync:g} s: "
                             + "; ".join(reasons))
        counted = storage_bytes(state)
        done, total = counted if counted else (None, None)
        progress(ProgressEvent(node, "waiting for storage: " + reasons[0], done / total if counted else None,
                               stage=Stage.WAITING, done=done, total=total))
        await asyncio.sleep(ctx.poll)


async def resume_node(ctx: Context, node: str, progress: Progress, step: str) -> None:
    try:
        await ctx.client.invoke_cluster(node_ops.resume_node, {"name": node},
                                        timeout=ctx.cluster.timeouts.operation, avoid=[node])
    except RemoteError as exc:
        raise StepFailed(step, f"{node}: {exc.message}") from None
    progress(ProgressEvent(node, "resumed; roles failing back"))


async def resume(ctx: Context, node: str, progress: Progress = no_progress) -> None:
    """Resume a paused node (the operator asked), wait for storage, release the lock."""
    state = await read_state(ctx)
    reasons = interlocks.resume_blockers(node, state)
    if reasons:
        raise Refused(f"resume {node}", reasons)
    step = f"resume {node}"
    ctx.journal.set_step(PHASE, RESUME, node, StepStatus.RUNNING, "resuming", fresh=True)
    try:
        await resume_node(ctx, node, progress, step)
        await wait_for_storage(ctx, node, progress, step)
        state = await read_state(ctx)
        target = state.cluster_node(node)
        if target is None or target.state != model.NodeState.UP:
            raise StepFailed(step, f"{node} is {target.state if target else 'not a member'} after the resume")
    except StepFailed as exc:
        ctx.journal.set_step(PHASE, RESUME, node, StepStatus.FAILED, exc.message)
        raise
    ctx.journal.release_lock(node)
    ctx.journal.set_step(PHASE, RESUME, node, StepStatus.DONE, "Up, storage quiet")
    progress(ProgressEvent(node, "resumed: Up, storage quiet", 1.0, stage=Stage.DONE))
