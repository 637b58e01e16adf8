"""Phase 1 node maintenance: drain, resume, the restart cycle, and the rolling restart.

The restart cycle is driven by what the cluster shows, not by a remembered stage: each pass
reads the node and the cluster and does the next safe thing (drain, restart, wait for
WinRM, wait for Paused, resume, wait for storage). A run killed at any instant therefore
resumes correctly: the journal holds the one-node-out lock (with the node's prior state)
and the node's boot time before the restart, and everything else is read again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hcitui.core import model
from hcitui.core.journal import JournalError, StepStatus
from hcitui.ps import Operation, reads
from hcitui.ps import nodes as node_ops
from hcitui.ps import iso as iso_ops
from hcitui.ps import upgrade as upgrade_ops
from hcitui.remote import OperationFailed, RemoteError, Unreachable
from hcitui.workflow import interlocks
from hcitui.workflow.context import Context
from hcitui.workflow.observe import ClusterState, observe, problem
from hcitui.workflow.resume import register
from hcitui.workflow.events import Progress, ProgressEvent, no_progress
from hcitui.workflow.steps import Plan, Refused, StepFailed, Unfinished

PHASE = 1
DRAIN, RESUME, RESTART, ROLLING = "drain", "resume", "restart", "rolling-restart"
STATE_PARTS = ("nodes", "groups", "jobs", "disks", "sr_groups", "cau_run")
# How long setup's task may be seen ended, with no exit code recorded and the node not restarted, before
# the upgrade is called failed: a node shutting down for setup's own restart can show that for a moment.
SETUP_ENDED_GRACE = 120.0  # seconds, wall clock (the first sighting is kept in the journal)


@dataclass(frozen=True)
class CycleKind:
    """What takes the node down in a cycle: a plain restart, or setup upgrading the OS."""

    phase: int
    step: str  # journal step name
    label: str  # in sentences: "restart LAB-A1", "upgrade LAB-A1"
    op: Operation
    params: Callable[[Context], dict[str, Any] | None]
    expect_build: int | None = None  # the build the node must report afterwards


RESTART_KIND = CycleKind(PHASE, RESTART, "restart", node_ops.restart_node, lambda ctx: None)
UPGRADE_KIND = CycleKind(5, "manual-upgrade", "upgrade", upgrade_ops.start_os_upgrade,
                         lambda ctx: {"media_path": ctx.cluster.staging_path}, model.UPGRADE_TO_BUILD)


def _other(ctx: Context, node: str) -> str:
    return f"any node of {ctx.name} but {node}"


# ------------------------------------------------------------------------ plans


def plan_drain(ctx: Context, node: str) -> Plan:
    plan = Plan(f"Drain {node}: move its roles off and pause it")
    plan.notes.append("Refused unless every other node is Up, storage is quiet and no other node is out.")
    plan.add(node_ops.suspend_node, {"name": node}, _other(ctx, node), "drain (waits until the roles have moved)")
    return plan


def plan_resume(ctx: Context, node: str) -> Plan:
    plan = Plan(f"Resume {node} and fail its roles back")
    plan.add(node_ops.resume_node, {"name": node}, _other(ctx, node), "resume with failback")
    plan.notes.append("Then waits for repair storage jobs to finish and every virtual disk to be Healthy.")
    return plan


def plan_restart(ctx: Context, node: str) -> Plan:
    plan = Plan(f"Restart {node}: drain, restart, wait, resume, wait for storage")
    plan.notes += [
        "Refused unless every other node is Up, storage is quiet and no other node is out.",
        "After the restart: waits for WinRM, then for the cluster to show the node Paused; resumes it",
        "(unless you had paused it yourself), then waits for repair jobs to end and disks to be Healthy.",
    ]
    plan.add(node_ops.suspend_node, {"name": node}, _other(ctx, node), "1. drain")
    plan.add(reads.get_os_version, None, node, "2. boot time before the restart (to prove it restarted)")
    plan.add(node_ops.restart_node, None, node, "3. restart in 5 seconds")
    plan.add(node_ops.resume_node, {"name": node}, _other(ctx, node), "4. resume with failback, once Paused")
    return plan


def plan_upgrade(ctx: Context, node: str) -> Plan:
    plan = Plan(f"Upgrade {node} to 23H2 by hand: drain, setup from {ctx.cluster.staging_path}, wait, resume")
    plan.notes += [
        "Refused unless every other node is Up, storage is quiet, no other node is out, and setup.exe",
        "is staged on the node. Gated as the CAU upgrade: both registry values in force on every node (or an",
        "override with its reason, journalled), prerequisites passed recently, a re-read SR snapshot",
        "describing every live partnership (stretched), the ISO staged and verified on every node.",
        "A self-updating CAU role is disabled first so it cannot pause nodes.",
        "Setup runs in a scheduled task (SYSTEM) that outlives this session; while it installs, its",
        "task and recorded exit code are read: a setup that fails stops here, the node left drained.",
        "After setup restarts the node: waits for WinRM and build 25398, then for the cluster to show",
        "it Paused; resumes it (unless you had paused it), then waits for repair jobs and Healthy disks.",
    ]
    plan.add(upgrade_ops.disable_cau_self_updating, None, _other(ctx, node), "0. only if the role self-updates")
    plan.add(node_ops.suspend_node, {"name": node}, _other(ctx, node), "1. drain")
    plan.add(reads.get_os_version, None, node, "2. boot time and build before the upgrade")
    plan.add(upgrade_ops.start_os_upgrade, {"media_path": ctx.cluster.staging_path}, node,
             "3. setup in a scheduled task: upgrade in place, keep files; it restarts the node when installed")
    plan.add(upgrade_ops.get_os_upgrade_status, None, node, "   while it installs: is setup running, or did it fail")
    plan.add(node_ops.resume_node, {"name": node}, _other(ctx, node), "4. resume with failback, once Paused")
    return plan


def plan_rolling(ctx: Context, nodes: list[str]) -> Plan:
    plan = Plan(f"Rolling restart of {len(nodes)} nodes, one at a time: {', '.join(nodes)}")
    plan.notes.append("Each node: drain, restart, wait, resume, wait for storage; stops at the first failure.")
    for node in nodes:
        plan.calls += plan_restart(ctx, node).calls
    return plan


# ------------------------------------------------------------------------ reads


async def read_state(ctx: Context, node: str | None = None) -> ClusterState:
    """The cluster parts every maintenance decision needs, and the node's OS (boot time)."""
    return await observe(ctx, STATE_PARTS, ("os",) if node else (), nodes=[node] if node else None)


def _boot(state: ClusterState, node: str) -> str | None | RemoteError:
    value = state.node_part(node, "os")
    if isinstance(value, model.OsVersion):
        return value.last_boot_up_time.isoformat() if value.last_boot_up_time else None
    return value if isinstance(value, RemoteError) else None


def _roles_on(state: ClusterState, node: str) -> list[str]:
    if problem(state.groups):
        return []
    return [g.name for g in state.groups if (g.owner_node or "").lower() == node.lower()
            and g.state == model.GroupState.ONLINE]


def _storage_progress(state: ClusterState) -> float | None:
    if problem(state.jobs) or not state.jobs:
        return None
    total = sum(j.bytes_total or 0 for j in state.jobs)
    if not total:
        return None
    return sum(j.bytes_processed or 0 for j in state.jobs) / total


# ----------------------------------------------------------------------- drain


async def _drain(ctx: Context, node: str, progress: Progress, step: str) -> None:
    """Suspend-ClusterNode -Drain -Wait, showing roles and DrainStatus live, then prove it."""
    task = asyncio.ensure_future(ctx.client.invoke_cluster(
        node_ops.suspend_node, {"name": node}, timeout=ctx.cluster.timeouts.drain, avoid=[node]))
    try:
        while not task.done():
            state = await observe(ctx, ("nodes", "groups"))
            target = state.cluster_node(node)
            roles = _roles_on(state, node)
            status = str(target.drain_status) if target else "?"
            progress(ProgressEvent(node, f"draining: {len(roles)} roles left, DrainStatus {status}", None))
            await asyncio.wait({task}, timeout=ctx.poll)
        task.result()
    except RemoteError as exc:
        hint = ""
        if "live migration" in exc.message.lower():
            hint = (" (set SkipSmallLocalAllocations = 0 with 2) Registry keys, or shut down the "
                    "dynamic-memory VMs, then try again)")
        raise StepFailed(step, f"{node}: {exc.message}{hint}") from None
    finally:
        if not task.done():
            task.cancel()
    state = await read_state(ctx)
    contradictions = interlocks.drained(node, state)
    if contradictions:
        raise StepFailed(step, f"{node} is not drained: " + "; ".join(contradictions))
    progress(ProgressEvent(node, "drained: Paused, nothing Online", 1.0))


async def _undo_failed_drain(ctx: Context, node: str, was_paused: bool, progress: Progress) -> str:
    """A failed drain leaves the node as it was: resume it (roles fail back) unless it was paused."""
    if was_paused:
        return f"{node} stays Paused, as it was before"
    try:
        await ctx.client.invoke_cluster(node_ops.resume_node, {"name": node},
                                        timeout=ctx.cluster.timeouts.operation, avoid=[node])
    except RemoteError as exc:
        return f"resuming {node} after the failed drain failed too ({exc.message}): resume it by hand"
    progress(ProgressEvent(node, "drain failed; resumed as it was", None))
    return f"{node} was resumed as it was before"


def _lock(ctx: Context, node: str, reason: str, was_paused: bool) -> None:
    try:
        ctx.journal.acquire_lock(node, reason, was_paused=was_paused)
    except JournalError as exc:
        raise Refused(f"{reason} {node}", [str(exc)]) from None


async def drain(ctx: Context, node: str, progress: Progress = no_progress) -> None:
    """Take ``node`` out: interlocks, the lock, the drain, the proof. A failure undoes the drain."""
    state = await read_state(ctx)
    lock = ctx.journal.state.lock
    reasons = interlocks.take_out_blockers(node, state, lock)
    if reasons:
        raise Refused(f"drain {node}", reasons)
    target = state.cluster_node(node)
    if lock is not None and lock.node == node:
        was_paused = lock.was_paused  # we hold it already: its prior state was noted then
    else:
        was_paused = target is not None and target.state == model.NodeState.PAUSED
    _lock(ctx, node, "drain", was_paused)
    ctx.journal.set_step(PHASE, DRAIN, node, StepStatus.RUNNING, "draining", fresh=True)
    try:
        await _drain(ctx, node, progress, f"drain {node}")
    except StepFailed as exc:
        outcome = await _undo_failed_drain(ctx, node, was_paused, progress)
        ctx.journal.release_lock(node)
        ctx.journal.set_step(PHASE, DRAIN, node, StepStatus.FAILED, f"{exc.message}; {outcome}")
        raise StepFailed(exc.step, f"{exc.message}; {outcome}") from None
    ctx.journal.set_step(PHASE, DRAIN, node, StepStatus.DONE, "Paused, nothing Online")


# ---------------------------------------------------------------------- resume


async def wait_for_storage(ctx: Context, node: str, progress: Progress, step: str) -> None:
    """Until no storage job runs, every disk is Healthy and no SR group is in initial sync."""
    deadline = time.monotonic() + ctx.cluster.timeouts.storage_sync
    while True:
        state = await observe(ctx, ("jobs", "disks", "sr_groups"))
        reasons = interlocks.storage_blockers(state)
        if not reasons:
            progress(ProgressEvent(node, "storage quiet: no jobs, disks Healthy", 1.0))
            return
        if time.monotonic() > deadline:
            raise StepFailed(step, f"storage did not settle within {ctx.cluster.timeouts.storage_sync:g} s: "
                             + "; ".join(reasons))
        fraction = _storage_progress(state)
        text = "waiting for storage: " + reasons[0]
        progress(ProgressEvent(node, text, fraction))
        await asyncio.sleep(ctx.poll)


async def _resume(ctx: Context, node: str, progress: Progress, step: str) -> None:
    try:
        await ctx.client.invoke_cluster(node_ops.resume_node, {"name": node},
                                        timeout=ctx.cluster.timeouts.operation, avoid=[node])
    except RemoteError as exc:
        raise StepFailed(step, f"{node}: {exc.message}") from None
    progress(ProgressEvent(node, "resumed; roles failing back", None))


async def resume(ctx: Context, node: str, progress: Progress = no_progress) -> None:
    """Resume a paused node (the operator asked), wait for storage, release the lock."""
    state = await read_state(ctx)
    reasons = interlocks.resume_blockers(node, state)
    if reasons:
        raise Refused(f"resume {node}", reasons)
    step = f"resume {node}"
    ctx.journal.set_step(PHASE, RESUME, node, StepStatus.RUNNING, "resuming", fresh=True)
    try:
        await _resume(ctx, node, progress, step)
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


# --------------------------------------------------------------- restart cycle


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
        reasons = interlocks.take_out_blockers(node, state, lock)
        judged: list[Any] = []
        if kind.expect_build is not None:
            reasons += await _upgrade_blockers(ctx, node, state)
            from hcitui.workflow import gates  # gates reads registry, which imports this module

            judged = gates.judge(await gates.read(ctx), override_registry)
            blocked = bool(reasons)  # the node cannot go out, or setup cannot run: no override waives that
            reasons += gates.reasons(judged)
            if reasons:
                raise Refused(step, reasons, overridable=not blocked and gates.only_registry(judged))
        if reasons:
            raise Refused(step, reasons)
        if judged:
            gates.record_override(ctx, judged, kind.step, node)
        target = state.cluster_node(node)
        was_paused = target is not None and target.state == model.NodeState.PAUSED
        _lock(ctx, node, kind.label, was_paused)
        ctx.journal.set_step(kind.phase, kind.step, node, StepStatus.RUNNING, "starting", fresh=True)
        if kind.expect_build is not None:
            await _no_self_updating(ctx, node, step, progress)
    else:
        progress(ProgressEvent(node, f"resuming an interrupted {kind.label}: reading where it stands", None))
        ctx.journal.set_step(kind.phase, kind.step, node, StepStatus.RUNNING, "resumed after an interruption")
    try:
        await _cycle(ctx, node, progress, step, kind)
        if kind.expect_build is not None:
            await _expect_build(ctx, node, kind, step)
    except (StepFailed, Refused) as exc:
        ctx.journal.set_step(kind.phase, kind.step, node, StepStatus.FAILED,
                             exc.message if isinstance(exc, StepFailed) else exc.sentence)
        raise
    ctx.journal.release_lock(node)
    done = f"on build {kind.expect_build}, resumed, storage quiet" if kind.expect_build else \
        "restarted, resumed, storage quiet"
    ctx.journal.set_step(kind.phase, kind.step, node, StepStatus.DONE, done)


async def _upgrade_blockers(ctx: Context, node: str, state: ClusterState) -> list[str]:
    """The manual path also needs the staged setup on the node and no self-updating CAU role."""
    reasons = []
    try:
        staged = await ctx.client.invoke(node, iso_ops.get_staging_info, {"path": ctx.cluster.staging_path})
        if not staged.has_setup:
            reasons.append(f"setup.exe is not in {ctx.cluster.staging_path} on {node}: stage the ISO (4) first")
    except RemoteError as exc:
        reasons.append(f"staging folder on {node}: could not read: {exc.message}")
    try:
        await ctx.client.invoke_cluster(reads.get_cau_role)
    except RemoteError as exc:
        reasons.append(f"CAU clustered role: could not read: {exc.message}")
    os_info = state.node_part(node, "os")
    if isinstance(os_info, model.OsVersion) and os_info.current_build_number == model.UPGRADE_TO_BUILD:
        reasons.append(f"{node} is already on {model.UPGRADE_TO_BUILD}")
    return reasons


async def _no_self_updating(ctx: Context, node: str, step: str, progress: Progress) -> None:
    """The manual path must not race a self-updating CAU role that pauses nodes on its own."""
    try:
        role = await ctx.client.invoke_cluster(reads.get_cau_role)
        if role.present and role.self_updating_enabled:
            progress(ProgressEvent(node, "disabling the CAU role's self-updating mode", None))
            await ctx.client.invoke_cluster(upgrade_ops.disable_cau_self_updating)
    except RemoteError as exc:
        ctx.journal.release_lock(node)
        raise StepFailed(step, f"could not disable the CAU role's self-updating mode: {exc.message}") from None


async def _expect_build(ctx: Context, node: str, kind: CycleKind, step: str) -> None:
    try:
        version = await ctx.client.invoke(node, reads.get_os_version, timeout=ctx.cluster.timeouts.operation)
    except RemoteError as exc:
        raise StepFailed(step, f"{node}: could not read its build after the upgrade: {exc.message}") from None
    if version.current_build_number != kind.expect_build:
        raise StepFailed(step, f"{node} is on {version.build} after the upgrade, not {kind.expect_build}: "
                         "setup did not upgrade it (see C:\\$WINDOWS.~BT\\Sources\\Panther on the node)")


async def _watch_setup(ctx: Context, node: str, step: str, data: dict[str, Any],
                       save: Callable[..., None]) -> str:
    """While the node has not restarted: how setup is doing, read from its task and its runner's record.

    A setup that failed (a recorded exit code that is a failure, or a runner that could not start it)
    fails the step at once. A task that ended without recording anything, the node not restarted, fails
    it once that has lasted ``SETUP_ENDED_GRACE`` (a node going down for setup's own restart can look
    like that for a moment). A read that fails is no answer: the node may be going down. Returns the
    progress text."""
    try:
        status = await ctx.client.invoke(node, upgrade_ops.get_os_upgrade_status,
                                         timeout=ctx.cluster.timeouts.operation)
    except RemoteError as exc:
        return f"setup installing (its status could not be read: {exc.message})"
    if status.failed:
        raise StepFailed(step, _setup_failed(node, status))
    if status.ended_unrecorded:
        first = data.get("setup_ended_seen")
        if not isinstance(first, (int, float)):
            save("setup's task ended without an exit code; looking again", setup_ended_seen=time.time())
            return "setup's task is not running and recorded no exit code: looking again"
        if time.time() - first >= SETUP_ENDED_GRACE:
            raise StepFailed(step, _setup_vanished(node, status))
        return "setup's task is not running and recorded no exit code: waiting to see whether the node restarts"
    if data.get("setup_ended_seen") is not None:
        save("setup installing", setup_ended_seen=None)
    if status.exit_recorded and status.exit_code is not None:
        meaning, _ = model.setup_exit_meaning(status.exit_code)
        return f"setup finished with {status.exit_hex} ({meaning}): waiting for the restart"
    since = f" since {status.runner_started:%H:%M}" if status.runner_started else ""
    return f"setup installing (task {status.task_state or 'Running'}{since})"


def _after_setup_failed(node: str, status: model.OsUpgradeStatus) -> str:
    log = f"Setup's error log is {status.error_log_path}"
    if status.error_log_tail:
        log += f", its last line: {status.error_log_tail[-1].strip()[:200]}"
    return (f"{node} was not upgraded and stays drained (Paused) and out of service: nothing else was changed. "
            f"{log}. Then run the upgrade again (g, on screen 3, Node drain and restart), or resume {node} as it "
            "is (u)")


def _setup_failed(node: str, status: model.OsUpgradeStatus) -> str:
    """The sentence for a setup that ended in failure: its exit code, what it means, what to do."""
    if status.runner_error:
        return (f"setup.exe could not be started on {node} by the task '{status.task_name}': "
                f"{status.runner_error}. {_after_setup_failed(node, status)}")
    meaning, remedy = model.setup_exit_meaning(status.exit_code or 0)
    todo = f" To fix it: {remedy}." if remedy else ""
    return (f"setup.exe on {node} exited with {status.exit_hex}: {meaning}.{todo} "
            f"{_after_setup_failed(node, status)}")


def _setup_vanished(node: str, status: model.OsUpgradeStatus) -> str:
    """The sentence for a setup that ended without a word and without restarting the node."""
    if status.task_present:
        task = f"its task '{status.task_name}' is {status.task_state}"
        if status.last_task_result is not None:
            task += f", last result 0x{status.last_task_result & 0xFFFFFFFF:X}"
    else:
        task = f"the task '{status.task_name}' that runs it is not there"
    return (f"setup is no longer running on {node} ({task}), recorded no exit code, and the node did not "
            f"restart within {SETUP_ENDED_GRACE:g} s: setup died before it finished (as setup started inside a "
            f"WinRM shell does when the shell closes). {_after_setup_failed(node, status)}")


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

    deadline = time.monotonic() + ctx.cluster.timeouts.reboot + ctx.cluster.timeouts.drain
    was_paused = bool(ctx.journal.state.lock and ctx.journal.state.lock.was_paused)
    while True:
        if time.monotonic() > deadline:
            raise StepFailed(step, f"{node} did not come back within {ctx.cluster.timeouts.reboot:g} s")
        data = data_of()
        state = await read_state(ctx, node)
        target = state.cluster_node(node)
        boot = _boot(state, node)
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
                    await _drain(ctx, node, progress, step)
                except StepFailed as exc:
                    outcome = await _undo_failed_drain(ctx, node, was_paused, progress)
                    ctx.journal.release_lock(node)
                    raise StepFailed(step, f"{exc.message}; {outcome}") from None
                continue
            if not answered:
                raise StepFailed(step, f"{node} does not answer before its restart: "
                                 f"{boot.message if isinstance(boot, RemoteError) else 'no boot time'}")
            save(f"{kind.label}: starting", boot_before=boot, restart_sent=False)
            progress(ProgressEvent(node, "restarting" if kind is RESTART_KIND else "running setup (upgrade, keep files)", None))
            await take_down()
            save(f"{kind.label} sent; waiting for WinRM", restart_sent=True)
            await asyncio.sleep(ctx.poll)
            continue

        if not answered or boot == data["boot_before"]:
            # Still going down, or down, or starting: wait for WinRM to answer with a new boot time.
            if answered and not data.get("restart_sent"):
                # Killed between noting the boot time and sending the command: send it now.
                progress(ProgressEvent(node, f"the {kind.label} was not sent before the interruption; sending it", None))
                await take_down()
                save(f"{kind.label} sent; waiting for WinRM", restart_sent=True)
                pending = "restart pending"
            elif answered and kind.expect_build is not None:
                # Setup runs in its task: read how it is doing, and stop on a setup that failed.
                pending = await _watch_setup(ctx, node, step, data_of(), save)
            else:
                pending = "restart pending"
            progress(ProgressEvent(node, "restarting: waiting for WinRM" if not answered else pending, None))
            await asyncio.sleep(ctx.poll)
            continue

        # It restarted. Now the cluster must show it Paused (cluster service starts after WinRM).
        if problem(state.nodes) or target is None or target.state in (model.NodeState.DOWN,
                                                                         model.NodeState.JOINING):
            progress(ProgressEvent(node, "restarted; waiting for the cluster to show it Paused", None))
            await asyncio.sleep(ctx.poll)
            continue
        if target.state == model.NodeState.PAUSED and not was_paused:
            save("resuming")
            await _resume(ctx, node, progress, step)
            continue
        # Up (or Paused as the operator had it): wait for repair jobs and disks.
        save("waiting for storage")
        await wait_for_storage(ctx, node, progress, step)
        return


# ------------------------------------------------------------ rolling restart


def rolling_record(ctx: Context) -> dict[str, Any]:
    record = ctx.journal.step(PHASE, ROLLING, None)
    return dict(record.data) if record else {}


async def rolling_restart(ctx: Context, nodes: list[str] | None = None, progress: Progress = no_progress) -> None:
    """Every node in turn, one at a time; stops at the first failure with what is pending shown.
    Resumes an interrupted rolling restart at the node where it stopped."""
    record = ctx.journal.step(PHASE, ROLLING, None)
    if record is not None and record.status in (StepStatus.RUNNING, StepStatus.UNKNOWN):
        order = list(record.data.get("order", []))
        completed = list(record.data.get("completed", []))
        ctx.journal.set_step(PHASE, ROLLING, None, StepStatus.RUNNING, "resumed after an interruption")
    else:
        order = list(nodes or ctx.client.node_names)
        completed = []
        ctx.journal.set_step(PHASE, ROLLING, None, StepStatus.RUNNING, f"0 of {len(order)} nodes",
                             data={"order": order, "completed": [], "started": datetime.now().isoformat()},
                             fresh=True)
    for node in order:
        if node in completed:
            continue
        pending = [n for n in order if n not in completed]
        try:
            await restart(ctx, node, progress)
        except (Refused, StepFailed) as exc:
            detail = f"stopped at {node}: {exc}; pending: {', '.join(pending)}"
            ctx.journal.set_step(PHASE, ROLLING, None, StepStatus.FAILED, detail)
            raise
        completed.append(node)
        ctx.journal.set_step(PHASE, ROLLING, None, StepStatus.RUNNING, f"{len(completed)} of {len(order)} nodes",
                             data={"completed": completed})
    ctx.journal.set_step(PHASE, ROLLING, None, StepStatus.DONE, f"{len(order)} nodes restarted")


# ------------------------------------------------------------ re-verification
# After an interruption these read where a step stands; they change nothing on the cluster.


async def _cycle_status(ctx: Context, record: Any, kind: CycleKind) -> StepStatus:
    node = record.node
    state = await read_state(ctx, node)
    boot = _boot(state, node)
    target = state.cluster_node(node)
    before = record.data.get("boot_before")
    rebooted = isinstance(boot, str) and before and boot != before
    build_ok = kind.expect_build is None or (
        isinstance(state.node_part(node, "os"), model.OsVersion)
        and state.node_part(node, "os").current_build_number == kind.expect_build)
    lock = ctx.journal.state.lock
    settled = (target is not None and (target.state == model.NodeState.UP
                                       or (lock and lock.node == node and lock.was_paused))
               and not interlocks.storage_blockers(state))
    if rebooted and build_ok and settled:
        ctx.journal.release_lock(node)
        return StepStatus.DONE
    raise Unfinished(f"the {kind.label} of {node} stopped part-way (node {target.state if target else '?'}"
                     f"{', restarted' if rebooted else ''}): resume it on 3) Node drain and restart "
                     f"(select {node}, press {'s' if kind is RESTART_KIND else 'g'})")


@register(RESTART)
async def _reverify_restart(ctx: Context, record: Any) -> StepStatus:
    return await _cycle_status(ctx, record, RESTART_KIND)


@register(UPGRADE_KIND.step)
async def _reverify_upgrade(ctx: Context, record: Any) -> StepStatus:
    return await _cycle_status(ctx, record, UPGRADE_KIND)


@register(DRAIN)
async def _reverify_drain(ctx: Context, record: Any) -> StepStatus:
    state = await read_state(ctx)
    if not interlocks.drained(record.node, state):
        return StepStatus.DONE
    raise Unfinished(f"the drain of {record.node} did not finish: {'; '.join(interlocks.drained(record.node, state))}; "
                     "drain it again (n) or resume it (u) on 3) Node drain and restart")


@register(ROLLING)
async def _reverify_rolling(ctx: Context, record: Any) -> StepStatus:
    order = list(record.data.get("order", []))
    done = [n for n in order
            if (step := ctx.journal.step(PHASE, RESTART, n)) is not None and step.status is StepStatus.DONE]
    if order and len(done) == len(order):
        return StepStatus.DONE
    pending = [n for n in order if n not in done]
    raise Unfinished(f"the rolling restart stopped with {', '.join(pending)} pending: resume it with o on "
                     "3) Node drain and restart")
