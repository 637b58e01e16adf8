"""What a CAU run is asked to do: the plug-in and its limits (:class:`RunOptions`), where it is coordinated
(the notes every preview and the options form carry), and the names the journal keeps its steps under."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hcitui.core import model
from hcitui.ps import cau as cau_ops
from hcitui.workflow.context import Context

PREFLIGHT_PHASE, RUN_PHASE = 2, 5
REMOTING, PREFLIGHT = "cau-remoting", "cau-preflight"
RUN, STOP, RECOVER = "cau-run", "cau-stop", "cau-recover"
ROLLING_UPGRADE, WINDOWS_UPDATE = cau_ops.ROLLING_UPGRADE, cau_ops.WINDOWS_UPDATE
PLUGIN_TITLE = {ROLLING_UPGRADE: "rolling upgrade to 23H2", WINDOWS_UPDATE: "Windows Update (monthly updates)"}
IN_PROGRESS = model.CauRunState.RUN_IN_PROGRESS
FAILED_STATE = model.CauRunState.RUN_FAILED
SUCCEEDED = model.CauNodeResultStatus.SUCCEEDED
CANCELED = model.CauNodeResultStatus.CANCELED


def short_id(run_id: str | None) -> str:
    """A run's id as sentences name it: its first eight characters."""
    return (run_id or "?")[:8]


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
    # Off by default: Post-upgrade raises the level after verification; raising it cannot be undone.
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
        return ("UpdateClusterFunctionalLevel off: the functional level is left as it is; Post-upgrade raises "
                "it after verification")

    def as_data(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "max_failed_nodes": self.max_failed_nodes,
                "max_retries_per_node": self.max_retries_per_node,
                "require_all_nodes_online": self.require_all_nodes_online,
                "update_functional_level": self.update_functional_level}

