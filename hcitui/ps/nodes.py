"""Node maintenance operations: drain, resume, restart, registry values. All mutate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hcitui.core import model
from hcitui.ps.base import NoParams, Operation, Params, Scope
from hcitui.ps.reads import STOP

HOST_NAME = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"

_NODE_JSON = r"""
$n = Get-ClusterNode -Name $Name
ConvertTo-Json -Compress -Depth 4 -InputObject ([pscustomobject]@{
    Name              = [string]$n.Name
    Id                = [string]$n.Id
    State             = [string]$n.State
    DrainStatus       = [string]$n.DrainStatus
    StatusInformation = [string]$n.StatusInformation
    FaultDomain       = @(foreach ($fd in $n.FaultDomain) { [string]$fd })
    # UNCONFIRMED: BuildNumber on Get-ClusterNode's output (no public page shows it; the WMI class
    # MSCluster_Node has it). [int] of a missing property is 0: hcitui reads the registry's build too.
    BuildNumber       = [int]$n.BuildNumber
})
"""


class NodeNameParams(Params):
    name: str = Field(pattern=HOST_NAME, max_length=253, description="Cluster node to act on")


class ResumeParams(NodeNameParams):
    failback: Literal["Immediate", "NoFailback", "Policy"] = "Immediate"


suspend_node = Operation(
    name="suspend_node",
    target_param="name",  # the node drained/resumed, whichever node the cmdlet runs on
    summary="Drain a node: move its roles off and pause it (Suspend-ClusterNode -Drain -Wait)",
    scope=Scope.CLUSTER,
    params=NodeNameParams,
    result=model.ClusterNode,
    mutates=True,
    timeout=1800,
    script=rf"""
param([Parameter(Mandatory)][string]$Name)
{STOP}
Suspend-ClusterNode -Name $Name -Drain -Wait -Confirm:$false | Out-Null
{_NODE_JSON}""",
)

resume_node = Operation(
    name="resume_node",
    target_param="name",
    summary="Resume a paused node and fail its roles back (Resume-ClusterNode -Failback)",
    scope=Scope.CLUSTER,
    params=ResumeParams,
    result=model.ClusterNode,
    mutates=True,
    timeout=600,
    script=rf"""
param([Parameter(Mandatory)][string]$Name, [string]$Failback = 'Immediate')
{STOP}
# Resume-ClusterNode has no -Confirm/-WhatIf (no ShouldProcess; FailoverClusters/Resume-ClusterNode.md).
Resume-ClusterNode -Name $Name -Failback $Failback | Out-Null
{_NODE_JSON}""",
)

restart_node = Operation(
    name="restart_node",
    summary="Restart this node in 5 seconds; returns the boot time before the restart",
    params=NoParams,
    result=model.OsVersion,
    mutates=True,
    timeout=60,
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
& shutdown.exe /r /t 5 /d p:0:0 /c 'hcitui: planned restart' | Out-Null
if ($LASTEXITCODE -ne 0) {{ throw "shutdown.exe failed with exit code $LASTEXITCODE" }}
""",
)


class RegistryParams(Params):
    refs_enable_metadata_validation: Literal[0, 1] | None = None
    skip_small_local_allocations: Literal[0] | None = None


set_registry_values = Operation(
    name="set_registry_values",
    summary="Set RefsEnableMetadataValidation and/or SkipSmallLocalAllocations (DWORD); create Vid\\Parameters if missing",
    params=RegistryParams,
    result=model.RegistryValues,
    mutates=True,
    timeout=60,
    script=rf"""
param([Nullable[int]]$RefsEnableMetadataValidation = $null, [Nullable[int]]$SkipSmallLocalAllocations = $null)
{STOP}
$fsKey = 'HKLM:\SYSTEM\CurrentControlSet\Control\FileSystem'
$vidKey = 'HKLM:\SYSTEM\CurrentControlSet\Services\Vid\Parameters'
if ($null -ne $RefsEnableMetadataValidation) {{
    Set-ItemProperty -Path $fsKey -Name RefsEnableMetadataValidation -Value $RefsEnableMetadataValidation -Type DWord
}}
if ($null -ne $SkipSmallLocalAllocations) {{
    # Create the key only when missing, and never with -Force: that would wipe its values.
    if (-not (Test-Path -LiteralPath $vidKey)) {{ New-Item -Path $vidKey | Out-Null }}
    New-ItemProperty -Path $vidKey -Name SkipSmallLocalAllocations -Value $SkipSmallLocalAllocations -PropertyType DWord -Force | Out-Null
}}
$fs = Get-ItemProperty -Path $fsKey -Name RefsEnableMetadataValidation -ErrorAction Ignore
$exists = Test-Path -LiteralPath $vidKey
$skip = if ($exists) {{ Get-ItemProperty -Path $vidKey -Name SkipSmallLocalAllocations -ErrorAction Ignore }} else {{ $null }}
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    RefsEnableMetadataValidation = if ($fs) {{ [int]$fs.RefsEnableMetadataValidation }} else {{ $null }}
    VidParametersKeyExists       = [bool]$exists
    SkipSmallLocalAllocations    = if ($skip) {{ [int]$skip.SkipSmallLocalAllocations }} else {{ $null }}
}})
""",
)

NODE_OPS = [suspend_node, resume_node, restart_node, set_registry_values]
