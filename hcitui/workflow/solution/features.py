"""Install seed 001's required Windows features and enable its optional features, node by node.

Seed 001: "Some of them do require a restart so it is important you put the node into maintenance prior
installing them." So, one node at a time: read what the node lacks (nothing: skipped, with a sentence);
drain it with the maintenance interlocks (refused when unsafe, as a drain is); install the Windows features,
then enable the optional features (each says whether it needs a restart); restart the node through the
restart cycle when one says Yes (or Maybe, or a feature waits InstallPending/EnablePending), else resume it;
then read again and prove every required feature Installed and Enabled. The run stops at the first node that
fails, and goes on where it stopped when run again: the journal holds the run's order and the nodes done, each
node's record what it installed and whether a restart is owed, and the one-node-out lock; the rest is read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepStatus
from hcitui.core.model.readiness import REQUIRED_OPTIONAL_FEATURES, REQUIRED_WINDOWS_FEATURES
from hcitui.ps import nodes as node_ops
from hcitui.ps import readiness as readiness_ops
from hcitui.ps import remedies as remedy_ops
from hcitui.remote import RemoteError
from hcitui.workflow import interlocks, maintenance
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.maintenance.common import other
from hcitui.workflow.solution.common import (
    FEATURES,
    FEATURES_RUN,
    PHASE,
    Missing,
    at,
    finish_estimate,
    missing_of,
    read_node,
    refuse_unless_allowed,
    started_at,
)
from hcitui.workflow.steps import Plan, Refused, StepFailed

STEP = "features-install"
SKIPPED = "nothing to install: every required feature Installed and Enabled"
REMEDY = Remedy(action=Action.FEATURES_INSTALL)


def run_record(ctx: Context) -> dict[str, Any]:
    record = ctx.journal.step(PHASE, FEATURES_RUN, None)
    return dict(record.data) if record else {}


# ------------------------------------------------------------------------------ the plan


async def read_missing(ctx: Context, nodes: list[str]) -> dict[str, Missing | str]:
    """What each node lacks now (a sentence for a node that could not be read): the preview names exactly
    what will be installed. The run reads each node again when its turn comes."""
    outcomes = await ctx.client.fan_out(readiness_ops.get_node_readiness, None, nodes=nodes)
    found: dict[str, Missing | str] = {}
    for node in nodes:
        outcome = outcomes[node]
        if not outcome.ok:
            found[node] = f"could not be read: {outcome.error.message if outcome.error else 'no answer'}"
            continue
        try:
            found[node] = missing_of(node, outcome.value, STEP)
        except StepFailed as exc:
            found[node] = exc.message
    return found


def plan_features(ctx: Context, nodes: list[str], missing: dict[str, Missing | str] | None = None) -> Plan:
    """The PowerShell of the run: per node, the read, the drain, the installs (what ``missing`` found, or seed
    001's whole lists when it was not read), the restart or the resume, the read that proves it."""
    plan = Plan(f"Install the required Windows and optional features, one node at a time: {', '.join(nodes)}")
    plan.notes += [
        "Each node: read what it lacks (nothing: skipped); drain it (refused unless every other node is Up,",
        "storage is quiet and no other node is out); install the Windows features, then enable the optional",
        "features; restart it (drain kept, wait for WinRM and Paused, resume, wait for storage) only when one",
        "says RestartNeeded, else resume it; then read again: every feature must be Installed and Enabled.",
        "Stops at the first node that fails, left drained; run it again to go on where it stopped.",
        "-IncludeAllSubFeature as seed 001 runs it: the subfeatures the optional-feature list needs too.",
    ]
    plan.add(readiness_ops.get_node_readiness, None, f"each of {', '.join(nodes)} in turn",
             "what the node lacks; read again after its install, to prove every feature Installed and Enabled")
    for node in nodes:
        lacks = (missing or {}).get(node)
        if isinstance(lacks, str):
            plan.notes.append(f"{node}: {lacks}; it is read again when its turn comes")
        elif isinstance(lacks, Missing) and lacks.nothing:
            plan.notes.append(f"{node}: nothing to install (skipped)")
            continue
        windows = lacks.windows if isinstance(lacks, Missing) else list(REQUIRED_WINDOWS_FEATURES)
        optional = lacks.optional if isinstance(lacks, Missing) else list(REQUIRED_OPTIONAL_FEATURES)
        plan.add(node_ops.suspend_node, {"name": node}, other(ctx, node), "1. drain")
        if windows:
            plan.add(remedy_ops.install_windows_features, {"names": windows}, node, "2. install, one at a time")
        if optional:
            plan.add(remedy_ops.enable_optional_features, {"names": optional}, node, "3. enable, one at a time")
        plan.add(node_ops.restart_node, None, node, "4. only when a feature needs a restart (the restart cycle)")
        plan.add(node_ops.resume_node, {"name": node}, other(ctx, node), "5. else resume with failback")
    return plan


# ------------------------------------------------------------------------------ one node


def _count(names: list[str], word: str) -> str:
    return f"{len(names)} {word}{'' if len(names) == 1 else 's'}: {', '.join(names)}"


def _save(ctx: Context, node: str, detail: str, **data: Any) -> None:
    ctx.journal.set_step(PHASE, FEATURES, node, StepStatus.RUNNING, detail, data=data or None)


def _fail(ctx: Context, node: str, message: str, *, left_out: bool = True) -> StepFailed:
    lock = ctx.journal.state.lock
    if left_out and lock is not None and lock.node == node:
        message += (f"; {node} stays drained (out of service): fix the cause and run features-install again "
                    f"(it goes on where it stopped), or resume it with hcitui resume --node {node}")
    ctx.journal.set_step(PHASE, FEATURES, node, StepStatus.FAILED, message)
    return StepFailed(f"{STEP} {node}", message, remedy=REMEDY)


async def _install(ctx: Context, node: str, lacks: Missing, progress: Progress) -> bool:
    """Install the Windows features, read again, enable the optional features still missing. Returns
    whether a restart is needed (a feature said so, or one waits InstallPending/EnablePending)."""
    step = f"{STEP} {node}"
    restart = False
    if lacks.windows:
        progress(ProgressEvent(node, f"installing {_count(lacks.windows, 'Windows feature')}", stage=Stage.WAITING,
                               since=datetime.now(UTC)))
        try:
            rows: list[model.FeatureInstall] = await ctx.client.invoke(
                node, remedy_ops.install_windows_features, {"names": lacks.windows})
        except RemoteError as exc:
            raise _fail(ctx, node, f"Install-WindowsFeature: {exc.message}") from None
        failed = [f"{r.name} ({r.error or r.exit_code or 'failed'})" for r in rows if not r.success]
        restart = any(r.needs_restart for r in rows)
        _save(ctx, node, "Windows features installed", installed=[r.name for r in rows if r.success],
              restart_needed=restart or bool(run_node_data(ctx, node).get("restart_needed")))
        if failed:
            raise _fail(ctx, node, f"Install-WindowsFeature failed for {', '.join(failed)}")
        # Installing a Windows feature can enable optional features of the same name: read what is left.
        lacks = missing_of(node, await read_node(ctx, node, step), step)
    if lacks.optional:
        progress(ProgressEvent(node, f"enabling {_count(lacks.optional, 'optional feature')}", stage=Stage.WAITING,
                               since=datetime.now(UTC)))
        try:
            enabled: list[model.OptionalFeatureEnable] = await ctx.client.invoke(
                node, remedy_ops.enable_optional_features, {"names": lacks.optional})
        except RemoteError as exc:
            raise _fail(ctx, node, f"Enable-WindowsOptionalFeature: {exc.message}") from None
        failed = [f"{r.feature_name} ({r.error or 'failed'})" for r in enabled if not r.success]
        restart = restart or any(r.needs_restart for r in enabled)
        _save(ctx, node, "optional features enabled", enabled=[r.feature_name for r in enabled if r.success],
              restart_needed=restart or bool(run_node_data(ctx, node).get("restart_needed")))
        if failed:
            raise _fail(ctx, node, f"Enable-WindowsOptionalFeature failed for {', '.join(failed)}")
    return restart or bool(lacks.pending)


def run_node_data(ctx: Context, node: str) -> dict[str, Any]:
    record = ctx.journal.step(PHASE, FEATURES, node)
    return dict(record.data) if record else {}


def _cycle_interrupted(ctx: Context, node: str) -> bool:
    """A restart cycle of ``node`` was cut short with the node out: it must be resumed, not started again."""
    lock = ctx.journal.state.lock
    record = ctx.journal.step(maintenance.PHASE, maintenance.RESTART, node)
    return (lock is not None and lock.node == node and record is not None
            and record.status in (StepStatus.RUNNING, StepStatus.UNKNOWN))


async def install_node(ctx: Context, node: str, progress: Progress = no_progress) -> str:
    """One node: skip when it lacks nothing; else drain, install, restart when needed (else resume), prove.
    Goes on where an interrupted run of it stopped. Returns the sentence of how it ended ("nothing to
    install..." when it was skipped)."""
    step = f"{STEP} {node}"
    record = ctx.journal.step(PHASE, FEATURES, node)
    resuming = record is not None and record.status in (StepStatus.RUNNING, StepStatus.UNKNOWN)
    try:
        restarted = False
        if resuming and _cycle_interrupted(ctx, node):
            progress(ProgressEvent(node, "resuming its interrupted restart"))
            await maintenance.restart(ctx, node, progress)
            _save(ctx, node, "restarted", restart_needed=False)
            restarted = True
        lacks = missing_of(node, await read_node(ctx, node, step), step)
        lock = ctx.journal.state.lock
        # The node out of service for this step: an interrupted run of it, or one that failed and left it drained.
        failed_before = record is not None and record.status is StepStatus.FAILED
        ours = (resuming or failed_before) and lock is not None and lock.node == node
        if lacks.nothing and not ours:
            if resuming or failed_before:  # it ended (or was fixed) but for its proof
                return await _prove(ctx, node, restarted)
            return SKIPPED
        if resuming:
            _save(ctx, node, "resumed after an interruption")
        elif ours:
            _save(ctx, node, "going on after the failure")
        else:
            ctx.journal.set_step(PHASE, FEATURES, node, StepStatus.RUNNING, "starting: " + lacks.words(),
                                 fresh=True, data={"windows": lacks.windows, "optional": lacks.optional,
                                                   "pending": lacks.pending, "restart_needed": False})
        progress(ProgressEvent(node, lacks.words()))
        restart = bool(run_node_data(ctx, node).get("restart_needed")) or bool(lacks.pending)
        if lacks.windows or lacks.optional:
            state = await maintenance.read_state(ctx)
            if not (ours and not interlocks.drained(node, state)):
                _save(ctx, node, "draining")
                await maintenance.drain(ctx, node, progress)  # refused when unsafe; a failed drain is undone
            restart = await _install(ctx, node, lacks, progress) or restart
        if restart:
            _save(ctx, node, "restarting: a feature needs it", restart_needed=True)
            progress(ProgressEvent(node, "a feature needs a restart: restarting"))
            await maintenance.restart(ctx, node, progress)
            _save(ctx, node, "restarted", restart_needed=False)
            restarted = True
        else:
            await _bring_back(ctx, node, progress)
    except Refused as exc:
        if ctx.journal.step(PHASE, FEATURES, node) is not None:
            ctx.journal.set_step(PHASE, FEATURES, node, StepStatus.FAILED, exc.sentence)
        raise
    except StepFailed as exc:
        current = ctx.journal.step(PHASE, FEATURES, node)
        if current is not None and current.status is not StepStatus.FAILED:
            raise _fail(ctx, node, exc.message) from None
        raise
    return await _prove(ctx, node, restarted)


async def _bring_back(ctx: Context, node: str, progress: Progress) -> None:
    """No restart needed: resume the node (unless the operator had paused it before), then release the lock."""
    lock = ctx.journal.state.lock
    if lock is None or lock.node != node:
        return
    if lock.was_paused:
        ctx.journal.release_lock(node)
        progress(ProgressEvent(node, "left Paused, as it was before"))
        return
    state = await maintenance.read_state(ctx)
    target = state.cluster_node(node)
    if target is not None and target.state == model.NodeState.PAUSED:
        _save(ctx, node, "resuming")
        await maintenance.resume(ctx, node, progress)
    else:  # already resumed before an interruption: storage, then the lock
        await maintenance.wait_for_storage(ctx, node, progress, f"{STEP} {node}")
        ctx.journal.release_lock(node)


async def _prove(ctx: Context, node: str, restarted: bool) -> str:
    step = f"{STEP} {node}"
    left = missing_of(node, await read_node(ctx, node, step), step)
    if not left.nothing:
        after = "after its restart" if restarted else "after the install"
        raise _fail(ctx, node, f"{after}, {node} still has {left.words()}", left_out=False)
    done = "every required feature Installed and Enabled" + (" (restarted)" if restarted else " (no restart needed)")
    ctx.journal.set_step(PHASE, FEATURES, node, StepStatus.DONE, done)
    return done


# ------------------------------------------------------------------------------ the run


async def install_features(ctx: Context, nodes: list[str] | None = None, progress: Progress = no_progress) -> str:
    """Every node in turn (or the ones named), one at a time; stops at the first failure with what is pending
    named. Resumes an interrupted run at the node where it stopped. Returns the sentence of how it ended."""
    targets = refuse_unless_allowed(ctx, STEP, nodes)
    record = ctx.journal.step(PHASE, FEATURES_RUN, None)
    if record is not None and record.status in (StepStatus.RUNNING, StepStatus.UNKNOWN) and nodes is None:
        order = list(record.data.get("order", [])) or targets
        completed = list(record.data.get("completed", []))
        ctx.journal.set_step(PHASE, FEATURES_RUN, None, StepStatus.RUNNING, "resumed after an interruption")
    else:
        order, completed = targets, []
        ctx.journal.set_step(PHASE, FEATURES_RUN, None, StepStatus.RUNNING, f"0 of {len(order)} nodes",
                             data={"order": order, "completed": [], "skipped": []}, fresh=True)
    skipped = list(run_record(ctx).get("skipped", []))
    for number, node in enumerate(order, start=1):
        if node in completed:
            continue
        pending = [n for n in order if n not in completed]
        estimate = finish_estimate(ctx, FEATURES, order, completed, node, started_at(ctx, FEATURES, node))
        try:
            words = await install_node(ctx, node, at(progress, (number, len(order)), estimate))
        except (Refused, StepFailed) as exc:
            ctx.journal.set_step(PHASE, FEATURES_RUN, None, StepStatus.FAILED,
                                 f"stopped at {node}: {exc}; pending: {', '.join(pending)}")
            raise
        stage = Stage.SKIPPED if words == SKIPPED else Stage.DONE
        if stage is Stage.SKIPPED:
            skipped.append(node)
        at(progress, (number, len(order)), estimate, final=True)(ProgressEvent(node, words, 1.0, stage=stage))
        completed.append(node)
        ctx.journal.set_step(PHASE, FEATURES_RUN, None, StepStatus.RUNNING, f"{len(completed)} of {len(order)} nodes",
                             data={"completed": completed, "skipped": skipped})
    installed = [n for n in order if n not in skipped]
    done = (f"features installed on {len(installed)} of {len(order)} nodes ({', '.join(installed)}); "
            f"every node has every required feature" if installed else
            f"nothing to install: every required feature is Installed and Enabled on {len(order)} nodes")
    ctx.journal.set_step(PHASE, FEATURES_RUN, None, StepStatus.DONE, done)
    return done
