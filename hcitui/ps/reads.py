"""Read operations: everything the verification screen and the prerequisites read.

None of these change anything (``mutates=False``). Scripts cast enums to strings and wrap
collections in ``@()`` and ``-InputObject`` so a single row still arrives as a list.
"""

from __future__ import annotations

from pydantic import Field

from hcitui.core import model
from hcitui.ps.base import NoParams, Operation, Params, Scope

STOP = "$ErrorActionPreference = 'Stop'"

get_cluster_nodes = Operation(
    name="get_cluster_nodes",
    summary="Cluster nodes with state, drain status, site and build (Get-ClusterNode)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=list[model.ClusterNode],
    mutates=False,
    timeout=30,
    script=rf"""
param()
{STOP}
$rows = @(Get-ClusterNode | ForEach-Object {{
    [pscustomobject]@{{
        Name              = [string]$_.Name
        Id                = [string]$_.Id
        State             = [string]$_.State
        DrainStatus       = [string]$_.DrainStatus
        StatusInformation = [string]$_.StatusInformation
        FaultDomain       = @(foreach ($fd in $_.FaultDomain) {{ [string]$fd }})
        # UNCONFIRMED: BuildNumber on Get-ClusterNode's output (no public page shows it; the WMI class
        # MSCluster_Node has it). [int] of a missing property is 0: get_os_version reads the registry.
        BuildNumber       = [int]$_.BuildNumber
        NodeWeight        = [int]$_.NodeWeight
        DynamicWeight     = [int]$_.DynamicWeight
    }}
}})
ConvertTo-Json -InputObject $rows -Depth 4 -Compress
""",
)

get_cluster_groups = Operation(
    name="get_cluster_groups",
    summary="Cluster groups (roles) with owner node and state (Get-ClusterGroup)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=list[model.ClusterGroup],
    mutates=False,
    timeout=30,
    script=rf"""
param()
{STOP}
$rows = @(Get-ClusterGroup | ForEach-Object {{
    [pscustomobject]@{{
        Name      = [string]$_.Name
        OwnerNode = [string]$_.OwnerNode
        State     = [string]$_.State
        GroupType = [string]$_.GroupType
    }}
}})
ConvertTo-Json -InputObject $rows -Depth 3 -Compress
""",
)

get_csv_state = Operation(
    name="get_csv_state",
    summary="Cluster Shared Volume state per volume and node (Get-ClusterSharedVolumeState)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=list[model.CsvState],
    mutates=False,
    timeout=30,
    script=rf"""
param()
{STOP}
$rows = @(Get-ClusterSharedVolumeState | ForEach-Object {{
    [pscustomobject]@{{
        Name                         = [string]$_.Name
        VolumeName                   = [string]$_.VolumeName
        VolumeFriendlyName           = [string]$_.VolumeFriendlyName
        Node                         = [string]$_.Node
        StateInfo                    = [string]$_.StateInfo
        FileSystemRedirectedIOReason = [string]$_.FileSystemRedirectedIOReason
        BlockRedirectedIOReason      = [string]$_.BlockRedirectedIOReason
    }}
}})
ConvertTo-Json -InputObject $rows -Depth 3 -Compress
""",
)

get_storage_jobs = Operation(
    name="get_storage_jobs",
    summary="Storage jobs (repair, regeneration) with progress (Get-StorageJob)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=list[model.StorageJob],
    mutates=False,
    timeout=30,
    script=rf"""
param()
{STOP}
$rows = @(Get-StorageJob | ForEach-Object {{
    [pscustomobject]@{{
        Name            = [string]$_.Name
        JobState        = [string]$_.JobState
        PercentComplete = [int]$_.PercentComplete
        BytesProcessed  = [int64]$_.BytesProcessed
        BytesTotal      = [int64]$_.BytesTotal
    }}
}})
ConvertTo-Json -InputObject $rows -Depth 3 -Compress
""",
)

get_virtual_disks = Operation(
    name="get_virtual_disks",
    summary="Virtual disks with health and operational status (Get-VirtualDisk)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=list[model.VirtualDisk],
    mutates=False,
    timeout=30,
    script=rf"""
param()
{STOP}
$rows = @(Get-VirtualDisk | ForEach-Object {{
    [pscustomobject]@{{
        FriendlyName      = [string]$_.FriendlyName
        HealthStatus      = [string]$_.HealthStatus
        OperationalStatus = @(foreach ($status in $_.OperationalStatus) {{ [string]$status }})
    }}
}})
ConvertTo-Json -InputObject $rows -Depth 3 -Compress
""",
)

get_storage_pools = Operation(
    name="get_storage_pools",
    summary="Non-primordial storage pools with health and version (Get-StoragePool)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=list[model.StoragePool],
    mutates=False,
    timeout=30,
    script=rf"""
param()
{STOP}
$rows = @(Get-StoragePool -IsPrimordial $false | ForEach-Object {{
    [pscustomobject]@{{
        FriendlyName      = [string]$_.FriendlyName
        IsPrimordial      = [bool]$_.IsPrimordial
        HealthStatus      = [string]$_.HealthStatus
        OperationalStatus = @(foreach ($status in $_.OperationalStatus) {{ [string]$status }})
        Version           = [string]$_.Version
    }}
}})
ConvertTo-Json -InputObject $rows -Depth 3 -Compress
""",
)

get_sr_groups = Operation(
    name="get_sr_groups",
    summary="Storage Replica groups with their replicas and sync state (Get-SRGroup)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=list[model.SRGroup],
    mutates=False,
    timeout=60,
    script=rf"""
param()
{STOP}
$rows = @(Get-SRGroup | ForEach-Object {{
    [pscustomobject]@{{
        Name            = [string]$_.Name
        ComputerName    = [string]$_.ComputerName
        Id              = [string]$_.Id
        ReplicationMode = [string]$_.ReplicationMode
        LogSizeInBytes  = [int64]$_.LogSizeInBytes
        LogVolume       = [string]$_.LogVolume
        AsyncRPO        = [int]$_.AsyncRPO
        IsPrimary       = [bool]$_.IsPrimary
        IsEncrypted     = [bool]$_.IsEncrypted
        IsCluster       = [bool]$_.IsCluster
        IsWriteConsistency = [bool]$_.IsWriteConsistency
        Replicas        = @(foreach ($replica in $_.Replicas) {{
            [pscustomobject]@{{
                DataVolume          = [string]$replica.DataVolume
                PartitionId         = [string]$replica.PartitionId
                PartitionSize       = [int64]$replica.PartitionSize
                ReplicationStatus   = [string]$replica.ReplicationStatus
                NumOfBytesRemaining = [int64]$replica.NumOfBytesRemaining
                LastInSyncTime      = if ($replica.LastInSyncTime) {{ $replica.LastInSyncTime.ToUniversalTime().ToString('o') }} else {{ $null }}
            }}
        }})
    }}
}})
ConvertTo-Json -InputObject $rows -Depth 5 -Compress
""",
)

get_sr_partnerships = Operation(
    name="get_sr_partnerships",
    summary="Storage Replica partnerships (Get-SRPartnership)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=list[model.SRPartnership],
    mutates=False,
    timeout=60,
    script=rf"""
param()
{STOP}
$rows = @(Get-SRPartnership | ForEach-Object {{
    [pscustomobject]@{{
        SourceComputerName      = [string]$_.SourceComputerName
        SourceRGName            = [string]$_.SourceRGName
        DestinationComputerName = [string]$_.DestinationComputerName
        DestinationRGName       = [string]$_.DestinationRGName
        Id                      = [string]$_.Id
    }}
}})
ConvertTo-Json -InputObject $rows -Depth 3 -Compress
""",
)


# Get-CauRun as get_cau_run reads it (the state first, then the run object while there is one).
CAU_RUN_JSON = r"""
# Get-CauRun.md's example output shows Node as the node's name ("Node      : NODE1"); a report's results
# name it Node.NodeName (AzureLocal-Supportability TSG/Update/Previous-CAU-run-status-was-canceled.md).
# Both are read: NodeName when the object has it, its text otherwise.
function Get-NodeName($node) { if ($node.NodeName) { [string]$node.NodeName } else { [string]$node } }
$out = @(Get-CauRun -ClusterName $cluster)
$run = $out | Where-Object { $_ -isnot [string] -and $_.PSObject.Properties['RunId'] } | Select-Object -First 1
$state = [string]($out | Where-Object { -not $_.PSObject.Properties['RunId'] } | Select-Object -First 1)
$result = [ordered]@{ State = $state }
if ($run) {
    $result.RunId = [string]$run.RunId
    $result.RunStartTime = $run.RunStartTime.ToUniversalTime().ToString('o')
    $result.CurrentOrchestrator = [string]$run.CurrentOrchestrator
    # UNCONFIRMED: CancelPending on Get-CauRun's run object (no Microsoft text shows it); false if absent.
    $result.CancelPending = [bool]$run.CancelPending
    $result.NodeStatusNotifications = @(foreach ($note in $run.NodeStatusNotifications) {
        [pscustomobject]@{ Node = $(Get-NodeName $note.Node); Status = [string]$note.Status
                           Timestamp = $note.Timestamp.ToUniversalTime().ToString('o') }
    })
    $result.NodeResults = @(foreach ($nodeResult in $run.NodeResults) {
        [pscustomobject]@{ Node = $(Get-NodeName $nodeResult.Node); Status = [string]$nodeResult.Status
                           ErrorRecordData = [string]$nodeResult.ErrorRecordData
                           NumberOfSucceededUpdates = [int]$nodeResult.NumberOfSucceededUpdates
                           NumberOfFailedUpdates = [int]$nodeResult.NumberOfFailedUpdates }
    })
}
ConvertTo-Json -InputObject ([pscustomobject]$result) -Depth 5 -Compress
"""

# The cluster the operation acts on. On a node hcitui passes no ClusterName and Get-Cluster names it; the
# CAU coordinator is no member, so there the ClusterClient passes it. Test-CauSetup's -ClusterName "is only
# required when this cmdlet isn't run on a failover cluster node" (MicrosoftDocs/windows-powershell-docs
# docset/winserver2022-ps/ClusterAwareUpdating/Test-CauSetup.md); the other CAU cmdlets take it the same way.
CAU_CLUSTER = r"""if (-not $ClusterName) { $ClusterName = (Get-Cluster).Name }
$cluster = $ClusterName"""


class CauClusterParams(Params):
    """The cluster a CAU operation acts on. Empty on a node (``(Get-Cluster).Name`` names it); the
    ClusterClient fills it in when the operation runs on the CAU coordinator, which is no member."""

    cluster_name: str | None = Field(None, min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$",
                                     description="The cluster, when this runs outside it (the CAU coordinator)")


get_cau_run = Operation(
    name="get_cau_run",
    summary="Cluster-Aware Updating run state and per-node progress (Get-CauRun)",
    scope=Scope.CLUSTER,
    coordinator=True,
    params=CauClusterParams,
    result=model.CauRun,
    mutates=False,
    timeout=60,
    script=rf"""
param([string]$ClusterName)
{STOP}
{CAU_CLUSTER}
{CAU_RUN_JSON}""",
)

# The CAU clustered role as Get-CauClusterRole writes it: one Name/Value setting per line
# (ClusterAwareUpdating/Get-CauClusterRole.md). Self-updating is on while the setting Status is Online
# (Disable-CauClusterRole sets it Offline); the role's cluster group is the one ResourceGroupName names
# (the same page's example output). Expects $role to hold the settings.
CAU_ROLE_JSON = r"""$settings = @{}
foreach ($pair in $role) { if ($pair.Name) { $settings[[string]$pair.Name] = [string]$pair.Value } }
$group = $null
if ($settings['ResourceGroupName']) {
    $group = Get-ClusterGroup -Name $settings['ResourceGroupName'] -ErrorAction SilentlyContinue
}
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{
    Present             = $true
    Online              = [bool]($group -and [string]$group.State -eq 'Online')
    SelfUpdatingEnabled = [bool]($settings['Status'] -eq 'Online')
    Reason              = $null
})
"""

get_cau_role = Operation(
    name="get_cau_role",
    summary="Is the Cluster-Aware Updating clustered role configured, and online (Get-CauClusterRole)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=model.CauClusterRole,
    mutates=False,
    timeout=60,
    script=rf"""
param()
{STOP}
try {{
    $role = @(Get-CauClusterRole -ClusterName (Get-Cluster).Name -ErrorAction Stop)
}} catch {{
    ConvertTo-Json -InputObject ([pscustomobject]@{{ Present = $false; Reason = $_.Exception.Message }}) -Compress
    return
}}
{CAU_ROLE_JSON}""",
)

get_os_version = Operation(
    name="get_os_version",
    summary="OS build, update revision and last boot time of a node (registry CurrentVersion)",
    params=NoParams,
    result=model.OsVersion,
    mutates=False,
    timeout=30,
    script=rf"""
param()
{STOP}
$cv = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
$os = Get-CimInstance -ClassName Win32_OperatingSystem
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    CurrentBuildNumber = [int]$cv.CurrentBuildNumber
    UBR                = [int]$cv.UBR
    DisplayVersion     = [string]$cv.DisplayVersion
    ProductName        = [string]$cv.ProductName
    LastBootUpTime     = $os.LastBootUpTime.ToUniversalTime().ToString('o')
}})
""",
)

get_registry_values = Operation(
    name="get_registry_values",
    summary="The two upgrade registry values (RefsEnableMetadataValidation, SkipSmallLocalAllocations)",
    params=NoParams,
    result=model.RegistryValues,
    mutates=False,
    timeout=30,
    script=rf"""
param()
{STOP}
$fs = Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\FileSystem' -Name RefsEnableMetadataValidation -ErrorAction Ignore
$vidKey = 'HKLM:\SYSTEM\CurrentControlSet\Services\Vid\Parameters'
$exists = Test-Path -LiteralPath $vidKey
$skip = if ($exists) {{ Get-ItemProperty -Path $vidKey -Name SkipSmallLocalAllocations -ErrorAction Ignore }} else {{ $null }}
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    RefsEnableMetadataValidation = if ($fs) {{ [int]$fs.RefsEnableMetadataValidation }} else {{ $null }}
    VidParametersKeyExists       = [bool]$exists
    SkipSmallLocalAllocations    = if ($skip) {{ [int]$skip.SkipSmallLocalAllocations }} else {{ $null }}
}})
""",
)

get_azure_registration = Operation(
    name="get_azure_registration",
    summary="Azure registration and connection status of a node (Get-AzureStackHCI)",
    params=NoParams,
    result=model.AzureRegistration,
    mutates=False,
    timeout=60,
    script=rf"""
param()
{STOP}
$hci = Get-AzureStackHCI
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    RegistrationStatus = [string]$hci.RegistrationStatus
    ConnectionStatus   = [string]$hci.ConnectionStatus
    ClusterStatus      = [string]$hci.ClusterStatus
}})
""",
)

get_secure_boot = Operation(
    name="get_secure_boot",
    summary="Secure Boot state of a node (Confirm-SecureBootUEFI)",
    params=NoParams,
    result=model.SecureBoot,
    mutates=False,
    timeout=30,
    script=rf"""
param()
{STOP}
try {{
    $on = Confirm-SecureBootUEFI -ErrorAction Stop
    $state = if ($on) {{ 'On' }} else {{ 'Off' }}
    $detail = $null
}} catch [System.PlatformNotSupportedException] {{
    $state = 'NotSupported'
    $detail = $_.Exception.Message
}} catch {{
    $state = 'Unknown'
    $detail = $_.Exception.Message
}}
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{ State = $state; Detail = $detail }})
""",
)

get_vm_summary = Operation(
    name="get_vm_summary",
    summary="Virtual machines on a node: total, running, running with dynamic memory (Get-VM)",
    params=NoParams,
    result=model.VmSummary,
    mutates=False,
    timeout=60,
    script=rf"""
param()
{STOP}
$vms = @(Get-VM)
$running = @($vms | Where-Object {{ [string]$_.State -eq 'Running' }})
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    Total                = $vms.Count
    Running              = $running.Count
    DynamicMemoryRunning = @($running | Where-Object {{ $_.DynamicMemoryEnabled }}).Count
    RunningNames         = @($running | ForEach-Object {{ [string]$_.Name }})
}})
""",
)


class PathParams(Params):
    path: str = Field(min_length=1, max_length=32767, description="A local path on the node")


get_path_info = Operation(
    name="get_path_info",
    summary="Does a file or folder exist on the node, and its size (Get-Item -LiteralPath)",
    params=PathParams,
    result=model.PathInfo,
    mutates=False,
    timeout=30,
    script=rf"""
param([Parameter(Mandatory)][string]$Path)
{STOP}
$item = Get-Item -LiteralPath $Path -Force -ErrorAction Ignore
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    Path        = $Path
    Exists      = [bool]$item
    IsContainer = if ($item) {{ [bool]$item.PSIsContainer }} else {{ $null }}
    Length      = if ($item -and -not $item.PSIsContainer) {{ [int64]$item.Length }} else {{ $null }}
}})
""",
)

READS = [
    get_cluster_nodes,
    get_cluster_groups,
    get_csv_state,
    get_storage_jobs,
    get_virtual_disks,
    get_storage_pools,
    get_sr_groups,
    get_sr_partnerships,
    get_cau_run,
    get_cau_role,
    get_os_version,
    get_registry_values,
    get_azure_registration,
    get_secure_boot,
    get_vm_summary,
    get_path_info,
]
