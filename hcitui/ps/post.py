"""Post-upgrade operations (RUNBOOK phase 8) and cluster validation. The updates cannot be undone."""

from __future__ import annotations

from pydantic import Field

from hcitui.core import model
from hcitui.ps.base import NoParams, Operation, Params, Scope
from hcitui.ps.reads import STOP

get_cluster_functional_level = Operation(
    name="get_cluster_functional_level",
    summary="Cluster functional level, and the level every node supports (Get-Cluster)",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=model.FunctionalLevel,
    mutates=False,
    timeout=30,
    script=rf"""
param()
{STOP}
$cluster = Get-Cluster
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    ClusterFunctionalLevel = [int]$cluster.ClusterFunctionalLevel
    # UNCONFIRMED: ClusterUpgradeVersion on Get-Cluster's output (the WMI class MSCluster_Cluster has it).
    UpgradeVersion         = [int]$cluster.ClusterUpgradeVersion
}})
""",
)

update_cluster_functional_level = Operation(
    name="update_cluster_functional_level",
    summary="Raise the cluster functional level (Update-ClusterFunctionalLevel -Force): CANNOT BE UNDONE",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=model.FunctionalLevel,
    mutates=True,
    timeout=600,
    script=rf"""
param()
{STOP}
Update-ClusterFunctionalLevel -Force | Out-Null
$cluster = Get-Cluster
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    ClusterFunctionalLevel = [int]$cluster.ClusterFunctionalLevel
    # UNCONFIRMED: ClusterUpgradeVersion on Get-Cluster's output (the WMI class MSCluster_Cluster has it).
    UpgradeVersion         = [int]$cluster.ClusterUpgradeVersion
}})
""",
)


class PoolParams(Params):
    friendly_name: str = Field(min_length=1, max_length=256, description="A non-primordial storage pool")


update_storage_pool = Operation(
    name="update_storage_pool",
    summary="Upgrade one storage pool's version (Update-StoragePool -Confirm:$false): CANNOT BE UNDONE",
    scope=Scope.CLUSTER,
    params=PoolParams,
    result=model.StoragePool,
    mutates=True,
    timeout=600,
    script=rf"""
param([Parameter(Mandatory)][string]$FriendlyName)
{STOP}
$pool = Get-StoragePool -FriendlyName $FriendlyName -IsPrimordial $false
Update-StoragePool -InputObject $pool -Confirm:$false | Out-Null
$pool = Get-StoragePool -FriendlyName $FriendlyName -IsPrimordial $false
ConvertTo-Json -Compress -Depth 3 -InputObject ([pscustomobject]@{{
    FriendlyName      = [string]$pool.FriendlyName
    IsPrimordial      = [bool]$pool.IsPrimordial
    HealthStatus      = [string]$pool.HealthStatus
    OperationalStatus = @(foreach ($status in $pool.OperationalStatus) {{ [string]$status }})
    Version           = [string]$pool.Version
}})
""",
)

get_vm_versions = Operation(
    name="get_vm_versions",
    summary="Virtual machines on this node with their configuration version and the highest supported",
    params=NoParams,
    result=list[model.VmVersion],
    mutates=False,
    timeout=60,
    script=rf"""
param()
{STOP}
# -Default: the host's default configuration version (Hyper-V/Get-VMHostSupportedVersion.md).
# UNCONFIRMED: the Version property of what it writes (the page shows no output).
$highest = (Get-VMHostSupportedVersion -Default | Select-Object -First 1).Version
$rows = @(Get-VM | ForEach-Object {{
    [pscustomobject]@{{
        Name             = [string]$_.Name
        Host             = [string]$env:COMPUTERNAME
        State            = [string]$_.State
        Version          = [string]$_.Version
        HighestSupported = [string]$highest
    }}
}})
ConvertTo-Json -InputObject $rows -Depth 3 -Compress
""",
)


class VmParams(Params):
    name: str = Field(min_length=1, max_length=256, description="A virtual machine on this node (shut down)")


update_vm_version = Operation(
    name="update_vm_version",
    summary="Upgrade one shut-down VM's configuration version (Update-VMVersion -Force): CANNOT BE UNDONE",
    params=VmParams,
    result=model.VmVersion,
    mutates=True,
    timeout=300,
    script=rf"""
param([Parameter(Mandatory)][string]$Name)
{STOP}
$vm = Get-VM -Name $Name
if ([string]$vm.State -ne 'Off') {{ throw "VM '$Name' is $($vm.State): shut it down before updating its configuration version." }}
Update-VMVersion -VM $vm -Force -Confirm:$false | Out-Null
$vm = Get-VM -Name $Name
# -Default: the host's default configuration version (Hyper-V/Get-VMHostSupportedVersion.md).
# UNCONFIRMED: the Version property of what it writes (the page shows no output).
$highest = (Get-VMHostSupportedVersion -Default | Select-Object -First 1).Version
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    Name = [string]$vm.Name; Host = [string]$env:COMPUTERNAME; State = [string]$vm.State
    Version = [string]$vm.Version; HighestSupported = [string]$highest
}})
""",
)

test_cluster = Operation(
    name="test_cluster",
    summary="Validate the cluster (Test-Cluster); long: returns where its report went and the counts",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=model.ClusterValidation,
    mutates=False,
    timeout=3600,
    script=rf"""
param()
{STOP}
$stamp = Get-Date -Format 'yyyy.MM.dd \A\t HH.mm.ss'
$name = Join-Path $env:SystemRoot "Cluster\Reports\hcitui Validation $stamp"
# Test-Cluster asks for confirmation by default, and a remote pipeline cannot answer: -Force. Without
# -Disk or -Pool it takes no disk offline (FailoverClusters/Test-Cluster.md, -Force). It writes the
# report's FileInfo (OUTPUTS: System.IO.FileInfo).
$report = Test-Cluster -ReportName $name -Force -WarningAction SilentlyContinue
# The XML beside the report can be missing (validation cut short): then there are no counts, not a
# method called on $null.
$xmlPath = $name + '.xml'
$results = @()
if (Test-Path -LiteralPath $xmlPath -PathType Leaf) {{
    $xml = [xml](Get-Content -LiteralPath $xmlPath -Raw)
    $results = @(foreach ($n in $xml.SelectNodes('//Channel[@Type="Summary"]//ResultDescription')) {{ [string]$n.'#text' }})
}}
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    ReportPath = [string]$report.FullName
    Passed     = @($results | Where-Object {{ $_ -eq 'Success' }}).Count
    Warnings   = @($results | Where-Object {{ $_ -eq 'Warning' }}).Count
    Failed     = @($results | Where-Object {{ $_ -eq 'Failed' }}).Count
    Summary    = if ($results) {{ $null }} else {{ 'The report has no summary; open it on the node.' }}
}})
""",
)

POST_OPS = [get_cluster_functional_level, update_cluster_functional_level, update_storage_pool,
            get_vm_versions, update_vm_version, test_cluster]
