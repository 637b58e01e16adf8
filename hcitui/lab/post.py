"""Post-upgrade in the lab: functional level, pool versions, VM configuration versions, Test-Cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hcitui.lab.cluster import Lab, LabNode, LabPowerShellError, Pending, handles
from hcitui.lab.state import NEW_BUILD

NEW_LEVEL = 12
NEW_POOL_VERSION = "Windows Server 2025"  # what Update-StoragePool reports on 23H2 (lab stand-in)
NEW_VM_VERSION = "12.0"
OLD_VM_VERSION_HIGHEST = "10.0"


def _level(lab: Lab) -> dict[str, Any]:
    every_new = all(n.build == NEW_BUILD for n in lab.state.nodes.values())
    return {"ClusterFunctionalLevel": lab.state.functional_level,
            "UpgradeVersion": NEW_LEVEL if every_new else lab.state.functional_level}


@handles("get_cluster_functional_level")
def _get_level(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    return _level(lab)


@handles("update_cluster_functional_level")
def _update_level(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    behind = [n.name for n in lab.state.nodes.values() if n.build != NEW_BUILD]
    if behind:
        raise LabPowerShellError("Update-ClusterFunctionalLevel : The cluster functional level cannot be updated: "
                                 f"nodes {', '.join(behind)} are not running the new version.")
    lab.changed()
    lab.state.functional_level = NEW_LEVEL
    return _level(lab)


@handles("update_storage_pool")
def _update_pool(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    pool = next((p for p in lab.state.pools if p.friendly_name.lower() == params["FriendlyName"].lower()), None)
    if pool is None:
        raise LabPowerShellError(f"No MSFT_StoragePool objects found with property 'FriendlyName' equal to "
                                 f"'{params['FriendlyName']}'.")
    if lab.state.functional_level < NEW_LEVEL:
        raise LabPowerShellError("Update-StoragePool : The storage pool cannot be upgraded before the cluster "
                                 "functional level.")
    lab.changed()
    pool.version = NEW_POOL_VERSION
    return {"FriendlyName": pool.friendly_name, "IsPrimordial": False, "HealthStatus": "Healthy",
            "OperationalStatus": ["OK"], "Version": pool.version}


def _vm_row(lab: Lab, node: LabNode, group: Any) -> dict[str, Any]:
    highest = NEW_VM_VERSION if node.build == NEW_BUILD else OLD_VM_VERSION_HIGHEST
    return {"Name": group.name, "Host": node.name, "State": "Running" if group.state == "Online" else "Off",
            "Version": group.vm_version, "HighestSupported": highest}


@handles("get_vm_versions")
def _get_vm_versions(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    return [_vm_row(lab, node, g) for g in lab.state.groups
            if g.group_type == "VirtualMachine" and g.owner == node.name]


@handles("update_vm_version")
def _update_vm_version(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    vm = next((g for g in lab.state.groups if g.group_type == "VirtualMachine" and g.owner == node.name
               and g.name.lower() == params["Name"].lower()), None)
    if vm is None:
        raise LabPowerShellError(f"Hyper-V was unable to find a virtual machine with name \"{params['Name']}\".")
    if vm.state == "Online":
        raise LabPowerShellError(f"VM '{vm.name}' is Running: shut it down before updating its configuration version.")
    if node.build != NEW_BUILD:
        raise LabPowerShellError("Update-VMVersion : The host does not support a newer configuration version.")
    lab.changed()
    vm.vm_version = NEW_VM_VERSION
    return _vm_row(lab, node, vm)


@handles("test_cluster")
def _test_cluster(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    finish_at = lab.now + lab.state.timings.test_cluster
    stamp = datetime.fromtimestamp(lab.now, tz=UTC).strftime("%Y.%m.%d At %H.%M.%S")

    def result() -> dict[str, Any]:
        failed = sum(1 for n in lab.state.nodes.values() if n.cluster_state != "Up")
        failed += sum(1 for c in lab.state.csvs if c.unavailable)
        warnings = 1 if len({n.build for n in lab.state.nodes.values()}) > 1 else 0
        return {"ReportPath": f"C:\\Windows\\Cluster\\Reports\\hcitui Validation {stamp}.htm",
                "Passed": 42 - failed - warnings, "Warnings": warnings, "Failed": failed, "Summary": None}

    return Pending(done=lambda: lab.now >= finish_at, result=result)
