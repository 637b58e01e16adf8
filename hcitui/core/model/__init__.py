"""Domain types: the objects of RUNBOOK section 3, as PowerShell returns them.

Every model accepts PowerShell's PascalCase property names (``OwnerNode``) as well as
our snake_case names. Enumerations are *open*: a value we know becomes the enum member,
any other string a real host sends is kept as that string and shown as it is. A new
Windows build that adds a state must never crash the console.

Split by domain (:mod:`.base`, :mod:`.cluster`, :mod:`.storage`, :mod:`.sr`, :mod:`.cau`,
:mod:`.host`, :mod:`.upgrade`); every public name is here, so ``model.X`` reads the same everywhere.
"""

from __future__ import annotations

from hcitui.core.model.base import PSDateTime, PSEnum, PSModel, open_enum
from hcitui.core.model.cau import (
    CauClusterRole,
    CauNodeResult,
    CauNodeResultStatus,
    CauNodeStatus,
    CauReport,
    CauRun,
    CauRunStarted,
    CauRunState,
    CauScanUpdate,
    CauSetupResult,
    CoordinatorReach,
    CoordinatorState,
)
from hcitui.core.model.cluster import (
    ClusterGroup,
    ClusterNode,
    ClusterValidation,
    DrainStatus,
    FunctionalLevel,
    GroupState,
    NodeState,
    NodeStatusInformation,
)
from hcitui.core.model.host import (
    AzureRegistration,
    PathInfo,
    RegistrationStatus,
    RemotingState,
    SecureBoot,
    SecureBootState,
    VmSummary,
    VmVersion,
)
from hcitui.core.model.offline import (
    CLUSTER_SERVICE,
    SERVICE_AUTOMATIC,
    SERVICE_DISABLED,
    ClusterService,
    CsvResource,
    FileHash,
    OfflineNode,
    PackageInstall,
    Volume,
)
from hcitui.core.model.readiness import (
    AKS_MODULES,
    INFRASTRUCTURE_VOLUME_BYTES,
    INFRASTRUCTURE_VOLUME_NAME,
    MOC_SERVICES,
    NETWORK_ATC,
    REQUIRED_OPTIONAL_FEATURES,
    REQUIRED_WINDOWS_FEATURES,
    BitLockerVolume,
    ClusterReadiness,
    DeviceGuard,
    Language,
    ModuleInfo,
    NodeReadiness,
    OptionalFeature,
    PoolSpace,
    ServiceInfo,
    Tpm,
    WindowsFeature,
)
from hcitui.core.model.remedies import BitLockerVolumeState, FeatureInstall, OptionalFeatureEnable
from hcitui.core.model.sr import (
    INITIAL_SYNC_STATES,
    REPLICATING_STATES,
    ReplicationMode,
    ReplicationStatus,
    SRGroup,
    SRPartnership,
    SRReplica,
)
from hcitui.core.model.storage import (
    CsvState,
    CsvStateInfo,
    HealthStatus,
    OperationalStatus,
    StorageJob,
    StorageJobState,
    StoragePool,
    VirtualDisk,
)
from hcitui.core.model.upgrade import (
    SETUP_EXIT_CODES,
    SETUP_LOG_FOLDER,
    SETUP_SUCCESS_CODES,
    UPGRADE_FROM_BUILD,
    UPGRADE_TO_BUILD,
    OsUpgradeStatus,
    OsVersion,
    RegistryValues,
    SetupStarted,
    StagingInfo,
    setup_exit_hex,
    setup_exit_meaning,
)

__all__ = [
    "INITIAL_SYNC_STATES", "REPLICATING_STATES", "SETUP_EXIT_CODES", "SETUP_LOG_FOLDER", "SETUP_SUCCESS_CODES",
    "UPGRADE_FROM_BUILD", "UPGRADE_TO_BUILD",
    "BitLockerVolumeState", "FeatureInstall", "OptionalFeatureEnable",
    "AzureRegistration", "CauClusterRole", "CauNodeResult", "CauNodeResultStatus", "CauNodeStatus", "CauReport",
    "CauRun", "CauRunStarted", "CauRunState", "CauScanUpdate", "CauSetupResult", "ClusterGroup", "ClusterNode",
    "ClusterValidation", "CoordinatorReach", "CoordinatorState", "CsvState", "CsvStateInfo", "DrainStatus",
    "FunctionalLevel", "GroupState", "HealthStatus", "NodeState", "NodeStatusInformation", "OperationalStatus",
    "OsUpgradeStatus", "OsVersion", "PSDateTime", "PSEnum", "PSModel", "PathInfo", "RegistrationStatus",
    "RegistryValues", "RemotingState", "ReplicationMode", "ReplicationStatus", "SRGroup", "SRPartnership",
    "SRReplica", "SecureBoot", "SecureBootState", "SetupStarted", "StagingInfo", "StorageJob", "StorageJobState",
    "StoragePool", "VirtualDisk", "VmSummary", "VmVersion",
    "open_enum", "setup_exit_hex", "setup_exit_meaning",
    # Solution-upgrade readiness
    "AKS_MODULES", "INFRASTRUCTURE_VOLUME_BYTES", "INFRASTRUCTURE_VOLUME_NAME", "MOC_SERVICES", "NETWORK_ATC",
    "REQUIRED_OPTIONAL_FEATURES", "REQUIRED_WINDOWS_FEATURES",
    "BitLockerVolume", "ClusterReadiness", "DeviceGuard", "Language", "ModuleInfo", "NodeReadiness", "OptionalFeature",
    "PoolSpace", "ServiceInfo", "Tpm", "WindowsFeature",
    # Fast offline update
    "CLUSTER_SERVICE", "SERVICE_AUTOMATIC", "SERVICE_DISABLED",
    "ClusterService", "CsvResource", "FileHash", "OfflineNode", "PackageInstall", "Volume",
]
