"""The manual OS upgrade: setup.exe from the staged folder (upgrade, keep files), and how it is doing.

A process started from a WinRM shell is ended with the shell (as ``start_cau_run`` notes for
``Invoke-CauRun``), so ``start_os_upgrade`` does not run setup.exe itself: it hands setup to a
scheduled task running as SYSTEM, the same pattern as ``start_cau_run``. Values reach the task as data
only: the operation writes setup's path and switches to a JSON file under ``$env:ProgramData\\hcitui``,
and the task runs a fixed runner script that reads that file, runs setup with ``Start-Process -Wait
-PassThru`` and records setup's exit code and times in a second JSON file. ``get_os_upgrade_status``
reads the task (Get-ScheduledTask, Get-ScheduledTaskInfo), that record, and the tail of setup's error log.
"""

from __future__ import annotations

from pydantic import Field

from hcitui.core import model
from hcitui.ps.base import NoParams, Operation, Params, Scope
from hcitui.ps.reads import CAU_ROLE_JSON, STOP
from hcitui.ps.task import start_task

OS_UPGRADE_TASK = "hcitui OS upgrade"
SPEC_FILE, RESULT_FILE, RUNNER_LOG, COPY_LOGS = "os-upgrade.json", "os-upgrade-result.json", "os-upgrade.log", "setup-logs"
START_WAIT_SECONDS = 60  # how long start_os_upgrade waits for the runner's first record


class MediaParams(Params):
    media_path: str = Field(min_length=3, max_length=32767, description="The staged ISO folder on the node")


# The detached runner: fixed text (no value is ever formatted into it). It reads the spec the operation
# wrote, runs setup and waits for it, and records the exit code; it exits with setup's code, so the
# task's LastTaskResult carries it too. Start-Process -Wait "waits for the specified process and its
# descendants"; -PassThru "returns a process object" (MicrosoftDocs/PowerShell-Docs
# reference/5.1/Microsoft.PowerShell.Management/Start-Process.md); ExitCode is .NET's Process.ExitCode.
_RUNNER_LINES = [
    "$ErrorActionPreference = 'Stop'",
    "$folder = Join-Path $env:ProgramData 'hcitui'",
    f"$resultPath = Join-Path $folder '{RESULT_FILE}'",
    f"$log = Join-Path $folder '{RUNNER_LOG}'",
    "$record = [ordered]@{ RunnerStarted = (Get-Date).ToUniversalTime().ToString('o'); SetupPath = $null",
    "    ExitRecorded = $false; ExitCode = $null; SetupFinished = $null; RunnerError = $null }",
    "$code = 1",
    "try {",
    f"    $spec = Get-Content -LiteralPath (Join-Path $folder '{SPEC_FILE}') -Raw | ConvertFrom-Json",
    "    $record.SetupPath = [string]$spec.SetupPath",
    "    ConvertTo-Json -InputObject ([pscustomobject]$record) | Set-Content -LiteralPath $resultPath -Encoding UTF8",
    "    ('started ' + $record.SetupPath + ' ' + (@($spec.Arguments) -join ' ')) | Out-File -LiteralPath $log -Append -Encoding UTF8",
    "    $process = Start-Process -FilePath $record.SetupPath -ArgumentList @($spec.Arguments) -Wait -PassThru",
    "    $record.SetupFinished = (Get-Date).ToUniversalTime().ToString('o')",
    "    if ($null -ne $process.ExitCode) {",
    "        $code = [int]$process.ExitCode",
    "        $record.ExitRecorded = $true",
    "        $record.ExitCode = $code",
    "    }",
    "} catch {",
    "    $record.RunnerError = $_.Exception.Message",
    "}",
    "ConvertTo-Json -InputObject ([pscustomobject]$record) | Set-Content -LiteralPath $resultPath -Encoding UTF8",
    "('ended: exit code ' + [string]$record.ExitCode + ' ' + [string]$record.RunnerError) | Out-File -LiteralPath $log -Append -Encoding UTF8",
    "exit $code",
]
# As single-quoted PowerShell literals, one a line, so the preview shows the runner as it runs.
RUNNER = "\n".join(_RUNNER_LINES)
"""The runner's text as the task runs it (what the lab's front door can check)."""

start_os_upgrade = Operation(
    name="start_os_upgrade",
    summary="Start setup.exe from the staged folder in a scheduled task (SYSTEM) that outlives this session: "
            "unattended in-place upgrade keeping files and apps (setup restarts the node); returns once it runs",
    params=MediaParams,
    result=model.SetupStarted,
    mutates=True,
    timeout=120,
    script=rf"""
param([Parameter(Mandatory)][string]$MediaPath)
{STOP}
# Join-Path, Test-Path, New-Item, Set-Content, Remove-Item, Get-Content: MicrosoftDocs/PowerShell-Docs
# reference/5.1/Microsoft.PowerShell.Management/<cmdlet>.md
$setup = Join-Path $MediaPath 'setup.exe'
if (-not (Test-Path -LiteralPath $setup -PathType Leaf)) {{ throw "setup.exe was not found in '$MediaPath': stage the ISO there first." }}
$folder = Join-Path $env:ProgramData 'hcitui'
$specPath = Join-Path $folder '{SPEC_FILE}'
$resultPath = Join-Path $folder '{RESULT_FILE}'
$copyLogs = Join-Path $folder '{COPY_LOGS}'
# Get-ScheduledTask: MicrosoftDocs/windows-powershell-docs docset/winserver2022-ps/ScheduledTasks/Get-ScheduledTask.md
$task = Get-ScheduledTask -TaskName '{OS_UPGRADE_TASK}' -ErrorAction SilentlyContinue
if ($task -and [string]$task.State -in 'Running', 'Queued') {{
    # Sent again (hcitui stopped in the middle of this call, then resumed): the setup running is the one.
    ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{ Started = $true; AlreadyRunning = $true; SetupPath = $setup; TaskName = '{OS_UPGRADE_TASK}'; ResultPath = $resultPath }})
    return
}}
New-Item -ItemType Directory -Path $copyLogs -Force | Out-Null
# setup.exe's switches, from "Windows Setup Command-Line Options" (learn.microsoft.com/windows-hardware/manufacture/
# desktop/windows-setup-command-line-options; its public source: MicrosoftDocs/commercialization-public
# manufacture/desktop/windows-setup-command-line-options.md):
#   /Auto Upgrade           "Performs an upgrade of Windows saving apps and data"; when it is not available,
#                           setup "will exit silently and log an exit code" (which the runner records)
#   /Quiet                  "suppress any Setup user experience including the rollback user experience"
#   /Compat IgnoreWarning   "Setup completes installation, ignoring any dismissible compatibility messages"
#   /DynamicUpdate Disable  no Dynamic Update (search, download and install of updates): the staged media only
#   /ShowOOBE None          "Skips OOBE and selects the default settings"
#   /CopyLogs <folder>      "Setup will copy or upload logs (compressed) upon failure to the specified location"
#   /EULA Accept            UNCONFIRMED: not on the page's public source read for this; kept because hcitui passed it
# No /NoReboot: setup restarts the node itself once installed, and that restart is what hcitui waits for.
# A value with a space is wrapped in escaped double quotes, as Start-Process's -ArgumentList asks.
$arguments = @('/auto', 'upgrade', '/quiet', '/compat', 'ignorewarning', '/dynamicupdate', 'disable',
    '/showoobe', 'none', '/eula', 'accept', '/copylogs', ('"' + $copyLogs + '"'))
ConvertTo-Json -InputObject ([pscustomobject]@{{ SetupPath = $setup; Arguments = $arguments }}) | Set-Content -LiteralPath $specPath -Encoding UTF8
Remove-Item -LiteralPath $resultPath -ErrorAction Ignore
# The task runs this fixed script as SYSTEM, outside this session: it reads $specPath and runs setup.
{start_task(OS_UPGRADE_TASK, _RUNNER_LINES)}
# Return once the runner has written its first record (it then waits on setup), or said why it could not.
$deadline = (Get-Date).AddSeconds({START_WAIT_SECONDS})
do {{
    Start-Sleep -Seconds 1
    $begun = Test-Path -LiteralPath $resultPath -PathType Leaf
}} until ($begun -or (Get-Date) -gt $deadline)
if (-not $begun) {{ throw "The scheduled task '{OS_UPGRADE_TASK}' did not start setup within {START_WAIT_SECONDS} seconds: see Get-ScheduledTaskInfo -TaskName '{OS_UPGRADE_TASK}'." }}
# Read while the runner may be writing it: an unreadable record is no answer yet, not an error.
$record = try {{ Get-Content -LiteralPath $resultPath -Raw | ConvertFrom-Json }} catch {{ $null }}
if ($record -and $record.RunnerError) {{ throw ('setup.exe could not be started: ' + [string]$record.RunnerError) }}
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{ Started = $true; AlreadyRunning = $false; SetupPath = $setup; TaskName = '{OS_UPGRADE_TASK}'; ResultPath = $resultPath }})
""",
)

get_os_upgrade_status = Operation(
    name="get_os_upgrade_status",
    summary="How setup is doing on this node: its scheduled task (state, last result), the exit code its "
            "runner recorded, and the tail of setup's error log",
    params=NoParams,
    result=model.OsUpgradeStatus,
    mutates=False,
    timeout=60,
    script=rf"""
param()
{STOP}
$folder = Join-Path $env:ProgramData 'hcitui'
$resultPath = Join-Path $folder '{RESULT_FILE}'
# Setup's down-level logs: setupact.log and setuperr.log in $Windows.~BT\Sources\Panther ("Log files",
# MicrosoftDocs/windows-itpro-docs windows/deployment/upgrade/log-files.md).
$errorLog = Join-Path $env:SystemDrive '$WINDOWS.~BT\Sources\Panther\setuperr.log'
$out = [ordered]@{{ TaskName = '{OS_UPGRADE_TASK}'; TaskPresent = $false; TaskState = $null; LastTaskResult = $null
    LastRunTime = $null; ResultPath = $resultPath; RunnerStarted = $null; SetupPath = $null; ExitRecorded = $false
    ExitCode = $null; SetupFinished = $null; RunnerError = $null; ErrorLogPath = $errorLog; ErrorLogTail = @() }}
# Get-ScheduledTask (State: Unknown, Disabled, Queued, Ready, Running, the TASK_STATE values of MicrosoftDocs/win32
# desktop-src/TaskSchd/registeredtask-state.md) and Get-ScheduledTaskInfo (LastTaskResult, LastRunTime):
# MicrosoftDocs/windows-powershell-docs docset/winserver2022-ps/ScheduledTasks/Get-ScheduledTask.md, Get-ScheduledTaskInfo.md
$task = Get-ScheduledTask -TaskName '{OS_UPGRADE_TASK}' -ErrorAction SilentlyContinue
if ($task) {{
    $info = Get-ScheduledTaskInfo -TaskName '{OS_UPGRADE_TASK}'
    $out.TaskPresent = $true
    $out.TaskState = [string]$task.State
    $out.LastTaskResult = [long]$info.LastTaskResult
    if ($info.LastRunTime) {{ $out.LastRunTime = ([datetime]$info.LastRunTime).ToUniversalTime().ToString('o') }}
}}
# What the runner recorded (Get-Content, ConvertFrom-Json: MicrosoftDocs/PowerShell-Docs reference/5.1).
# Read while the runner may be writing it: an unreadable record is read again at the next look.
$record = $null
if (Test-Path -LiteralPath $resultPath -PathType Leaf) {{
    $record = try {{ Get-Content -LiteralPath $resultPath -Raw | ConvertFrom-Json }} catch {{ $null }}
}}
if ($record) {{
    $out.RunnerStarted = [string]$record.RunnerStarted
    $out.SetupPath = [string]$record.SetupPath
    $out.ExitRecorded = [bool]$record.ExitRecorded
    if ($null -ne $record.ExitCode) {{ $out.ExitCode = [long]$record.ExitCode }}
    if ($record.SetupFinished) {{ $out.SetupFinished = [string]$record.SetupFinished }}
    if ($record.RunnerError) {{ $out.RunnerError = [string]$record.RunnerError }}
}}
if (Test-Path -LiteralPath $errorLog -PathType Leaf) {{ $out.ErrorLogTail = @(Get-Content -LiteralPath $errorLog -Tail 20) }}
ConvertTo-Json -Compress -Depth 3 -InputObject ([pscustomobject]$out)
""",
)

disable_cau_self_updating = Operation(
    name="disable_cau_self_updating",
    summary="Disable the CAU clustered role's self-updating mode (Disable-CauClusterRole -Force) for the manual path",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=model.CauClusterRole,
    mutates=True,
    timeout=120,
    script=rf"""
param()
{STOP}
$cluster = (Get-Cluster).Name
Disable-CauClusterRole -ClusterName $cluster -Force | Out-Null
$role = @(Get-CauClusterRole -ClusterName $cluster)
{CAU_ROLE_JSON}""",
)

UPGRADE_OPS = [start_os_upgrade, get_os_upgrade_status, disable_cau_self_updating]
