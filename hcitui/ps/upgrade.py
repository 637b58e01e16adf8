"""The manual OS upgrade: run setup.exe from the staged folder (upgrade, keep files)."""

from __future__ import annotations

from pydantic import Field

from hcitui import model
from hcitui.ps.base import Operation, Params
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

UPGRADE_OPS = [start_os_upgrade]
