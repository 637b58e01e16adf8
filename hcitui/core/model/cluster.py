"""The failover cluster: its nodes, groups, functional level and validation (RUNBOOK 3)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from hcitui.core.model.base import PSEnum, PSModel, _as_list, open_enum


class NodeState(PSEnum):
    UP = "Up"
    DOWN = "Down"
    PAUSED = "Paused"
    JOINING = "Joining"
    UNKNOWN = "Unknown"


class DrainStatus(PSEnum):
    NOT_INITIATED = "NotInitiated"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"


class NodeStatusInformation(PSEnum):
    NORMAL = "Normal"
    ISOLATED = "Isolated"
    QUARANTINED = "Quarantined"
    DRAIN_IN_PROGRESS = "DrainInProgress"
    DRAIN_COMPLETED = "DrainCompleted"
    DRAIN_FAILED = "DrainFailed"
    AVOID_PLACEMENT = "AvoidPlacement"


class GroupState(PSEnum):
    ONLINE = "Online"
    OFFLINE = "Offline"
    FAILED = "Failed"
    PARTIAL_ONLINE = "PartialOnline"
    PENDING = "Pending"
    UNKNOWN = "Unknown"


class ClusterNode(PSModel):
    name: str
    id: str = ""
    state: open_enum(NodeState) = NodeState.UNKNOWN
    drain_status: open_enum(DrainStatus) = DrainStatus.NOT_INITIATED
    status_information: Annotated[list[open_enum(NodeStatusInformation)], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )
    fault_domain: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    build_number: int | None = None
    node_weight: int | None = None
    dynamic_weight: int | None = None

    @property
    def site(self) -> str | None:
        """The Site fault domain (``Site:SiteA`` -> ``SiteA``), if any."""
        for entry in self.fault_domain:
            kind, _, name = str(entry).partition(":")
            if kind.strip().lower() == "site" and name:
                return name.strip()
        return None


class ClusterGroup(PSModel):
    name: str
    owner_node: str | None = None
    state: open_enum(GroupState) = GroupState.UNKNOWN
    group_type: str | None = None


class FunctionalLevel(PSModel):
    """The cluster functional level and what every node could move it to."""

    cluster_functional_level: int
    upgrade_version: int | None = None


class ClusterValidation(PSModel):
    """``Test-Cluster``: where its report went and how it came out."""

    report_path: str
    passed: int = 0
    warnings: int = 0
    failed: int = 0
    summary: str | None = None
