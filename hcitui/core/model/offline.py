"""What the fast offline update reads and changes (seed 004, "Perform a fast, offline update of all servers in
a cluster"): the cluster service of a node, the update packages installed on it, the CSV resources, the volumes,
and a staged file's hash."""

from __future__ import annotations

from pydantic import Field

from hcitui.core.model.base import PSDateTime, PSModel

CLUSTER_SERVICE = "ClusSvc"  # the Cluster service's name (MSLab "S2D and Emergency Patching")
_RUNNING, _STOPPED = "Running", "Stopped"  # ServiceControllerStatus values (Set-Service.md)
SERVICE_AUTOMATIC, SERVICE_DISABLED = "Automatic", "Disabled"  # Set-Service -StartupType values (Set-Service.md)


class ClusterService(PSModel):
    """``Get-Service -Name ClusSvc`` on one node: Status (Running, Stopped, ...) and StartType."""

    name: str = CLUSTER_SERVICE
    status: str | None = None
    start_type: str | None = None

    @property
    def running(self) -> bool:
        return (self.status or "").lower() == _RUNNING.lower()

    @property
    def stopped(self) -> bool:
        return (self.status or "").lower() == _STOPPED.lower()


class OfflineNode(PSModel):
    """One node as the fast offline update sees it: its cluster service, OS revision, last boot, which of the
    update packages' KBs Get-HotFix lists, and how many packages DISM shows waiting for a restart."""

    service: ClusterService
    current_build_number: int
    ubr: int | None = Field(None, alias="UBR")
    last_boot_up_time: PSDateTime = None
    hot_fixes: list[str] = Field(default_factory=list)  # the KBs asked for that Get-HotFix lists
    pending_packages: int = 0  # Get-WindowsPackage -Online rows with PackageState InstallPending

    @property
    def build(self) -> str:
        return f"{self.current_build_number}.{self.ubr}" if self.ubr is not None else str(self.current_build_number)


class PackageInstall(PSModel):
    """One package after ``Add-WindowsPackage -Online -PackagePath P -NoRestart``, read back."""

    package_path: str
    hot_fix_id: str
    restart_needed: bool = False
    hot_fix_listed: bool = False  # Get-HotFix -Id lists it already (before the restart: UNCONFIRMED)
    pending_packages: int = 0


class CsvResource(PSModel):
    """``Get-ClusterSharedVolume``: one CSV resource, its Name and State (Online, Offline, Failed...)."""

    name: str
    state: str | None = None

    @property
    def online(self) -> bool:
        return (self.state or "").lower() == "online"


class Volume(PSModel):
    """``Get-Volume``: a volume's label, file system and health."""

    file_system_label: str | None = None
    file_system: str | None = None
    health_status: str | None = None

    @property
    def healthy(self) -> bool:
        return (self.health_status or "").lower() == "healthy"


class FileHash(PSModel):
    """A file on a node: whether it is there, its length, and its SHA256 (``Get-FileHash``)."""

    path: str
    exists: bool
    length: int | None = None
    hash: str | None = None
