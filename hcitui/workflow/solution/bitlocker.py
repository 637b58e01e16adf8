"""Suspend BitLocker before the solution update, resume it after (seed 001, "BitLocker Suspension": "In case of
a reboot, the BitLocker recovery must be entered which will interrupt the upgrade process").

Suspend: on every node (or one), each BitLocker volume whose protection is On is suspended with
``Suspend-BitLocker -RebootCount 0`` (until Resume-BitLocker, whatever the restarts), and the volume's re-read
must show ProtectionStatus Off. Resume: each volume BitLocker encrypted whose protection is Off (suspended)
gets ``Resume-BitLocker``, and its re-read must show On. Nodes one at a time; the first failure stops the run
(what is done stays done, and running it again goes on: a volume already as wanted is left alone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepStatus
from hcitui.ps import Operation
from hcitui.ps import readiness as readiness_ops
from hcitui.ps import remedies as remedy_ops
from hcitui.remote import RemoteError
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.solution.common import (
    BITLOCKER_RESUME,
    BITLOCKER_SUSPEND,
    PHASE,
    at,
    protected_volumes,
    read_node,
    refuse_unless_allowed,
    suspended_volumes,
)
from hcitui.workflow.steps import Plan, StepFailed


@dataclass(frozen=True)
class Direction:
    """Suspend or resume: its step, the operation, which volumes it acts on, what the re-read must show."""

    step: str
    verb: str  # "suspend", "resume"
    op: Operation
    volumes: Callable[[str, model.NodeReadiness, str], list[model.BitLockerVolume]]
    want: str  # the ProtectionStatus the re-read must show
    done_words: str  # "suspended until Resume-BitLocker"
    stretched_too: bool  # resuming is allowed on a stretched cluster (it undoes); suspending prepares nothing there
    remedy: Remedy | None


SUSPEND = Direction(BITLOCKER_SUSPEND, "suspend", remedy_ops.suspend_bitlocker, protected_volumes, "off",
                    "suspended until Resume-BitLocker (ProtectionStatus Off)", False,
                    Remedy(action=Action.BITLOCKER_SUSPEND))
RESUME = Direction(BITLOCKER_RESUME, "resume", remedy_ops.resume_bitlocker, suspended_volumes, "on",
                   "protected again (ProtectionStatus On)", True, None)


async def read_volumes(ctx: Context, nodes: list[str], direction: Direction) -> dict[str, list[str] | str]:
    """The mount points the step would act on, per node (a sentence for a node that could not be read): the
    preview names them. Each node is read again when its turn comes."""
    outcomes = await ctx.client.fan_out(readiness_ops.get_node_readiness, None, nodes=nodes)
    found: dict[str, list[str] | str] = {}
    for node in nodes:
        outcome = outcomes[node]
        if not outcome.ok:
            found[node] = f"could not be read: {outcome.error.message if outcome.error else 'no answer'}"
            continue
        try:
            found[node] = [v.mount_point for v in direction.volumes(node, outcome.value, direction.step)]
        except StepFailed as exc:
            found[node] = exc.message
    return found


def plan_bitlocker(ctx: Context, nodes: list[str], direction: Direction,
                   volumes: dict[str, list[str] | str] | None = None) -> Plan:
    if direction is SUSPEND:
        plan = Plan(f"Suspend BitLocker on every protected volume of {', '.join(nodes)} until Resume-BitLocker")
        plan.notes += ["Seed 001: suspended, a restart during the solution update does not stop at the BitLocker",
                       "recovery screen. -RebootCount 0: suspended until you resume it (b/B on 12) Readiness,",
                       "hcitui bitlocker-resume). Each volume is read again: ProtectionStatus must be Off."]
    else:
        plan = Plan(f"Resume BitLocker on every suspended volume of {', '.join(nodes)}")
        plan.notes.append("After the solution update. Each volume is read again: ProtectionStatus must be On.")
    plan.add(readiness_ops.get_node_readiness, None, f"each of {', '.join(nodes)} in turn",
             "which volumes (MountPoint, VolumeStatus, ProtectionStatus)")
    for node in nodes:
        found = (volumes or {}).get(node)
        if isinstance(found, str):
            plan.notes.append(f"{node}: {found}; it is read again when its turn comes")
        if isinstance(found, list) and not found:
            plan.notes.append(f"{node}: no volume to {direction.verb} (skipped)")
            continue
        for mount_point in found if isinstance(found, list) else ["C:"]:
            plan.add(direction.op, {"mount_point": mount_point}, node, f"{direction.verb} {mount_point}, then read it")
    if volumes is None:
        plan.notes.append("The volumes are read first: C: stands for each one found.")
    return plan


async def _node(ctx: Context, node: str, direction: Direction, progress: Progress) -> str:
    step = f"bitlocker-{direction.verb} {node}"
    volumes = direction.volumes(node, await read_node(ctx, node, step), step)
    if not volumes:
        return f"no volume to {direction.verb}"
    ctx.journal.set_step(PHASE, direction.step, node, StepStatus.RUNNING, f"{direction.verb}: "
                         + ", ".join(v.mount_point for v in volumes), fresh=True,
                         data={"volumes": [v.mount_point for v in volumes], "done": []})
    done: list[str] = []
    for volume in volumes:
        progress(ProgressEvent(node, f"{direction.verb} BitLocker on {volume.mount_point}"))
        try:
            state: model.BitLockerVolumeState = await ctx.client.invoke(
                node, direction.op, {"mount_point": volume.mount_point})
        except RemoteError as exc:
            message = f"{node} {volume.mount_point}: {exc.message}"
            ctx.journal.set_step(PHASE, direction.step, node, StepStatus.FAILED, message)
            raise StepFailed(step, message, remedy=direction.remedy) from None
        status = (state.protection_status or "?").strip()
        if status.lower() != direction.want:
            message = (f"{node} {volume.mount_point}: ProtectionStatus is {status} after {direction.verb.title()}-"
                       f"BitLocker, not {direction.want.title()}")
            ctx.journal.set_step(PHASE, direction.step, node, StepStatus.FAILED, message)
            raise StepFailed(step, message, remedy=direction.remedy)
        done.append(volume.mount_point)
        ctx.journal.set_step(PHASE, direction.step, node, StepStatus.RUNNING, f"{len(done)} of {len(volumes)}",
                             data={"done": done})
    words = f"{', '.join(done)} {direction.done_words}"
    ctx.journal.set_step(PHASE, direction.step, node, StepStatus.DONE, words)
    return words


async def _run(ctx: Context, nodes: list[str] | None, direction: Direction, progress: Progress) -> str:
    targets = refuse_unless_allowed(ctx, f"bitlocker-{direction.verb}", nodes, stretched_too=direction.stretched_too)
    changed = 0
    for number, node in enumerate(targets, start=1):
        forward = at(progress, (number, len(targets)), final=True)
        try:
            words = await _node(ctx, node, direction, at(progress, (number, len(targets))))
        except StepFailed as exc:
            forward(ProgressEvent(node, exc.message, stage=Stage.FAILED))
            raise
        skipped = words.startswith("no volume")
        changed += not skipped
        forward(ProgressEvent(node, words, 1.0, stage=Stage.SKIPPED if skipped else Stage.DONE))
    if not changed:
        return f"Nothing to do: no volume to {direction.verb} on {len(targets)} nodes."
    return f"BitLocker {'suspended' if direction is SUSPEND else 'resumed'} on {changed} of {len(targets)} nodes."


async def suspend(ctx: Context, nodes: list[str] | None = None, progress: Progress = no_progress) -> str:
    """Suspend every protected BitLocker volume of every node (or those named), until Resume-BitLocker."""
    return await _run(ctx, nodes, SUSPEND, progress)


async def resume(ctx: Context, nodes: list[str] | None = None, progress: Progress = no_progress) -> str:
    """Resume every suspended BitLocker volume of every node (or those named)."""
    return await _run(ctx, nodes, RESUME, progress)
