"""Solution-upgrade readiness: what the environment checker's upgrade checks look at, read with plain cmdlets.

One :class:`NodeReadiness` per node (``get_node_readiness``) holds every section of that node: the OS
version, Windows features, optional features, BitLocker volumes, WDAC, language, TPM and AKS/MOC leftovers.
Each section is read in its own try/catch on the node, so a section that could not be read (a module that
is not there) arrives as its ``*_error`` text and the rest of the node is still judged.

:class:`ClusterReadiness` (``get_cluster_readiness``) is the cluster-wide part: the cluster's name, its
functional level, the non-primordial pools with their size and allocation, and the virtual disks' names.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field

from hcitui.core.model.base import PSModel

# Seed 001 ("Required Windows features"): what Install-WindowsFeature installs for 23H2.
REQUIRED_WINDOWS_FEATURES: tuple[str, ...] = (
    "Failover-Clustering", "NetworkATC", "RSAT-AD-Powershell", "RSAT-Hyper-V-Tools", "Data-Center-Bridging",
    "NetworkVirtualization", "RSAT-AD-AdminCenter",
)
# Seed 001: what Enable-WindowsOptionalFeature enables for 23H2.
REQUIRED_OPTIONAL_FEATURES: tuple[str, ...] = (
    "Server-Core", "ServerManager-Core-RSAT", "ServerManager-Core-RSAT-Role-Tools",
    "ServerManager-Core-RSAT-Feature-Tools", "DataCenterBridging-LLDP-Tools", "Microsoft-Hyper-V",
    "Microsoft-Hyper-V-Offline", "Microsoft-Hyper-V-Online", "RSAT-Hyper-V-Tools-Feature",
    "Microsoft-Hyper-V-Management-PowerShell", "NetworkVirtualization", "RSAT-AD-Tools-Feature",
    "RSAT-ADDS-Tools-Feature", "DirectoryServices-DomainController-Tools", "ActiveDirectory-PowerShell",
    "DirectoryServices-AdministrativeCenter", "DNS-Server-Tools", "EnhancedStorage", "WCF-Services45",
    "WCF-TCP-PortSharing45", "NetworkController", "NetFx4ServerFeatures", "NetFx4", "MicrosoftWindowsPowerShellRoot",
    "MicrosoftWindowsPowerShell", "Server-Psh-Cmdlets", "KeyDistributionService-PSH-Cmdlets",
    "TlsSessionTicketKey-PSH-Cmdlets", "Tpm-PSH-Cmdlets", "FSRM-Infrastructure", "ServerCore-WOW64", "SmbDirect",
    "FailoverCluster-AdminPak", "Windows-Defender", "SMBBW", "FailoverCluster-FullServer", "FailoverCluster-PowerShell",
    "Microsoft-Windows-GroupPolicy-ServerAdminTools-Update", "DataCenterBridging", "BitLocker", "Dedup-Core",
    "FileServerVSSAgent", "FileAndStorage-Services", "Storage-Services", "File-Services", "CoreFileServer",
    "SystemDataArchiver", "ServerCoreFonts-NonCritical-Fonts-MinConsoleFonts",
    "ServerCoreFonts-NonCritical-Fonts-BitmapFonts", "ServerCoreFonts-NonCritical-Fonts-TrueType",
    "ServerCoreFonts-NonCritical-Fonts-UAPFonts", "ServerCoreFonts-NonCritical-Fonts-Support",
    "ServerCore-Drivers-General", "ServerCore-Drivers-General-WOW64", "NetworkATC",
)
NETWORK_ATC = "NetworkATC"
# The AKS hybrid (AKS on Azure Stack HCI 22H2) PowerShell modules whose presence means AKS/MOC is (or was)
# installed (powershellgallery.com/packages/AksHci: "AKS HCI Module", depends on "Moc").
AKS_MODULES: tuple[str, ...] = ("AksHci", "Moc")
# The MOC agent services on a node. UNCONFIRMED: no public Microsoft text names them; "wssdagent" (node agent)
# and "wssdcloudagent" (cloud agent) are the names AKS hybrid's logs and support threads use.
MOC_SERVICES: tuple[str, ...] = ("wssdagent", "wssdcloudagent")
# The infrastructure volume the 23H2 solution upgrade creates in the existing pool: "The required size for
# the infrastructure volume is 250 GB" and it is named Infrastructure_1 (MicrosoftDocs/azure-stack-docs
# azure-stack/hci/upgrade/validate-solution-upgrade-readiness.md, Remediations 6 and 7).
INFRASTRUCTURE_VOLUME_BYTES = 250 * 1000**3
INFRASTRUCTURE_VOLUME_NAME = "Infrastructure_1"


def _rows(value: Any) -> Any:
    """ConvertTo-Json collapses a one-element array to its element, and writes an empty one as null (or
    nothing): accept a single row (an object or a string) and null as a list of rows."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


_T = TypeVar("_T")
Rows = Annotated[list[_T], BeforeValidator(_rows)]  # a list of rows, however ConvertTo-Json wrote it


class WindowsFeature(PSModel):
    """``Get-WindowsFeature``: Name, InstallState (Installed, Available, InstallPending, Removed, ...)."""

    name: str
    install_state: str | None = None


class OptionalFeature(PSModel):
    """``Get-WindowsOptionalFeature -Online``: FeatureName, State (Enabled, Disabled, EnablePending, ...)."""

    feature_name: str
    state: str | None = None


class BitLockerVolume(PSModel):
    """``Get-BitLockerVolume``: one volume (MountPoint "C:"), its encryption and its protection (On/Off)."""

    mount_point: str
    volume_status: str | None = None
    protection_status: str | None = None
    volume_type: str | None = None


class DeviceGuard(PSModel):
    """``Win32_DeviceGuard``: whether a code integrity (WDAC) policy is enforced. 0 off, 1 audit, 2 enforced."""

    code_integrity_policy_enforcement_status: int | None = None
    usermode_code_integrity_policy_enforcement_status: int | None = None


class Language(PSModel):
    """The node's language: the OS install language (``Win32_OperatingSystem.OSLanguage``, an LCID such as
    1033), the system locale (``Get-WinSystemLocale``) and the culture (``Get-Culture``)."""

    os_language: int | None = Field(None, alias="OSLanguage")
    system_locale: str | None = None
    culture: str | None = None

    @property
    def english(self) -> bool | None:
        """Installed in English: the LCID's primary language is English (0x09), e.g. 1033 en-US, 2057 en-GB.
        None when the install language was not read."""
        if self.os_language is None:
            return None
        return (self.os_language & 0x3FF) == 0x09


class Tpm(PSModel):
    """``Get-Tpm``: the nine properties the environment checker warns on."""

    tpm_present: bool | None = None
    tpm_ready: bool | None = None
    tpm_enabled: bool | None = None
    tpm_activated: bool | None = None
    owner_clear_disabled: bool | None = None
    managed_auth_level: str | None = None
    auto_provisioning: str | None = None
    locked_out: bool | None = None
    lockout_count: int | None = None


class ModuleInfo(PSModel):
    """``Get-Module -ListAvailable``: a module installed on the node."""

    name: str
    version: str | None = None


class ServiceInfo(PSModel):
    """``Get-Service``: a service present on the node and its status."""

    name: str
    status: str | None = None


class NodeReadiness(PSModel):
    """Every readiness section of one node; a section that could not be read has its ``*_error`` set."""

    current_build_number: int | None = None
    ubr: int | None = Field(None, alias="UBR")
    display_version: str | None = None
    os_error: str | None = None
    features: Rows[WindowsFeature] = Field(default_factory=list)
    features_error: str | None = None
    optional_features: Rows[OptionalFeature] = Field(default_factory=list)
    optional_features_error: str | None = None
    bit_locker: Rows[BitLockerVolume] = Field(default_factory=list, alias="BitLocker")
    bit_locker_error: str | None = Field(None, alias="BitLockerError")
    device_guard: DeviceGuard | None = None
    device_guard_error: str | None = None
    language: Language | None = None
    language_error: str | None = None
    tpm: Tpm | None = None
    tpm_error: str | None = None
    aks_modules: Rows[ModuleInfo] = Field(default_factory=list, alias="AksModules")
    aks_modules_error: str | None = Field(None, alias="AksModulesError")
    moc_services: Rows[ServiceInfo] = Field(default_factory=list, alias="MocServices")
    moc_services_error: str | None = Field(None, alias="MocServicesError")


    @property
    def build(self) -> str | None:
        if self.current_build_number is None:
            return None
        return f"{self.current_build_number}.{self.ubr}" if self.ubr is not None else str(self.current_build_number)


class PoolSpace(PSModel):
    """``Get-StoragePool -IsPrimordial $false``: one pool with its version and space."""

    friendly_name: str
    version: str | None = None
    size: int | None = None
    allocated_size: int | None = None

    @property
    def free(self) -> int | None:
        if self.size is None or self.allocated_size is None:
            return None
        return max(0, self.size - self.allocated_size)


class ClusterReadiness(PSModel):
    """The cluster-wide readiness reads, each section with its own ``*_error``."""

    name: str | None = None
    functional_level: int | None = None
    cluster_error: str | None = None
    pools: Rows[PoolSpace] = Field(default_factory=list)
    pools_error: str | None = None
    virtual_disks: Rows[str] = Field(default_factory=list)  # the virtual disks' FriendlyName
    virtual_disks_error: str | None = None

