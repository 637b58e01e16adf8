"""Cluster-Aware Updating: the phase 2 preflight and the phase 5 run, watched live.

Preflight: ``Set-WSManQuickConfig`` and ``Enable-PSRemoting`` on every node (each proved by a
read of the node's remoting state, also when enabling it restarted WinRM and dropped the session),
then ``Test-CauSetup``, ``Test-Cluster`` (long: shown running, then where its report went) and an
``Invoke-CauScan`` preview that must offer every node the same update.

The run: refused unless every node is Up, storage is quiet, the staged ISO is proved on every node
and no run is in progress or left failed. ``start_cau_run`` hands the run to the node (it outlives
hcitui), and :func:`monitor` watches ``Get-CauRun``: one poll at a time, per-node status changes
as progress, the journal step (5, ``cau-run``) carrying the run id and the statuses. An error while
a node restarts or the orchestrator moves is a blip: the last good state stays on screen. The run's
outcome comes from its node results (``Get-CauReport`` once it has ended), and the step is done
only after a read of the cluster agrees. Everything is driven by observation, so a monitor started
after a kill (or on another machine) reattaches to the run in progress, or concludes the one that
ended meanwhile.

Where the run is coordinated: the update guide runs Invoke-CauRun from a management server outside the
cluster. With a CAU coordinator in the config, the run's operations go there (the ClusterClient routes
them, one mechanism for every caller), and the preflight proves it: the ClusterAwareUpdating module is
installed there and it reaches every node over WinRM. Without one, the run starts on a node as before,
and the preflight and the run's preview say what that risks.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hcitui.core import model
from hcitui.core.journal import Journal, StepRecord, StepStatus
from hcitui.ps import cau as cau_ops
from hcitui.ps import iso as iso_ops
from hcitui.ps import post as post_ops
from hcitui.ps import reads
from hcitui.remote import NodeCall, NodeEvent, RemoteError, TimedOut, Unreachable
from hcitui.remote.cluster import cannot_speak_for_cluster
from hcitui.workflow import gates, interlocks
from hcitui.workflow.context import Context
from hcitui.workflow.observe import ClusterState, observe, problem
from hcitui.workflow.resume import register
from hcitui.workflow.events import Progress, ProgressEvent, no_progress
from hcitui.workflow.steps import Plan, Refused, StepFailed

PREFLIGHT_PHASE, RUN_PHASE = 2, 5
REMOTING, PREFLIGHT = "cau-remoting", "cau-preflight"
RUN, STOP, RECOVER = "cau-run", "cau-stop", "cau-recover"
ROLLING_UPGRADE, WINDOWS_UPDATE = cau_ops.ROLLING_UPGRADE, cau_ops.WINDOWS_UPDATE
PLUGIN_TITLE = {ROLLING_UPGRADE: "rolling upgrade to 23H2", WINDOWS_UPDATE: "Windows Update (monthly updates)"}
IN_PROGRESS = model.CauRunState.RUN_IN_PROGRESS
FAILED_STATE = model.CauRunState.RUN_FAILED
SUCCEEDED = model.CauNodeResultStatus.SUCCEEDED
CANCELED = model.CauNodeResultStatus.CANCELED


def _short(run_id: str | None) -> str:
    return (run_id or "?")[:8]


def _anywhere(ctx: Context) -> str:
    return f"any node of {ctx.name}"


def _add(plan: Plan, ctx: Context, op: Any, params: Any, why: str) -> None:
    """A cluster-wide call, shown where it will run (the CAU coordinator or any node) and with the
    parameters it will be sent with (``ClusterName`` on the coordinator)."""
    plan.add(op, ctx.client.cluster_params(op, params), ctx.client.where(op), why)


# ----------------------------------------------------------------- the coordinator

COORDINATOR_CHECK, REACH_CHECK = "Coordinator", "Coord. reach"
NO_COORDINATOR_RISK = (
    "no CAU coordinator is configured: the run starts on a cluster node, in a scheduled task as SYSTEM, and "
    "reaches the other nodes as that node's computer account, which clusters usually refuse (started inside "
    "a WinRM session instead, it would meet the double hop)")
NO_COORDINATOR_REMEDY = (
    "configure a coordinator ([clusters.coordinator] in the config): a Windows management server outside the "
    "cluster with the Failover Clustering Tools, reached with auth credssp or kerberos (delegation), from "
    "which the update guide runs Invoke-CauRun")


def coordinator_notes(ctx: Context) -> list[str]:
    """Where the run's Invoke-CauRun runs, as the preview's notes say it (a WARNING without a coordinator)."""
    name = ctx.client.coordinator_name
    if name is not None:
        return [f"Invoke-CauRun runs on the CAU coordinator {name}, a management server outside the cluster, as",
                "the update guide runs it: a scheduled task there (as SYSTEM: the run reaches the nodes as",
                f"{name}'s computer account, which must be an administrator on every node)."]
    return ["WARNING: no CAU coordinator is configured. The run starts on a cluster node, in a scheduled task",
            "as SYSTEM, and reaches the other nodes as that node's computer account, which clusters usually",
            "refuse; started inside this WinRM session instead it would meet the double hop. Configure a",
            "coordinator ([clusters.coordinator]: a management server outside the cluster) to run it as the",
            "update guide does."]


def form_note(ctx: Context) -> str:
    """The options form's word on where the run runs (a WARNING without a coordinator) and -ForceSelfUpdate."""
    name = ctx.client.coordinator_name
    if name is not None:
        return (f"Runs on the CAU coordinator {name}, outside the cluster. -ForceSelfUpdate refreshes the CAU "
                "plug-in there, not on the nodes.")
    return ("WARNING: no CAU coordinator. The run starts on a node as SYSTEM and reaches the others as its "
            "computer account, often refused. -ForceSelfUpdate: CAU on that node only.")


def force_self_update_note(ctx: Context) -> str:
    # Invoke-CauRun -ForceSelfUpdate: "Specifies whether to update the CAU plugin on the local computer before
    # running the update" (MicrosoftDocs/windows-powershell-docs docset/winserver2022-ps/ClusterAwareUpdating/
    # Invoke-CauRun.md): the computer that runs Invoke-CauRun, which is the coordinator when there is one.
    name = ctx.client.coordinator_name
    if name is None:
        return ("-ForceSelfUpdate refreshes the CAU plug-in on the computer running Invoke-CauRun (the node that "
                "starts it), not on the other nodes.")
    return (f"-ForceSelfUpdate refreshes the CAU plug-in on the computer running Invoke-CauRun ({name}), not on "
            "the nodes.")

# --------------------------------------------------------------------- options


@dataclass(frozen=True)
class RunOptions:
    """What the operator chooses for a run. ``None`` leaves a value to CAU's own default."""

    plugin: str = ROLLING_UPGRADE
    max_failed_nodes: int | None = 0
    max_retries_per_node: int | None = 3
    require_all_nodes_online: bool = True
    # Off by default: 8) Post-upgrade raises the level after verification; raising it cannot be undone.
    update_functional_level: bool = False

    @classmethod
    def defaults(cls, plugin: str = ROLLING_UPGRADE) -> RunOptions:
        """The rolling upgrade stops at its first failed node (RUNBOOK 4.8); monthly updates as the update guide."""
        if plugin == WINDOWS_UPDATE:
            return cls(WINDOWS_UPDATE, 1, 3, True, False)
        return cls(ROLLING_UPGRADE, 0, 3, True, False)

    def problems(self, node_count: int) -> list[str]:
        reasons = []
        if self.plugin not in (ROLLING_UPGRADE, WINDOWS_UPDATE):
            reasons.append(f"plug-in {self.plugin!r}: choose RollingUpgrade or WindowsUpdate")
        if self.max_failed_nodes is not None and not 0 <= self.max_failed_nodes <= max(0, node_count - 1):
            reasons.append(f"MaxFailedNodes {self.max_failed_nodes}: choose from 0 to {max(0, node_count - 1)} "
                           "(fewer than the nodes)")
        if self.max_retries_per_node is not None and not 0 <= self.max_retries_per_node <= 64:
            reasons.append(f"MaxRetriesPerNode {self.max_retries_per_node}: choose from 0 to 64")
        return reasons

    def params(self, ctx: Context) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "media_path": ctx.cluster.staging_path if self.plugin == ROLLING_UPGRADE else None,
            "max_failed_nodes": self.max_failed_nodes,
            "max_retries_per_node": self.max_retries_per_node,
            "require_all_nodes_online": self.require_all_nodes_online,
            "update_functional_level": self.update_functional_level if self.plugin == ROLLING_UPGRADE else False,
        }

    def describe(self) -> str:
        parts = [cau_ops.PLUGIN_NAMES.get(self.plugin, self.plugin)]
        if self.max_failed_nodes is not None:
            parts.append(f"MaxFailedNodes {self.max_failed_nodes}")
        if self.max_retries_per_node is not None:
            parts.append(f"MaxRetriesPerNode {self.max_retries_per_node}")
        if self.require_all_nodes_online:
            parts.append("RequireAllNodesOnline")
        if self.plugin == ROLLING_UPGRADE:
            parts.append(f"UpdateClusterFunctionalLevel {'ON' if self.update_functional_level else 'off'}")
        return ", ".join(parts)

    def level_sentence(self) -> str:
        """Which way the functional level goes, as the preview, the journal and the report say it."""
        if self.plugin != ROLLING_UPGRADE:
            return "functional level: not touched (monthly updates)"
        if self.update_functional_level:
            return ("UpdateClusterFunctionalLevel ON: the run raises the cluster functional level at its end "
                    "(cannot be undone)")
        return ("UpdateClusterFunctionalLevel off: the functional level is left as it is; 8) Post-upgrade raises "
                "it after verification")

    def as_data(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "max_failed_nodes": self.max_failed_nodes,
                "max_retries_per_node": self.max_retries_per_node,
                "require_all_nodes_online": self.require_all_nodes_online,
                "update_functional_level": self.update_functional_level}


# ----------------------------------------------------------------------- plans


def plan_preflight(ctx: Context, *, remoting: bool = True) -> Plan:
    nodes = ctx.client.node_names
    plan = Plan("CAU preflight: remoting on every node, Test-CauSetup, Test-Cluster, Invoke-CauScan"
                if remoting else "CAU preflight checks (read-only): Test-CauSetup, Test-Cluster, Invoke-CauScan")
    if remoting:
        plan.notes.append("Enabling remoting can restart WinRM on a node: hcitui reconnects and reads the node's "
                          "remoting state to prove it.")
        for node in nodes:
            plan.add(cau_ops.enable_remoting, None, node, "enable WinRM and PowerShell remoting")
    plan.notes.append("Test-Cluster takes a while: it is shown running, then where its report went.")
    for node in nodes:
        plan.add(cau_ops.get_remoting_state, None, node, "prove remoting (read-only)")
    coordinator = ctx.client.coordinator_name
    if coordinator is not None:
        plan.add(cau_ops.get_coordinator_state, {"node_names": nodes}, f"{coordinator} (CAU coordinator)",
                 "the coordinator: the ClusterAwareUpdating module, and WinRM to every node (read-only)")
    else:
        plan.notes += coordinator_notes(ctx)
    _add(plan, ctx, cau_ops.test_cau_setup, None, "Test-CauSetup (read-only)")
    plan.add(post_ops.test_cluster, None, _anywhere(ctx), "Test-Cluster (read-only, long)")
    plan.add(cau_ops.get_cau_scan, {"plugin": ROLLING_UPGRADE, "media_path": ctx.cluster.staging_path},
             _anywhere(ctx), "Invoke-CauScan preview: every node must be offered the same update (read-only)")
    return plan


def plan_start(ctx: Context, options: RunOptions) -> Plan:
    plan = Plan(f"Start the CAU {PLUGIN_TITLE.get(options.plugin, options.plugin)} on {ctx.name}: "
                + options.describe())
    where = ctx.client.coordinator_name or "the node"
    plan.notes += coordinator_notes(ctx)
    plan.notes += [
        "Refused unless every node is Up, storage is quiet, no node is out of service, no run is in progress or",
        "left failed" + (", and the staged ISO is proved on every node." if options.plugin == ROLLING_UPGRADE
                         else "."),
    ]
    if options.plugin == ROLLING_UPGRADE:
        plan.notes += [
            "Gated too: both registry values in force on every node (or an override with its reason, journalled),",
            f"prerequisites passed within {ctx.cluster.prereq_max_age_hours:g} h, a re-read SR snapshot describing "
            "every live partnership",
            "(stretched clusters), and the ISO staged and verified by hcitui on every node.",
            options.level_sentence() + ".",
        ]
    plan.notes += [
        f"The run does not depend on hcitui: a scheduled task on {where} runs Invoke-CauRun, so closing hcitui",
        "or losing the SSH session does not stop it. hcitui watches it with Get-CauRun and reattaches when",
        "opened again. Nodes go one at a time: drain, install, restart, resume, wait for the repair jobs.",
        force_self_update_note(ctx),
    ]
    if options.plugin == ROLLING_UPGRADE:
        plan.notes.append(f"Setup runs from {ctx.cluster.staging_path} on each node (PathToSetupMedia).")
    _add(plan, ctx, cau_ops.start_cau_run, options.params(ctx), "start the run (returns at once)")
    _add(plan, ctx, reads.get_cau_run, None, f"then every {ctx.poll:g} s until the run ends: watch it")
    return plan


def plan_stop(ctx: Context) -> Plan:
    plan = Plan(f"Stop the CAU run on {ctx.name}")
    plan.notes.append("The run ends at its next safe point: a node being updated is finished and resumed first.")
    _add(plan, ctx, cau_ops.stop_cau_run, None, "ask the run to stop (CancelPending)")
    _add(plan, ctx, reads.get_cau_run, None, "then until the run has ended")
    return plan


def plan_recover(ctx: Context) -> Plan:
    plan = Plan(f"Recover the failed CAU run on {ctx.name} (-ForceRecovery)")
    plan.notes.append("Only for a run that failed and left the cluster locked (Get-CauRun says RunFailed); the "
                      "cluster's nodes are left as they are.")
    _add(plan, ctx, cau_ops.recover_cau_run, None, "clear the stale failed run")
    return plan


# ------------------------------------------------------------------- preflight


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass, warn, fail
    reason: str
    node: str | None = None
    remedy: str = ""  # what to do about it, when there is something to do
    gate: bool = False  # a gate on the rolling upgrade (workflow/gates.py): the run refuses while it fails

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "warn")


@dataclass
class PreflightReport:
    remoting: dict[str, model.RemotingState | RemoteError] = field(default_factory=dict)
    coordinator: model.CoordinatorState | RemoteError | None = None
    setup: list[model.CauSetupResult] | RemoteError | None = None
    validation: model.ClusterValidation | RemoteError | None = None
    scan: list[model.CauScanUpdate] | RemoteError | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """The preflight's own checks (phase 2). The upgrade's gates are rows too, judged apart: they wait on
        later phases (ISO staging, the SR snapshot), so the preflight can pass before they open."""
        own = [c for c in self.checks if not c.gate]
        return bool(own) and all(c.ok for c in own)

    @property
    def gates_open(self) -> bool:
        return all(c.ok for c in self.checks if c.gate)

    def gates_summary(self) -> str:
        rows = [c for c in self.checks if c.gate]
        if not rows:
            return "upgrade gates not read"
        closed = [c.name for c in rows if not c.ok]
        if not closed:
            return "upgrade gates open: the rolling upgrade may start"
        return f"upgrade gates closed ({', '.join(closed)}): the rolling upgrade is refused until they open"

    def summary(self) -> str:
        failing = [c for c in self.checks if not c.ok and not c.gate]
        if not failing:
            warned = sum(1 for c in self.checks if c.status == "warn" and not c.gate)
            return "PASSED" + (f" with {warned} warning{'s' if warned != 1 else ''}" if warned else "")
        first = failing[0]
        return f"NOT PASSED: {first.name}{' ' + first.node if first.node else ''}: {first.reason}"


def judge_remoting(states: dict[str, model.RemotingState | RemoteError]) -> list[Check]:
    out = []
    for node, value in states.items():
        if isinstance(value, RemoteError):
            out.append(Check("Remoting", "fail", f"could not read: {value.message}", node))
        elif value.enabled:
            out.append(Check("Remoting", "pass", f"WinRM {value.win_rm_status}, PowerShell remoting enabled", node))
        else:
            out.append(Check("Remoting", "fail", "PowerShell remoting is not enabled: run the preflight (f) to "
                                                 "enable it", node))
    return out


def judge_coordinator(coordinator: str | None, state: model.CoordinatorState | RemoteError | None,
                      nodes: list[str]) -> list[Check]:
    """Where the run will be coordinated. None configured: a warning with the risk and the remedy.
    Configured: it answers, it is outside the cluster, the ClusterAwareUpdating module is there, and it
    reaches every node over WinRM with the session's (delegated) credentials."""
    if coordinator is None:
        return [Check(COORDINATOR_CHECK, "warn", NO_COORDINATOR_RISK, remedy=NO_COORDINATOR_REMEDY)]
    if state is None or isinstance(state, RemoteError):
        return [Check(COORDINATOR_CHECK, "fail", f"{coordinator} could not be read: "
                      + (state.message if isinstance(state, RemoteError) else "not read"),
                      remedy=f"make {coordinator} answer over WinRM (host, address and transport in "
                             "[clusters.coordinator]), or remove it from the config to start the run on a node")]
    out: list[Check] = []
    members = {n.split(".")[0].lower() for n in nodes}
    if (state.computer_name or "").split(".")[0].lower() in members:
        out.append(Check(COORDINATOR_CHECK, "fail", f"{coordinator} is {state.computer_name}, a node of the cluster",
                         remedy="name a management server outside the cluster as the coordinator"))
    if not state.cau_module:
        out.append(Check(COORDINATOR_CHECK, "fail", f"the ClusterAwareUpdating module is not installed on "
                         f"{coordinator}", remedy="install the Failover Clustering Tools there: "
                         "Install-WindowsFeature RSAT-Clustering-PowerShell (Windows Server), or RSAT: Failover "
                         "Clustering Tools (Windows 10/11)"))
    if not out:
        out.append(Check(COORDINATOR_CHECK, "pass", f"{coordinator}, outside the cluster: the ClusterAwareUpdating "
                                                    "module is installed"))
    reach = {r.node.lower(): r for r in state.nodes}
    for node in nodes:
        row = reach.get(node.lower())
        if row is not None and row.reachable:
            out.append(Check(REACH_CHECK, "pass", f"{coordinator} reaches it over WinRM with your credentials "
                                                  "(Test-WSMan)", node))
        else:
            why = (row.error or "no answer") if row is not None else "not tested"
            out.append(Check(REACH_CHECK, "fail", f"{coordinator} cannot reach it over WinRM: {why}", node,
                             remedy=f"from {coordinator}: the node's name must resolve, WinRM must be allowed "
                                    "through its firewall and enabled (the preflight enables it), and your "
                                    "credentials must be delegated (CredSSP, or Kerberos delegation)"))
    return out


def judge_setup(rows: list[model.CauSetupResult] | RemoteError | None) -> Check:
    if rows is None or isinstance(rows, RemoteError):
        return Check("Test-CauSetup", "fail", problem(rows) or "not read")
    errors = [r for r in rows if r.failed]
    warnings = [r for r in rows if r.warned]
    if errors:
        first = errors[0]
        return Check("Test-CauSetup", "fail", f"{len(errors)} error{'s' if len(errors) != 1 else ''}: {first.title}"
                     + (f": {first.problem}" if first.problem else ""))
    if warnings:
        return Check("Test-CauSetup", "warn", f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}: "
                     f"{warnings[0].title}")
    return Check("Test-CauSetup", "pass", f"{len(rows)} rules, no warning or error")


def judge_validation(value: model.ClusterValidation | RemoteError | None) -> Check:
    if value is None or isinstance(value, RemoteError):
        return Check("Test-Cluster", "fail", problem(value) or "not read")
    counts = f"{value.passed} passed, {value.warnings} warnings, {value.failed} failed; report {value.report_path}"
    if value.failed:
        return Check("Test-Cluster", "fail", counts)
    return Check("Test-Cluster", "warn" if value.warnings else "pass", counts)


def judge_scan(rows: list[model.CauScanUpdate] | RemoteError | None, nodes: list[str]) -> list[Check]:
    """Every node must be offered the same update; a node offered nothing is named."""
    if rows is None or isinstance(rows, RemoteError):
        return [Check("Scan", "fail", problem(rows) or "not read")]
    offered: dict[str, set[str]] = {n: set() for n in nodes}
    for row in rows:
        if row.update_title:
            offered.setdefault(row.node, set()).add(row.update_title)
    out = []
    empty = [n for n, titles in offered.items() if not titles]
    for node in empty:
        out.append(Check("Scan", "fail", "offered nothing: the ISO is not staged there (4) ISO staging), "
                                           "or it is already upgraded", node))
    kinds = Counter(frozenset(t) for t in offered.values() if t)
    if len(kinds) > 1:
        common = kinds.most_common(1)[0][0]
        for node, titles in offered.items():
            if titles and frozenset(titles) != common:
                out.append(Check("Scan", "fail", f"offered {', '.join(sorted(titles))}, unlike the others", node))
    if not out:
        title = ", ".join(sorted(next(iter(kinds)))) if kinds else "?"
        out.append(Check("Scan", "pass", f"every node offered {title}"))
    return out


def gate_checks(state: gates.GateState, override_registry: str | None = None) -> list[Check]:
    """One check row per gate: pass or fail, the reasons (each with its remedy), and the gate's remedy."""
    out = []
    for gate in gates.judge(state, override_registry):
        if gate.ok:
            out.append(Check(gate.name, "pass", gates.pass_sentence(gate, state), gate=True))
        else:
            out.append(Check(gate.name, "fail", "; ".join(gate.reasons), remedy=gate.remedy, gate=True))
    return out


async def _read_remoting(call: NodeCall, ctx: Context, deadline: float) -> model.RemotingState:
    """The node's remoting state; waits (bounded) while WinRM restarts and the node does not answer."""
    while True:
        try:
            return await call.invoke(cau_ops.get_remoting_state, timeout=ctx.cluster.timeouts.operation)
        except (Unreachable, TimedOut):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(ctx.poll)


async def enable_remoting(ctx: Context, nodes: list[str] | None = None, progress: Progress = no_progress,
                          on_event: Callable[[NodeEvent], None] | None = None
                          ) -> dict[str, model.RemotingState | RemoteError]:
    """Set-WSManQuickConfig and Enable-PSRemoting on every node, each proved by a read of its state."""
    targets = list(nodes or ctx.client.node_names)

    async def one(call: NodeCall) -> model.RemotingState:
        node = call.node
        ctx.journal.set_step(PREFLIGHT_PHASE, REMOTING, node, StepStatus.RUNNING, "enabling remoting", fresh=True)
        progress(ProgressEvent(node, "enabling remoting", None))
        try:
            await call.invoke(cau_ops.enable_remoting, timeout=ctx.cluster.timeouts.operation)
        except (Unreachable, TimedOut):
            progress(ProgressEvent(node, "WinRM restarted: reconnecting to prove it", None))
        except RemoteError as exc:
            ctx.journal.set_step(PREFLIGHT_PHASE, REMOTING, node, StepStatus.FAILED, exc.message)
            progress(ProgressEvent(node, f"FAILED: {exc.message}", None))
            raise
        deadline = time.monotonic() + ctx.cluster.timeouts.operation
        try:
            state = await _read_remoting(call, ctx, deadline)
        except RemoteError as exc:
            ctx.journal.set_step(PREFLIGHT_PHASE, REMOTING, node, StepStatus.FAILED, f"not proved: {exc.message}")
            raise
        if not state.enabled:
            ctx.journal.set_step(PREFLIGHT_PHASE, REMOTING, node, StepStatus.FAILED,
                                 "remoting is still not enabled after Enable-PSRemoting")
            progress(ProgressEvent(node, "FAILED: remoting still not enabled", None))
            return state
        ctx.journal.set_step(PREFLIGHT_PHASE, REMOTING, node, StepStatus.DONE,
                             f"WinRM {state.win_rm_status}, listeners {', '.join(state.listeners)}")
        progress(ProgressEvent(node, "remoting enabled", 1.0))
        return state

    outcomes = await ctx.client.for_each_node(one, nodes=targets, on_event=on_event)
    return {n: (o.value if o.ok else o.error) for n, o in outcomes.items()}


async def _long_read(ctx: Context, op: Any, params: Any, label: str, progress: Progress) -> Any:
    """A long cluster-wide read, shown running (since when, then each minute) until it answers."""
    started = time.monotonic()
    progress(ProgressEvent(ctx.name, f"{label} running since {datetime.now():%H:%M:%S}", None))
    task = asyncio.ensure_future(ctx.client.invoke_cluster(op, params, timeout=op.timeout))
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=ctx.poll)
            minutes = int((time.monotonic() - started) // 60)
            if minutes:  # one line a minute: a headless log stays short
                progress(ProgressEvent(ctx.name, f"{label} still running: {minutes} min", None))
        return task.result()
    finally:
        if not task.done():
            task.cancel()


async def preflight(ctx: Context, progress: Progress = no_progress, *, remoting: bool = True,
                    on_event: Callable[[NodeEvent], None] | None = None,
                    on_report: Callable[[PreflightReport], None] | None = None) -> PreflightReport:
    """Phase 2. ``remoting=False`` only reads (a read-only session can run it). Never raises for a check."""
    report = PreflightReport()
    nodes = ctx.client.node_names
    show = on_report or (lambda _r: None)
    ctx.journal.set_step(PREFLIGHT_PHASE, PREFLIGHT, None, StepStatus.RUNNING,
                         "enabling remoting" if remoting else "checking", fresh=True)
    if remoting:
        await enable_remoting(ctx, nodes, progress, on_event)
    # Every node's remoting as it is now: the proof, whichever way it got there.
    outcomes = await ctx.client.fan_out(cau_ops.get_remoting_state, on_event=on_event,
                                        timeout=ctx.cluster.timeouts.operation)
    report.remoting = {n: (o.value if o.ok else o.error) for n, o in outcomes.items()}
    report.checks += judge_remoting(report.remoting)
    show(report)

    # Where the run will be coordinated: first in the report (its warning is the first thing to read).
    coordinator = ctx.client.coordinator_name
    if coordinator is not None:
        progress(ProgressEvent(coordinator, "checking the CAU coordinator", None))
        try:
            report.coordinator = await ctx.client.invoke_coordinator(
                cau_ops.get_coordinator_state, {"node_names": nodes}, timeout=cau_ops.get_coordinator_state.timeout)
        except RemoteError as exc:
            report.coordinator = exc
    report.checks[:0] = judge_coordinator(coordinator, report.coordinator, nodes)
    show(report)

    progress(ProgressEvent(ctx.name, "Test-CauSetup running", None))
    try:
        report.setup = await ctx.client.invoke_cluster(cau_ops.test_cau_setup, timeout=cau_ops.test_cau_setup.timeout)
    except RemoteError as exc:
        report.setup = exc
    report.checks.append(judge_setup(report.setup))
    show(report)

    try:
        report.validation = await _long_read(ctx, post_ops.test_cluster, None, "Test-Cluster", progress)
    except RemoteError as exc:
        report.validation = exc
    report.checks.append(judge_validation(report.validation))
    show(report)

    progress(ProgressEvent(ctx.name, "Invoke-CauScan running", None))
    try:
        report.scan = await ctx.client.invoke_cluster(
            cau_ops.get_cau_scan, {"plugin": ROLLING_UPGRADE, "media_path": ctx.cluster.staging_path},
            timeout=cau_ops.get_cau_scan.timeout)
    except RemoteError as exc:
        report.scan = exc
    report.checks += judge_scan(report.scan, nodes)
    show(report)
    # The rolling upgrade's gates, each a row: what the earlier phases must have left (workflow/gates.py).
    progress(ProgressEvent(ctx.name, "reading the upgrade's gates", None))
    report.checks += gate_checks(await gates.read(ctx))
    show(report)
    progress(ProgressEvent(ctx.name, f"preflight {report.summary()}; {report.gates_summary()}", 1.0))
    ctx.journal.set_step(PREFLIGHT_PHASE, PREFLIGHT, None,
                         StepStatus.DONE if report.passed else StepStatus.FAILED, report.summary()[:200])
    return report


# ------------------------------------------------------------------------ start


@dataclass
class StartState:
    cluster: ClusterState
    staging: dict[str, model.StagingInfo | RemoteError]


def _staging_blockers(staging: dict[str, model.StagingInfo | RemoteError], path: str) -> list[str]:
    reasons = []
    counts: Counter = Counter()
    for node, info in staging.items():
        if isinstance(info, RemoteError):
            reasons.append(f"{node}: the staged ISO could not be read: {info.message}")
        elif not info.exists or not info.has_setup:
            reasons.append(f"{node}: setup.exe is not in {path}: stage the ISO (4) ISO staging)")
        else:
            counts[(info.file_count, info.total_bytes)] += 1
    if len(counts) > 1:
        (files, size), _ = counts.most_common(1)[0]
        for node, info in staging.items():
            counted = isinstance(info, model.StagingInfo) and info.has_setup
            if counted and (info.file_count, info.total_bytes) != (files, size):
                reasons.append(f"{node}: {path} holds {info.file_count} files, the others {files}: stage it again")
    return reasons


def run_blockers(run: model.CauRun | RemoteError | None) -> list[str]:
    if run is None or isinstance(run, RemoteError):
        return [f"CAU run: {problem(run)}"]
    if run.state == IN_PROGRESS:
        return [f"a CAU run ({_short(run.run_id)}) is in progress: it is watched here; stop it (x) to end it"]
    if run.state == FAILED_STATE:
        return ["the last CAU run failed and left the cluster locked (RunFailed): recover it first (v)"]
    if run.state != model.CauRunState.RUN_NOT_IN_PROGRESS:
        return [f"Get-CauRun says {run.state}: no run can start until it says RunNotInProgress"]
    return []


def start_blockers(state: StartState, options: RunOptions, lock: Any, staging_path: str) -> list[str]:
    """May the run start now? Pure: observed state in, reasons out (RUNBOOK 4). Fails closed."""
    reasons: list[str] = []
    if lock is not None:
        reasons.append(f"{lock.node} is out of service since {lock.since} ({lock.reason}): bring it back first "
                       "(3) Node drain and restart)")
    cluster = state.cluster
    if problem(cluster.nodes):
        reasons.append(f"cluster nodes: {problem(cluster.nodes)}")
    else:
        for node in cluster.nodes:
            if node.state != model.NodeState.UP:
                reasons.append(f"{node.name} is {node.state}: every node must be Up")
    reasons += interlocks.storage_blockers(cluster)
    reasons += run_blockers(cluster.cau_run)
    if options.plugin == ROLLING_UPGRADE:
        reasons += (_staging_blockers(state.staging, staging_path) if state.staging
                    else [f"the staged ISO in {staging_path} was not read"])
    return reasons


async def read_start_state(ctx: Context, options: RunOptions) -> StartState:
    cluster = await observe(ctx, ("nodes", "jobs", "disks", "sr_groups", "cau_run"))
    staging: dict[str, model.StagingInfo | RemoteError] = {}
    if options.plugin == ROLLING_UPGRADE:
        outcomes = await ctx.client.fan_out(iso_ops.get_staging_info, {"path": ctx.cluster.staging_path},
                                            timeout=ctx.cluster.timeouts.operation)
        staging = {n: (o.value if o.ok else o.error) for n, o in outcomes.items()}
    return StartState(cluster, staging)


async def start(ctx: Context, options: RunOptions, progress: Progress = no_progress, *,
                override_registry: str | None = None) -> model.CauRun:
    """Start the run (it then goes on without hcitui) and prove it: Get-CauRun shows it in progress.

    The rolling upgrade is gated (workflow/gates.py); ``override_registry`` is the operator's typed reason
    to start although the registry values are not proved in force: it is journalled."""
    step = f"start the CAU {PLUGIN_TITLE.get(options.plugin, options.plugin)}"
    reasons = options.problems(len(ctx.client.node_names))
    if reasons:
        raise Refused(step, reasons)
    state = await read_start_state(ctx, options)
    reasons = start_blockers(state, options, ctx.journal.state.lock, ctx.cluster.staging_path)
    judged: list[gates.Gate] = []
    if options.plugin == ROLLING_UPGRADE:  # monthly updates are no OS upgrade: not gated
        judged = gates.judge(await gates.read(ctx), override_registry)
        reasons += gates.reasons(judged)
    if reasons:
        raise Refused(step, reasons)
    override = gates.record_override(ctx, judged, RUN, None)
    ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.RUNNING,
                         "starting; " + options.level_sentence() + ("; registry gate OVERRIDDEN" if override else ""),
                         data={"run_id": None, "options": options.as_data(), "statuses": {}, "blips": 0,
                               "functional_level": ("raise" if options.update_functional_level else "leave")
                               if options.plugin == ROLLING_UPGRADE else None,
                               "registry_override": override,
                               "requested": datetime.now(timezone.utc).isoformat(timespec="seconds")},
                         fresh=True)
    progress(ProgressEvent(ctx.name, "starting the run", None))
    try:
        started = await ctx.client.invoke_cluster(cau_ops.start_cau_run, options.params(ctx),
                                                  timeout=cau_ops.start_cau_run.timeout)
    except RemoteError as exc:
        ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.FAILED, f"did not start: {exc.message}")
        raise StepFailed(step, exc.message) from None
    if started.run_id:
        ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.RUNNING, "started", data={"run_id": started.run_id})
    # The proof: Get-CauRun shows a run in progress (a node may not answer for a moment: that is a blip).
    deadline = time.monotonic() + ctx.cluster.timeouts.operation
    while True:
        try:
            run = await ctx.client.invoke_cluster(reads.get_cau_run, timeout=ctx.cluster.timeouts.operation)
        except RemoteError as exc:
            if not is_blip(exc) or time.monotonic() > deadline:
                ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.UNKNOWN, f"started; not seen: {exc.message}")
                raise StepFailed(step, f"the run was handed over but Get-CauRun failed: {exc.message}; "
                                       "open 5) CAU run to reattach") from None
            await asyncio.sleep(ctx.poll)
            continue
        if run.state == IN_PROGRESS or (started.run_id and run.run_id == started.run_id):
            break  # in progress (or already over, in a fast lab): the monitor concludes it
        if run.state == model.CauRunState.RUN_NOT_IN_PROGRESS and started.run_id:
            report = await _report(ctx)
            if report is not None and report.run_id == started.run_id:
                break
        if time.monotonic() > deadline or run.state == FAILED_STATE:
            ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.FAILED, f"not started: Get-CauRun says {run.state}")
            raise StepFailed(step, f"Get-CauRun says {run.state}, not RunInProgress; see {started.log_path} "
                                   f"on {ctx.client.coordinator_name or 'the node that started it'}")
        await asyncio.sleep(ctx.poll)
    ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.RUNNING, f"run {_short(run.run_id)} in progress",
                         data={"run_id": run.run_id or started.run_id})
    progress(ProgressEvent(ctx.name, f"run {_short(run.run_id)} started; orchestrator {run.current_orchestrator or '?'}", None))
    return run


# ---------------------------------------------------------------------- monitor


def is_blip(error: RemoteError) -> bool:
    """An error that only means a node is restarting, or the orchestrator moving: not a failure."""
    if isinstance(error, (Unreachable, TimedOut)) or cannot_speak_for_cluster(error):
        return True
    text = error.message.lower()
    return "shutting down" in text or "unreachable" in text or "not reachable" in text


@dataclass
class RunWatch:
    """What the monitor knows of the run: the last good Get-CauRun, and how the reads went."""

    run: model.CauRun | None = None
    statuses: dict[str, model.CauNodeStatus] = field(default_factory=dict)
    results: dict[str, model.CauNodeResult] = field(default_factory=dict)
    blips: int = 0
    note: str = ""
    read_at: datetime | None = None
    ended: bool = False
    outcome: str = ""
    succeeded: bool | None = None

    def update(self, run: model.CauRun) -> list[model.CauNodeStatus]:
        """Take a good read; return the nodes whose status changed."""
        self.run, self.read_at, self.note = run, datetime.now(timezone.utc), ""
        changed = []
        for entry in run.node_status_notifications:
            before = self.statuses.get(entry.node)
            if before is None or before.status != entry.status:
                changed.append(entry)
            self.statuses[entry.node] = entry
        for result in run.node_results:
            self.results[result.node] = result
        return changed

    def elapsed(self, now: datetime | None = None) -> float | None:
        if self.run is None or self.run.run_start_time is None:
            return None
        start = self.run.run_start_time
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        return max(0.0, ((now or datetime.now(timezone.utc)) - start).total_seconds())


@dataclass
class RunOutcome:
    succeeded: bool
    sentence: str
    run_id: str | None = None
    results: dict[str, model.CauNodeResult] = field(default_factory=dict)
    functional_level: int | None = None


def _record(journal: Journal) -> StepRecord | None:
    return journal.step(RUN_PHASE, RUN)


def watching(journal: Journal) -> bool:
    """Does the journal say a run was started (or watched) and not concluded? Then the monitor reattaches."""
    record = _record(journal)
    return record is not None and record.status in (StepStatus.RUNNING, StepStatus.UNKNOWN)


def _journal_statuses(ctx: Context, watch: RunWatch, detail: str) -> None:
    ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.RUNNING, detail, data={
        "run_id": watch.run.run_id if watch.run else None,
        "statuses": {n: s.status for n, s in watch.statuses.items()},
        "blips": watch.blips,
    })


def _adopt(ctx: Context, run: model.CauRun) -> None:
    """The run in progress becomes the journal's: a reattach after a kill, or a run started elsewhere."""
    record = _record(ctx.journal)
    ours = record is not None and record.data.get("run_id") in (None, run.run_id)
    if record is not None and ours and record.status is StepStatus.RUNNING:
        if not record.data.get("run_id"):
            ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.RUNNING, record.detail, data={"run_id": run.run_id})
        return
    detail = ("reattached after an interruption" if ours and record is not None
              else "watching a run started outside this hcitui")
    ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.RUNNING, detail,
                         data={"run_id": run.run_id, "statuses": {}, "blips": 0}, fresh=not ours)


async def monitor(ctx: Context, progress: Progress = no_progress,
                  on_update: Callable[[RunWatch], None] | None = None,
                  watch: RunWatch | None = None) -> RunOutcome:
    """Watch Get-CauRun until the run ends; then conclude it. Reattaches to a run in progress.

    Polls never overlap (the next is armed when the last one finished). Raises StepFailed when the
    run ends without every node succeeded, or when Get-CauRun fails for a reason that is no blip.
    """
    watch = watch or RunWatch()
    show = on_update or (lambda _w: None)
    step = "watch the CAU run"
    lost_since: float | None = None
    adopted = False
    while True:
        try:
            run = await ctx.client.invoke_cluster(reads.get_cau_run, timeout=ctx.cluster.timeouts.operation)
        except RemoteError as exc:
            known = (watch.run is not None and watch.run.state == IN_PROGRESS) or watching(ctx.journal)
            if not (known and is_blip(exc)):
                raise StepFailed(step, f"Get-CauRun failed: {exc.message}") from None
            lost_since = lost_since or time.monotonic()
            if time.monotonic() - lost_since > ctx.cluster.timeouts.reboot:
                raise StepFailed(step, f"Get-CauRun has not answered for {ctx.cluster.timeouts.reboot:g} s "
                                       f"({exc.message}); the run may go on: open 5) CAU run to reattach") from None
            watch.blips += 1
            # A node restarting or the orchestrator moving: not a failure (the screen's help says so).
            watch.note = (f"blip at {datetime.now():%H:%M:%S}: Get-CauRun did not answer; "
                          "last state kept (not a failure)")
            progress(ProgressEvent(ctx.name, f"blip: {exc.message}", None))
            show(watch)
            await asyncio.sleep(ctx.poll)
            continue
        lost_since = None
        if run.state != IN_PROGRESS:
            watch.run = watch.run if run.run_id is None else run
            if run.run_id is not None:
                watch.update(run)
            outcome = await conclude(ctx, run, watch, progress)
            # Get-CauRun says nothing of a run that ended: its last node's result comes from the report.
            for node, result in outcome.results.items():
                watch.results[node] = result
                before = watch.statuses.get(node)
                if before is None or before.status != str(result.status):
                    watch.statuses[node] = model.CauNodeStatus(node=node, status=str(result.status),
                                                               timestamp=datetime.now(timezone.utc))
                    progress(ProgressEvent(node, f"CAU {result.status}", None))
            watch.ended, watch.outcome, watch.succeeded = True, outcome.sentence, outcome.succeeded
            show(watch)
            if not outcome.succeeded and outcome.run_id is not None:
                raise StepFailed("the CAU run", outcome.sentence)
            return outcome
        if not adopted:
            _adopt(ctx, run)
            adopted = True
        changed = watch.update(run)
        for entry in changed:
            stamp = entry.timestamp.astimezone().strftime("%H:%M:%S") if entry.timestamp else "?"
            progress(ProgressEvent(entry.node, f"CAU {entry.status} (since {stamp})", None))
        if changed:
            latest = max(changed, key=lambda e: e.timestamp or datetime.min.replace(tzinfo=timezone.utc))
            _journal_statuses(ctx, watch, f"run {_short(run.run_id)}: {latest.node} {latest.status}")
        show(watch)
        await asyncio.sleep(ctx.poll)


async def _report(ctx: Context) -> model.CauReport | None:
    try:
        return await ctx.client.invoke_cluster(cau_ops.get_cau_report, timeout=cau_ops.get_cau_report.timeout)
    except RemoteError:
        return None


def _report_is_ours(report: model.CauReport | None, record: StepRecord | None, run_id: str | None) -> bool:
    if report is None or not report.present:
        return False
    if run_id:
        return report.run_id == run_id
    if record is None or report.run_start_time is None or not record.started:
        return False
    try:
        started = datetime.fromisoformat(record.started)
    except ValueError:
        return False
    return report.run_start_time >= started.replace(microsecond=0)


async def conclude(ctx: Context, run: model.CauRun, watch: RunWatch, progress: Progress = no_progress) -> RunOutcome:
    """The run is no longer in progress: how did it end? Journal it, after a read of the cluster agrees."""
    record = _record(ctx.journal)
    concluding = record is not None and record.status in (StepStatus.RUNNING, StepStatus.UNKNOWN)
    options = RunOptions(**record.data.get("options", {})) if record and record.data.get("options") else None
    known_id = (record.data.get("run_id") if record else None) or (watch.run.run_id if watch.run else None)
    if run.state == FAILED_STATE:
        results = {r.node: r for r in run.node_results} or dict(watch.results)
        failed = [r for r in results.values() if r.status != SUCCEEDED]
        named = "; ".join(f"{r.node} {r.status}" + (f": {r.error_record_data}" if r.error_record_data else "")
                          for r in failed) or "no node result"
        sentence = (f"run {_short(run.run_id)} ended RunFailed ({named}); the cluster stays locked until it is "
                    "recovered (v)")
        if concluding or watch.run is not None:
            ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.FAILED, sentence[:300],
                                 data={"run_id": run.run_id or known_id})
        progress(ProgressEvent(ctx.name, "run FAILED (RunFailed)", None))
        return RunOutcome(False, sentence, run.run_id or "?", results)
    if not concluding and watch.run is None:
        return RunOutcome(True, "No CAU run is in progress.", None)
    report = await _report(ctx)
    if _report_is_ours(report, record, known_id):
        run_id, results = report.run_id, {r.node: r for r in report.node_results}
        status = (report.status or "").lower()
    elif watch.results or watch.run is not None:
        run_id = known_id
        results, status = dict(watch.results), ""
    else:
        sentence = "no CAU run was found: the start may not have reached the cluster; start it again"
        ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.FAILED, sentence)
        return RunOutcome(False, sentence, "?")
    nodes = ctx.client.node_names
    canceled = status == "canceled" or any(r.status == CANCELED for r in results.values())
    missing = [n for n in nodes if n not in results]
    failed = [r for r in results.values() if r.status not in (SUCCEEDED, CANCELED)]
    # The proof: what the cluster shows now.
    state = await observe(ctx, ("nodes",))
    proof = _proof(state, nodes, options)
    level = None
    if options is not None and options.plugin == ROLLING_UPGRADE:
        try:
            level = (await ctx.client.invoke_cluster(post_ops.get_cluster_functional_level,
                                                     timeout=ctx.cluster.timeouts.operation)).cluster_functional_level
        except RemoteError:
            level = None
    done = sum(1 for r in results.values() if r.status == SUCCEEDED)
    head = f"run {_short(run_id)}: {done}/{len(nodes)} nodes succeeded"
    if canceled:
        sentence = f"{head}; stopped before the end" + (f" (not updated: {', '.join(missing)})" if missing else "")
    elif failed:
        sentence = f"{head}; " + "; ".join(f"{r.node} {r.status}" + (f": {r.error_record_data}"
                                                                   if r.error_record_data else "") for r in failed)
    elif missing:
        sentence = f"{head}; no result for {', '.join(missing)}"
    elif proof:
        sentence = f"{head} but the cluster disagrees: {'; '.join(proof)}"
    else:
        sentence = head + _level_words(options, level)
    succeeded = not (canceled or failed or missing or proof)
    ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.DONE if succeeded else StepStatus.FAILED, sentence[:300],
                         data={"run_id": run_id})
    progress(ProgressEvent(ctx.name, ("run succeeded: " if succeeded else "run ended: ") + sentence, 1.0 if succeeded else None))
    return RunOutcome(succeeded, sentence, run_id or "?", results, level)


def _level_words(options: RunOptions | None, level: int | None) -> str:
    """The run's end, as to the functional level: which way was chosen, and what the cluster says."""
    if options is None or options.plugin != ROLLING_UPGRADE:
        return f"; functional level {level}" if level is not None else ""
    shown = str(level) if level is not None else "unread"
    if options.update_functional_level:
        return f"; functional level {shown} (UpdateClusterFunctionalLevel ON: raised by the run)"
    return (f"; functional level {shown}, not raised (UpdateClusterFunctionalLevel off: 8) Post-upgrade "
            "raises it)")


def _proof(state: ClusterState, nodes: list[str], options: RunOptions | None) -> list[str]:
    if problem(state.nodes):
        return [f"cluster nodes: {problem(state.nodes)}"]
    reasons = []
    for name in nodes:
        node = state.cluster_node(name)
        if node is None:
            reasons.append(f"{name} is not a member")
            continue
        if node.state != model.NodeState.UP:
            reasons.append(f"{name} is {node.state}")
        if options is not None and options.plugin == ROLLING_UPGRADE and node.build_number != model.UPGRADE_TO_BUILD:
            reasons.append(f"{name} is on build {node.build_number}")
    return reasons


async def read_run(ctx: Context) -> model.CauRun | RemoteError:
    try:
        return await ctx.client.invoke_cluster(reads.get_cau_run, timeout=ctx.cluster.timeouts.operation)
    except RemoteError as exc:
        return exc


def should_watch(ctx: Context, run: model.CauRun | RemoteError) -> bool:
    """Reattach? A run in progress, or one the journal says was running when hcitui stopped."""
    if isinstance(run, model.CauRun) and run.state == IN_PROGRESS:
        return True
    return watching(ctx.journal)


# ------------------------------------------------------------------ stop, recover


async def _wait_until_ended(ctx: Context, step: str, progress: Progress) -> model.CauRun:
    deadline = time.monotonic() + ctx.cluster.timeouts.reboot + ctx.cluster.timeouts.drain
    while True:
        try:
            run = await ctx.client.invoke_cluster(reads.get_cau_run, timeout=ctx.cluster.timeouts.operation)
        except RemoteError as exc:
            if not is_blip(exc):
                raise StepFailed(step, f"Get-CauRun failed: {exc.message}") from None
            run = None
        if run is not None and run.state != IN_PROGRESS:
            return run
        if time.monotonic() > deadline:
            raise StepFailed(step, "the run has not ended yet; it is still stopping: watch it on 5) CAU run")
        current = next((s for s in (run.node_status_notifications if run else [])
                        if s.status not in ("Waiting", "Succeeded", "Failed", "Canceled")), None)
        progress(ProgressEvent(ctx.name, "stopping: the run ends at its next safe point"
                 + (f" ({current.node} {current.status})" if current else ""), None))
        await asyncio.sleep(ctx.poll)


async def stop(ctx: Context, progress: Progress = no_progress) -> model.CauRun:
    """Stop-CauRun, then wait until the run has ended (a node being updated is finished first)."""
    step = "stop the CAU run"
    run = await read_run(ctx)
    if isinstance(run, RemoteError):
        raise Refused(step, [f"CAU run: could not read: {run.message}"])
    if run.state != IN_PROGRESS:
        raise Refused(step, [f"no CAU run is in progress (Get-CauRun says {run.state})"])
    ctx.journal.set_step(RUN_PHASE, STOP, None, StepStatus.RUNNING, f"stopping run {_short(run.run_id)}",
                         data={"run_id": run.run_id}, fresh=True)
    try:
        await ctx.client.invoke_cluster(cau_ops.stop_cau_run, timeout=cau_ops.stop_cau_run.timeout)
    except RemoteError as exc:
        ctx.journal.set_step(RUN_PHASE, STOP, None, StepStatus.FAILED, exc.message)
        raise StepFailed(step, exc.message) from None
    progress(ProgressEvent(ctx.name, "stop requested (CancelPending)", None))
    try:
        ended = await _wait_until_ended(ctx, step, progress)
    except StepFailed as exc:
        ctx.journal.set_step(RUN_PHASE, STOP, None, StepStatus.FAILED, exc.message)
        raise
    ctx.journal.set_step(RUN_PHASE, STOP, None, StepStatus.DONE,
                         f"run {_short(run.run_id)} ended ({ended.state}); its results stay in Get-CauReport")
    if watching(ctx.journal):
        await conclude(ctx, ended, RunWatch(run=run), progress)  # nobody else may be watching it
    progress(ProgressEvent(ctx.name, f"stopped: Get-CauRun says {ended.state}", 1.0))
    return ended


async def recover(ctx: Context, progress: Progress = no_progress) -> model.CauRun:
    """Invoke-CauRun -ForceRecovery for a stale failed run; proved by Get-CauRun saying RunNotInProgress."""
    step = "recover the failed CAU run"
    run = await read_run(ctx)
    if isinstance(run, RemoteError):
        raise Refused(step, [f"CAU run: could not read: {run.message}"])
    if run.state == IN_PROGRESS:
        raise Refused(step, [f"run {_short(run.run_id)} is in progress and answers: stop it (x); recovery is "
                             "for a failed run that left the cluster locked"])
    if run.state != FAILED_STATE:
        raise Refused(step, [f"there is no failed run to recover (Get-CauRun says {run.state})"])
    ctx.journal.set_step(RUN_PHASE, RECOVER, None, StepStatus.RUNNING, f"recovering run {_short(run.run_id)}",
                         fresh=True)
    try:
        await ctx.client.invoke_cluster(cau_ops.recover_cau_run, timeout=cau_ops.recover_cau_run.timeout)
    except RemoteError as exc:
        ctx.journal.set_step(RUN_PHASE, RECOVER, None, StepStatus.FAILED, exc.message)
        raise StepFailed(step, exc.message) from None
    after = await read_run(ctx)
    if isinstance(after, RemoteError) or after.state != model.CauRunState.RUN_NOT_IN_PROGRESS:
        why = after.message if isinstance(after, RemoteError) else f"Get-CauRun says {after.state}"
        ctx.journal.set_step(RUN_PHASE, RECOVER, None, StepStatus.FAILED, f"not proved: {why}")
        raise StepFailed(step, f"not proved: {why}")
    if watching(ctx.journal):
        ctx.journal.set_step(RUN_PHASE, RUN, None, StepStatus.FAILED, f"run {_short(run.run_id)} failed; recovered")
    ctx.journal.set_step(RUN_PHASE, RECOVER, None, StepStatus.DONE, "Get-CauRun says RunNotInProgress")
    progress(ProgressEvent(ctx.name, "recovered: a new run can start", 1.0))
    return after


# ------------------------------------------------------------------- journal views


def menu_state(journal: Journal) -> str:
    """The menu's line, from the journal alone."""
    record = _record(journal)
    if record is not None:
        if record.status is StepStatus.UNKNOWN:
            return "interrupted: open it to reattach"
        if record.status is StepStatus.RUNNING:
            return _fit(record.detail or "run in progress")
        when = _hhmm(record.finished)
        word = "done" if record.status is StepStatus.DONE else "FAILED"
        return _fit(f"{word}{when}: {record.detail or ''}")
    pre = journal.step(PREFLIGHT_PHASE, PREFLIGHT)
    if pre is None:
        return "not run yet"
    if pre.status is StepStatus.RUNNING:
        return "preflight running"
    return f"preflight {(pre.detail or pre.status.value).split(':')[0]}{_hhmm(pre.finished)}"


def _fit(text: str, width: int = 46) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _hhmm(stamp: str | None) -> str:
    if not stamp:
        return ""
    try:
        return " at " + datetime.fromisoformat(stamp).astimezone().strftime("%H:%M")
    except ValueError:
        return ""


# ------------------------------------------------------------- after a kill


@register(RUN)
async def _reverify_run(ctx: Context, record: StepRecord) -> StepStatus:
    """Read Get-CauRun: still running (5) CAU run reattaches), or conclude the run that ended meanwhile."""
    run = await read_run(ctx)
    if isinstance(run, RemoteError):
        raise run
    if run.state == IN_PROGRESS:
        _adopt(ctx, run)
        return StepStatus.RUNNING
    outcome = await conclude(ctx, run, RunWatch())
    return StepStatus.DONE if outcome.succeeded else StepStatus.FAILED


@register(STOP)
async def _reverify_stop(ctx: Context, record: StepRecord) -> StepStatus:
    run = await read_run(ctx)
    if isinstance(run, RemoteError):
        raise run
    return StepStatus.DONE if run.state != IN_PROGRESS else StepStatus.FAILED


@register(RECOVER)
async def _reverify_recover(ctx: Context, record: StepRecord) -> StepStatus:
    run = await read_run(ctx)
    if isinstance(run, RemoteError):
        raise run
    return StepStatus.DONE if run.state == model.CauRunState.RUN_NOT_IN_PROGRESS else StepStatus.FAILED


@register(REMOTING)
async def _reverify_remoting(ctx: Context, record: StepRecord) -> StepStatus:
    if not record.node:
        return StepStatus.FAILED
    state = await ctx.client.invoke(record.node, cau_ops.get_remoting_state, timeout=ctx.cluster.timeouts.operation)
    return StepStatus.DONE if state.enabled else StepStatus.FAILED
