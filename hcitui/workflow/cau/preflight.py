"""Phase 2, the CAU preflight: remoting enabled on every node (each proved by a read of its state, also
when enabling it restarted WinRM and dropped the session), the CAU coordinator, ``Test-CauSetup``,
``Test-Cluster`` (long: shown waiting, then where its report went), an ``Invoke-CauScan`` preview that
must offer every node the same update, and the rolling upgrade's gates as rows. Every check is a
:class:`~hcitui.workflow.checks.CheckResult`, the one check vocabulary."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hcitui.core import model
from hcitui.core.errors import Action
from hcitui.core.journal import StepStatus, current_operator
from hcitui.ps import cau as cau_ops
from hcitui.ps import post as post_ops
from hcitui.remote import NodeCall, NodeEvent, RemoteError, TimedOut, Unreachable
from hcitui.workflow import gates
from hcitui.workflow.cau.options import (
    COORDINATOR_CHECK,
    NO_COORDINATOR_REMEDY,
    NO_COORDINATOR_RISK,
    PREFLIGHT,
    PREFLIGHT_PHASE,
    REACH_CHECK,
    REMOTING,
    ROLLING_UPGRADE,
)
from hcitui.workflow.checks import CheckResult, Status
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.observe import problem

PASS, WARN, FAIL = Status.PASS, Status.WARN, Status.FAIL


@dataclass
class PreflightReport:
    """What the preflight read, and its checks. A caller that wants to show the checks as they come
    passes its own (empty) report to :func:`preflight` and reads it at each progress event."""

    remoting: dict[str, model.RemotingState | RemoteError] = field(default_factory=dict)
    coordinator: model.CoordinatorState | RemoteError | None = None
    setup: list[model.CauSetupResult] | RemoteError | None = None
    validation: model.ClusterValidation | RemoteError | None = None
    scan: list[model.CauScanUpdate] | RemoteError | None = None
    checks: list[CheckResult] = field(default_factory=list)

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
            warned = sum(1 for c in self.checks if c.status is WARN and not c.gate)
            return "PASSED" + (f" with {warned} warning{'s' if warned != 1 else ''}" if warned else "")
        first = failing[0]
        return f"NOT PASSED: {first.name}{' ' + first.node if first.node else ''}: {first.reason}"


# ----------------------------------------------------------------------- judging (pure)


def judge_remoting(states: dict[str, model.RemotingState | RemoteError]) -> list[CheckResult]:
    out = []
    for node, value in states.items():
        if isinstance(value, RemoteError):
            out.append(CheckResult("Remoting", node, FAIL, f"could not read: {value.message}"))
        elif value.enabled:
            out.append(CheckResult("Remoting", node, PASS,
                                   f"WinRM {value.win_rm_status}, PowerShell remoting enabled"))
        else:
            out.append(CheckResult("Remoting", node, FAIL, "PowerShell remoting is not enabled: the preflight "
                                   "enables it", remediation=f"{Action.CAU_PREFLIGHT.value} (it enables remoting)"))
    return out


def judge_coordinator(coordinator: str | None, state: model.CoordinatorState | RemoteError | None,
                      nodes: list[str]) -> list[CheckResult]:
    """Where the run will be coordinated. None configured: a warning with the risk and the remedy.
    Configured: it answers, it is outside the cluster, the ClusterAwareUpdating module is there, and it
    reaches every node over WinRM with the session's (delegated) credentials."""
    if coordinator is None:
        return [CheckResult(COORDINATOR_CHECK, None, WARN, NO_COORDINATOR_RISK, remediation=NO_COORDINATOR_REMEDY)]
    if state is None or isinstance(state, RemoteError):
        return [CheckResult(COORDINATOR_CHECK, None, FAIL, f"{coordinator} could not be read: "
                            + (state.message if isinstance(state, RemoteError) else "not read"),
                            remediation=f"make {coordinator} answer over WinRM (host, address and transport in "
                                        "[clusters.coordinator]), or remove it from the config to start the run "
                                        "on a node")]
    out: list[CheckResult] = []
    members = {n.split(".")[0].lower() for n in nodes}
    if (state.computer_name or "").split(".")[0].lower() in members:
        out.append(CheckResult(COORDINATOR_CHECK, None, FAIL,
                               f"{coordinator} is {state.computer_name}, a node of the cluster",
                               remediation="name a management server outside the cluster as the coordinator"))
    if not state.cau_module:
        out.append(CheckResult(COORDINATOR_CHECK, None, FAIL, f"the ClusterAwareUpdating module is not installed on "
                               f"{coordinator}", remediation="install the Failover Clustering Tools there: "
                               "Install-WindowsFeature RSAT-Clustering-PowerShell (Windows Server), or RSAT: "
                               "Failover Clustering Tools (Windows 10/11)"))
    if not out:
        out.append(CheckResult(COORDINATOR_CHECK, None, PASS, f"{coordinator}, outside the cluster: the "
                                                              "ClusterAwareUpdating module is installed"))
    reach = {r.node.lower(): r for r in state.nodes}
    for node in nodes:
        row = reach.get(node.lower())
        if row is not None and row.reachable:
            out.append(CheckResult(REACH_CHECK, node, PASS, f"{coordinator} reaches it over WinRM with your "
                                                            "credentials (Test-WSMan)"))
        else:
            why = (row.error or "no answer") if row is not None else "not tested"
            out.append(CheckResult(REACH_CHECK, node, FAIL, f"{coordinator} cannot reach it over WinRM: {why}",
                                   remediation=f"from {coordinator}: the node's name must resolve, WinRM must be "
                                               "allowed through its firewall and enabled (the preflight enables "
                                               "it), and your credentials must be delegated (CredSSP, or Kerberos "
                                               "delegation)"))
    return out


def judge_setup(rows: list[model.CauSetupResult] | RemoteError | None) -> CheckResult:
    if rows is None or isinstance(rows, RemoteError):
        return CheckResult("Test-CauSetup", None, FAIL, problem(rows) or "not read")
    errors = [r for r in rows if r.failed]
    warnings = [r for r in rows if r.warned]
    if errors:
        first = errors[0]
        return CheckResult("Test-CauSetup", None, FAIL, f"{len(errors)} error{'s' if len(errors) != 1 else ''}: "
                           f"{first.title}" + (f": {first.problem}" if first.problem else ""))
    if warnings:
        return CheckResult("Test-CauSetup", None, WARN, f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}"
                           f": {warnings[0].title}")
    return CheckResult("Test-CauSetup", None, PASS, f"{len(rows)} rules, no warning or error")


def judge_validation(value: model.ClusterValidation | RemoteError | None) -> CheckResult:
    if value is None or isinstance(value, RemoteError):
        return CheckResult("Test-Cluster", None, FAIL, problem(value) or "not read")
    counts = f"{value.passed} passed, {value.warnings} warnings, {value.failed} failed; report {value.report_path}"
    if value.failed:
        return CheckResult("Test-Cluster", None, FAIL, counts)
    return CheckResult("Test-Cluster", None, WARN if value.warnings else PASS, counts)


def judge_scan(rows: list[model.CauScanUpdate] | RemoteError | None, nodes: list[str]) -> list[CheckResult]:
    """Every node must be offered the same update; a node offered nothing is named."""
    if rows is None or isinstance(rows, RemoteError):
        return [CheckResult("Scan", None, FAIL, problem(rows) or "not read")]
    offered: dict[str, set[str]] = {n: set() for n in nodes}
    for row in rows:
        if row.update_title:
            offered.setdefault(row.node, set()).add(row.update_title)
    out = []
    empty = [n for n, titles in offered.items() if not titles]
    for node in empty:
        out.append(CheckResult("Scan", node, FAIL, "offered nothing: the ISO is not staged there (ISO staging), "
                                                   "or it is already upgraded",
                               remediation=Action.ISO_STAGE.value))
    kinds = Counter(frozenset(t) for t in offered.values() if t)
    if len(kinds) > 1:
        common = kinds.most_common(1)[0][0]
        for node, titles in offered.items():
            if titles and frozenset(titles) != common:
                out.append(CheckResult("Scan", node, FAIL, f"offered {', '.join(sorted(titles))}, unlike the others"))
    if not out:
        title = ", ".join(sorted(next(iter(kinds)))) if kinds else "?"
        out.append(CheckResult("Scan", None, PASS, f"every node offered {title}"))
    return out


def gate_checks(state: gates.GateState, override_registry: str | None = None) -> list[CheckResult]:
    """One check row per gate: pass or fail, the reasons (each naming what to do), and the gate's remedy."""
    out = []
    for gate in gates.judge(state, override_registry):
        if gate.ok:
            out.append(CheckResult(gate.name, None, PASS, gates.pass_sentence(gate, state), gate=True))
        else:
            out.append(CheckResult(gate.name, None, FAIL, "; ".join(gate.reasons), remediation=gate.remedy,
                                   gate=True))
    return out


# ----------------------------------------------------------------------- enabling remoting


async def _read_remoting(call: NodeCall, ctx: Context, deadline: float) -> model.RemotingState:
    """The node's remoting state; waits (bounded) while WinRM restarts and the node does not answer."""
    while True:
        try:
            return await call.invoke(cau_ops.get_remoting_state, timeout=ctx.cluster.timeouts.operation)
        except (Unreachable, TimedOut):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(ctx.poll)


def _audit_proof(ctx: Context, node: str, dropped: RemoteError, outcome: str, error: str | None) -> None:
    """What enabling remoting did, once the read after the drop proved it (or could not).

    Enable-PSRemoting restarts WinRM, which drops the very session that asked: the session's own audit
    record of the call says ``unreachable`` (or ``timeout``) although the change went through. This record
    follows it with the outcome the screen shows: ``ok`` when get_remoting_state then read remoting enabled,
    ``failed`` when it did not. The call's record stays as it was written (the log is append-only)."""
    ctx.audit.append({
        "time": datetime.now(UTC).isoformat(timespec="microseconds"), "node": node, "target": node, "via": node,
        "operation": cau_ops.enable_remoting.name, "mutates": True, "parameters": {}, "outcome": outcome,
        "error": error, "duration_ms": None, "proved_by": cau_ops.get_remoting_state.name,
        "note": f"the call's session dropped ({dropped.outcome}: WinRM restarted); proved afterwards by "
                f"{cau_ops.get_remoting_state.name}",
        "operator": current_operator(),
    })


async def enable_remoting(ctx: Context, nodes: list[str] | None = None, progress: Progress = no_progress,
                          on_event: Callable[[NodeEvent], None] | None = None
                          ) -> dict[str, model.RemotingState | RemoteError]:
    """Set-WSManQuickConfig and Enable-PSRemoting on every node, each proved by a read of its state. When
    the WinRM restart dropped the call, the audit log gets the proved outcome after the call's own record."""
    targets = list(nodes or ctx.client.node_names)

    async def one(call: NodeCall) -> model.RemotingState:
        node = call.node
        ctx.journal.set_step(PREFLIGHT_PHASE, REMOTING, node, StepStatus.RUNNING, "enabling remoting", fresh=True)
        progress(ProgressEvent(node, "enabling remoting"))
        dropped: RemoteError | None = None
        try:
            await call.invoke(cau_ops.enable_remoting, timeout=ctx.cluster.timeouts.operation)
        except (Unreachable, TimedOut) as exc:
            dropped = exc
            progress(ProgressEvent(node, "WinRM restarted: reconnecting to prove it", stage=Stage.WAITING))
        except RemoteError as exc:
            ctx.journal.set_step(PREFLIGHT_PHASE, REMOTING, node, StepStatus.FAILED, exc.message)
            progress(ProgressEvent(node, exc.message, stage=Stage.FAILED))
            raise
        deadline = time.monotonic() + ctx.cluster.timeouts.operation
        try:
            state = await _read_remoting(call, ctx, deadline)
        except RemoteError as exc:
            ctx.journal.set_step(PREFLIGHT_PHASE, REMOTING, node, StepStatus.FAILED, f"not proved: {exc.message}")
            if dropped is not None:
                _audit_proof(ctx, node, dropped, "failed", f"not proved: {exc.message}")
            raise
        if dropped is not None:
            _audit_proof(ctx, node, dropped, "ok" if state.enabled else "failed",
                         None if state.enabled else "remoting is still not enabled after Enable-PSRemoting")
        if not state.enabled:
            ctx.journal.set_step(PREFLIGHT_PHASE, REMOTING, node, StepStatus.FAILED,
                                 "remoting is still not enabled after Enable-PSRemoting")
            progress(ProgressEvent(node, "remoting still not enabled", stage=Stage.FAILED))
            return state
        ctx.journal.set_step(PREFLIGHT_PHASE, REMOTING, node, StepStatus.DONE,
                             f"WinRM {state.win_rm_status}, listeners {', '.join(state.listeners)}")
        progress(ProgressEvent(node, "remoting enabled", 1.0, stage=Stage.DONE))
        return state

    outcomes = await ctx.client.for_each_node(one, nodes=targets, on_event=on_event)
    return {n: (o.value if o.ok else o.error) for n, o in outcomes.items()}


# ----------------------------------------------------------------------- the preflight


async def _long_read(ctx: Context, op: Any, params: Any, label: str, progress: Progress) -> Any:
    """A long cluster-wide read, shown waiting since it began (and a line each minute) until it answers."""
    started, since = time.monotonic(), datetime.now().astimezone()
    progress(ProgressEvent(ctx.name, f"{label} running", stage=Stage.WAITING, since=since))
    task = asyncio.ensure_future(ctx.client.invoke_cluster(op, params, timeout=op.timeout))
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=ctx.poll)
            minutes = int((time.monotonic() - started) // 60)
            if minutes:  # the same words all minute long: a headless log prints one line a minute
                progress(ProgressEvent(ctx.name, f"{label} still running: {minutes} min", stage=Stage.WAITING,
                                       since=since))
        return task.result()
    finally:
        if not task.done():
            task.cancel()


async def preflight(ctx: Context, progress: Progress = no_progress, *, remoting: bool = True,
                    on_event: Callable[[NodeEvent], None] | None = None,
                    report: PreflightReport | None = None) -> PreflightReport:
    """Phase 2. ``remoting=False`` only reads (a read-only session can run it). Never raises for a check.

    ``report``: an empty report to fill, when the caller shows the checks as they come (it reads it at
    each progress event); the report filled is returned either way."""
    report = report if report is not None else PreflightReport()
    nodes = ctx.client.node_names
    ctx.journal.set_step(PREFLIGHT_PHASE, PREFLIGHT, None, StepStatus.RUNNING,
                         "enabling remoting" if remoting else "checking", fresh=True)
    if remoting:
        await enable_remoting(ctx, nodes, progress, on_event)
    # Every node's remoting as it is now: the proof, whichever way it got there.
    outcomes = await ctx.client.fan_out(cau_ops.get_remoting_state, on_event=on_event,
                                        timeout=ctx.cluster.timeouts.operation)
    report.remoting = {n: (o.value if o.ok else o.error) for n, o in outcomes.items()}
    report.checks += judge_remoting(report.remoting)

    # Where the run will be coordinated: first in the report (its warning is the first thing to read).
    coordinator = ctx.client.coordinator_name
    if coordinator is not None:
        progress(ProgressEvent(coordinator, "checking the CAU coordinator"))
        try:
            report.coordinator = await ctx.client.invoke_coordinator(
                cau_ops.get_coordinator_state, {"node_names": nodes}, timeout=cau_ops.get_coordinator_state.timeout)
        except RemoteError as exc:
            report.coordinator = exc
    report.checks[:0] = judge_coordinator(coordinator, report.coordinator, nodes)

    progress(ProgressEvent(ctx.name, "Test-CauSetup running"))
    try:
        report.setup = await ctx.client.invoke_cluster(cau_ops.test_cau_setup, timeout=cau_ops.test_cau_setup.timeout)
    except RemoteError as exc:
        report.setup = exc
    report.checks.append(judge_setup(report.setup))

    try:
        report.validation = await _long_read(ctx, post_ops.test_cluster, None, "Test-Cluster", progress)
    except RemoteError as exc:
        report.validation = exc
    report.checks.append(judge_validation(report.validation))

    progress(ProgressEvent(ctx.name, "Invoke-CauScan running", stage=Stage.WAITING, since=datetime.now().astimezone()))
    try:
        report.scan = await ctx.client.invoke_cluster(
            cau_ops.get_cau_scan, {"plugin": ROLLING_UPGRADE, "media_path": ctx.cluster.staging_path},
            timeout=cau_ops.get_cau_scan.timeout)
    except RemoteError as exc:
        report.scan = exc
    report.checks += judge_scan(report.scan, nodes)
    # The rolling upgrade's gates, each a row: what the earlier phases must have left (workflow/gates.py).
    progress(ProgressEvent(ctx.name, "reading the upgrade's gates"))
    report.checks += gate_checks(await gates.read(ctx))
    progress(ProgressEvent(ctx.name, f"preflight {report.summary()}; {report.gates_summary()}", 1.0,
                           stage=Stage.DONE if report.passed else Stage.FAILED))
    ctx.journal.set_step(PREFLIGHT_PHASE, PREFLIGHT, None,
                         StepStatus.DONE if report.passed else StepStatus.FAILED, report.summary()[:200])
    return report
