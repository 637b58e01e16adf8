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
    # Where it runs: a scheduled task (SYSTEM) whose runner records setup's exit code in result_path.
    task_name: str | None = None
    result_path: str | None = None
    already_running: bool = False  # the task was running already: nothing new was started


def _as_list_keep_commas(value: Any) -> Any:
    """Like ``_as_list`` for lines of text: one line with commas in it stays one line."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


# setup.exe's exit codes, as Microsoft documents them. Sources:
# - "Windows Setup Command-Line Options" (learn.microsoft.com/windows-hardware/manufacture/desktop/
#   windows-setup-command-line-options; public source MicrosoftDocs/commercialization-public
#   manufacture/desktop/windows-setup-command-line-options.md): the /Auto exit codes 0x3, 0x5, 0x7 and
#   the /Compat codes 0xC1900210, 0xC1900208, 0xC1900204, 0xC1900200, 0xC190020E;
# - "Upgrade error codes" (MicrosoftDocs/windows-itpro-docs windows/deployment/upgrade/upgrade-error-codes.md):
#   the same compatibility result codes, and 0xC1900101, the generic rollback code
#   (windows/deployment/upgrade/resolution-procedures.md: "usually indicates that an incompatible driver").
# Each entry: (name, meaning, what to do before trying again). The names and meanings are Microsoft's; the
# advice is hcitui's.
SETUP_EXIT_CODES: dict[int, tuple[str, str, str]] = {
    0x0: ("", "setup exited without an error", ""),
    0x3: ("CONX_SETUP_EXITCODE_CONTINUE_REBOOT", "the upgrade was successful (setup restarts the node)", ""),
    0x5: ("CONX_SETUP_EXITCODE_RESUME_AT_COMPAT_REPORT",
          "the compatibility check found issues that must be resolved before the upgrade can continue",
          "read the compatibility report (CompatData XML) and setuperr.log in the Panther folder and resolve "
          "what they name"),
    0x7: ("CONX_SETUP_EXITCODE_AUTO_INSTALL_FAIL", "the installation option (upgrade keeping apps and data) "
          "was not available", "check that the staged media is the 23H2 ISO for this node's edition"),
    0xC1900210: ("MOSETUP_E_COMPAT_SCANONLY", "setup only scanned for compatibility and found no issue; "
                 "it did not install", "check setup's switches (hcitui never passes /Compat ScanOnly)"),
    0xC1900208: ("MOSETUP_E_COMPAT_INSTALLREQ_BLOCK", "setup found an actionable compatibility issue, such as "
                 "an incompatible app", "read setuperr.log and the CompatData XML in the Panther folder, and "
                 "remove or update what blocks the upgrade"),
    0xC1900204: ("MOSETUP_E_COMPAT_MIGCHOICE_BLOCK", "the migration choice selected is not available (keeping "
                 "apps and data is not possible from this edition)",
                 "check that the staged media matches the installed edition"),
    0xC1900200: ("MOSETUP_E_COMPAT_SYSREQ_BLOCK", "the computer is not eligible for this version",
                 "check the node against the 23H2 hardware requirements"),
    0xC190020E: ("MOSETUP_E_INSTALLDISKSPACE_BLOCK", "the computer does not have enough free space to install",
                 "free space on the system drive"),
    0xC1900101: ("", "setup rolled back (a generic rollback code, usually an incompatible driver)",
                 "read the rollback logs in $WINDOWS.~BT\\Sources\\Rollback and update or remove the driver "
                 "they name"),
}
SETUP_SUCCESS_CODES = frozenset({0x0, 0x3})
SETUP_LOG_FOLDER = r"C:\$WINDOWS.~BT\Sources\Panther"
"""Where setup logs its down-level phase: setupact.log (actions) and setuperr.log (errors); a failed
upgrade's rollback logs go to ``$WINDOWS.~BT\\Sources\\Rollback``. Source: "Log files"
(MicrosoftDocs/windows-itpro-docs windows/deployment/upgrade/log-files.md) and "Windows Setup Log Files
and Event Logs" (MicrosoftDocs/commercialization-public manufacture/desktop/windows-setup-log-files-and-event-logs.md)."""


def setup_exit_hex(code: int) -> str:
    """An exit code as Windows writes it: ``0xC1900208`` (PowerShell's ExitCode is a signed Int32)."""
    return f"0x{code & 0xFFFFFFFF:X}"


def setup_exit_meaning(code: int) -> tuple[str, str]:
    """(meaning, remedy) of setup's exit code; an undocumented one says so."""
    name, meaning, remedy = SETUP_EXIT_CODES.get(code & 0xFFFFFFFF, ("", "", ""))
    if not meaning:
        return ("an exit code Microsoft's setup documentation does not list",
                "read setuperr.log and setupact.log in the Panther folder (SetupDiag reads them too)")
    return (f"{name}: {meaning}" if name else meaning), remedy


class OsUpgradeStatus(PSModel):
    """How the setup that ``start_os_upgrade`` handed to a scheduled task is doing on one node.

    The task's state and last result come from Get-ScheduledTask / Get-ScheduledTaskInfo; the exit code
    and times from the file the task's runner writes once ``Start-Process -Wait -PassThru`` returns.
    """

    task_name: str
    task_present: bool = False
    task_state: str | None = None  # Get-ScheduledTask State: Unknown, Disabled, Queued, Ready, Running
    last_task_result: int | None = None  # Get-ScheduledTaskInfo LastTaskResult (0x41301 while running)
    last_run_time: PSDateTime = None
    result_path: str | None = None
    runner_started: PSDateTime = None  # the runner began (it then starts setup.exe)
    setup_path: str | None = None
    exit_recorded: bool = False  # the runner wrote setup's exit code
    exit_code: int | None = None
    setup_finished: PSDateTime = None
    runner_error: str | None = None  # the runner could not start setup (Start-Process failed)
    error_log_path: str = SETUP_LOG_FOLDER + r"\setuperr.log"
    error_log_tail: Annotated[list[str], BeforeValidator(_as_list_keep_commas)] = Field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.task_present and (self.task_state or "").lower() in ("running", "queued")

    @property
    def exit_hex(self) -> str | None:
        return setup_exit_hex(self.exit_code) if self.exit_code is not None else None

    @property
    def failed(self) -> bool:
        """Setup ended and will not upgrade this node: a recorded failure, or a runner that could not start it."""
        if self.runner_error:
            return True
        return self.exit_recorded and self.exit_code is not None and \
            (self.exit_code & 0xFFFFFFFF) not in SETUP_SUCCESS_CODES

    @property
    def ended_unrecorded(self) -> bool:
        """The task is not running, and no exit code was recorded: setup and its runner died without a word
        (or were never started by the task at all)."""
        return not self.running and not self.exit_recorded and not self.runner_error


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
