"""Storage Replica changes (RUNBOOK phases 4 and 6): remove a partnership, create one from a snapshot.

Reads are ``get_sr_groups`` and ``get_sr_partnerships`` in :mod:`hcitui.ps.reads`. Both changes run
once for the cluster. ``Remove-SRPartnership`` asks for confirmation unless given ``-Force``, and a
prompt fails a remote pipeline, so the script always passes it (never the guide's typo
``Remove-SRPartnerships``). ``New-SRPartnership`` gets ``-Force`` for the same reason.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from hcitui.core import model
from hcitui.ps.base import Operation, Params, Scope
from hcitui.ps.reads import STOP

MIN_LOG_SIZE = 512 * 1024**2  # New-SRPartnership refuses a smaller log
MIN_ASYNC_RPO = 30  # seconds

Name = Annotated[str, Field(min_length=1, max_length=256)]
Volume = Annotated[str, Field(min_length=1, max_length=1024)]

_PARTNERSHIPS_JSON = r"""$rows = @(Get-SRPartnership | ForEach-Object {
    [pscustomobject]@{
        SourceComputerName      = [string]$_.SourceComputerName
        SourceRGName            = [string]$_.SourceRGName
        DestinationComputerName = [string]$_.DestinationComputerName
        DestinationRGName       = [string]$_.DestinationRGName
        Id                      = [string]$_.Id
    }
})
ConvertTo-Json -InputObject $rows -Depth 3 -Compress
"""


class RemovePartnershipParams(Params):
    source_computer_name: Name | None = None
    source_rg_name: Name = Field(alias="SourceRGName")
    destination_computer_name: Name
    destination_rg_name: Name = Field(alias="DestinationRGName")


remove_sr_partnership = Operation(
    name="remove_sr_partnership",
    summary="Remove one Storage Replica partnership (Remove-SRPartnership -Force); returns those left",
    scope=Scope.CLUSTER,
    params=RemovePartnershipParams,
    result=list[model.SRPartnership],
    mutates=True,
    timeout=300,
    script=r"""
param(
    [string]$SourceComputerName,
    [Parameter(Mandatory)][string]$SourceRGName,
    [Parameter(Mandatory)][string]$DestinationComputerName,
    [Parameter(Mandatory)][string]$DestinationRGName
)
""" + STOP + r"""
$remove = @{
    SourceRGName            = $SourceRGName
    DestinationComputerName = $DestinationComputerName
    DestinationRGName       = $DestinationRGName
}
if ($SourceComputerName) { $remove['SourceComputerName'] = $SourceComputerName }
# -Force: without it the cmdlet prompts, and a prompt fails a remote pipeline.
Remove-SRPartnership @remove -Force
""" + _PARTNERSHIPS_JSON,
)


class NewPartnershipParams(Params):
    source_computer_name: Name | None = None
    source_rg_name: Name = Field(alias="SourceRGName")
    source_volume_name: list[Volume] = Field(min_length=1, max_length=64)
    source_log_volume_name: Volume
    destination_computer_name: Name
    destination_rg_name: Name = Field(alias="DestinationRGName")
    destination_volume_name: list[Volume] = Field(min_length=1, max_length=64)
    destination_log_volume_name: Volume
    replication_mode: Literal["Synchronous", "Asynchronous"] = "Synchronous"
    log_size_in_bytes: int | None = Field(None, ge=MIN_LOG_SIZE)
    async_rpo: int | None = Field(None, alias="AsyncRPO", ge=MIN_ASYNC_RPO)
    seeded: bool | None = None
    enable_consistency_groups: bool | None = None
    enable_encryption: bool | None = None
    enable_compression: bool | None = None

    @field_validator("seeded", "enable_consistency_groups", "enable_encryption", "enable_compression")
    @classmethod
    def _switch(cls, value: bool | None) -> bool | None:
        """A switch is passed only when it is on: off is the cmdlet's default, left out."""
        return True if value else None


new_sr_partnership = Operation(
    name="new_sr_partnership",
    summary="Create a Storage Replica partnership and its groups (New-SRPartnership -Force); "
            "the initial block copy starts",
    scope=Scope.CLUSTER,
    params=NewPartnershipParams,
    result=model.SRPartnership,
    mutates=True,
    timeout=600,
    script=r"""
param(
    [string]$SourceComputerName,
    [Parameter(Mandatory)][string]$SourceRGName,
    [Parameter(Mandatory)][string[]]$SourceVolumeName,
    [Parameter(Mandatory)][string]$SourceLogVolumeName,
    [Parameter(Mandatory)][string]$DestinationComputerName,
    [Parameter(Mandatory)][string]$DestinationRGName,
    [Parameter(Mandatory)][string[]]$DestinationVolumeName,
    [Parameter(Mandatory)][string]$DestinationLogVolumeName,
    [string]$ReplicationMode = 'Synchronous',
    [Nullable[long]]$LogSizeInBytes = $null,
    [Nullable[int]]$AsyncRPO = $null,
    [switch]$Seeded,
    [switch]$EnableConsistencyGroups,
    [switch]$EnableEncryption,
    [switch]$EnableCompression
)
""" + STOP + r"""
$new = @{
    SourceRGName             = $SourceRGName
    SourceVolumeName         = $SourceVolumeName
    SourceLogVolumeName      = $SourceLogVolumeName
    DestinationComputerName  = $DestinationComputerName
    DestinationRGName        = $DestinationRGName
    DestinationVolumeName    = $DestinationVolumeName
    DestinationLogVolumeName = $DestinationLogVolumeName
    ReplicationMode          = $ReplicationMode
}
if ($SourceComputerName) { $new['SourceComputerName'] = $SourceComputerName }
if ($null -ne $LogSizeInBytes) { $new['LogSizeInBytes'] = [uint64]$LogSizeInBytes }
if ($ReplicationMode -eq 'Asynchronous' -and $null -ne $AsyncRPO) { $new['AsyncRPO'] = [uint32]$AsyncRPO }
if ($Seeded) { $new['Seeded'] = $true }
if ($EnableConsistencyGroups) { $new['EnableConsistencyGroups'] = $true }
if ($EnableEncryption) { $new['EnableEncryption'] = $true }
if ($EnableCompression) { $new['EnableCompression'] = $true }
New-SRPartnership @new -Force | Out-Null
$p = Get-SRPartnership |
    Where-Object { $_.SourceRGName -eq $SourceRGName -and $_.DestinationRGName -eq $DestinationRGName } |
    Select-Object -First 1
if (-not $p) { throw "Get-SRPartnership does not list $SourceRGName to $DestinationRGName after New-SRPartnership." }
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{
    SourceComputerName      = [string]$p.SourceComputerName
    SourceRGName            = [string]$p.SourceRGName
    DestinationComputerName = [string]$p.DestinationComputerName
    DestinationRGName       = [string]$p.DestinationRGName
    Id                      = [string]$p.Id
})
""",
)

SR_OPS = [remove_sr_partnership, new_sr_partnership]
