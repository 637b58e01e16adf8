"""The fast offline update in the lab (seed 004): CSVs offline and online, the cluster stopped and started, the
cluster service's start type, update packages installed and in force at the next boot, Get-FileHash.

What the lab decides, where nothing public says (the README says so too):

- Stop-Cluster stops the cluster service on every node: each node is Down, every group Offline, and the cluster
  cmdlets fail on every node as on a node whose cluster service is stopped (``Lab.require_cluster_service``).
- A node that restarts with the cluster service Disabled stays out of the cluster; with Automatic it rejoins
  (the ordinary boot path), and the cluster runs again around it.
- Starting the cluster service on a node of a stopped cluster: the node is back (Joining, then Up) without a
  repair job (nothing was written while every node was down); the groups that were Online when it stopped come
  back Online (their persistent state), and the pool reports Warning/Degraded for half the repair time.
- VMs lose their storage when the CSVs go offline (they go Offline) and come back when the CSVs are online again
  and the cluster runs. MSLab's "S2D and Emergency Patching" shows VM resources Failed after such a window
  (it starts them again by hand): whether a real cluster restarts them by itself is UNCONFIRMED, so hcitui's
  closing checks warn about any VM that ran before and does not now.
- An update package is InstallPending until the node's next boot, then Installed, and only then listed by
  Get-HotFix (UNCONFIRMED on a real node); the boot raises the node's UBR to the lab cumulative update's.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from hcitui.lab.cluster import BOOT_HOOKS, Lab, LabNode, LabPowerShellError, Pending, _file_key, handles, on_timer
from hcitui.lab.state import NEW_BUILD, OLD_BUILD, Timer

INSTALL_SECONDS = 2.0  # lab seconds Add-WindowsPackage takes
# The lab's stand-in cumulative update: the UBR a node boots into once it is installed, per build (any KB).
UPDATE_UBR = {OLD_BUILD: 2966, NEW_BUILD: 2032}
LAB_UPDATE_NAME = "windows10.0-kb5048654-x64.msu"
LAB_UPDATE_SIZE = 600 * 1024  # three chunks of the copy
CORE_GROUPS = ("Cluster", "AvailableStorage")


def _service(node: LabNode) -> dict[str, Any]:
    running = node.power == "on" and node.cluster_state != "Down"
    return {"Name": "ClusSvc", "Status": "Running" if running else "Stopped", "StartType": node.cluster_service_start}


def _offline_node(node: LabNode, params: dict[str, Any]) -> dict[str, Any]:
    from hcitui.lab.cluster import iso

    wanted = [kb.upper() for kb in params.get("HotFixes") or []]
    return {
        "Service": _service(node), "CurrentBuildNumber": node.build, "UBR": node.ubr,
        "LastBootUpTime": iso(node.last_boot),
        "HotFixes": [kb for kb in wanted if node.updates.get(kb) == "Installed"],
        "PendingPackages": sum(1 for state in node.updates.values() if state == "InstallPending"),
    }


@handles("get_offline_node")
def _get_offline_node(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    return _offline_node(node, params)


@handles("set_cluster_service_startup")
def _set_startup(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.changed()
    node.cluster_service_start = params["StartupType"]
    return _offline_node(node, params)


@handles("start_cluster_service")
def _start_service(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    if node.cluster_service_start == "Disabled":
        raise LabPowerShellError("Set-Service : Service 'Cluster Service (ClusSvc)' cannot be configured due to the "
                                 "following error: The service cannot be started, either because it is disabled "
                                 "or because it has no enabled devices associated with it.")
    if node.cluster_state == "Down":
        lab.changed()
        node.cluster_state = "Joining"
        lab.schedule(lab.state.timings.cluster_join, "offline_join", node.name)
    return _offline_node(node, params)


def _on_offline_join(lab: Lab, timer: Timer) -> None:
    node = lab.state.nodes[timer.node]
    if node.cluster_state != "Joining":
        return
    node.cluster_state, node.drain_status = "Up", "NotInitiated"
    if lab.state.cluster_stopped:  # the first node back forms the cluster again
        lab.state.cluster_stopped = False
        lab.state.pool_settling_until = timer.at + lab.state.timings.repair / 2  # the pool settles
        back = set(lab.state.groups_before_stop)
        for group in lab.state.groups:
            if group.name in back and group.name not in lab.state.vms_without_storage:
                group.state = "Online"
        lab.state.groups_before_stop = []
    for group in lab.state.groups:  # an Online group whose owner is not back yet runs here
        owner = lab.state.nodes.get(group.owner)
        if group.state == "Online" and (owner is None or owner.cluster_state != "Up"):
            group.owner = node.name


@handles("stop_cluster")
def _stop_cluster(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    lab.changed()
    lab.state.groups_before_stop = [g.name for g in lab.state.groups if g.state == "Online"]
    for group in lab.state.groups:
        group.state = "Offline"
    for each in lab.state.nodes.values():
        each.cluster_state = "Down"
    lab.state.cluster_stopped = True
    lab.state.storage_jobs = []
    lab.state.timers = [t for t in lab.state.timers if t.kind not in ("cluster_join", "offline_join", "drain_step")]
    return _service(node)


def _csv_rows(lab: Lab) -> list[dict[str, Any]]:
    return [{"Name": c.name, "State": "Offline" if c.name in lab.state.offline_csvs else "Online"}
            for c in lab.state.csvs]


@handles("get_csv_resources")
def _get_csv_resources(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    return _csv_rows(lab)


@handles("stop_csv_resources")
def _stop_csvs(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    lab.changed()
    for csv in lab.state.csvs:
        if csv.name not in lab.state.offline_csvs:
            lab.state.offline_csvs.append(csv.name)
    for group in lab.state.groups:  # a VM without its storage stops
        if group.group_type == "VirtualMachine" and group.state == "Online":
            group.state = "Offline"
            lab.state.vms_without_storage.append(group.name)
    return _csv_rows(lab)


@handles("start_csv_resources")
def _start_csvs(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    lab.changed()
    lab.state.offline_csvs = []
    for group in lab.state.groups:
        if group.name in lab.state.vms_without_storage:
            group.state = "Online"
    lab.state.vms_without_storage = []
    return _csv_rows(lab)


@handles("get_volumes")
def _get_volumes(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    rows = [{"FileSystemLabel": "", "FileSystem": "NTFS", "HealthStatus": "Healthy"}]  # C:
    if node.cluster_state in ("Up", "Paused"):
        rows += [{"FileSystemLabel": c.friendly, "FileSystem": "CSVFS",
                  "HealthStatus": "Healthy" if c.name not in lab.state.offline_csvs and not c.unavailable
                  else "Unhealthy"} for c in lab.state.csvs]
    return rows


@handles("install_update_package")
def _install_package(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    path, kb = params["PackagePath"], params["HotFixId"].upper()
    key = _file_key(node.files, path)
    if key is None or node.files[key] < 0:
        raise LabPowerShellError(f"The package '{path}' is not on this node: stage it first.")
    if node.files[key] == 0:
        raise LabPowerShellError("Add-WindowsPackage : An error occurred applying the Unattend.xml file from the "
                                 ".msu file. The specified package is not valid.")
    lab.changed()
    already = node.updates.get(kb) == "Installed"
    if not already:
        node.updates[kb] = "InstallPending"
    until = lab.now + INSTALL_SECONDS

    def result() -> dict[str, Any]:
        return {"PackagePath": path, "HotFixId": kb, "RestartNeeded": not already, "HotFixListed": already,
                "PendingPackages": sum(1 for s in node.updates.values() if s == "InstallPending")}

    return Pending(done=lambda: lab.now >= until, result=result)


@handles("get_file_hash")
def _get_file_hash(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    path = params["Path"]
    key = _file_key(node.files, path)
    if key is None or node.files[key] < 0:
        return {"Path": path, "Exists": False, "Length": None, "Hash": None}
    content = node.small_files.get(key)
    if content is None:
        raise LabPowerShellError(f"Get-FileHash : the lab keeps no content of '{path}' (only files up to 2 MiB).")
    digest = hashlib.sha256(base64.b64decode(content)).hexdigest().upper()
    return {"Path": path, "Exists": True, "Length": node.files[key], "Hash": digest}


def _boot(lab: Lab, node: LabNode) -> bool:
    """At boot: the packages installed are in force (the UBR moves on); the cluster service starts unless it is
    Disabled; a node of a stopped cluster that starts it brings the cluster back (the ordinary join)."""
    pending = [kb for kb, state in node.updates.items() if state == "InstallPending"]
    for kb in pending:
        node.updates[kb] = "Installed"
    if pending:
        node.ubr = max(node.ubr, UPDATE_UBR.get(node.build, node.ubr + 1))
    if node.cluster_service_start == "Disabled":
        return False
    if lab.state.cluster_stopped:
        lab.state.cluster_stopped = False
        back = set(lab.state.groups_before_stop)
        for group in lab.state.groups:
            if group.name in back and group.name not in lab.state.vms_without_storage:
                group.state = "Online"
        lab.state.groups_before_stop = []
    return True


BOOT_HOOKS.append(_boot)
on_timer("offline_join")(_on_offline_join)


def make_update_package(folder: Any) -> Any:
    """The lab's stand-in update package on the operator's machine (as the ISO's stand-in is made): made once,
    exactly ``LAB_UPDATE_SIZE`` deterministic bytes."""
    from pathlib import Path

    path = Path(folder) / LAB_UPDATE_NAME
    if not path.is_file() or path.stat().st_size != LAB_UPDATE_SIZE:
        block = hashlib.sha256(b"hcitui lab update").digest() * (LAB_UPDATE_SIZE // 32 + 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.tmp")
        partial.write_bytes(block[:LAB_UPDATE_SIZE])
        partial.replace(path)
    return path
