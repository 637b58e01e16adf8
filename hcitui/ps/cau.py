"""Cluster-Aware Updating (RUNBOOK phases 2 and 5): remoting, preflight, the run, stop and recovery.

``Invoke-CauRun`` blocks until the whole run ends (hours) and dies with the remote session that
started it. ``start_cau_run`` therefore hands the run to a scheduled task on the node it runs on
(a process started from a WinRM shell is ended with the shell), and returns once ``Get-CauRun``
shows the run: an SSH drop or a closed console never stops the upgrade. The values reach the task
as data only: the operation's script writes its parameters to a JSON file, and the task runs a
fixed script that reads that file and splats it into ``Invoke-CauRun``. Progress is then read with
``get_cau_run``.

Where the run is coordinated: the update guide runs ``Invoke-CauRun`` "from a separate server or VM
outside the cluster" (CAU's remote-updating mode). The operations of the run (``coordinator=True``)
therefore run on the cluster's CAU coordinator when the config names one, and on a cluster node only
when it does not. The coordinator is no member of the cluster, so these scripts take ``ClusterName``
(filled in by the ClusterClient when it routes a call there) and ask ``Get-Cluster`` only when it is
empty, on a node. ``get_coordinator_state`` is the coordinator's own preflight read.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from hcitui.core import model
from hcitui.core.model.base import PSModel, _as_list
from hcitui.ps.base import NoParams, Operation, Params, Scope
from hcitui.ps.reads import CAU_CLUSTER as _CLUSTER
from hcitui.ps.reads import CAU_RUN_JSON as _RUN_JSON
from hcitui.ps.reads import STOP, CauClusterParams
from hcitui.ps.task import start_task

ROLLING_UPGRADE, WINDOWS_UPDATE = "RollingUpgrade", "WindowsUpdate"
PLUGIN_NAMES = {ROLLING_UPGRADE: "Microsoft.RollingUpgradePlugin", WINDOWS_UPDATE: "Microsoft.WindowsUpdatePlugin"}
TASK_NAME = "hcitui CAU run"

_REMOTING_JSON = r"""
$service = Get-Service -Name WinRM
$listeners = @(Get-ChildItem -Path 'WSMan:\localhost\Listener' -ErrorAction SilentlyContinue | ForEach-Object {
    [string](@($_.Keys | Where-Object { $_ -like 'Transport=*' }) -replace '^Transport=', '')
})
$config = Get-PSSessionConfiguration -Name 'Microsoft.PowerShell' -ErrorAction SilentlyContinue
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{
    WinRMStatus       = [string]$service.Status
    WinRMStartType    = [string]$service.StartType
    Listeners         = $listeners
    PSRemotingEnabled = [bool]($config -and [string]$config.Enabled -eq 'True')
})
"""

_CHECK_PLUGIN = (
    "if ($Plugin -notin 'RollingUpgrade', 'WindowsUpdate') { throw \"Plugin must be RollingUpgrade or "
    "WindowsUpdate, not '$Plugin'.\" }"
)


# ------------------------------------------------------------------ remoting


enable_remoting = Operation(
    name="enable_remoting",
    summary="Enable WinRM and PowerShell remoting on this node (Set-WSManQuickConfig, Enable-PSRemoting)",
    params=NoParams,
    result=model.RemotingState,
    mutates=True,
    timeout=300,
    script=rf"""
param()
{STOP}
# Enable-PSRemoting can restart WinRM, which may drop this very session: hcitui then verifies with
# get_remoting_state once the node answers again.
Set-WSManQuickConfig -Force | Out-Null
Enable-PSRemoting -Force -SkipNetworkProfileCheck | Out-Null
{_REMOTING_JSON}""",
)

get_remoting_state = Operation(
    name="get_remoting_state",
    summary="WinRM service, its listeners, and whether PowerShell remoting is enabled on this node",
    params=NoParams,
    result=model.RemotingState,
    mutates=False,
    timeout=60,
    script=rf"""
param()
{STOP}
{_REMOTING_JSON}""",
)

# ------------------------------------------------------------------ preflight


test_cau_setup = Operation(
    name="test_cau_setup",
    summary="Is the cluster set up for CAU (Test-CauSetup, then its Best Practices Analyzer results)",
    scope=Scope.CLUSTER,
    coordinator=True,
    params=CauClusterParams,
    result=list[model.CauSetupResult],
    mutates=False,
    timeout=900,
    script=rf"""
param([string]$ClusterName)
{STOP}
{_CLUSTER}
# Test-CauSetup runs the CAU Best Practices Analyzer model from this computer; its results are read back
# with Get-BpaResult here (Test-CauSetup.md, above).
Test-CauSetup -ClusterName $cluster | Out-Null
$rows = @(Get-BpaResult -ModelId 'Microsoft/Windows/ClusterAwareUpdating' | Where-Object {{ -not $_.Excluded }} | ForEach-Object {{
    [pscustomobject]@{{
        RuleId     = [string]$_.RuleId
        Title      = [string]$_.Title
        Severity   = [string]$_.Severity
        Problem    = [string]$_.Problem
        Resolution = [string]$_.Resolution
    }}
}})
ConvertTo-Json -InputObject $rows -Depth 3 -Compress
""",
)


class CauPluginParams(Params):
    plugin: Literal["RollingUpgrade", "WindowsUpdate"] = Field(
        description="RollingUpgrade (the 23H2 OS upgrade from the staged ISO) or WindowsUpdate (monthly updates)")
    media_path: str | None = Field(None, min_length=3, max_length=32767,
                                   description="The staged ISO folder: the same local path on every node")
    cluster_name: str | None = CauClusterParams.model_fields["cluster_name"]

    @model_validator(mode="after")
    def _media_for_the_upgrade(self) -> CauPluginParams:
        if self.plugin == ROLLING_UPGRADE and not self.media_path:
            raise ValueError("the rolling upgrade needs MediaPath: the staged ISO folder, the same on every node")
        return self


get_cau_scan = Operation(
    name="get_cau_scan",
    summary="Preview what each node would be offered (Invoke-CauScan with the run's plug-in and arguments)",
    scope=Scope.CLUSTER,
    coordinator=True,
    params=CauPluginParams,
    result=list[model.CauScanUpdate],
    mutates=False,
    timeout=1800,
    script=rf"""
param([Parameter(Mandatory)][string]$Plugin, [string]$MediaPath, [string]$ClusterName)
{STOP}
{_CHECK_PLUGIN}
{_CLUSTER}
if ($Plugin -eq 'RollingUpgrade') {{
    $updates = @(Invoke-CauScan -ClusterName $cluster -CauPluginName 'Microsoft.RollingUpgradePlugin' -CauPluginArguments @{{
        WuConnected = 'false'; PathToSetupMedia = $MediaPath; UpdateClusterFunctionalLevel = 'false' }})
}} else {{
    $updates = @(Invoke-CauScan -ClusterName $cluster -CauPluginName 'Microsoft.WindowsUpdatePlugin')
}}
# One row per node; a node offered nothing gets a row without a title. The Windows Update plug-in writes
# UpdateInfo objects (NodeName, UpdateTitle: ClusterAwareUpdating/Invoke-CauScan.md's example;
# UNCONFIRMED: UpdateId, read only when present). The rolling-upgrade plug-in writes UpgradeSetupInfo objects (Invoke-CauScan.md OUTPUTS)
# whose properties for local media are UNCONFIRMED: read only if present, else the object's own text.
$rows = foreach ($node in @(Get-ClusterNode)) {{
    $mine = @($updates | Where-Object {{ $_.PSObject.Properties['NodeName'] -and [string]$_.NodeName -eq [string]$node.Name }})
    if (-not $mine -and $Plugin -eq 'RollingUpgrade' -and $updates) {{ $mine = @($updates) }}
    if (-not $mine) {{ [pscustomobject]@{{ Node = [string]$node.Name; UpdateTitle = $null; UpdateId = $null; KBArticle = $null }} }}
    foreach ($update in $mine) {{
        $title = if ($update.PSObject.Properties['UpdateTitle']) {{ [string]$update.UpdateTitle }} else {{ [string]$update }}
        $id = if ($update.PSObject.Properties['UpdateId']) {{ [string]$update.UpdateId }} else {{ $null }}
        $kb = if ($title -match 'KB\d+') {{ $Matches[0] }} else {{ $null }}
        [pscustomobject]@{{ Node = [string]$node.Name; UpdateTitle = $title; UpdateId = $id; KBArticle = $kb }}
    }}
}}
ConvertTo-Json -InputObject @($rows) -Depth 3 -Compress
""",
)

# ------------------------------------------------------------------------ run


class StartRunParams(CauPluginParams):
    max_failed_nodes: int | None = Field(None, ge=0, le=15, description="Stop the run when more nodes fail")
    max_retries_per_node: int | None = Field(None, ge=0, le=64, description="Retries of one node before it fails")
    require_all_nodes_online: bool = Field(False, description="Every node must be online before the run begins")
    update_functional_level: bool = Field(
        False, description="RollingUpgrade: raise the functional level at the end (off: 8) Post-upgrade raises it)")


# The detached runner: fixed text, kept here as single-quoted lines so it reads in the preview.
_RUNNER_LINES = [
    "$ErrorActionPreference = 'Stop'",
    "$folder = Join-Path $env:ProgramData 'hcitui'",
    "$log = Join-Path $folder 'cau-run.log'",
    "try {",
    "    $spec = Get-Content -LiteralPath (Join-Path $folder 'cau-run.json') -Raw | ConvertFrom-Json",
    "    $splat = @{}",
    "    foreach ($p in $spec.PSObject.Properties) { $splat[$p.Name] = $p.Value }",
    "    $pluginArguments = @{}",
    "    foreach ($p in $spec.CauPluginArguments.PSObject.Properties) { $pluginArguments[$p.Name] = [string]$p.Value }",
    "    $splat.CauPluginArguments = $pluginArguments",
    "    Invoke-CauRun @splat *>&1 | Out-File -LiteralPath $log -Append -Encoding UTF8",
    "} catch {",
    "    ('FAILED: ' + $_.Exception.Message) | Out-File -LiteralPath $log -Append -Encoding UTF8",
    "}",
]
RUNNER = "\n".join(_RUNNER_LINES)
"""The runner's text as the task runs it: the lab's front door checks it."""

start_cau_run = Operation(
    name="start_cau_run",
    summary="Start a CAU run that outlives this session (a scheduled task runs Invoke-CauRun); returns at once",
    scope=Scope.CLUSTER,
    coordinator=True,
    params=StartRunParams,
    result=model.CauRunStarted,
    mutates=True,
    timeout=240,
    script=rf"""
param([Parameter(Mandatory)][string]$Plugin, [string]$MediaPath, [string]$ClusterName,
      [Nullable[int]]$MaxFailedNodes = $null, [Nullable[int]]$MaxRetriesPerNode = $null,
      [bool]$RequireAllNodesOnline = $false, [bool]$UpdateFunctionalLevel = $false)
{STOP}
{_CHECK_PLUGIN}
# On the CAU coordinator (ClusterName given) the staged media is on the nodes, not here: hcitui proved
# setup.exe on every node before it started. On a node (no ClusterName) this node's copy is checked too.
$onNode = -not $ClusterName
{_CLUSTER}
$state = [string](@(Get-CauRun -ClusterName $cluster) | Where-Object {{ -not $_.PSObject.Properties['RunId'] }} | Select-Object -First 1)
if ($state -ne 'RunNotInProgress') {{ throw "Get-CauRun says $state on '$cluster': stop that run, or recover a failed one (-ForceRecovery), first." }}
# Invoke-CauRun's parameters as data; the guide's run: -EnableFirewallRules -ForceSelfUpdate -Force.
$run = [ordered]@{{ ClusterName = $cluster }}
if ($Plugin -eq 'RollingUpgrade') {{
    if ($onNode -and -not (Test-Path -LiteralPath (Join-Path $MediaPath 'setup.exe') -PathType Leaf)) {{ throw "setup.exe was not found in '$MediaPath': stage the ISO there on every node first." }}
    $run.CauPluginName = 'Microsoft.RollingUpgradePlugin'
    $run.CauPluginArguments = [ordered]@{{ WuConnected = 'false'; PathToSetupMedia = $MediaPath
        UpdateClusterFunctionalLevel = $(if ($UpdateFunctionalLevel) {{ 'true' }} else {{ 'false' }}) }}
}} else {{
    $run.CauPluginName = 'Microsoft.WindowsUpdatePlugin'
    $run.CauPluginArguments = [ordered]@{{}}
}}
if ($null -ne $MaxFailedNodes) {{ $run.MaxFailedNodes = $MaxFailedNodes }}
if ($null -ne $MaxRetriesPerNode) {{ $run.MaxRetriesPerNode = $MaxRetriesPerNode }}
if ($RequireAllNodesOnline) {{ $run.RequireAllNodesOnline = $true }}
$run.EnableFirewallRules = $true
# -ForceSelfUpdate "Specifies whether to update the CAU plugin on the local computer before running the
# update" (MicrosoftDocs/windows-powershell-docs docset/winserver2022-ps/ClusterAwareUpdating/Invoke-CauRun.md):
# it refreshes the CAU plug-in on the computer that runs Invoke-CauRun (the coordinator), not on the nodes.
$run.ForceSelfUpdate = $true
$run.Force = $true
$folder = Join-Path $env:ProgramData 'hcitui'
New-Item -ItemType Directory -Path $folder -Force | Out-Null
$spec = Join-Path $folder 'cau-run.json'
$log = Join-Path $folder 'cau-run.log'
ConvertTo-Json -InputObject ([pscustomobject]$run) -Depth 4 | Set-Content -LiteralPath $spec -Encoding UTF8
Remove-Item -LiteralPath $log -ErrorAction Ignore
# The task runs this fixed script as SYSTEM, outside this session (so the run outlives it): it reads $spec
# and splats it. As SYSTEM, Invoke-CauRun reaches the nodes as this computer's account: on the CAU
# coordinator, one management server's account; on a node, that node's, which clusters usually refuse.
{start_task(TASK_NAME, _RUNNER_LINES)}
# Return once Get-CauRun shows the run, or the runner reported why Invoke-CauRun did not start.
$deadline = (Get-Date).AddSeconds(180)
do {{
    Start-Sleep -Seconds 2
    # Get-CauRun can throw for a moment while the run starts: that is not an answer yet.
    $seen = try {{ @(Get-CauRun -ClusterName $cluster) | Where-Object {{ $_ -isnot [string] -and $_.PSObject.Properties['RunId'] }} | Select-Object -First 1 }} catch {{ $null }}
    $failed = (Test-Path -LiteralPath $log) -and (Select-String -LiteralPath $log -Pattern '^FAILED: ' -Quiet)
}} until ($seen -or $failed -or (Get-Date) -gt $deadline)
if ($failed) {{ throw ('Invoke-CauRun did not start: ' + ((Get-Content -LiteralPath $log) -join ' ')) }}
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    Started        = [bool]$seen
    State          = $(if ($seen) {{ 'RunInProgress' }} else {{ $state }})
    RunId          = $(if ($seen) {{ [string]$seen.RunId }} else {{ $null }})
    TaskName       = '{TASK_NAME}'
    ParametersPath = $spec
    LogPath        = $log
}})
""",
)

stop_cau_run = Operation(
    name="stop_cau_run",
    summary="Ask the CAU run in progress to stop (Stop-CauRun -Force); it ends at its next safe point",
    scope=Scope.CLUSTER,
    coordinator=True,
    params=CauClusterParams,
    result=model.CauRun,
    mutates=True,
    timeout=300,
    script=rf"""
param([string]$ClusterName)
{STOP}
{_CLUSTER}
Stop-CauRun -ClusterName $cluster -Force
{_RUN_JSON}""",
)

recover_cau_run = Operation(
    name="recover_cau_run",
    summary="Clear a stale failed CAU run that left the cluster locked (Invoke-CauRun -ForceRecovery -Force)",
    scope=Scope.CLUSTER,
    coordinator=True,
    params=CauClusterParams,
    result=model.CauRun,
    mutates=True,
    timeout=600,
    script=rf"""
param([string]$ClusterName)
{STOP}
{_CLUSTER}
Invoke-CauRun -ClusterName $cluster -ForceRecovery -Force | Out-Null
{_RUN_JSON}""",
)


class CauFailedInstall(PSModel):
    """One update a node failed to install (an InstallResults entry whose UpdateResultCode is Failed)."""

    update_title: str | None = None
    update_id: str | None = None
    error_code: str | None = None


class CauReportNodeResult(model.CauNodeResult):
    """A node's result in a detailed report: ``error_record_data`` is its ErrorRecordData's ExceptionData
    (the error's text), and the updates it failed to install."""

    failed_installs: Annotated[list[CauFailedInstall], BeforeValidator(_as_list)] = Field(default_factory=list)


class CauReportRun(PSModel):
    """One run of a detailed report (its ClusterResult)."""

    run_id: str | None = None
    run_start_time: model.PSDateTime = None
    status: str | None = None
    error_id: str | None = None  # the run's own ErrorRecordData.FullyQualifiedErrorId
    node_results: Annotated[list[CauReportNodeResult], BeforeValidator(_as_list)] = Field(default_factory=list)


class CauReportDetail(model.CauReport):
    """``Get-CauReport -Last -Detailed``, with what explains a failure: each node's error text and failed
    installs, the run's error id, and, when the last run ended Canceled, the earlier failed run of the
    series (``cause``): Microsoft's TSG finds the real reason there, the later runs only say Canceled."""

    error_id: str | None = None
    node_results: Annotated[list[CauReportNodeResult], BeforeValidator(_as_list)] = Field(default_factory=list)
    cause: CauReportRun | None = None


get_cau_report = Operation(
    name="get_cau_report",
    summary="How the most recent CAU run ended, per node, and why (Get-CauReport -Last -Detailed)",
    scope=Scope.CLUSTER,
    coordinator=True,
    params=CauClusterParams,
    result=CauReportDetail,
    mutates=False,
    timeout=180,
    script=rf"""
param([string]$ClusterName)
{STOP}
{_CLUSTER}
# Get-CauReport -Last -Detailed: "the most recent Updating Run report", with "full results" instead of a
# summary (MicrosoftDocs/windows-powershell-docs docset/winserver2022-ps/ClusterAwareUpdating/Get-CauReport.md).
# That page documents no property of its CauReport output: every property read below is the one Microsoft's
# TSG reads (Azure/AzureLocal-Supportability TSG/Update/Previous-CAU-run-status-was-canceled.md, function
# GetCauError): ClusterResult with RunId, StartTimestamp, Status, ErrorRecordData.FullyQualifiedErrorId and
# NodeResults; each node result's Node.NodeName, Status, ErrorRecordData.ExceptionData (the error's text) and
# InstallResults (UpdateResultCode 'Failed', UpdateTitle, UpdateId, ErrorCode). Status values seen there:
# PartiallyFailed, Canceled; a node failed when its Status is like '*Failed' (the TSG's test).
$report = @(Get-CauReport -ClusterName $cluster -Last -Detailed) | Select-Object -First 1
if (-not $report -or -not $report.ClusterResult) {{ ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{ Present = $false }}); return }}
$run = $report.ClusterResult
# "The first CAU run in this case contains the actual reason CAU failed the first time, while subsequent runs
# would just show the Canceled status" (the TSG): for a last run that ended Canceled, the runs of the week
# before it (Get-CauReport -StartDate -EndDate -Detailed, as the TSG filters on ClusterResult.StartTimestamp)
# are read newest first past the Canceled ones; the first other one is the series' start: kept if it failed.
$chosen = @($run)
if ([string]$run.Status -eq 'Canceled' -and $run.StartTimestamp) {{
    $end = [datetime]$run.StartTimestamp
    $earlier = @(Get-CauReport -ClusterName $cluster -StartDate ($end.AddDays(-7)) -EndDate $end -Detailed |
        Where-Object {{ $_.ClusterResult -and [string]$_.ClusterResult.RunId -ne [string]$run.RunId }} |
        Sort-Object -Property {{ [datetime]$_.ClusterResult.StartTimestamp }} -Descending)
    foreach ($older in $earlier) {{
        $status = [string]$older.ClusterResult.Status
        if ($status -eq 'Canceled') {{ continue }}
        if ($status -like '*Failed') {{ $chosen += $older.ClusterResult }}
        break
    }}
}}
$shaped = @(foreach ($one in $chosen) {{
    $runError = $one.ErrorRecordData
    [pscustomobject]@{{
        RunId        = [string]$one.RunId
        RunStartTime = $(if ($one.StartTimestamp) {{ ([datetime]$one.StartTimestamp).ToUniversalTime().ToString('o') }} else {{ $null }})
        Status       = [string]$one.Status
        ErrorId      = $(if ($runError) {{ [string]$runError.FullyQualifiedErrorId }} else {{ $null }})
        NodeResults  = @(foreach ($result in $one.NodeResults) {{
            $nodeError = $result.ErrorRecordData
            # UNCONFIRMED: per-update counts are documented on Get-CauRun's results, not on a report's, so
            # they are counted here from InstallResults' UpdateResultCode.
            $codes = @(foreach ($install in @($result.InstallResults)) {{ [string]$install.UpdateResultCode }})
            $failedInstalls = @(foreach ($install in @($result.InstallResults)) {{
                if ([string]$install.UpdateResultCode -eq 'Failed') {{
                    [pscustomobject]@{{ UpdateTitle = [string]$install.UpdateTitle; UpdateId = [string]$install.UpdateId
                                        ErrorCode = [string]$install.ErrorCode }}
                }}
            }})
            [pscustomobject]@{{
                Node                     = [string]$result.Node.NodeName
                Status                   = [string]$result.Status
                ErrorRecordData          = $(if ($nodeError -and $null -ne $nodeError.ExceptionData) {{ [string]$nodeError.ExceptionData }} elseif ($nodeError) {{ [string]$nodeError }} else {{ $null }})
                NumberOfSucceededUpdates = @($codes | Where-Object {{ $_ -match 'Succeeded' }}).Count
                NumberOfFailedUpdates    = @($codes | Where-Object {{ $_ -eq 'Failed' }}).Count
                FailedInstalls           = $failedInstalls
            }}
        }})
    }}
}})
$last = $shaped[0]
ConvertTo-Json -Compress -Depth 6 -InputObject ([pscustomobject]@{{
    Present      = $true
    RunId        = $last.RunId
    RunStartTime = $last.RunStartTime
    Status       = $last.Status
    ErrorId      = $last.ErrorId
    NodeResults  = $last.NodeResults
    Cause        = $(if ($shaped.Count -gt 1) {{ $shaped[1] }} else {{ $null }})
}})
""",
)

# ------------------------------------------------------------- the coordinator


# A DNS/NetBIOS host name (config.HOST_NAME_RE's rule): a node name reaches Test-WSMan only as data.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


class CoordinatorParams(Params):
    node_names: list[str] = Field(min_length=1, max_length=16, description="The cluster's nodes, as WinRM reaches them")

    @model_validator(mode="after")
    def _host_names(self) -> CoordinatorParams:
        for name in self.node_names:
            if not _HOST.match(name) or len(name) > 253:
                raise ValueError(f"{name!r} is not a host name")
        return self


get_coordinator_state = Operation(
    name="get_coordinator_state",
    summary="The CAU coordinator's preflight: its name, the ClusterAwareUpdating module, and WinRM to every node",
    params=CoordinatorParams,
    result=model.CoordinatorState,
    mutates=False,
    timeout=300,
    script=rf"""
param([Parameter(Mandatory)][string[]]$NodeNames)
{STOP}
# Get-Module -ListAvailable -Name: the modules installed on this computer, imported or not
# (MicrosoftDocs/PowerShell-Docs reference/5.1/Microsoft.PowerShell.Core/Get-Module.md).
$module = @(Get-Module -ListAvailable -Name 'ClusterAwareUpdating')
# Test-WSMan -ComputerName -Authentication Default: an identification request to the node's WinRM service
# that authenticates with this session's credentials, as the run's remoting will; without -Authentication
# the request is anonymous and proves nothing about them
# (MicrosoftDocs/PowerShell-Docs reference/5.1/Microsoft.WSMan.Management/Test-WSMan.md).
$reach = @(foreach ($name in $NodeNames) {{
    try {{
        Test-WSMan -ComputerName $name -Authentication Default -ErrorAction Stop | Out-Null
        [pscustomobject]@{{ Node = $name; Reachable = $true; Error = $null }}
    }} catch {{
        [pscustomobject]@{{ Node = $name; Reachable = $false; Error = [string]$_.Exception.Message }}
    }}
}})
ConvertTo-Json -Compress -Depth 4 -InputObject ([pscustomobject]@{{
    ComputerName = [string]$env:COMPUTERNAME
    CauModule    = [bool]($module.Count -gt 0)
    Nodes        = $reach
}})
""",
)

CAU_OPS = [enable_remoting, get_remoting_state, test_cau_setup, get_cau_scan, start_cau_run, stop_cau_run,
           recover_cau_run, get_cau_report, get_coordinator_state]
