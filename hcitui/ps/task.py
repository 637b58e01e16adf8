"""Work that must outlive the WinRM shell: a fixed runner script in a scheduled task, as SYSTEM.

A process started from a WinRM shell ends with the shell, so the CAU run and the OS setup are handed to
a scheduled task. Values never enter the runner's text: the operation writes them to a file the runner
reads. The runner travels as ``-EncodedCommand`` (UTF-16LE base64, as powershell.exe's help says), built
inside the operation's script from single-quoted lines, so the preview shows it as it will run.

Cmdlets: New-ScheduledTaskAction, New-ScheduledTaskPrincipal, New-ScheduledTaskSettingsSet,
Register-ScheduledTask (-Force replaces a task left by an earlier attempt), Start-ScheduledTask:
MicrosoftDocs/windows-powershell-docs docset/winserver2022-ps/ScheduledTasks/<cmdlet>.md.
"""

from __future__ import annotations


def runner_literal(lines: list[str]) -> str:
    """The runner's lines as PowerShell single-quoted strings, one a line (quotes doubled)."""
    return "\n".join("    '" + line.replace("'", "''") + "'" for line in lines)


def start_task(task_name: str, runner_lines: list[str]) -> str:
    """PowerShell that registers ``task_name`` running the runner as SYSTEM, and starts it.

    ``task_name`` is one of hcitui's own constants, never an operator's value."""
    return f"""$runner = @(
{runner_literal(runner_lines)}
) -join "`n"
$encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($runner))
# MicrosoftDocs/windows-powershell-docs docset/winserver2022-ps/ScheduledTasks/<cmdlet>.md; -Force replaces the
# task an earlier attempt left.
$action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument ('-NoProfile -NonInteractive -EncodedCommand ' + $encoded)
$principal = New-ScheduledTaskPrincipal -UserId 'NT AUTHORITY\\SYSTEM' -LogonType ServiceAccount -RunLevel Highest
$settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit ([TimeSpan]::Zero) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
Register-ScheduledTask -TaskName '{task_name}' -Action $action -Principal $principal -Settings $settings -Force | Out-Null
Start-ScheduledTask -TaskName '{task_name}'"""
