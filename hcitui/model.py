"""Domain types: the objects of RUNBOOK section 3, as PowerShell returns them.

Every model accepts PowerShell's PascalCase property names (``OwnerNode``) as well as
our snake_case names. Enumerations are *open*: a value we know becomes the enum member,
any other string a real host sends is kept as that string and shown as it is. A new
Windows build that adds a state must never crash the console.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_pascal

UPGRADE_FROM_BUILD = 20349
UPGRADE_TO_BUILD = 25398


class PSEnum(str, enum.Enum):
    """A PowerShell enum: compares and prints as its string value."""

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


E = TypeVar("E", bound=PSEnum)


def _coerce_enum(enum_cls: type[PSEnum]):
    by_lower = {m.value.lower(): m for m in enum_cls}

    def coerce(value: Any) -> Any:
        if value is None or isinstance(value, enum_cls):
            return value
        if isinstance(value, dict) and "Value" in value:  # ConvertTo-Json of an un-cast enum
            value = value.get("String") or value["Value"]
        text = str(value)
        return by_lower.get(text.lower(), text)

    return coerce


def open_enum(enum_cls: type[E]) -> Any:
    """Annotated type: the enum member when known, the raw string otherwise."""
    return Annotated[
        enum_cls | str,
        BeforeValidator(_coerce_enum(enum_cls)),
        PlainSerializer(lambda v: str(v.value if isinstance(v, PSEnum) else v), return_type=str),
    ]


def _as_list(value: Any) -> Any:
    """PowerShell's ConvertTo-Json collapses one-element arrays; accept a scalar too."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str) and "," in value:
        return [part.strip() for part in value.split(",") if part.strip()]
    return [value]


def _ps_datetime(value: Any) -> Any:
    """Accept ISO-8601 and Windows PowerShell 5.1's ``/Date(1700000000000)/``."""
    if isinstance(value, str) and value.startswith("/Date(") and value.endswith(")/"):
        millis = int(value[6:-2].split("+")[0].split("-")[0] or 0)
        from datetime import timezone

        return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    if value == "":
        return None
    return value


PSDateTime = Annotated[datetime | None, BeforeValidator(_ps_datetime)]


class PSModel(BaseModel):
    """Base for objects read from PowerShell."""

    model_config = ConfigDict(
        alias_generator=to_pascal,
        populate_by_name=True,
        extra="ignore",
        frozen=False,
    )


# --------------------------------------------------------------------------- enums


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


class CsvStateInfo(PSEnum):
    DIRECT = "Direct"
    FILE_SYSTEM_REDIRECTED = "FileSystemRedirected"
    BLOCK_REDIRECTED = "BlockRedirected"
    UNAVAILABLE = "Unavailable"  # PowerShell spelling UNCONFIRMED (RUNBOOK 3)
    PAUSED = "Paused"  # PowerShell spelling UNCONFIRMED (RUNBOOK 3)


class StorageJobState(PSEnum):
    NEW = "New"
    STARTING = "Starting"
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    SHUTTING_DOWN = "ShuttingDown"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"
    KILLED = "Killed"
    EXCEPTION = "Exception"
    SERVICE = "Service"
    QUERY_PENDING = "QueryPending"


class HealthStatus(PSEnum):
    HEALTHY = "Healthy"
    WARNING = "Warning"
    UNHEALTHY = "Unhealthy"
    UNKNOWN = "Unknown"


class OperationalStatus(PSEnum):
    OK = "OK"
    SUBOPTIMAL = "Suboptimal"
    IN_SERVICE = "InService"
    INCOMPLETE = "Incomplete"
    DEGRADED = "Degraded"
    NO_REDUNDANCY = "No Redundancy"
    DETACHED = "Detached"


class ReplicationMode(PSEnum):
    SYNCHRONOUS = "Synchronous"
    ASYNCHRONOUS = "Asynchronous"


class ReplicationStatus(PSEnum):
    CONTINUOUSLY_REPLICATING = "ContinuouslyReplicating"
    WAITING_FOR_QUORUM = "WaitingForQuorum"
    RECOVERING_FROM_REPLICATION_LOG = "RecoveringFromReplicationLog"
    FAILED = "Failed"
    REPLICATION_SUSPENDED = "ReplicationSuspended"
    CONNECTING_TO_SOURCE = "ConnectingToSource"
    WAITING_FOR_DESTINATION = "WaitingForDestination"
    LOG_RECORD_COPY_FROM_SOURCE = "LogRecordCopyFromSource"
    BLOCK_COPY_FROM_SOURCE = "BlockCopyFromSource"
    INITIAL_BLOCK_COPY = "InitialBlockCopy"
    CONTINUOUSLY_REPLICATING_OUT_OF_RPO = "ContinuouslyReplicating_OutOfRPO"
    CONTINUOUSLY_REPLICATING_IN_RPO = "ContinuouslyReplicating_InRPO"
    LOG_RECORD_COPY_TO_DESTINATION = "LogRecordCopyToDestination"
    BLOCK_COPY_TO_DESTINATION = "BlockCopyToDestination"
    NOT_IN_PARTNERSHIP = "NotInPartnership"


REPLICATING_STATES = frozenset(
    {
        ReplicationStatus.CONTINUOUSLY_REPLICATING,
        ReplicationStatus.CONTINUOUSLY_REPLICATING_IN_RPO,
    }
)
INITIAL_SYNC_STATES = frozenset(
    {
        ReplicationStatus.INITIAL_BLOCK_COPY,
        ReplicationStatus.BLOCK_COPY_FROM_SOURCE,
        ReplicationStatus.BLOCK_COPY_TO_DESTINATION,
        ReplicationStatus.CONNECTING_TO_SOURCE,
        ReplicationStatus.WAITING_FOR_DESTINATION,
    }
)


class CauRunState(PSEnum):
    RUN_NOT_IN_PROGRESS = "RunNotInProgress"
    RUN_IN_PROGRESS = "RunInProgress"
    RUN_FAILED = "RunFailed"


class CauNodeResultStatus(PSEnum):
    SUCCEEDED = "Succeeded"
    PARTIALLY_FAILED = "PartiallyFailed"
    FAILED = "Failed"
    CANCELED = "Canceled"


class RegistrationStatus(PSEnum):
    REGISTERED = "Registered"
    NOT_YET = "NotYet"
    OUT_OF_POLICY = "OutOfPolicy"


class SecureBootState(PSEnum):
    ON = "On"
    OFF = "Off"
    NOT_SUPPORTED = "NotSupported"


# ------------------------------------------------------------------------ objects


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


class CsvState(PSModel):
    name: str
    volume_name: str | None = None
    volume_friendly_name: str | None = None
    node: str
    state_info: open_enum(CsvStateInfo)
    file_system_redirected_io_reason: str | None = Field(None, alias="FileSystemRedirectedIOReason")
    block_redirected_io_reason: str | None = Field(None, alias="BlockRedirectedIOReason")

    @property
    def is_available(self) -> bool:
        """A CSV row counts as up unless it is Unavailable or Paused (RUNBOOK 3)."""
        return str(self.state_info).lower() not in {"unavailable", "paused"}


class StorageJob(PSModel):
    name: str
    job_state: open_enum(StorageJobState) = StorageJobState.RUNNING
    percent_complete: int | None = None
    bytes_processed: int | None = None
    bytes_total: int | None = None

    @property
    def progress(self) -> float | None:
        if self.bytes_total:
            return min(1.0, (self.bytes_processed or 0) / self.bytes_total)
        if self.percent_complete is not None:
            return self.percent_complete / 100
        return None


class VirtualDisk(PSModel):
    friendly_name: str
    health_status: open_enum(HealthStatus) = HealthStatus.UNKNOWN
    operational_status: Annotated[list[open_enum(OperationalStatus)], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )


class StoragePool(PSModel):
    friendly_name: str
    is_primordial: bool = False
    health_status: open_enum(HealthStatus) = HealthStatus.UNKNOWN
    operational_status: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    version: str | None = None


class SRReplica(PSModel):
    data_volume: str
    partition_id: str | None = None
    partition_size: int | None = None
    replication_status: open_enum(ReplicationStatus) | None = None
    num_of_bytes_remaining: int | None = None
    last_in_sync_time: PSDateTime = None


class SRGroup(PSModel):
    name: str
    computer_name: str | None = None
    id: str | None = None
    replication_mode: open_enum(ReplicationMode) | None = None
    log_size_in_bytes: int | None = None
    log_volume: str | None = None
    async_rpo: int | None = Field(None, alias="AsyncRPO")
    is_primary: bool | None = None
    is_encrypted: bool | None = None
    is_cluster: bool | None = None
    is_write_consistency: bool | None = None  # New-SRPartnership -EnableConsistencyGroups
    replicas: Annotated[list[SRReplica], BeforeValidator(_as_list)] = Field(default_factory=list)

    @property
    def bytes_remaining(self) -> int:
        return sum(r.num_of_bytes_remaining or 0 for r in self.replicas)


class SRPartnership(PSModel):
    source_computer_name: str
    source_rg_name: str = Field(alias="SourceRGName")
    destination_computer_name: str
    destination_rg_name: str = Field(alias="DestinationRGName")
    id: str | None = None


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


class RemotingState(PSModel):
    """WinRM and PowerShell remoting on one node (after ``Set-WSManQuickConfig``/``Enable-PSRemoting``)."""

    win_rm_status: str | None = Field(None, alias="WinRMStatus")
    win_rm_start_type: str | None = Field(None, alias="WinRMStartType")
    listeners: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    ps_remoting_enabled: bool = Field(False, alias="PSRemotingEnabled")

    @property
    def enabled(self) -> bool:
        return (self.ps_remoting_enabled and str(self.win_rm_status).lower() == "running"
                and bool(self.listeners))


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


class CauReport(PSModel):
    """``Get-CauReport -Last -Detailed``: how the most recent run ended (Status spelling UNCONFIRMED)."""

    present: bool = True
    run_id: str | None = None
    run_start_time: PSDateTime = None
    status: str | None = None
    node_results: Annotated[list[CauNodeResult], BeforeValidator(_as_list)] = Field(default_factory=list)


class OsVersion(PSModel):
    current_build_number: int
    ubr: int | None = Field(None, alias="UBR")
    display_version: str | None = None
    product_name: str | None = None
    last_boot_up_time: PSDateTime = None

    @property
    def build(self) -> str:
        return f"{self.current_build_number}.{self.ubr}" if self.ubr is not None else str(self.current_build_number)


class RegistryValues(PSModel):
    """The two upgrade registry values on one node (None = not set)."""

    refs_enable_metadata_validation: int | None = None
    vid_parameters_key_exists: bool = False
    skip_small_local_allocations: int | None = None

    @property
    def fix_applied(self) -> bool:
        return self.refs_enable_metadata_validation == 0 and self.skip_small_local_allocations == 0


class AzureRegistration(PSModel):
    """``Get-AzureStackHCI`` on a node."""

    registration_status: open_enum(RegistrationStatus) | None = None
    connection_status: str | None = None
    cluster_status: str | None = None


class SecureBoot(PSModel):
    state: open_enum(SecureBootState)
    detail: str | None = None


class VmSummary(PSModel):
    """Virtual machines hosted by one node."""

    total: int = 0
    running: int = 0
    dynamic_memory_running: int = 0
    running_names: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)


class PathInfo(PSModel):
    path: str
    exists: bool
    is_container: bool | None = None
    length: int | None = None


class StagingInfo(PSModel):
    """What an extracted ISO folder holds on one node."""

    path: str
    exists: bool
    has_setup: bool = False
    file_count: int = 0
    total_bytes: int = 0


class SetupStarted(PSModel):
    """setup.exe was started for an in-place upgrade (it restarts the node when installed)."""

    started: bool
    setup_path: str


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


class VmVersion(PSModel):
    name: str
    host: str | None = None
    state: str | None = None
    version: str | None = None
    highest_supported: str | None = None
