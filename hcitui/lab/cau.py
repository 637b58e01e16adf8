"""Cluster-Aware Updating in the lab: remoting, Test-CauSetup, Invoke-CauScan, and the run itself.

A run is a state machine in ``LabState.cau`` moved on by ``cau_step`` timers, so a lab saved in
the middle of a run comes back in the middle of it. Nodes go one at a time, in the lab's node
order, through the plug-in's stages: Waiting, Scanning, Staging, Suspending (the drain, with the
live-migration trap), Installing (the rolling upgrade: :func:`hcitui.lab.upgrade.begin_upgrade`,
the one way a node reaches 25398, ReFS trap included; monthly updates: an update revision),
Restarting, Resuming (failback, then the repair storage jobs), Succeeded. The next node starts
only after the previous one is Up and storage is quiet.

``Get-CauRun`` throws "The cluster node is shutting down" while the CAU role moves to another
node (it moves when the node that owns it is drained), on every node asked. ``faults.cau_fail_node``
makes that node fail every attempt where CAU installs: drained, its update fails to install (an
error code and a RemoteException's text, as a detailed report gives them), and CAU resumes it; past
``MaxFailedNodes`` failures the run ends ``RunFailed`` and stays so (a new run is refused) until
``Invoke-CauRun -ForceRecovery``. ``Stop-CauRun`` sets CancelPending: the run ends at the next safe
point (before a node is drained, or once the node being updated is back and resumed), and its results
stay in the history (``Get-CauReport``: each failed node's error text and failed installs, and for a
last run that was canceled the failed run that began the series, as Microsoft's TSG reads them).

The lab's CAU coordinator (``LAB-MGMT``, a management server outside the cluster) answers the run's
operations too, named by ``ClusterName`` as a non-member must: a run started there is orchestrated
there (remote-updating mode), so the orchestrator never moves with the CAU role and ``Get-CauRun``
from it does not blip while the role's node is drained. Its preflight read (``get_coordinator_state``)
reports the CAU module and which nodes it reaches over WinRM (the fault knobs decide).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from hcitui.lab.cluster import (
    HANDLERS,
    Lab,
    LabNode,
    LabPowerShellError,
    LabUnreachable,
    Timer,
    coordinator_handles,
    handles,
    iso,
    on_timer,
)
from hcitui.lab.post import NEW_LEVEL
from hcitui.lab.state import COORDINATOR, NEW_BUILD, LabCauResult, LabCauRun, LabCauStatus
from hcitui.lab.upgrade import begin_upgrade

ROLLING_UPGRADE, WINDOWS_UPDATE = "RollingUpgrade", "WindowsUpdate"
FEATURE_UPDATE = "Azure Stack HCI 23H2 (25398) feature update"
FEATURE_UPDATE_ID = "5e7a1c52-2509-4398-9a0e-253980000023"
MONTHLY_UPDATES = {  # build -> (title, update id): the lab's stand-in for one month's cumulative update
    20349: ("2024-11 Cumulative Update for Azure Stack HCI, version 22H2 (KB5046616)",
            "7f3b0d2e-2411-4616-a349-203495046616"),
    NEW_BUILD: ("2024-11 Cumulative Update for Azure Stack HCI, version 23H2 (KB5046618)",
                "7f3b0d2e-2411-4618-a398-253985046618"),
}
MONTHLY_UBR_STEP = 17  # what one month's cumulative update adds to the update revision (lab stand-in)
SAFE_STAGES = (None, "Waiting", "Scanning", "Staging")  # stopping here leaves every node as it was
SHUTTING_DOWN = "Get-CauRun : The cluster node is shutting down."
# The fault knob's install failure: 0x800F0922 (as a signed HRESULT, the way [string] writes an int).
FAULT_ERROR_CODE = str(0x800F0922 - 2**32)
REMOTE_EXCEPTION = "System.Management.Automation.RemoteException"


def _check(lab: Lab) -> float:
    """Lab seconds between looks while a stage waits on the cluster (a drain, a reboot, a repair)."""
    return min(0.1, lab.state.timings.cau_stage)


def _cau_group(lab: Lab) -> Any:
    return next((g for g in lab.state.groups if g.group_type == "ClusterAwareUpdatingResource"), None)


def _run(lab: Lab, timer: Timer) -> LabCauRun | None:
    """The run a timer belongs to, if it is still the one in progress (a cleared run's timers do nothing)."""
    run = lab.state.cau.run
    if run is None or run.state != "RunInProgress" or run.run_id != timer.data.get("run_id"):
        return None
    return run


def _status(run: LabCauRun, node: str, status: str, at: float) -> None:
    run.statuses.append(LabCauStatus(node=node, status=status, timestamp=at))
    if node == run.current:
        run.stage = status


def _step(lab: Lab, run: LabCauRun, delay: float, after: float) -> None:
    lab.schedule(delay, "cau_step", run.current, after=after, run_id=run.run_id)


def _latest(run: LabCauRun) -> dict[str, LabCauStatus]:
    latest: dict[str, LabCauStatus] = {}
    for entry in run.statuses:
        latest[entry.node] = entry
    return latest


def run_view(lab: Lab, run: LabCauRun) -> dict[str, Any]:
    """Get-CauRun's run object for ``run``, with PowerShell's property names."""
    return {
        "State": run.state,
        "RunId": run.run_id,
        "RunStartTime": iso(run.started),
        "CurrentOrchestrator": run.orchestrator,
        "CancelPending": run.cancel_pending,
        "NodeStatusNotifications": [{"Node": s.node, "Status": s.status, "Timestamp": iso(s.timestamp)}
                                    for s in _latest(run).values()],
        "NodeResults": [{"Node": r.node, "Status": r.status, "ErrorRecordData": r.error or "",
                         "NumberOfSucceededUpdates": 1 if r.status == "Succeeded" else 0,
                         "NumberOfFailedUpdates": 1 if r.status == "Failed" else 0} for r in run.results],
    }


# ----------------------------------------------------------------- the run


def _next_node(lab: Lab, run: LabCauRun, at: float) -> None:
    """Begin the next node without a result, or end the run when none is left (or a stop is pending)."""
    if run.cancel_pending:
        _finish(lab, run, at, "Canceled")
        return
    done = {r.node for r in run.results}
    node = next((n for n in run.order if n not in done), None)
    if node is None:
        failed = any(r.status != "Succeeded" for r in run.results)
        _finish(lab, run, at, "Failed" if failed else "Succeeded")
        return
    run.current, run.attempt = node, 1
    _status(run, node, "Scanning", at)
    _step(lab, run, lab.state.timings.cau_stage, at)


def _finish(lab: Lab, run: LabCauRun, at: float, outcome: str) -> None:
    if outcome == "Canceled" and run.current and run.current not in {r.node for r in run.results}:
        run.results.append(LabCauResult(node=run.current, status="Canceled", error="The Updating Run was canceled."))
        _status(run, run.current, "Canceled", at)
    if (outcome == "Succeeded" and run.plugin == ROLLING_UPGRADE and run.update_functional_level
            and all(n.build == NEW_BUILD for n in lab.state.nodes.values())):
        lab.state.functional_level = max(lab.state.functional_level, NEW_LEVEL)
    run.current, run.stage = None, None
    run.finished, run.outcome = at, outcome
    run.cancel_pending = False
    if outcome == "Failed" and _failed_count(run) > run.max_failed_nodes:
        run.state = "RunFailed"  # stale: the cluster stays locked until -ForceRecovery
        lab.state.cau.reports.append(run.model_copy(deep=True))
        return
    run.state = "RunNotInProgress"
    lab.state.cau.reports.append(run.model_copy(deep=True))
    lab.state.cau.run = None


def _failed_count(run: LabCauRun) -> int:
    return sum(1 for r in run.results if r.status == "Failed")


def _resume(lab: Lab, node: LabNode) -> None:
    if node.cluster_state == "Paused":
        HANDLERS["resume_node"](lab, node, {"Name": node.name, "Failback": "Immediate"})


def _fail(lab: Lab, run: LabCauRun, node: LabNode, error: str, at: float) -> None:
    """This attempt on ``node`` failed: retry it, or give it up and go on (or end the run)."""
    _resume(lab, node)  # CAU leaves a node it gave up on in service, as it was
    if run.attempt <= run.max_retries_per_node and not run.cancel_pending:
        run.attempt += 1
        _status(run, node.name, "Waiting", at)
        _step(lab, run, lab.state.timings.cau_stage, at)
        return
    run.results.append(LabCauResult(node=node.name, status="Failed", error=error))
    _status(run, node.name, "Failed", at)
    if _failed_count(run) > run.max_failed_nodes:
        _finish(lab, run, at, "Failed")
        return
    _next_node(lab, run, at)


@on_timer("cau_step")
def _cau_step(lab: Lab, timer: Timer) -> None:
    run = _run(lab, timer)
    if run is None or run.current is None:
        return
    at, timings = timer.at, lab.state.timings
    node = lab.state.nodes[run.current]
    stage = run.stage
    if stage in SAFE_STAGES and run.cancel_pending:
        _finish(lab, run, at, "Canceled")
    elif stage == "Waiting":  # a retry begins
        _status(run, node.name, "Scanning", at)
        _step(lab, run, timings.cau_stage, at)
    elif stage == "Scanning":
        _status(run, node.name, "Staging", at)
        _step(lab, run, timings.cau_stage, at)
    elif stage == "Staging":
        _staged(lab, run, node, at)
    elif stage == "Suspending":
        _suspending(lab, run, node, at)
    elif stage == "Installing":
        if run.plugin == WINDOWS_UPDATE and node.power == "on":
            node.ubr += MONTHLY_UBR_STEP  # the update is committed by the restart that follows
            lab.restart(node)
        if node.power != "on":
            _status(run, node.name, "Restarting", at)
        _step(lab, run, _check(lab), at)
    elif stage == "Restarting":
        if node.power == "on" and node.cluster_state in ("Paused", "Up"):
            if run.plugin == ROLLING_UPGRADE and node.build != NEW_BUILD:
                _fail(lab, run, node, f"{node.name} came back on build {node.build}, not {NEW_BUILD}.", at)
                return
            _resume(lab, node)
            _status(run, node.name, "Resuming", at)
        _step(lab, run, _check(lab), at)
    elif stage == "Resuming":
        if any(j.started + j.duration > at for j in lab.state.storage_jobs):
            # The repair after the node's return: the next node is never taken out meanwhile.
            _step(lab, run, _check(lab), at)
            return
        run.results.append(LabCauResult(node=node.name, status="Succeeded"))
        _status(run, node.name, "Succeeded", at)
        _next_node(lab, run, at)


def _update_of(run: LabCauRun, node: LabNode) -> tuple[str, str]:
    """The update CAU installs on ``node`` in this run: (title, update id)."""
    if run.plugin == ROLLING_UPGRADE:
        return FEATURE_UPDATE, FEATURE_UPDATE_ID
    return MONTHLY_UPDATES.get(node.build, (f"Cumulative Update for build {node.build}", ""))


def _install_fails(lab: Lab, run: LabCauRun, node: LabNode, at: float) -> None:
    """The fault knob: the node was drained, and its update fails to install."""
    _status(run, node.name, "Installing", at)
    _fail(lab, run, node, f"{REMOTE_EXCEPTION}: The installation failed on {node.name} with error 0x800F0922 "
                          "(lab fault knob cau_fail_node).", at)


def _staged(lab: Lab, run: LabCauRun, node: LabNode, at: float) -> None:
    """Staging done: the media decides; then the node is drained."""
    if run.plugin == ROLLING_UPGRADE:
        media = (run.media_path or "").rstrip("\\").lower()
        if not any(k.rstrip("\\").lower() == media and m.has_setup for k, m in node.staged.items()):
            _fail(lab, run, node, f"setup.exe was not found in '{run.media_path}' on {node.name}: "
                                  "PathToSetupMedia must hold the ISO's contents on every node.", at)
            return
    if node.cluster_state != "Up" or node.power != "on":
        _fail(lab, run, node, f"{node.name} is {node.cluster_state}: it cannot be suspended.", at)
        return
    node.cluster_state, node.drain_status = "Paused", "InProgress"
    lab.schedule(lab.state.timings.drain_step, "drain_step", node.name, after=at, stuck=[])
    _status(run, node.name, "Suspending", at)
    _step(lab, run, _check(lab), at)


def _suspending(lab: Lab, run: LabCauRun, node: LabNode, at: float) -> None:
    if node.drain_status == "InProgress":
        _step(lab, run, _check(lab), at)
        return
    if node.drain_status == "Failed":
        stuck = [g.name for g in lab.state.groups if g.owner == node.name and g.state == "Online"]
        _fail(lab, run, node, f"Suspend-ClusterNode : The node '{node.name}' could not be drained: live "
                              f"migration of '{', '.join(stuck) or 'a role'}' failed.", at)
        return
    if run.cancel_pending:  # drained but nothing installed yet: put it back and stop here
        _resume(lab, node)
        _finish(lab, run, at, "Canceled")
        return
    if lab.state.faults.cau_fail_node == node.name:
        _install_fails(lab, run, node, at)
        return
    if run.plugin == ROLLING_UPGRADE:
        try:
            begin_upgrade(lab, node, run.media_path or "")
        except LabPowerShellError as exc:
            _fail(lab, run, node, str(exc), at)
            return
        _status(run, node.name, "Installing", at)
        _step(lab, run, _check(lab), at)
    else:
        _status(run, node.name, "Installing", at)
        _step(lab, run, lab.state.timings.cau_stage, at)


# ------------------------------------------------------------------ handlers


def _remoting(lab: Lab, node: LabNode) -> dict[str, Any]:
    return {"WinRMStatus": "Running", "WinRMStartType": "Automatic", "Listeners": ["HTTPS"],
            "PSRemotingEnabled": node.name in lab.state.cau.remoting}


@handles("enable_remoting")
def _enable_remoting(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    if node.name not in lab.state.cau.remoting:
        lab.changed()
        lab.state.cau.remoting.append(node.name)
        # The first time, Enable-PSRemoting restarts WinRM: the session that asked is dropped.
        raise LabUnreachable(node.name)
    return _remoting(lab, node)


@handles("get_remoting_state")
def _get_remoting_state(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    return _remoting(lab, node)


def _cluster_named(lab: Lab, params: dict[str, Any]) -> None:
    """On the coordinator the script names the cluster (it has none to ask Get-Cluster for)."""
    name = params.get("ClusterName")
    if not name:
        raise LabPowerShellError(f"Get-Cluster : {COORDINATOR} is not a node of a failover cluster: name the "
                                 "cluster with -ClusterName.")
    if str(name).lower() != lab.state.cluster_name.lower():
        raise LabPowerShellError(f"Failed to connect to the cluster '{name}': the name does not resolve to a "
                                 "failover cluster.")


def cau_handles(name: str) -> Callable[[Callable[[Lab, dict[str, Any]], Any]], Callable[[Lab, dict[str, Any]], Any]]:
    """An operation CAU answers alike on a node and on the coordinator: on a node the cluster service must
    run; on the coordinator (no member) the script must name the cluster."""
    def register(fn: Callable[[Lab, dict[str, Any]], Any]) -> Callable[[Lab, dict[str, Any]], Any]:
        def on_node(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
            lab.require_cluster_service(node)
            return fn(lab, params)

        def on_coordinator(lab: Lab, params: dict[str, Any]) -> Any:
            _cluster_named(lab, params)
            return fn(lab, params)

        handles(name)(on_node)
        coordinator_handles(name)(on_coordinator)
        return fn

    return register


@cau_handles("test_cau_setup")
def _setup_rules(lab: Lab, params: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = list(lab.state.nodes.values())
    no_remoting = [n.name for n in nodes if n.name not in lab.state.cau.remoting]
    offline = [n.name for n in nodes if n.cluster_state != "Up" or n.power != "on"]

    def rule(number: int, title: str, problem: str | None, resolution: str, severity: str = "Error") -> dict:
        return {"RuleId": str(number), "Title": title, "Severity": severity if problem else "Information",
                "Problem": problem or "", "Resolution": resolution if problem else ""}

    return [
        rule(1, "The failover cluster must be available", None, ""),
        rule(2, "The failover cluster nodes must be enabled for remote management via WMIv2", None, ""),
        rule(3, "Windows PowerShell remoting should be enabled on each failover cluster node",
             f"PowerShell remoting is not enabled on {', '.join(no_remoting)}." if no_remoting else None,
             "Run Set-WSManQuickConfig and Enable-PSRemoting on each node."),
        rule(4, "The Remote Shutdown Windows Firewall rule group must be enabled on each node in the failover cluster",
             None, ""),
        rule(5, "The failover cluster must have a Cluster-Aware Updating clustered role",
             None if lab.state.cau_role else "The cluster has no CAU clustered role.",
             "Add it with Add-CauClusterRole."),
        rule(6, "All failover cluster nodes must be online",
             f"Not online: {', '.join(offline)}." if offline else None, "Bring every node online and Up.",
             severity="Warning"),
    ]


@cau_handles("get_cau_scan")
def _scan(lab: Lab, params: dict[str, Any]) -> Any:
    plugin, media = params.get("Plugin"), (params.get("MediaPath") or "").rstrip("\\").lower()
    down = [n.name for n in lab.state.nodes.values() if n.power != "on"]
    if down:
        raise LabPowerShellError(f"Invoke-CauScan : The node '{down[0]}' could not be reached.")
    rows = []
    for n in lab.state.nodes.values():
        title = update_id = None
        if plugin == ROLLING_UPGRADE:
            staged = any(k.rstrip("\\").lower() == media and m.has_setup for k, m in n.staged.items())
            if staged and n.build != NEW_BUILD:
                title, update_id = FEATURE_UPDATE, FEATURE_UPDATE_ID
        elif n.build in MONTHLY_UPDATES:
            title, update_id = MONTHLY_UPDATES[n.build]
        kb = title[title.index("KB"):].rstrip(")") if title and "KB" in title else None
        rows.append({"Node": n.name, "UpdateTitle": title, "UpdateId": update_id, "KBArticle": kb})
    return rows


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "$true")
    return bool(value)


@handles("start_cau_run")
def _start_cau_run(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    return _start(lab, params, node)


@coordinator_handles("start_cau_run")
def _start_cau_run_remote(lab: Lab, params: dict[str, Any]) -> Any:
    _cluster_named(lab, params)
    return _start(lab, params, None)


def _runner_admitted() -> None:
    """The scheduled task runs a script of its own, and splats data the operation wrote: the front door
    holds both to what a node accepts, as a real task would fail (its log says FAILED: ...)."""
    from hcitui.lab import frontdoor
    from hcitui.ps import cau as cau_ops

    try:
        frontdoor.admit(cau_ops.RUNNER)
    except frontdoor.Refusal as refusal:
        raise LabPowerShellError(f"Invoke-CauRun did not start: {refusal}") from None
    keys = frontdoor.splat_keys(cau_ops.start_cau_run.script, "run") or set()
    refusal = frontdoor.check_call("Invoke-CauRun", sorted(keys))
    if refusal is not None:
        raise LabPowerShellError(f"Invoke-CauRun did not start: {refusal}")


def _start(lab: Lab, params: dict[str, Any], node: LabNode | None) -> Any:
    """Invoke-CauRun handed to the scheduled task, on ``node`` or (None) on the CAU coordinator."""
    _runner_admitted()
    name = lab.state.cluster_name
    plugin, media = params.get("Plugin"), params.get("MediaPath")
    if plugin not in (ROLLING_UPGRADE, WINDOWS_UPDATE):
        raise LabPowerShellError(f"Plugin must be RollingUpgrade or WindowsUpdate, not '{plugin}'.")
    current = lab.state.cau.run
    if current is not None:
        raise LabPowerShellError(f"Get-CauRun says {current.state} on '{name}': stop that run, or recover a "
                                 "failed one (-ForceRecovery), first.")
    if plugin == ROLLING_UPGRADE and node is not None:  # on a node the script checks its own copy
        wanted = (media or "").rstrip("\\").lower()
        if not any(k.rstrip("\\").lower() == wanted and m.has_setup for k, m in node.staged.items()):
            raise LabPowerShellError(f"setup.exe was not found in '{media}': stage the ISO there on every node first.")
    # The CAU clustered role is for self-updating mode; remote-updating mode (from the coordinator) needs
    # none (the update guide, "Choose an updating mode").
    if node is not None and not lab.state.cau_role:
        raise LabPowerShellError(f"Invoke-CauRun did not start: The cluster '{name}' is not configured with a "
                                 "Cluster-Aware Updating clustered role.")
    if _bool(params.get("RequireAllNodesOnline"), False):
        offline = [n.name for n in lab.state.nodes.values() if n.cluster_state != "Up" or n.power != "on"]
        if offline:
            raise LabPowerShellError("Invoke-CauRun did not start: RequireAllNodesOnline was given and "
                                     f"{', '.join(offline)} {'is' if len(offline) == 1 else 'are'} not online.")
    count = len(lab.state.nodes)
    max_failed = params.get("MaxFailedNodes")
    retries = params.get("MaxRetriesPerNode")
    group = _cau_group(lab)
    lab.changed()
    run = LabCauRun(
        run_id=str(uuid.uuid4()), plugin=plugin, media_path=media,
        update_functional_level=_bool(params.get("UpdateFunctionalLevel"), False),  # the script's default
        max_failed_nodes=int(max_failed) if max_failed is not None else max(0, count // 3),
        max_retries_per_node=int(retries) if retries is not None else 3,
        started=lab.now, order=list(lab.state.nodes),
        # From the coordinator, the coordinator orchestrates; from a node, the CAU role's node does.
        orchestrator=COORDINATOR if node is None else (group.owner if group else node.name),
        coordinator=COORDINATOR if node is None else None,
    )
    for name_ in run.order:
        _status(run, name_, "Waiting", lab.now)
    lab.state.cau.run = run
    lab.schedule(lab.state.timings.cau_stage, "cau_next", None, run_id=run.run_id)
    folder = "C:\\ProgramData\\hcitui\\"
    return {"Started": True, "State": "RunInProgress", "RunId": run.run_id, "TaskName": "hcitui CAU run",
            "ParametersPath": folder + "cau-run.json", "LogPath": folder + "cau-run.log"}


@on_timer("cau_next")
def _cau_next(lab: Lab, timer: Timer) -> None:
    run = _run(lab, timer)
    if run is not None and run.current is None:
        _next_node(lab, run, timer.at)


@cau_handles("get_cau_run")
def _run_state(lab: Lab, params: dict[str, Any]) -> Any:
    run = lab.state.cau.run
    if run is None:
        return {"State": "RunNotInProgress"}
    if run.state == "RunInProgress" and run.coordinator is None:
        group = _cau_group(lab)
        if group is not None and group.owner != run.orchestrator:
            # The CAU role moved (its node is being drained): the orchestrator restarts elsewhere.
            lab.changed()
            run.orchestrator = group.owner
            run.orchestrator_moving_until = lab.now + lab.state.timings.cau_orchestrator_move
        if lab.now < run.orchestrator_moving_until:
            raise LabPowerShellError(SHUTTING_DOWN)
    return run_view(lab, run)


@cau_handles("stop_cau_run")
def _stop(lab: Lab, params: dict[str, Any]) -> Any:
    run = lab.state.cau.run
    if run is None or run.state != "RunInProgress":
        raise LabPowerShellError(f"Stop-CauRun : There is no Updating Run in progress on cluster "
                                 f"'{lab.state.cluster_name}'.")
    lab.changed()
    run.cancel_pending = True
    return run_view(lab, run)


@cau_handles("recover_cau_run")
def _recover(lab: Lab, params: dict[str, Any]) -> Any:
    run = lab.state.cau.run
    if run is not None and run.state == "RunInProgress":
        raise LabPowerShellError("Invoke-CauRun : An Updating Run is in progress and its orchestrator answers: "
                                 "stop it with Stop-CauRun; -ForceRecovery is for a failed run that left the "
                                 "cluster locked.")
    if run is not None:
        lab.changed()
        lab.state.cau.run = None
    return {"State": "RunNotInProgress"}


def _failed_in(run: LabCauRun, node: str) -> str | None:
    """The stage ``node`` was in when it failed (its status before Failed), or None."""
    before = None
    for entry in run.statuses:
        if entry.node != node:
            continue
        if entry.status == "Failed":
            return before
        before = entry.status
    return None


def _report_run(lab: Lab, run: LabCauRun) -> dict[str, Any]:
    """One run as the get_cau_report script shapes a detailed report's ClusterResult."""
    rows = []
    for result in run.results:
        failed = result.status == "Failed"
        installs = []
        if failed and _failed_in(run, result.node) == "Installing":
            title, update_id = _update_of(run, lab.state.nodes[result.node])
            installs = [{"UpdateTitle": title, "UpdateId": update_id, "ErrorCode": FAULT_ERROR_CODE}]
        text = result.error or None
        if text and failed and not text.startswith(REMOTE_EXCEPTION):
            text = f"{REMOTE_EXCEPTION}: {text}"  # ExceptionData: the exception's type, then its message
        rows.append({"Node": result.node, "Status": result.status, "ErrorRecordData": text,
                     "NumberOfSucceededUpdates": 1 if result.status == "Succeeded" else 0,
                     "NumberOfFailedUpdates": len(installs), "FailedInstalls": installs})
    return {"RunId": run.run_id, "RunStartTime": iso(run.started), "Status": run.outcome, "ErrorId": None,
            "NodeResults": rows}


@cau_handles("get_cau_report")
def _report(lab: Lab, params: dict[str, Any]) -> Any:
    reports = lab.state.cau.reports
    if not reports:
        return {"Present": False}
    last = reports[-1]
    cause = None
    if last.outcome == "Canceled":  # the series' start: past the canceled runs, the first other one if it failed
        week = 7 * 24 * 3600
        earlier = [r for r in reports[:-1] if last.started - week <= r.started <= last.started]
        start = next((r for r in reversed(earlier) if r.outcome != "Canceled"), None)
        if start is not None and start.outcome == "Failed":
            cause = _report_run(lab, start)
    return {"Present": True, **_report_run(lab, last), "Cause": cause}


# ------------------------------------------------------------- the coordinator's preflight

# What Test-WSMan says when the computer does not answer (its exception's message on Windows).
WSMAN_UNREACHABLE = ("WinRM cannot complete the operation. Verify that the specified computer name is valid, that "
                     "the computer is accessible over the network, and that a firewall exception for the WinRM "
                     "service is enabled and allows access from this computer.")


def _coordinator_state(lab: Lab, computer: str, params: dict[str, Any]) -> Any:
    """The CAU module is there (on every lab computer), and Test-WSMan to each named node: a node that
    is powered on and not made unreachable by a knob answers; any other name does not."""
    reach = []
    for name in params.get("NodeNames") or []:
        ok = name in lab.state.nodes and lab.answers(name)
        reach.append({"Node": name, "Reachable": ok, "Error": None if ok else WSMAN_UNREACHABLE})
    return {"ComputerName": computer, "CauModule": True, "Nodes": reach}


@handles("get_coordinator_state")
def _get_coordinator_state(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    return _coordinator_state(lab, node.name, params)


@coordinator_handles("get_coordinator_state")
def _get_coordinator_state_remote(lab: Lab, params: dict[str, Any]) -> Any:
    return _coordinator_state(lab, COORDINATOR, params)
