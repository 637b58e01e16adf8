"""The restart cycle of one node, and the manual upgrade that is the same cycle with setup as its restart.

The cycle is driven by what the cluster shows, not by a remembered stage: each pass reads the node and
the cluster and does the next safe thing (drain, restart, wait for WinRM, wait for Paused, resume, wait
for storage). A run killed at any instant therefore resumes correctly: the journal holds the
one-node-out lock (with the node's prior state) and the node's boot time before the restart, and
everything else is read again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepStatus
from hcitui.ps import Operation
from hcitui.ps import nodes as node_ops
from hcitui.ps import upgrade as upgrade_ops
from hcitui.remote import OperationFailed, RemoteError, Unreachable
from hcitui.workflow import interlocks
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.maintenance import setup
from hcitui.workflow.maintenance.common import PHASE, RESTART, boot_of, read_state, take_lock
from hcitui.workflow.maintenance.drain import drain_node, resume_node, undo_failed_drain, wait_for_storage
from hcitui.workflow.observe import problem
from hcitui.workflow.steps import Refused, StepFailed


@dataclass(frozen=True)
class CycleKind:
    """What takes the node down in a cycle: a plain restart, or setup upgrading the OS."""

    phase: int
    step: str  # journal step name
    label: str  # in sentences: "restart LAB-A1", "upgrade LAB-A1"
    op: Operation
    params: Callable[[Context], dict[str, Any] | None]
    action: Action  # what runs this cycle again (to resume it, or after a failure)
    expect_build: int | None = None  # the build the node must report afterwards


RESTART_KIND = CycleKind(PHASE, RESTART, "restart", node_ops.restart_node, lambda ctx: None, Action.NODE_RESTART)
UPGRADE_KIND = CycleKind(5, "manual-upgrade", "upgrade", upgrade_ops.start_os_upgrade,
                         lambda ctx: {"media_path": ctx.cluster.staging_path}, Action.NODE_UPGRADE,
                         model.UPGRADE_TO_BUILD)


async def restart(ctx: Context, node: str, progress: Progress = no_progress) -> None:
    """The full restart cycle for one node. Resumes a cycle the journal shows was interrupted."""
    await run_cycle(ctx, node, RESTART_KIND, progress)


async def manual_upgrade(ctx: Context, node: str, progress: Progress = no_progress, *,
                         override_registry: str | None = None) -> None:
    """The manual path for one node: drain, setup from the staged folder (upgrade, keep files),
    wait for the new build and the node Paused, resume, wait for storage. Gated as the CAU rolling
    upgrade is (workflow/gates.py); ``override_registry``: the typed reason to go on although the
    registry values are not proved in force (journalled)."""
    await run_cycle(ctx, node, UPGRADE_KIND, progress, override_registry=override_registry)


async def run_cycle(ctx: Context, node: str, kind: CycleKind, progress: Progress = no_progress, *,
                    override_registry: str | None = None) -> None:
    step = f"{kind.label} {node}"
    lock = ctx.journal.state.lock
    record = ctx.journal.step(kind.phase, kind.step, node)
    resuming = (lock is not None and lock.node == node and record is not None
                and record.status in (StepStatus.RUNNING, StepStatus.UNKNOWN))
    if not resuming:
        state = await read_state(ctx, node)  # with the node's OS: its build decides an upgrade
        reasons = interlocks.take_out_blockers(node, state, lock, stretched=ctx.stretched)
        remedy = interlocks.cau_remedy(state)
        judged: list[Any] = []
        if kind.expect_build is not None:
            more, staging_remedy = await setup.upgrade_blockers(ctx, node, state)
            reasons += more
            remedy = remedy or staging_remedy
            from hcitui.workflow import gates  # gates reads registry, which imports this package

            judged = gates.judge(await gates.read(ctx), override_registry)
            blocked = bool(reasons)  # the node cannot go out, or setup cannot run: no override waives that
            reasons += gates.reasons(judged)
            if reasons:
                raise Refused(step, reasons, overridable=not blocked and gates.only_registry(judged),
                              remedy=remedy)
        if reasons:
            raise Refused(step, reasons, remedy=remedy)
        if judged:
            gates.record_override(ctx, judged, kind.step, node)
        target = state.cluster_node(node)
        was_paused = target is not None and target.state == model.NodeState.PAUSED
        take_lock(ctx, node, kind.label, was_paused)
        ctx.journal.set_step(kind.phase, kind.step, node, StepStatus.RUNNING, "starting", fresh=True)
        if kind.expect_build is not None:
            await setup.no_self_updating(ctx, node, step, progress)
    else:
        progress(ProgressEvent(node, f"resuming an interrupted {kind.label}: reading where it stands"))
        ctx.journal.set_step(kind.phase, kind.step, node, StepStatus.RUNNING, "resumed after an interruption")
    try:
        await _cycle(ctx, node, progress, step, kind)
        if kind.expect_build is not None:
            await setup.expect_build(ctx, node, kind.expect_build, step)
    except (StepFailed, Refused) as exc:
        ctx.journal.set_step(kind.phase, kind.step, node, StepStatus.FAILED,
                             exc.message if isinstance(exc, StepFailed) else exc.sentence)
        raise
    ctx.journal.release_lock(node)
    done = f"on build {kind.expect_build}, resumed, storage quiet" if kind.expect_build else \
        "restarted, resumed, storage quiet"
    ctx.journal.set_step(kind.phase, kind.step, node, StepStatus.DONE, done)
    progress(ProgressEvent(node, done, 1.0, stage=Stage.DONE))


def _since(data: dict[str, Any]) -> datetime | None:
    """When the restart (or setup) was sent, as the journal noted it."""
    try:
        return datetime.fromisoformat(data["sent_at"]) if data.get("sent_at") else None
    except (TypeError, ValueError):
        return None


async def _cycle(ctx: Context, node: str, progress: Progress, step: str, kind: CycleKind) -> None:
    def data_of() -> dict[str, Any]:
        record = ctx.journal.step(kind.phase, kind.step, node)
        return dict(record.data) if record else {}

    def save(detail: str, **data: Any) -> None:
        ctx.journal.set_step(kind.phase, kind.step, node, StepStatus.RUNNING, detail, data=data)

    async def take_down() -> None:
        try:
            await ctx.client.invoke(node, kind.op, kind.params(ctx), timeout=ctx.cluster.timeouts.operation)
        except Unreachable:
            pass  # the restart dropped the connection as it began: the boot time will tell
        except OperationFailed as exc:
            if "already been scheduled" not in exc.message.lower():
                raise StepFailed(step, f"{node}: {exc.message}") from None

    def sent() -> None:
        save(f"{kind.label} sent; waiting for WinRM", restart_sent=True,
             sent_at=datetime.now(UTC).isoformat(timespec="seconds"))

    deadline = time.monotonic() + ctx.cluster.timeouts.reboot + ctx.cluster.timeouts.drain
    was_paused = bool(ctx.journal.state.lock and ctx.journal.state.lock.was_paused)
    while True:
        if time.monotonic() > deadline:
            raise StepFailed(step, f"{node} did not come back within {ctx.cluster.timeouts.reboot:g} s",
                             remedy=Remedy(action=kind.action, node=node))
        data = data_of()
        state = await read_state(ctx, node)
        target = state.cluster_node(node)
        boot = boot_of(state, node)
        answered = isinstance(boot, str)

        if not data.get("boot_before"):
            # Not restarted yet: drain (unless drained), then note the boot time, then restart.
            if problem(state.nodes):
                raise StepFailed(step, f"cannot read the cluster's nodes: {problem(state.nodes)}")
            if target is None:
                raise StepFailed(step, f"{node} is not a member of the cluster")
            if interlocks.drained(node, state):
                save("draining")
                try:
                    await drain_node(ctx, node, progress, step)
                except StepFailed as exc:
                    outcome = await undo_failed_drain(ctx, node, was_paused, progress)
                    ctx.journal.release_lock(node)
                    raise StepFailed(step, f"{exc.message}; {outcome}", remedy=exc.remedy) from None
                continue
            if not answered:
                raise StepFailed(step, f"{node} does not answer before its restart: "
                                 f"{boot.message if isinstance(boot, RemoteError) else 'no boot time'}")
            save(f"{kind.label}: starting", boot_before=boot, restart_sent=False)
            progress(ProgressEvent(node, "restarting" if kind is RESTART_KIND
                                   else "running setup (upgrade, keep files)"))
            await take_down()
            sent()
            await asyncio.sleep(ctx.poll)
            continue

        if not answered or boot == data["boot_before"]:
            # Still going down, or down, or starting: wait for WinRM to answer with a new boot time.
            since = _since(data)
            if answered and not data.get("restart_sent"):
                # Killed between noting the boot time and sending the command: send it now.
                progress(ProgressEvent(node, f"the {kind.label} was not sent before the interruption; sending it"))
                await take_down()
                sent()
                pending = "restart pending"
            elif answered and kind.expect_build is not None:
                # Setup runs in its task: read how it is doing, and stop on a setup that failed.
                pending, installing = await setup.watch_setup(ctx, node, step, data_of(), save)
                since = installing or since
            else:
                pending = "restart pending"
            text = "restarting: waiting for WinRM" if not answered else pending
            progress(ProgressEvent(node, text, stage=Stage.WAITING, since=since))
            await asyncio.sleep(ctx.poll)
            continue

        # It restarted. Now the cluster must show it Paused (cluster service starts after WinRM).
        if problem(state.nodes) or target is None or target.state in (model.NodeState.DOWN,
                                                                         model.NodeState.JOINING):
            state_word = str(target.state) if target is not None else None
            progress(ProgressEvent(node, "restarted; waiting for the cluster to show it Paused",
                                   stage=Stage.WAITING, status=state_word))
            await asyncio.sleep(ctx.poll)
            continue
        if target.state == model.NodeState.PAUSED and not was_paused:
            save("resuming")
            await resume_node(ctx, node, progress, step)
            continue
        # Up (or Paused as the operator had it): wait for repair jobs and disks.
        save("waiting for storage")
        await wait_for_storage(ctx, node, progress, step)
        return
