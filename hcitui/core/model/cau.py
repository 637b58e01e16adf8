"""Cluster-Aware Updating: the run, its node results and report, the cluster role, the setup check, the
scan, and the coordinator that runs it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from hcitui.core.model.base import PSDateTime, PSEnum, PSModel, _as_list, open_enum


class CauRunState(PSEnum):
    RUN_NOT_IN_PROGRESS = "RunNotInProgress"
    RUN_IN_PROGRESS = "RunInProgress"
    RUN_FAILED = "RunFailed"


class CauNodeResultStatus(PSEnum):
    SUCCEEDED = "Succeeded"
    PARTIALLY_FAILED = "PartiallyFailed"
    FAILED = "Failed"
    CANCELED = "Canceled"


class CauNodeStatus(PSModel):
    node: str
    status: str
    timestamp: PSDateTime = None


class CauNodeResult(PSModel):
    node: str
    status: open_enum(CauNodeResultStatus)
    error_record_data: str | None = None
    number_of_succeeded_updates: int | None = None
    number_of_failed_updates: int | None = None


class CauRun(PSModel):
    """``Get-CauRun``: the run state, and while a run is under way its details."""

    state: open_enum(CauRunState) = CauRunState.RUN_NOT_IN_PROGRESS
    run_id: str | None = None
    run_start_time: PSDateTime = None
    current_orchestrator: str | None = None
    cancel_pending: bool | None = None
    node_status_notifications: Annotated[list[CauNodeStatus], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )
    node_results: Annotated[list[CauNodeResult], BeforeValidator(_as_list)] = Field(default_factory=list)


class CauClusterRole(PSModel):
    """``Get-CauClusterRole``, flattened: is the role there, and does it self-update."""

    present: bool
    online: bool | None = None
    self_updating_enabled: bool | None = None
    reason: str | None = None


class CauSetupResult(PSModel):
    """One Best Practices Analyzer rule of ``Test-CauSetup`` (``Get-BpaResult``): Error, Warning or Information."""

    rule_id: str | None = None
    title: str
    severity: str = "Information"
    problem: str | None = None
    resolution: str | None = None

    @property
    def failed(self) -> bool:
        return self.severity.lower() == "error"

    @property
    def warned(self) -> bool:
        return self.severity.lower() == "warning"


class CauScanUpdate(PSModel):
    """``Invoke-CauScan``: what one node is offered (no title: that node is offered nothing)."""

    node: str
    update_title: str | None = None
    update_id: str | None = None
    kb_article: str | None = Field(None, alias="KBArticle")


class CauRunStarted(PSModel):
    """A CAU run handed to a detached process on the node (it outlives the remote session)."""

    started: bool
    state: open_enum(CauRunState) = CauRunState.RUN_NOT_IN_PROGRESS
    run_id: str | None = None
    task_name: str | None = None
    parameters_path: str | None = None
    log_path: str | None = None


class CoordinatorReach(PSModel):
    """Whether the CAU coordinator reaches one node over WinRM with the session's credentials (Test-WSMan)."""

    node: str
    reachable: bool = False
    error: str | None = None


class CoordinatorState(PSModel):
    """The CAU coordinator as it sees itself: its name, the CAU module, and which nodes it reaches."""

    computer_name: str | None = None
    cau_module: bool = Field(False, alias="CauModule")
    nodes: Annotated[list[CoordinatorReach], BeforeValidator(_as_list)] = Field(default_factory=list)


class CauReport(PSModel):
    """``Get-CauReport -Last -Detailed``: how the most recent run ended (Status spelling UNCONFIRMED)."""

    present: bool = True
    run_id: str | None = None
    run_start_time: PSDateTime = None
    status: str | None = None
    node_results: Annotated[list[CauNodeResult], BeforeValidator(_as_list)] = Field(default_factory=list)
