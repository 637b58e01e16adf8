"""The fast offline update's operations (seed 004, "Perform a fast, offline update of all servers in a cluster").

Sources, each cited again next to what it supports:

- MSLab "S2D and Emergency Patching" (microsoft/MSLab ``Scenarios/S2D and Emergency Patching/readme.md``): the
  CSVs taken offline with ``Get-ClusterSharedVolume | Stop-ClusterResource`` and back with ``Start-ClusterResource``;
  the cluster service is ``ClusSvc``, ``Set-Service -Name ClusSvc -StartupType Disabled`` before the patching and
  ``Automatic`` (then started) after it.
- ``Stop-Cluster`` (FailoverClusters/Stop-Cluster.md): "By default the cmdlet will ask for confirmation": ``-Force``.
- ``Start-Cluster`` (FailoverClusters/Start-Cluster.md): "This cmdlet cannot be run remotely without Credential
  Security Service Provider (CredSSP) authentication on the server computer." hcitui runs in a WinRM session, so
  the cluster is started as MSLab starts it: the cluster service started on every node, each in its own session
  (``Set-Service -Status Running``, Set-Service.md: "Set-Service can start, stop, suspend, or pause a service").
- ``Add-WindowsPackage -Online -PackagePath P -NoRestart`` (DISM/Add-WindowsPackage.md: .cab or .msu;
  "-NoRestart ... will keep the application from prompting for a restart or keep it from restarting
  automatically"); the read-back: ``Get-HotFix -Id`` (HotFixID) and ``Get-WindowsPackage -Online`` PackageState.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from hcitui.core import model
from hcitui.ps.base import NoParams, Operation, Params, Scope
from hcitui.ps.reads import STOP

KB_ID = r"^KB\d{6,8}$"

_SERVICE = r"""$svc = Get-Service -Name ClusSvc
$service = [pscustomobject]@{ Name = 'ClusSvc'; Status = [string]$svc.Status; StartType = [string]$svc.StartType }"""

_OFFLINE_NODE = rf"""{_SERVICE}
$cv = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$fixes = @(foreach ($id in $HotFixes) {{
    $fix = Get-HotFix -Id $id -ErrorAction SilentlyContinue
    if ($fix) {{ [string]$fix.HotFixID }}
}})
# UNCONFIRMED: the spelling InstallPending of PackageState (MSLab compares it with 'Installed' only).
$pending = @(Get-WindowsPackage -Online | Where-Object {{ [string]$_.PackageState -eq 'InstallPending' }}).Count
ConvertTo-Json -Compress -Depth 3 -InputObject ([pscustomobject]@{{
    Service            = $service
    CurrentBuildNumber = [int]$cv.CurrentBuildNumber
    UBR                = [int]$cv.UBR
    LastBootUpTime     = $os.LastBootUpTime.ToUniversalTime().ToString('o')
    HotFixes           = $fixes
    PendingPackages    = $pending
}})"""


class HotFixParams(Params):
    hot_fixes: list[Annotated[str, StringConstraints(pattern=KB_ID)]] = Field(
        default_factory=list, max_length=16, description="The KB numbers of the update packages (KB5048654)")


get_offline_node = Operation(
    name="get_offline_node",
    summary="The cluster service's state and start type, OS revision, last boot, and which update KBs are in",
    params=HotFixParams,
    result=model.OfflineNode,
    mutates=False,
    timeout=120,
    script=rf"""
param([string[]]$HotFixes = @())
{STOP}
{_OFFLINE_NODE}
""",
)


class StartupParams(Params):
    startup_type: Literal["Disabled", "Automatic"]
    hot_fixes: list[Annotated[str, StringConstraints(pattern=KB_ID)]] = Field(
        default_factory=list, max_length=16, description="The KB numbers of the update packages (KB5048654)")


set_cluster_service_startup = Operation(
    name="set_cluster_service_startup",
    summary="Set the cluster service's start type on this node (Set-Service -Name ClusSvc -StartupType)",
    params=StartupParams,
    result=model.OfflineNode,
    mutates=True,
    timeout=120,
    script=rf"""
param([Parameter(Mandatory)][string]$StartupType, [string[]]$HotFixes = @())
{STOP}
# Disabled keeps the cluster service from starting while the node is updated and restarted; Automatic puts
# it back (seed 004 steps 4 and 7; MSLab "S2D and Emergency Patching": Set-Service -Name ClusSvc -StartupType).
Set-Service -Name ClusSvc -StartupType $StartupType
{_OFFLINE_NODE}
""",
)

start_cluster_service = Operation(
    name="start_cluster_service",
    summary="Start the cluster service on this node (Set-Service -Name ClusSvc -Status Running)",
    params=HotFixParams,
    result=model.OfflineNode,
    mutates=True,
    timeout=300,
    script=rf"""
param([string[]]$HotFixes = @())
{STOP}
# Start-Cluster "cannot be run remotely without CredSSP" (FailoverClusters/Start-Cluster.md): each node starts
# its own cluster service instead, as MSLab's "Start cluster service" does, which is what Start-Cluster does.
Set-Service -Name ClusSvc -Status Running
{_OFFLINE_NODE}
""",
)

stop_cluster = Operation(
    name="stop_cluster",
    summary="Stop the cluster: the cluster service on every node, and every role with it (Stop-Cluster -Force)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=model.ClusterService,
    mutates=True,
    timeout=900,
    script=rf"""
param()
{STOP}
# Stop-Cluster asks for confirmation by default and a remote pipeline cannot answer: -Force
# (FailoverClusters/Stop-Cluster.md). It returns when the cluster service has stopped on every node.
Stop-Cluster -Force
{_SERVICE}
ConvertTo-Json -Compress -InputObject $service
""",
)

_CSV_ROWS = r"""$rows = @(Get-ClusterSharedVolume | ForEach-Object {
    [pscustomobject]@{ Name = [string]$_.Name; State = [string]$_.State }
})
ConvertTo-Json -InputObject $rows -Depth 3 -Compress"""

get_csv_resources = Operation(
    name="get_csv_resources",
    summary="Cluster Shared Volume resources and their state (Get-ClusterSharedVolume)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=list[model.CsvResource],
    mutates=False,
    timeout=60,
    script=rf"""
param()
{STOP}
{_CSV_ROWS}
""",
)

stop_csv_resources = Operation(
    name="stop_csv_resources",
    summary="Take every Cluster Shared Volume offline (Get-ClusterSharedVolume | Stop-ClusterResource)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=list[model.CsvResource],
    mutates=True,
    timeout=900,
    script=rf"""
param()
{STOP}
# MSLab "S2D and Emergency Patching", "Stop CSVs": Get-ClusterSharedVolume | Stop-ClusterResource. What runs
# on a volume (its VMs) loses its storage. Stop-ClusterResource has no -Force and does not ask.
Get-ClusterSharedVolume | Where-Object {{ [string]$_.State -ne 'Offline' }} | Stop-ClusterResource | Out-Null
{_CSV_ROWS}
""",
)

start_csv_resources = Operation(
    name="start_csv_resources",
    summary="Bring every Cluster Shared Volume online (Get-ClusterSharedVolume | Start-ClusterResource)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=list[model.CsvResource],
    mutates=True,
    timeout=900,
    script=rf"""
param()
{STOP}
# MSLab "S2D and Emergency Patching", "Start CSVs": Get-ClusterSharedVolume | Start-ClusterResource.
Get-ClusterSharedVolume | Where-Object {{ [string]$_.State -ne 'Online' }} | Start-ClusterResource | Out-Null
{_CSV_ROWS}
""",
)

get_volumes = Operation(
    name="get_volumes",
    summary="Volumes with their file system and health (Get-Volume), as seed 004 step 10 monitors them",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=list[model.Volume],
    mutates=False,
    timeout=60,
    script=rf"""
param()
{STOP}
$rows = @(Get-Volume | ForEach-Object {{
    [pscustomobject]@{{
        FileSystemLabel = [string]$_.FileSystemLabel
        FileSystem      = [string]$_.FileSystem
        HealthStatus    = [string]$_.HealthStatus
    }}
}})
ConvertTo-Json -InputObject $rows -Depth 3 -Compress
""",
)


class PackageParams(Params):
    package_path: str = Field(min_length=3, max_length=32767, description="The staged package on this node")
    hot_fix_id: str = Field(pattern=KB_ID, description="Its KB number, from its file name")


install_update_package = Operation(
    name="install_update_package",
    summary="Install one update package without restarting (Add-WindowsPackage -Online -NoRestart), read back",
    params=PackageParams,
    result=model.PackageInstall,
    mutates=True,
    timeout=7200,
    script=rf"""
param([Parameter(Mandatory)][string]$PackagePath, [Parameter(Mandatory)][string]$HotFixId)
{STOP}
if (-not (Test-Path -LiteralPath $PackagePath -PathType Leaf)) {{ throw "The package '$PackagePath' is not on this node: stage it first." }}
# DISM/Add-WindowsPackage.md: a .cab or .msu, -Online for the running OS, -NoRestart so it never restarts
# the node by itself (hcitui restarts every node once all are updated).
$result = Add-WindowsPackage -Online -PackagePath $PackagePath -NoRestart
$fix = Get-HotFix -Id $HotFixId -ErrorAction SilentlyContinue
# UNCONFIRMED: the spelling InstallPending of PackageState (MSLab compares it with 'Installed' only).
$pending = @(Get-WindowsPackage -Online | Where-Object {{ [string]$_.PackageState -eq 'InstallPending' }}).Count
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    PackagePath     = $PackagePath
    HotFixId        = $HotFixId
    RestartNeeded   = [bool]$result.RestartNeeded
    HotFixListed    = [bool]$fix
    PendingPackages = $pending
}})
""",
)

OFFLINE_OPS = [get_offline_node, set_cluster_service_startup, start_cluster_service, stop_cluster,
               get_csv_resources, stop_csv_resources, start_csv_resources, get_volumes, install_update_package]
