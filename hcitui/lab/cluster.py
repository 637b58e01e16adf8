"""The lab cluster as a state machine with fast time.

:class:`Lab` executes declared operations by name against :class:`LabState`. Each request
first advances time (fires due timers), then checks the node can answer at all, then runs
the handler registered for the operation. Handlers return plain data with PowerShell's
property names; whoever carries it (the in-process session, the WinRM endpoint) turns it
into JSON exactly as the real script's ``ConvertTo-Json`` would.

Derived facts (a virtual disk's health, CSV rows, SR group owners) are computed from the
state on every read rather than stored, so they cannot drift out of step with it.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hcitui.core.files import atomic_write_text
from hcitui.lab.state import (
    COORDINATOR,
    ISO_FILE_COUNT,
    ISO_SIZE,
    ISO_TOTAL_BYTES,
    NEW_BUILD,
    NEW_UBR,
    SMALL_FILE_BYTES,
    Faults,
    LabNode,
    LabState,
    LabStorageJob,
    StagedMedia,
    Timer,
    Timings,
    build_lab,
)


class LabError(Exception):
    """Base of what a lab request can fail with."""


class LabUnreachable(LabError):
    """The node does not answer (powered off, rebooting, network knob)."""

    def __init__(self, node: str, rebooting: bool = False) -> None:
        self.node = node
        self.rebooting = rebooting
        why = "is restarting" if rebooting else "does not answer"
        super().__init__(f"{node} {why}")


class LabPowerShellError(LabError):
    """The script ran and failed: the text PowerShell's error record would carry."""


@dataclass
class Pending:
    """A handler's answer that is not ready yet: the request waits (without the lab's lock,
    while lab time moves on) until ``done()`` is true, then answers ``result()``. This is how
    a cmdlet such as ``Suspend-ClusterNode -Drain -Wait`` blocks its caller on a real node."""

    done: Callable[[], bool]
    result: Callable[[], Any]
    limit: float = 3600.0  # lab seconds


Handler = Callable[["Lab", LabNode, dict[str, Any]], Any]
HANDLERS: dict[str, Handler] = {}
# What the lab's CAU coordinator (a management server outside the cluster) answers, by operation name.
CoordinatorHandler = Callable[["Lab", dict[str, Any]], Any]
COORDINATOR_HANDLERS: dict[str, CoordinatorHandler] = {}
TimerHandler = Callable[["Lab", Timer], None]
TIMERS: dict[str, TimerHandler] = {}
# Called at the end of every node's boot: False keeps the node's cluster service from starting.
BOOT_HOOKS: list[Callable[[Lab, LabNode], bool]] = []


def handles(name: str) -> Callable[[Handler], Handler]:
    """Register the lab's answer to a declared operation (any module of hcitui.lab may)."""
    def register(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return register


def coordinator_handles(name: str) -> Callable[[CoordinatorHandler], CoordinatorHandler]:
    """Register what the lab's CAU coordinator answers to a declared operation."""
    def register(fn: CoordinatorHandler) -> CoordinatorHandler:
        COORDINATOR_HANDLERS[name] = fn
        return fn

    return register


def on_timer(kind: str) -> Callable[[TimerHandler], TimerHandler]:
    """Register what happens when a timer of ``kind`` falls due (state changes later in lab time)."""
    def register(fn: TimerHandler) -> TimerHandler:
        TIMERS[kind] = fn
        return fn

    return register


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


class Lab:
    """One simulated cluster. Thread-safe: every request runs under one lock."""

    def __init__(self, state: LabState, *, clock: Callable[[], float] = time.time, path: Path | None = None) -> None:
        self.state = state
        self.clock = clock
        self.path = path
        # A clock that knows how to sleep (a test's fake clock) is waited on; else real time.
        self.sleep: Callable[[float], None] = getattr(clock, "sleep", time.sleep)
        self._lock = threading.RLock()
        self._dirty = False

    # ----------------------------------------------------------------- lifecycle
    @classmethod
    def create(cls, node_count: int = 4, *, clock: Callable[[], float] = time.time, path: Path | None = None,
               sites: int = 2) -> Lab:
        return cls(build_lab(node_count, now=clock(), sites=sites), clock=clock, path=path)

    @classmethod
    def open(cls, path: Path, node_count: int = 4, *, reset: bool = False,
             clock: Callable[[], float] = time.time, sites: int = 2) -> Lab:
        """The lab saved at ``path``, or a new one (also when ``reset``, or the node count or sites differ)."""
        path = Path(path)
        if path.exists() and not reset:
            try:
                state = LabState.model_validate_json(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise LabError(f"the lab state at {path} is unreadable ({exc.__class__.__name__}); "
                               "start over with --lab-reset") from None
            if len(state.nodes) == node_count and state.stretched == (sites > 1):
                # Fault knobs and timings belong to a run, not to the cluster: start each run clean.
                state.faults = Faults()
                state.timings = Timings()
                return cls(state, clock=clock, path=path)
        lab = cls.create(node_count, clock=clock, path=path, sites=sites)
        lab.save()
        return lab

    def save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            atomic_write_text(self.path, self.state.model_dump_json(indent=1))
            self._dirty = False

    @property
    def now(self) -> float:
        return self.clock()

    # ---------------------------------------------------------------- execution
    def execute(self, node_name: str, operation: str, params: dict[str, Any]) -> str:
        """Run one declared operation on ``node_name``; return its JSON text."""
        with self._lock:
            self.tick()
            node = self.state.nodes.get(node_name)
            if node is None and node_name == COORDINATOR:
                call = self._coordinator_call(operation, params)
            else:
                if node is None:
                    raise LabUnreachable(node_name)
                self.check_reachable(node)
                handler = HANDLERS.get(operation)
                if handler is None:
                    raise LabPowerShellError(
                        f"The term '{operation}' is not recognized as the name of a cmdlet, function, "
                        "script file, or operable program."
                    )
                call = lambda: handler(self, node, params)  # noqa: E731
            try:
                result = call()
            finally:
                if self._dirty:
                    self.save()
        if isinstance(result, Pending):
            result = self._wait(result)
        return json.dumps(result, separators=(",", ":"))

    def _wait(self, pending: Pending) -> Any:
        deadline = self.now + pending.limit
        while True:
            with self._lock:
                self.tick()
                if pending.done():
                    try:
                        return pending.result()
                    finally:
                        if self._dirty:
                            self.save()
                if self.now > deadline:
                    raise LabPowerShellError("The operation did not finish within its time limit.")
            self.sleep(0.05)

    def _coordinator_call(self, operation: str, params: dict[str, Any]) -> Callable[[], Any]:
        """The CAU coordinator answers the CAU run's operations and its own preflight read; it is no
        node, so whatever needs a cluster member (Get-Cluster, Get-ClusterNode ...) fails there."""
        if COORDINATOR in self.state.faults.unreachable:
            raise LabUnreachable(COORDINATOR)
        handler = COORDINATOR_HANDLERS.get(operation)
        if handler is None:
            raise LabPowerShellError(f"Get-Cluster : {COORDINATOR} is not a node of a failover cluster: "
                                     f"'{operation}' runs on a node of {self.state.cluster_name}.")
        return lambda: handler(self, params)

    def answers(self, name: str) -> bool:
        """Does ``name`` (a node, or the CAU coordinator) answer on WinRM now?"""
        if name in self.state.faults.unreachable:
            return False
        node = self.state.nodes.get(name)
        return name == COORDINATOR if node is None else node.power == "on"

    def boot_time(self, name: str) -> float | None:
        """When ``name`` last booted (its WinRM shells die with a restart); None for no such computer.
        The coordinator never restarts in the lab."""
        node = self.state.nodes.get(name)
        if node is None:
            return 0.0 if name == COORDINATOR else None
        return node.last_boot

    def check_reachable(self, node: LabNode) -> None:
        if node.name in self.state.faults.unreachable:
            raise LabUnreachable(node.name)
        if node.power != "on":
            raise LabUnreachable(node.name, rebooting=True)

    def require_cluster_service(self, node: LabNode) -> None:
        if node.cluster_state in ("Down", "Joining"):
            raise LabPowerShellError(f"The cluster service is not running on node '{node.name}'.")

    def changed(self) -> None:
        self._dirty = True

    # --------------------------------------------------------------------- time
    def schedule(self, delay: float, kind: str, node: str | None = None, *, after: float | None = None,
                 **data: Any) -> None:
        """Fire ``kind`` ``delay`` seconds after ``after`` (default: now). A timer that schedules the next
        one passes its own due time, so a lab looked at late still runs its timeline as it would have."""
        base = self.now if after is None else after
        self.state.timers.append(Timer(at=base + delay, kind=kind, node=node, data=data))
        self.state.timers.sort(key=lambda t: t.at)
        self.changed()

    def tick(self) -> None:
        """Fire every timer that is due, oldest first; finish storage jobs that are done."""
        with self._lock:
            now = self.now
            while self.state.timers and self.state.timers[0].at <= now:
                timer = self.state.timers.pop(0)
                TIMERS[timer.kind](self, timer)
                self.changed()
            before = len(self.state.storage_jobs)
            self.state.storage_jobs = [j for j in self.state.storage_jobs if j.started + j.duration > now]
            if len(self.state.storage_jobs) != before:
                self.changed()
            if self._dirty:
                self.save()

    # ---------------------------------------------------------- node lifecycle
    def restart(self, node: LabNode) -> None:
        """Begin a restart: WinRM gone now, back after ``reboot``, in the cluster after ``cluster_join``."""
        was_paused = node.cluster_state == "Paused"
        node.power = "rebooting"
        node.cluster_state = "Down"
        self._fail_over_from(node)
        self.schedule(self.state.timings.reboot, "boot_complete", node.name, was_paused=was_paused)

    def _on_boot_complete(self, timer: Timer) -> None:
        node = self.state.nodes[timer.node]
        node.power = "on"
        node.last_boot = timer.at
        if node.upgrading:  # setup finished: this boot is the new OS
            node.upgrading = False
            node.build, node.ubr, node.display_version = NEW_BUILD, NEW_UBR, "23H2"
        node.refs_effective = node.refs_metadata_validation
        node.skip_effective = node.skip_small_local_allocations
        # Features whose install said RestartNeeded are in force from this boot (hcitui.lab.readiness).
        for feature in node.restart_pending_features:
            if node.features.get(feature) == "InstallPending":
                node.features[feature] = "Installed"
            if node.optional_features.get(feature) == "EnablePending":
                node.optional_features[feature] = "Enabled"
        node.restart_pending_features = []
        # What else a boot brings (BOOT_HOOKS, e.g. hcitui.lab.offline: updates in force, the cluster service
        # left Disabled); a hook that says no keeps the node out of the cluster (its cluster service not started).
        if not all([hook(self, node) for hook in BOOT_HOOKS]):
            node.cluster_state = "Down"
            return
        node.cluster_state = "Joining"
        self.schedule(self.state.timings.cluster_join, "cluster_join", node.name, after=timer.at,
                      was_paused=timer.data.get("was_paused"))

    def _on_cluster_join(self, timer: Timer) -> None:
        node = self.state.nodes[timer.node]
        node.cluster_state = "Paused" if timer.data.get("was_paused") else "Up"
        if node.cluster_state == "Up":
            node.drain_status = "NotInitiated"
        # The node's disks missed writes while it was away: a repair job resyncs them.
        self.state.storage_jobs.append(
            LabStorageJob(name="Repair", site=node.site, started=timer.at,
                          duration=self.state.timings.repair, bytes_total=96 * 1024**3)
        )
        # ReFS trap (RUNBOOK 5): on the new build without the metadata-validation fix in force,
        # the site's ReFS CSVs come back Unavailable.
        if node.build == NEW_BUILD and node.refs_effective != 0:
            for csv in self.state.csvs:
                if csv.site == node.site and csv.refs:
                    csv.unavailable = True
        elif node.build == NEW_BUILD and node.refs_effective == 0:
            for csv in self.state.csvs:
                if csv.site == node.site and self._site_fixed(node.site):
                    csv.unavailable = False

    def _on_drain_step(self, timer: Timer) -> None:
        _drain_step(self, timer)

    def _on_stage_done(self, timer: Timer) -> None:
        node = self.state.nodes[timer.node]
        node.staged[timer.data["destination"]] = StagedMedia(file_count=ISO_FILE_COUNT, total_bytes=ISO_TOTAL_BYTES)
        node.files[timer.data["destination"]] = -1

    def _site_fixed(self, site: str) -> bool:
        return all(n.refs_effective == 0 for n in self.state.nodes.values() if n.site == site and n.build == NEW_BUILD)

    def _fail_over_from(self, node: LabNode) -> None:
        """Move every group off ``node`` to a node that can host it (same site first)."""
        for group in self.state.groups:
            if group.owner == node.name:
                target = self.pick_host(node)
                if target is not None:
                    group.owner = target.name
                else:
                    group.state = "Offline"

    def pick_host(self, leaving: LabNode) -> LabNode | None:
        candidates = [n for n in self.state.nodes.values() if n.name != leaving.name and n.cluster_state == "Up"]
        candidates.sort(key=lambda n: (n.site != leaving.site, n.name))
        return candidates[0] if candidates else None

    # ----------------------------------------------------------- derived views
    def site_degraded(self, site: str) -> bool:
        return any(n.site == site and n.cluster_state not in ("Up", "Paused") for n in self.state.nodes.values())

    def site_repairing(self, site: str) -> bool:
        return any(j.site == site for j in self.state.storage_jobs)

    def site_owner(self, site: str) -> str:
        """The node that owns a site's storage: first Up node of the site, else its first node."""
        in_site = sorted((n for n in self.state.nodes.values() if n.site == site), key=lambda n: n.name)
        for node in in_site:
            if node.cluster_state == "Up":
                return node.name
        return in_site[0].name


# ------------------------------------------------------------------- read handlers


@handles("get_cluster_nodes")
def _get_cluster_nodes(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    rows = []
    # A cluster in one site has no Site fault domain (Get-ClusterFaultDomain shows none): only the stretched
    # lab's nodes report theirs.
    stretched = lab.state.stretched
    for n in lab.state.nodes.values():
        info = "Normal"
        if n.drain_status == "InProgress":
            info = "DrainInProgress"
        elif n.drain_status == "Completed" and n.cluster_state == "Paused":
            info = "DrainCompleted"
        elif n.drain_status == "Failed":
            info = "DrainFailed"
        rows.append({
            "Name": n.name, "Id": n.id, "State": n.cluster_state, "DrainStatus": n.drain_status,
            "StatusInformation": info, "FaultDomain": [f"Site:{n.site}"] if stretched else [], "BuildNumber": n.build,
            "NodeWeight": 1, "DynamicWeight": 1 if n.cluster_state == "Up" else 0,
        })
    return rows


@handles("get_cluster_groups")
def _get_cluster_groups(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    return [{"Name": g.name, "OwnerNode": g.owner, "State": g.state, "GroupType": g.group_type}
            for g in lab.state.groups]


@handles("get_csv_state")
def _get_csv_state(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    rows = []
    for csv in lab.state.csvs:
        for n in lab.state.nodes.values():
            if n.cluster_state not in ("Up", "Paused"):
                continue
            offline = csv.unavailable or csv.name in lab.state.offline_csvs  # ReFS trap, or taken offline
            state = "Unavailable" if offline else ("FileSystemRedirected" if csv.refs else "Direct")
            rows.append({
                "Name": csv.name, "VolumeName": f"C:\\ClusterStorage\\{csv.friendly}",
                "VolumeFriendlyName": csv.friendly, "Node": n.name, "StateInfo": state,
                "FileSystemRedirectedIOReason": (
                    "FileSystemReFs" if csv.refs and not csv.unavailable else "NotFileSystemRedirected"),
                "BlockRedirectedIOReason": "NotBlockRedirected",
            })
    return rows


@handles("get_storage_jobs")
def _get_storage_jobs(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    rows = []
    for job in lab.state.storage_jobs:
        fraction = max(0.0, min(1.0, (lab.now - job.started) / job.duration))
        rows.append({
            "Name": job.name, "JobState": "Running", "PercentComplete": int(fraction * 100),
            "BytesProcessed": int(job.bytes_total * fraction), "BytesTotal": job.bytes_total,
        })
    return rows


@handles("get_virtual_disks")
def _get_virtual_disks(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    rows = []
    detached = {c.friendly for c in lab.state.csvs if c.name in lab.state.offline_csvs}
    for disk in lab.state.disks:
        if disk.friendly_name in detached:  # its CSV resource is offline (the fast offline update)
            health, status = "Healthy", ["Detached"]
        elif lab.site_degraded(disk.site):
            health, status = "Warning", ["Degraded"]
        elif lab.site_repairing(disk.site):
            health, status = "Warning", ["InService"]
        else:
            health, status = "Healthy", ["OK"]
        rows.append({"FriendlyName": disk.friendly_name, "HealthStatus": health, "OperationalStatus": status})
    return rows


@handles("get_storage_pools")
def _get_storage_pools(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    settling = lab.now < lab.state.pool_settling_until  # just after the cluster started (hcitui.lab.offline)
    return [{
        "FriendlyName": p.friendly_name, "IsPrimordial": False,
        "HealthStatus": "Warning" if lab.site_degraded(p.site) or settling else "Healthy",
        "OperationalStatus": ["Degraded"] if lab.site_degraded(p.site) or settling else ["OK"], "Version": p.version,
    } for p in lab.state.pools]


@handles("get_sr_groups")
def _get_sr_groups(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    rows = []
    for group in lab.state.sr_groups:
        status, remaining = group.status, 0
        if group.sync_started is not None and not group.is_primary:
            fraction = min(1.0, (lab.now - group.sync_started) / lab.state.timings.sr_initial_sync)
            remaining = int(sum(r.partition_size for r in group.replicas) * (1 - fraction))
        rows.append({
            "Name": group.name, "ComputerName": lab.site_owner(group.site), "Id": group.id,
            "ReplicationMode": group.replication_mode, "LogSizeInBytes": group.log_size_in_bytes,
            "LogVolume": group.log_volume, "AsyncRPO": group.async_rpo, "IsPrimary": group.is_primary,
            "IsEncrypted": group.is_encrypted, "IsCluster": True, "IsWriteConsistency": group.consistency_groups,
            "Replicas": [{
                "DataVolume": r.data_volume, "PartitionId": r.partition_id, "PartitionSize": r.partition_size,
                "ReplicationStatus": status, "NumOfBytesRemaining": remaining if len(group.replicas) == 1 else 0,
                "LastInSyncTime": iso(lab.now) if status == "ContinuouslyReplicating" else None,
            } for r in group.replicas],
        })
    return rows


@handles("get_sr_partnerships")
def _get_sr_partnerships(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    groups = {g.name: g for g in lab.state.sr_groups}
    return [{
        "SourceComputerName": lab.site_owner(groups[p.source_rg].site), "SourceRGName": p.source_rg,
        "DestinationComputerName": lab.site_owner(groups[p.destination_rg].site), "DestinationRGName": p.destination_rg,
        "Id": p.id,
    } for p in lab.state.partnerships]


@handles("get_cau_role")
def _get_cau_role(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    if not lab.state.cau_role:
        return {"Present": False, "Reason": f"The cluster '{lab.state.cluster_name}' is not configured with a "
                                            "Cluster-Aware Updating clustered role."}
    group = next((g for g in lab.state.groups if g.group_type == "ClusterAwareUpdatingResource"), None)
    return {"Present": True, "Online": bool(group and group.state == "Online"),
            "SelfUpdatingEnabled": lab.state.cau_self_updating, "Reason": None}


@handles("get_os_version")
def _get_os_version(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    return {"CurrentBuildNumber": node.build, "UBR": node.ubr, "DisplayVersion": node.display_version,
            "ProductName": node.product_name, "LastBootUpTime": iso(node.last_boot)}


@handles("get_registry_values")
def _get_registry_values(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    return {"RefsEnableMetadataValidation": node.refs_metadata_validation,
            "VidParametersKeyExists": node.vid_parameters_key,
            "SkipSmallLocalAllocations": node.skip_small_local_allocations if node.vid_parameters_key else None}


@handles("get_azure_registration")
def _get_azure_registration(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    return {"RegistrationStatus": node.registration_status, "ConnectionStatus": node.connection_status,
            "ClusterStatus": "Clustered"}


@handles("get_secure_boot")
def _get_secure_boot(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    if node.secure_boot == "NotSupported":
        return {"State": "NotSupported", "Detail": "Cmdlet not supported on this platform: 0xC0000002"}
    return {"State": node.secure_boot, "Detail": None}


@handles("get_vm_summary")
def _get_vm_summary(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    vms = [g for g in lab.state.groups if g.group_type == "VirtualMachine" and g.owner == node.name]
    running = [g for g in vms if g.state == "Online"]
    return {"Total": len(vms), "Running": len(running),
            "DynamicMemoryRunning": sum(1 for g in running if g.dynamic_memory),
            "RunningNames": [g.name for g in running]}


def _file_key(files: dict[str, int], path: str) -> str | None:
    wanted = path.rstrip("\\").lower()
    return next((key for key in files if key.rstrip("\\").lower() == wanted), None)


@handles("get_path_info")
def _get_path_info(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    path = params["Path"]
    key = _file_key(node.files, path)
    if key is None:
        return {"Path": path, "Exists": False, "IsContainer": None, "Length": None}
    size = node.files[key]
    return {"Path": path, "Exists": True, "IsContainer": size < 0, "Length": None if size < 0 else size}


# --------------------------------------------------------------- mutating handlers


def _node_row(lab: Lab, name: str) -> dict[str, Any]:
    return next(row for row in _get_cluster_nodes(lab, lab.state.nodes[name], {}) if row["Name"] == name)


def _target(lab: Lab, params: dict[str, Any]) -> LabNode:
    name = params["Name"]
    target = lab.state.nodes.get(name)
    if target is None:
        raise LabPowerShellError(f"The cluster node '{name}' was not found.")
    return target


@handles("suspend_node")
def _suspend_node(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    target = _target(lab, params)
    if target.cluster_state not in ("Up", "Paused"):
        raise LabPowerShellError(f"The node '{target.name}' is {target.cluster_state} and cannot be drained.")
    if target.drain_status != "InProgress":
        lab.changed()
        target.cluster_state = "Paused"
        target.drain_status = "InProgress"
        # Roles live-migrate off one at a time (timers), so DrainStatus is visible meanwhile.
        lab.schedule(lab.state.timings.drain_step, "drain_step", target.name, stuck=[])

    def finish() -> Any:
        if target.drain_status == "Failed":
            stuck = [g.name for g in lab.state.groups if g.owner == target.name and g.state == "Online"]
            raise LabPowerShellError(
                f"Suspend-ClusterNode : The node '{target.name}' could not be drained: live migration of "
                f"'{', '.join(stuck) or 'a role'}' failed."
            )
        return _node_row(lab, target.name)

    return Pending(done=lambda: target.drain_status != "InProgress", result=finish)


def _drain_step(lab: Lab, timer: Timer) -> None:
    """Move the next role off a draining node; finish the drain when none is left to try."""
    target = lab.state.nodes[timer.node]
    if target.drain_status != "InProgress":
        return
    stuck: list[str] = list(timer.data.get("stuck", []))
    movable = [g for g in lab.state.groups if g.owner == target.name and g.name not in stuck]
    if movable:
        group = movable[0]
        # The live-migration trap (RUNBOOK 5): while SkipSmallLocalAllocations is unset, live
        # migration of a running dynamic-memory VM hangs and the drain fails. Setting it is what
        # lets the guide's procedure (set the keys, then restart node by node) drain at all.
        host = lab.pick_host(target)
        trapped = (group.group_type == "VirtualMachine" and group.dynamic_memory and group.state == "Online"
                   and target.skip_small_local_allocations != 0)
        if trapped or host is None:
            stuck.append(group.name)
        else:
            group.owner = host.name
        lab.schedule(lab.state.timings.drain_step, "drain_step", target.name, after=timer.at, stuck=stuck)
        return
    target.drain_status = "Failed" if stuck else "Completed"


@handles("resume_node")
def _resume_node(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    target = _target(lab, params)
    if target.cluster_state != "Paused":
        raise LabPowerShellError(f"The node '{target.name}' is {target.cluster_state}; "
                                 "only a paused node can be resumed.")
    lab.changed()
    target.cluster_state = "Up"
    target.drain_status = "NotInitiated"
    if params.get("Failback", "Immediate") == "Immediate":
        for group in lab.state.groups:
            if group.preferred_owner == target.name:
                group.owner = target.name
                group.state = "Online"
    return _node_row(lab, target.name)


@handles("restart_node")
def _restart_node(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    answer = _get_os_version(lab, node, {})
    lab.changed()
    lab.restart(node)
    return answer


@handles("set_registry_values")
def _set_registry_values(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.changed()
    if params.get("RefsEnableMetadataValidation") is not None:
        node.refs_metadata_validation = int(params["RefsEnableMetadataValidation"])
    if params.get("SkipSmallLocalAllocations") is not None:
        node.vid_parameters_key = True
        node.skip_small_local_allocations = int(params["SkipSmallLocalAllocations"])
    return _get_registry_values(lab, node, {})


# --------------------------------------------------------------- files and ISO


@handles("write_file_chunk")
def _write_file_chunk(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    path, offset = params["Path"], int(params["Offset"])
    try:
        data = base64.b64decode(params["Data"], validate=True)
    except (binascii.Error, ValueError):
        raise LabPowerShellError("Exception calling \"FromBase64String\": "
                                 "The input is not a valid Base-64 string.") from None
    key = _file_key(node.files, path)
    current = node.files.get(key, 0) if key else 0
    if offset == 0:
        key = key or path
        current = 0
    elif key is None or current != offset:
        raise LabPowerShellError(f"'{path}' is {current} bytes long, not {offset}: the copy must resume at its end.")
    lab.changed()
    node.files[key] = current + len(data)
    # A small file's content is kept, so Get-FileHash can prove it (the update packages); not the ISO's.
    kept = node.small_files.pop(key, "") if offset else ""
    if node.files[key] <= SMALL_FILE_BYTES and (offset == 0 or kept):
        node.small_files[key] = base64.b64encode(base64.b64decode(kept) + data).decode("ascii")
    return {"Path": path, "Exists": True, "IsContainer": False, "Length": node.files[key]}


def _staging_info(node: LabNode, path: str) -> dict[str, Any]:
    key = next((k for k in node.staged if k.rstrip("\\").lower() == path.rstrip("\\").lower()), None)
    if key is None:
        exists = _file_key(node.files, path) is not None
        return {"Path": path, "Exists": exists, "HasSetup": False, "FileCount": 0, "TotalBytes": 0}
    media = node.staged[key]
    return {"Path": path, "Exists": True, "HasSetup": media.has_setup, "FileCount": media.file_count,
            "TotalBytes": media.total_bytes}


@handles("get_staging_info")
def _get_staging_info(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    return _staging_info(node, params["Path"])


@handles("stage_iso")
def _stage_iso(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    iso_path, destination = params["IsoPath"], params["Destination"]
    key = _file_key(node.files, iso_path)
    if key is None:
        raise LabPowerShellError(f"The ISO '{iso_path}' does not exist on this node.")
    if node.files[key] != ISO_SIZE:
        raise LabPowerShellError("Mount-DiskImage : The disc image file is corrupted.")
    lab.changed()
    node.staged.pop(destination, None)
    node.files[destination] = -1
    lab.schedule(lab.state.timings.stage_iso, "stage_done", node.name, destination=destination)
    return Pending(done=lambda: destination in node.staged, result=lambda: _staging_info(node, destination))


# ------------------------------------------------------------------- timers

on_timer("boot_complete")(Lab._on_boot_complete)
on_timer("cluster_join")(Lab._on_cluster_join)
on_timer("drain_step")(Lab._on_drain_step)
on_timer("stage_done")(Lab._on_stage_done)
