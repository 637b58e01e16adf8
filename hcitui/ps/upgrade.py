"""The manual OS upgrade: run setup.exe from the staged folder (upgrade, keep files)."""

from __future__ import annotations

from pydantic import Field

from hcitui import model
from hcitui.ps.base import NoParams, Operation, Params, Scope
from hcitui.ps.reads import STOP


class MediaParams(Params):
    media_path: str = Field(min_length=3, max_length=32767, description="The staged ISO folder on the node")


start_os_upgrade = Operation(
    name="start_os_upgrade",
    summary="Start setup.exe from the staged folder: unattended in-place upgrade keeping files (restarts the node)",
    params=MediaParams,
    result=model.SetupStarted,
    mutates=True,
    timeout=120,
    script=rf"""
param([Parameter(Mandatory)][string]$MediaPath)
{STOP}
$setup = Join-Path $MediaPath 'setup.exe'
if (-not (Test-Path -LiteralPath $setup -PathType Leaf)) {{ throw "setup.exe was not found in '$MediaPath': stage the ISO there first." }}
# Upgrade in place, keep files, settings and applications; no prompt, no dynamic update.
Start-Process -FilePath $setup -ArgumentList '/auto', 'upgrade', '/quiet', '/dynamicupdate', 'disable', '/eula', 'accept' | Out-Null
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{ Started = $true; SetupPath = $setup }})
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
$group = Get-ClusterGroup | Where-Object {{ [string]$_.GroupType -eq 'ClusterAwareUpdatingResource' }} | Select-Object -First 1
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    Present = $true; Online = [bool]($group -and [string]$group.State -eq 'Online')
    SelfUpdatingEnabled = $false; Reason = $null
}})
""",
)

UPGRADE_OPS = [start_os_upgrade, disable_cau_self_updating]
