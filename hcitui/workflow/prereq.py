"""Phase 0: prerequisites. Reads everything the upgrade depends on, changes nothing.

:func:`evaluate` is pure: observed state in, check results out, each with the reason and,
where the operator can act, what to do about it. :func:`run_prerequisites` gathers the
observations (per-node reads fanned out with live events, cluster-wide reads on whichever
node answers, the ISO looked up on every node) and records the outcome in the journal.

Secure Boot and running VMs are recommendations (RUNBOOK 2): they warn, they never block.
Anything that could not be read is ``unknown``, and an unknown check blocks like a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepStatus
from hcitui.core.units import human_bytes
from hcitui.ps import Operation, reads
from hcitui.remote import NodeCall, NodeEvent, RemoteError
from hcitui.workflow import observe as observe_mod
from hcitui.workflow.checks import CheckResult, ChecksReport, Status
from hcitui.workflow.context import Context
from hcitui.workflow.observe import ClusterState, problem
from hcitui.workflow.steps import Plan
from hcitui.workflow.verify import checks_plan, cluster_parts, observe_checks

PHASE = 0
STEP = "prerequisites"

# Check names, in the order the screen and the report show them (each fits the screen's 22 columns).
NODE_UP = "Node Up"
NODE_BUILD = "OS build 20349"
REGISTERED = "Registered in Azure"
CONNECTED = "Azure connection"
SECURE_BOOT = "Secure Boot"
VMS_STOPPED = "VMs shut down"
ISO_PRESENT = "ISO present"
CLOUD_MANAGEMENT = "Cloud Management"
CAU_ROLE = "CAU clustered role"
STORAGE_QUIET = "Storage quiet"
NODE_CHECKS = (NODE_UP, NODE_BUILD, REGISTERED, CONNECTED, SECURE_BOOT, VMS_STOPPED, ISO_PRESENT)
CLUSTER_CHECKS = (CLOUD_MANAGEMENT, CAU_ROLE, STORAGE_QUIET)

# The per-node part observe() stores the ISO lookup under (its node_extra hook).
ISO_PART = "extra"

CLUSTER_PARTS = ("nodes", "groups", "jobs", "disks", "sr_groups", "cau_role")
NODE_PARTS = ("os", "registration", "secure_boot", "vms")
CLUSTER_READS: dict[str, Operation] = {part: observe_mod.CLUSTER_PARTS[part] for part in CLUSTER_PARTS}
NODE_READS: list[Operation] = [observe_mod.NODE_PARTS[part] for part in NODE_PARTS]
ISO_READ: Operation = reads.get_path_info
OPERATIONS: list[Operation] = [*CLUSTER_READS.values(), *NODE_READS, ISO_READ]


def read_plan(ctx: Context, nodes: list[str] | None = None) -> Plan:
    """What the prerequisites read, as PowerShell (the ISO lookup only with an iso_path)."""
    iso = ctx.cluster.iso_path
    reads = [CLUSTER_READS[p] for p in cluster_parts(ctx, CLUSTER_PARTS)]
    plan = checks_plan(ctx, "Prerequisite", reads, NODE_READS, nodes, [(ISO_READ, {"path": iso})] if iso else [])
    if not iso:
        plan.notes.append("No iso_path in the config: the ISO is not looked up.")
    return plan

RECOMMENDED = "recommended, not required"
REPAIR_REGISTRATION = (
    "run Register-AzStackHCI ... -RepairRegistration (same subscription and resource as the original "
    "registration) only if the cluster's Azure resource identity is not SystemAssigned AND the Cloud Management "
    "group is missing; with a SystemAssigned identity that repair does not apply"
)
# Gone nodes: their other reads would only wait for the same failure.
_GONE = ("unreachable", "rebooting", "timeout")


def _shorten(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _lower(value: Any) -> str:
    return str(value or "").strip().lower()


def evaluate(state: ClusterState, node_names: list[str], iso_path: str | None, *,
             stretched: bool = True) -> list[CheckResult]:
    """Judge every phase-0 check. Anything that could not be read is ``unknown``, never ``pass``."""
    results: list[CheckResult] = []

    def add(name: str, node: str | None, status: Status, reason: str, remediation: str | None = None,
            remedy: Remedy | None = None) -> None:
        results.append(CheckResult(name, node, status, reason, remediation, remedy=remedy))

    nodes_err = problem(state.nodes)
    by_name = {} if nodes_err else {n.name.lower(): n for n in state.nodes}
    for name in node_names:
        # ---- Node Up
        if nodes_err:
            add(NODE_UP, name, Status.UNKNOWN, nodes_err, "check that the cluster service answers (Get-ClusterNode)")
        else:
            node = by_name.get(name.lower())
            if node is None:
                add(NODE_UP, name, Status.FAIL, "not a member of the cluster",
                    "check the node list in the config against Get-ClusterNode")
            elif node.state == model.NodeState.UP:
                add(NODE_UP, name, Status.PASS, "Up")
            elif node.state == model.NodeState.PAUSED:
                add(NODE_UP, name, Status.FAIL, "Paused",
                    f"resume it: Resume-ClusterNode -Name {name} -Failback Immediate")
            else:
                add(NODE_UP, name, Status.FAIL, f"state {node.state}",
                    "bring the node back into the cluster (Start-ClusterNode) and wait until it is Up")

        # ---- OS build
        version = state.node_part(name, "os")
        err = problem(version)
        if err:
            add(NODE_BUILD, name, Status.UNKNOWN, err, "the build is read from the registry (CurrentVersion)")
        elif version.current_build_number == model.UPGRADE_FROM_BUILD:
            add(NODE_BUILD, name, Status.PASS, f"{version.build} ({version.display_version or '22H2'})")
        elif version.current_build_number == model.UPGRADE_TO_BUILD:
            add(NODE_BUILD, name, Status.WARN, f"already on 23H2: {version.build}",
                "this node needs no OS upgrade; the upgrade continues with the others")
        else:
            add(NODE_BUILD, name, Status.FAIL,
                f"build {version.build} ({version.display_version or '?'}), not {model.UPGRADE_FROM_BUILD}.x (22H2)",
                f"this runbook upgrades 22H2 ({model.UPGRADE_FROM_BUILD}) to 23H2 ({model.UPGRADE_TO_BUILD}); "
                "bring the node to 22H2 first")

        # ---- Azure registration and connection
        registration = state.node_part(name, "registration")
        err = problem(registration)
        if err:
            add(REGISTERED, name, Status.UNKNOWN, err, "run Get-AzureStackHCI on the node")
            add(CONNECTED, name, Status.UNKNOWN, err, "run Get-AzureStackHCI on the node")
        else:
            status = registration.registration_status
            if status == model.RegistrationStatus.REGISTERED:
                add(REGISTERED, name, Status.PASS, "Registered")
            elif status == model.RegistrationStatus.OUT_OF_POLICY:
                add(REGISTERED, name, Status.FAIL, "RegistrationStatus OutOfPolicy",
                    "the cluster has not synced with Azure for too long: restore its connection, "
                    "then Sync-AzureStackHCI")
            else:
                add(REGISTERED, name, Status.FAIL, f"RegistrationStatus {status or 'empty'}",
                    "register the cluster with Azure (Register-AzStackHCI) before the upgrade")
            connection = registration.connection_status
            if _lower(connection) == "connected":
                add(CONNECTED, name, Status.PASS, "Connected")
            else:
                add(CONNECTED, name, Status.WARN, f"ConnectionStatus {connection or 'empty'}",
                    "check the node's outbound connection to Azure, then Sync-AzureStackHCI")

        # ---- Secure Boot (recommended, not required)
        secure_boot = state.node_part(name, "secure_boot")
        err = problem(secure_boot)
        if err:
            add(SECURE_BOOT, name, Status.UNKNOWN, err, "run Confirm-SecureBootUEFI on the node")
        elif secure_boot.state == model.SecureBootState.ON:
            add(SECURE_BOOT, name, Status.PASS, "On")
        elif secure_boot.state == model.SecureBootState.OFF:
            add(SECURE_BOOT, name, Status.WARN, "Off",
                f"{RECOMMENDED}: enable Secure Boot in the server's UEFI firmware settings")
        elif secure_boot.state == model.SecureBootState.NOT_SUPPORTED:
            add(SECURE_BOOT, name, Status.WARN, "not supported on this platform (BIOS boot)",
                f"{RECOMMENDED}: Secure Boot needs UEFI boot; the upgrade goes ahead without it")
        else:
            add(SECURE_BOOT, name, Status.UNKNOWN,
                f"Confirm-SecureBootUEFI: {secure_boot.detail or secure_boot.state}",
                "run Confirm-SecureBootUEFI on the node as an administrator")

        # ---- Running VMs (recommended: warn, do not block)
        vms = state.node_part(name, "vms")
        err = problem(vms)
        if err:
            add(VMS_STOPPED, name, Status.UNKNOWN, err, "run Get-VM on the node")
        elif vms.running <= 0:
            add(VMS_STOPPED, name, Status.PASS, f"none running ({vms.total} VMs)")
        else:
            names = vms.running_names or []
            reason = f"{vms.running} running" + (f": {_shorten(names)}" if names else "")
            add(VMS_STOPPED, name, Status.WARN, reason, "shut down VMs before the OS upgrade (recommended)")

        # ---- The ISO
        if not iso_path:
            add(ISO_PRESENT, name, Status.WARN, "no iso_path in the config",
                "set iso_path (the 23H2 ISO, as a path on the nodes) in the cluster's config")
        else:
            info = state.node_part(name, ISO_PART)
            err = problem(info)
            if err:
                add(ISO_PRESENT, name, Status.UNKNOWN, err, f"check {iso_path} on the node (Get-Item)")
            elif not info.exists:
                add(ISO_PRESENT, name, Status.FAIL, f"not found: {iso_path}",
                    "stage the ISO (it copies it to the nodes)", Remedy(action=Action.ISO_STAGE, node=name))
            elif info.is_container:
                add(ISO_PRESENT, name, Status.FAIL, f"a folder, not the ISO file: {iso_path}",
                    "set iso_path to the .iso file itself")
            elif info.length is not None and info.length <= 0:
                add(ISO_PRESENT, name, Status.FAIL, f"empty file: {iso_path}",
                    "stage the ISO again (it copies it anew)", Remedy(action=Action.ISO_STAGE, node=name))
            else:
                size = human_bytes(info.length, "size unknown")
                add(ISO_PRESENT, name, Status.PASS, f"{size}: {iso_path}")

    # ---- Cloud Management (cluster-wide)
    err = problem(state.groups)
    if err:
        add(CLOUD_MANAGEMENT, None, Status.UNKNOWN, err, "run Get-ClusterGroup")
    else:
        group = next((g for g in state.groups if g.name.lower() == "cloud management"), None)
        if group is None:
            add(CLOUD_MANAGEMENT, None, Status.FAIL, "the Cloud Management cluster group is missing",
                REPAIR_REGISTRATION)
        elif group.state == model.GroupState.ONLINE:
            add(CLOUD_MANAGEMENT, None, Status.PASS, f"Online on {group.owner_node}")
        else:
            add(CLOUD_MANAGEMENT, None, Status.FAIL, f"{group.state} on {group.owner_node}",
                "Start-ClusterGroup -Name 'Cloud Management'; check the HciCloudManagementSvc service")

    # ---- CAU clustered role (cluster-wide)
    err = problem(state.cau_role)
    manual = ("for the manual node-by-node path, disable it first (Disable-CauClusterRole -Force) "
              "so it does not pause nodes")
    if err:
        add(CAU_ROLE, None, Status.UNKNOWN, err, "run Get-CauClusterRole")
    elif not state.cau_role.present:
        add(CAU_ROLE, None, Status.FAIL, state.cau_role.reason or "not configured",
            "add it: Add-CauClusterRole -ClusterName <cluster> -Force, then Test-CauSetup")
    else:
        role = state.cau_role
        updating = "self-updating enabled" if role.self_updating_enabled else "self-updating disabled"
        remedy = manual if role.self_updating_enabled else None
        if role.online is False:
            add(CAU_ROLE, None, Status.WARN, f"present but not Online, {updating}",
                "start the CAU cluster group (Start-ClusterGroup)" + (f"; {manual}" if remedy else ""))
        else:
            add(CAU_ROLE, None, Status.PASS, f"present, {updating}", remedy)

    # ---- Storage quiet (cluster-wide): no storage job, disks Healthy, SR replicating
    noisy: list[str] = []
    unreadable: list[str] = []
    notes: list[str] = []
    err = problem(state.jobs)
    if err:
        unreadable.append(f"storage jobs {err}")
    else:
        active = [j for j in state.jobs if j.job_state != model.StorageJobState.COMPLETED]
        noisy += [f"{j.name} job {j.job_state} {int((j.progress or 0) * 100)}%" for j in active]
    err = problem(state.disks)
    if err:
        unreadable.append(f"virtual disks {err}")
    else:
        noisy += [f"{d.friendly_name} {d.health_status}" for d in state.disks
                  if d.health_status != model.HealthStatus.HEALTHY]
    # Not stretched: the SR groups are not read (Storage Replica does not apply) and Storage quiet says nothing
    # of them; read anyway, they are judged.
    sr_judged = stretched or state.sr_groups is not None
    err = problem(state.sr_groups)
    if not sr_judged:
        pass
    elif err:
        unreadable.append(f"SR groups {err}")
    elif not state.sr_groups:
        if stretched:
            notes.append("no Storage Replica groups found on a stretched cluster")
    else:
        for group in state.sr_groups:
            for replica in group.replicas or [None]:
                status = replica.replication_status if replica else None
                if status not in model.REPLICATING_STATES:
                    noisy.append(f"{group.name} {status or 'no replicas'}")
    if noisy:
        add(STORAGE_QUIET, None, Status.FAIL, _shorten(noisy + unreadable, 2),
            "wait for storage jobs to finish (Get-StorageJob)"
            + (", virtual disks Healthy and SR groups ContinuouslyReplicating" if sr_judged
               else " and virtual disks Healthy") + " before starting")
    elif unreadable:
        add(STORAGE_QUIET, None, Status.UNKNOWN, _shorten(unreadable, 2),
            "run Get-StorageJob, Get-VirtualDisk and Get-SRGroup" if sr_judged
            else "run Get-StorageJob and Get-VirtualDisk")
    elif notes:
        add(STORAGE_QUIET, None, Status.WARN, "; ".join(notes), "check Get-SRPartnership")
    else:
        groups = f", {len(state.sr_groups)} SR groups replicating" if state.sr_groups else ""
        add(STORAGE_QUIET, None, Status.PASS, f"no storage jobs, {len(state.disks)} disks Healthy{groups}")
    return results


@dataclass
class PrereqReport(ChecksReport):
    """Prerequisites pass with warnings (Secure Boot, running VMs): the summary says how many."""

    iso_path: str | None = None

    def summary(self) -> str:
        if not self.passed:
            return super().summary()
        warn = self.counts()["warn"]
        return "PASSED" + (f" with {warn} warning{'s' if warn != 1 else ''}" if warn else "")


def iso_reader(iso_path: str, timeout: float) -> Callable[[NodeCall], Any]:
    """observe()'s ``node_extra``: look the ISO up on one node."""

    async def read(call: NodeCall) -> Any:
        try:
            return await call.invoke(ISO_READ, {"path": iso_path}, timeout=timeout)
        except RemoteError as exc:
            if exc.outcome in _GONE:
                raise
            return exc

    return read


async def run_prerequisites(ctx: Context, on_event: Callable[[NodeEvent], None] | None = None) -> PrereqReport:
    """Read, judge, journal. Never raises for a node's or a read's failure: those become ``unknown``."""
    started = datetime.now(UTC)
    iso_path = ctx.cluster.iso_path
    ctx.journal.set_step(PHASE, STEP, None, StepStatus.RUNNING)
    try:
        extra = iso_reader(iso_path, ctx.cluster.timeouts.operation) if iso_path else None
        state = await observe_checks(ctx, CLUSTER_PARTS, NODE_PARTS, on_event=on_event, node_extra=extra)
        checks = evaluate(state, ctx.client.node_names, iso_path, stretched=ctx.stretched)
    except BaseException:
        ctx.journal.set_step(PHASE, STEP, None, StepStatus.UNKNOWN, "interrupted")
        raise
    report = PrereqReport(ctx.name, checks, started, datetime.now(UTC), state, iso_path)
    ctx.journal.set_step(PHASE, STEP, None, StepStatus.DONE if report.passed else StepStatus.FAILED, report.summary())
    return report
