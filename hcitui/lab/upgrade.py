"""The OS upgrade in the lab: setup.exe from the staged folder installs 23H2, then restarts.

Used by the manual node-by-node path (the ``start_os_upgrade`` operation) and by the
simulated CAU rolling-upgrade run alike: :func:`begin_upgrade` is the one way a lab node
moves to build 25398. The ReFS trap (RUNBOOK 5) follows at the node's cluster join.
"""

from __future__ import annotations

from typing import Any

from hcitui.lab.cluster import Lab, LabNode, LabPowerShellError, Timer, handles, on_timer


def begin_upgrade(lab: Lab, node: LabNode, media: str) -> None:
    """Start setup on ``node`` from the staged folder ``media``; it restarts when installed."""
    key = next((k for k in node.staged if k.rstrip("\\").lower() == media.rstrip("\\").lower()), None)
    if key is None or not node.staged[key].has_setup:
        raise LabPowerShellError(f"setup.exe was not found in '{media}': stage the ISO there first.")
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


@handles("start_os_upgrade")
def _start_os_upgrade(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    begin_upgrade(lab, node, params["MediaPath"])
    return {"Started": True, "SetupPath": params["MediaPath"].rstrip("\\") + "\\setup.exe"}


@handles("disable_cau_self_updating")
def _disable_self_updating(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    if not lab.state.cau_role:
        raise LabPowerShellError(f"The cluster '{lab.state.cluster_name}' is not configured with a "
                                 "Cluster-Aware Updating clustered role.")
    lab.changed()
    lab.state.cau_self_updating = False
    return {"Present": True, "Online": True, "SelfUpdatingEnabled": False, "Reason": None}
