"""The OS upgrade in the lab: setup.exe from the staged folder installs 23H2, then restarts.

Used by the manual node-by-node path (the ``start_os_upgrade`` operation) and by the
simulated CAU rolling-upgrade run alike: :func:`begin_upgrade` is the one way a lab node
moves to build 25398. The ReFS trap (RUNBOOK 5) follows at the node's cluster join.

The manual path runs setup where a real node keeps it alive: ``start_os_upgrade`` hands it to
the "hcitui OS upgrade" scheduled task, whose runner records setup's exit code. The lab keeps
that task per node (:class:`LabSetupTask`): Running while setup installs; then setup either
succeeds (exit code 3, CONX_SETUP_EXITCODE_CONTINUE_REBOOT, and the node restarts into 23H2) or,
with the fault knob ``faults.setup_fail_node``, exits with ``faults.setup_fail_code`` and the
node stays on 22H2, its error in setuperr.log. ``faults.setup_dies`` makes setup and its runner
die before anything is recorded. ``get_os_upgrade_status`` answers from that task.

``start_os_upgrade_in_shell`` is what the old script did (``Start-Process setup.exe`` in the
WinRM shell): no declared operation sends it any more; it stays so the lab shows why that was
wrong. A process started from a WinRM shell ends with the shell, and a lab call's shell ends when
the call returns: setup is gone before it installed anything, and the node is never upgraded.
"""

from __future__ import annotations

from typing import Any

from hcitui.core.model import SETUP_LOG_FOLDER
from hcitui.lab.cluster import Lab, LabNode, LabPowerShellError, Timer, handles, iso, on_timer
from hcitui.lab.state import LabSetupTask
from hcitui.ps.upgrade import OS_UPGRADE_TASK, RESULT_FILE

SETUP_SUCCEEDED = 0x3  # CONX_SETUP_EXITCODE_CONTINUE_REBOOT: "This upgrade was successful."
SCHED_S_TASK_TERMINATED = 0x41306  # "The last run of the task was terminated by the user." (win32 TaskSchd)
RESULT_PATH = "C:\\ProgramData\\hcitui\\" + RESULT_FILE
ERROR_LOG = SETUP_LOG_FOLDER + "\\setuperr.log"


def _staged_setup(node: LabNode, media: str) -> str:
    """setup.exe's path in the staged folder ``media``; the error setup's script throws when it is not there."""
    key = next((k for k in node.staged if k.rstrip("\\").lower() == media.rstrip("\\").lower()), None)
    if key is None or not node.staged[key].has_setup:
        raise LabPowerShellError(f"setup.exe was not found in '{media}': stage the ISO there first.")
    return media.rstrip("\\") + "\\setup.exe"


def begin_upgrade(lab: Lab, node: LabNode, media: str) -> None:
    """Start setup on ``node`` from the staged folder ``media``; it restarts when installed."""
    _staged_setup(node, media)
    if node.upgrading:
        raise LabPowerShellError("Setup is already running on this node.")
    lab.changed()
    node.upgrading = True
    lab.schedule(lab.state.timings.os_install, "os_install_done", node.name)


@on_timer("os_install_done")
def _os_install_done(lab: Lab, timer: Timer) -> None:
    node = lab.state.nodes[timer.node]
    if node.upgrading and node.power == "on":
        lab.restart(node)


def _int32(code: int) -> int:
    """An exit code as .NET's Process.ExitCode holds it (a signed Int32): 0xC1900208 -> -1047526904."""
    code &= 0xFFFFFFFF
    return code - 0x100000000 if code >= 0x80000000 else code


def _started(setup: str, *, already: bool) -> dict[str, Any]:
    return {"Started": True, "AlreadyRunning": already, "SetupPath": setup, "TaskName": OS_UPGRADE_TASK,
            "ResultPath": RESULT_PATH}


@handles("start_os_upgrade")
def _start_os_upgrade(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    from hcitui.lab import frontdoor
    from hcitui.ps import upgrade as upgrade_ops

    try:  # the task runs a script of its own: the front door holds it to what a node accepts
        frontdoor.admit(upgrade_ops.RUNNER)
    except frontdoor.Refusal as refusal:
        raise LabPowerShellError(f"The OS upgrade task did not start: {refusal}") from None
    media = params["MediaPath"]
    setup = _staged_setup(node, media)
    task = node.setup_task
    if task is not None and task.state == "Running":
        return _started(setup, already=True)  # sent again after an interruption: nothing new starts
    if node.upgrading:  # a CAU run's setup is installing
        raise LabPowerShellError("Setup is already running on this node.")
    lab.changed()
    now = lab.now
    node.setup_task = LabSetupTask(media=media, last_run=now, runner_started=now)
    if node.name in lab.state.faults.setup_dies:
        # Setup and the runner die before setup exits: nothing is recorded, the task ends, no restart.
        node.setup_task.state, node.setup_task.last_result = "Ready", SCHED_S_TASK_TERMINATED
        return _started(setup, already=False)
    node.upgrading = True
    lab.schedule(lab.state.timings.os_install, "setup_task_done", node.name)
    return _started(setup, already=False)


@on_timer("setup_task_done")
def _setup_task_done(lab: Lab, timer: Timer) -> None:
    node = lab.state.nodes[timer.node]
    task = node.setup_task
    if task is None or task.state != "Running" or not node.upgrading:
        return
    faults = lab.state.faults
    if faults.setup_fail_node == node.name:
        code = faults.setup_fail_code & 0xFFFFFFFF
        node.upgrading = False  # setup exits; the node stays on its build and is not restarted
        task.exit_code, task.finished, task.state, task.last_result = _int32(code), timer.at, "Ready", code
        node.setup_errors.append(f"{iso(timer.at)}, Error                 MOUPG  Setup exited with 0x{code:X} "
                                 "(lab fault knob setup_fail_node)")
        return
    task.exit_code, task.finished, task.state, task.last_result = SETUP_SUCCEEDED, timer.at, "Ready", SETUP_SUCCEEDED
    if node.power == "on":
        lab.restart(node)  # the boot that follows comes up on 23H2 (node.upgrading)


@handles("get_os_upgrade_status")
def _get_os_upgrade_status(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    task = node.setup_task
    out: dict[str, Any] = {
        "TaskName": OS_UPGRADE_TASK, "TaskPresent": task is not None, "TaskState": None, "LastTaskResult": None,
        "LastRunTime": None, "ResultPath": RESULT_PATH, "RunnerStarted": None, "SetupPath": None,
        "ExitRecorded": False, "ExitCode": None, "SetupFinished": None, "RunnerError": None,
        "ErrorLogPath": ERROR_LOG, "ErrorLogTail": node.setup_errors[-20:],
    }
    if task is not None:
        out.update(TaskState=task.state, LastTaskResult=task.last_result, LastRunTime=iso(task.last_run),
                   RunnerStarted=iso(task.runner_started) if task.runner_started is not None else None,
                   SetupPath=task.media.rstrip("\\") + "\\setup.exe", ExitRecorded=task.exit_code is not None,
                   ExitCode=task.exit_code, SetupFinished=iso(task.finished) if task.finished is not None else None)
    return out


@handles("start_os_upgrade_in_shell")
def _start_os_upgrade_in_shell(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    """The old start: ``Start-Process setup.exe`` inside the WinRM shell, which answered at once. The shell
    closes when the call returns, and setup, a process of that shell, dies with it: no task, no exit code,
    nothing installed, no restart. (Not a declared operation: tests call it on the lab directly.)"""
    setup = _staged_setup(node, params["MediaPath"])
    return {"Started": True, "SetupPath": setup}


@handles("disable_cau_self_updating")
def _disable_self_updating(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    if not lab.state.cau_role:
        raise LabPowerShellError(f"The cluster '{lab.state.cluster_name}' is not configured with a "
                                 "Cluster-Aware Updating clustered role.")
    lab.changed()
    lab.state.cau_self_updating = False
    return {"Present": True, "Online": True, "SelfUpdatingEnabled": False, "Reason": None}
