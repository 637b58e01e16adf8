"""The manual upgrade's own parts: what must hold before setup runs, reading setup while it installs,
and the sentences for a setup that failed or died."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.ps import iso as iso_ops
from hcitui.ps import reads
from hcitui.ps import upgrade as upgrade_ops
from hcitui.remote import RemoteError
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent
from hcitui.workflow.observe import ClusterState
from hcitui.workflow.steps import StepFailed

# How long setup's task may be seen ended, with no exit code recorded and the node not restarted, before
# the upgrade is called failed: a node shutting down for setup's own restart can show that for a moment.
SETUP_ENDED_GRACE = 120.0  # seconds, wall clock (the first sighting is kept in the journal)


async def upgrade_blockers(ctx: Context, node: str, state: ClusterState) -> tuple[list[str], Remedy | None]:
    """The manual path also needs the staged setup on the node and no self-updating CAU role.
    Returns the reasons, and staging the ISO as the remedy when setup.exe is missing."""
    reasons = []
    remedy = None
    try:
        staged = await ctx.client.invoke(node, iso_ops.get_staging_info, {"path": ctx.cluster.staging_path})
        if not staged.has_setup:
            reasons.append(f"setup.exe is not in {ctx.cluster.staging_path} on {node}: stage the ISO first")
            remedy = Remedy(action=Action.ISO_STAGE)
    except RemoteError as exc:
        reasons.append(f"staging folder on {node}: could not read: {exc.message}")
    try:
        await ctx.client.invoke_cluster(reads.get_cau_role)
    except RemoteError as exc:
        reasons.append(f"CAU clustered role: could not read: {exc.message}")
    os_info = state.node_part(node, "os")
    if isinstance(os_info, model.OsVersion) and os_info.current_build_number == model.UPGRADE_TO_BUILD:
        reasons.append(f"{node} is already on {model.UPGRADE_TO_BUILD}")
    return reasons, remedy


async def no_self_updating(ctx: Context, node: str, step: str, progress: Progress) -> None:
    """The manual path must not race a self-updating CAU role that pauses nodes on its own."""
    try:
        role = await ctx.client.invoke_cluster(reads.get_cau_role)
        if role.present and role.self_updating_enabled:
            progress(ProgressEvent(node, "disabling the CAU role's self-updating mode"))
            await ctx.client.invoke_cluster(upgrade_ops.disable_cau_self_updating)
    except RemoteError as exc:
        ctx.journal.release_lock(node)
        raise StepFailed(step, f"could not disable the CAU role's self-updating mode: {exc.message}") from None


async def expect_build(ctx: Context, node: str, build: int, step: str) -> None:
    try:
        version = await ctx.client.invoke(node, reads.get_os_version, timeout=ctx.cluster.timeouts.operation)
    except RemoteError as exc:
        raise StepFailed(step, f"{node}: could not read its build after the upgrade: {exc.message}") from None
    if version.current_build_number != build:
        raise StepFailed(step, f"{node} is on {version.build} after the upgrade, not {build}: "
                         "setup did not upgrade it (see C:\\$WINDOWS.~BT\\Sources\\Panther on the node)",
                         remedy=Remedy(action=Action.NODE_UPGRADE, node=node))


async def watch_setup(ctx: Context, node: str, step: str, data: dict[str, Any],
                      save: Callable[..., None]) -> tuple[str, datetime | None]:
    """While the node has not restarted: how setup is doing, read from its task and its runner's record.

    A setup that failed (a recorded exit code that is a failure, or a runner that could not start it)
    fails the step at once. A task that ended without recording anything, the node not restarted, fails
    it once that has lasted ``SETUP_ENDED_GRACE`` (a node going down for setup's own restart can look
    like that for a moment). A read that fails is no answer: the node may be going down. Returns the
    progress text, and since when setup has been installing when its runner said."""
    try:
        status = await ctx.client.invoke(node, upgrade_ops.get_os_upgrade_status,
                                         timeout=ctx.cluster.timeouts.operation)
    except RemoteError as exc:
        return f"setup installing (its status could not be read: {exc.message})", None
    remedy = Remedy(action=Action.NODE_UPGRADE, node=node)
    if status.failed:
        raise StepFailed(step, setup_failed(node, status), remedy=remedy)
    if status.ended_unrecorded:
        first = data.get("setup_ended_seen")
        if not isinstance(first, (int, float)):
            save("setup's task ended without an exit code; looking again", setup_ended_seen=time.time())
            return "setup's task is not running and recorded no exit code: looking again", None
        if time.time() - first >= SETUP_ENDED_GRACE:
            raise StepFailed(step, setup_vanished(node, status), remedy=remedy)
        return ("setup's task is not running and recorded no exit code: waiting to see whether the node "
                "restarts"), None
    if data.get("setup_ended_seen") is not None:
        save("setup installing", setup_ended_seen=None)
    if status.exit_recorded and status.exit_code is not None:
        meaning, _ = model.setup_exit_meaning(status.exit_code)
        return f"setup finished with {status.exit_hex} ({meaning}): waiting for the restart", None
    return f"setup installing (task {status.task_state or 'Running'})", status.runner_started


def _after_setup_failed(node: str, status: model.OsUpgradeStatus) -> str:
    log = f"Setup's error log is {status.error_log_path}"
    if status.error_log_tail:
        log += f", its last line: {status.error_log_tail[-1].strip()[:200]}"
    return (f"{node} was not upgraded and stays drained (Paused) and out of service: nothing else was changed. "
            f"{log}. Then run the upgrade again, or resume {node} as it is")


def setup_failed(node: str, status: model.OsUpgradeStatus) -> str:
    """The sentence for a setup that ended in failure: its exit code, what it means, what to do."""
    if status.runner_error:
        return (f"setup.exe could not be started on {node} by the task '{status.task_name}': "
                f"{status.runner_error}. {_after_setup_failed(node, status)}")
    meaning, remedy = model.setup_exit_meaning(status.exit_code or 0)
    todo = f" To fix it: {remedy}." if remedy else ""
    return (f"setup.exe on {node} exited with {status.exit_hex}: {meaning}.{todo} "
            f"{_after_setup_failed(node, status)}")


def setup_vanished(node: str, status: model.OsUpgradeStatus) -> str:
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
