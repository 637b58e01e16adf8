"""The solution-upgrade readiness remedies that change a node (seed 001, "Step 2: prepare for the solution
update"): install the required Windows features, enable the required optional features, suspend and resume
BitLocker.

Each feature is installed or enabled by its own cmdlet call, as seed 001's ``foreach`` does, so the result is
one row per feature and a feature that fails is named, with its error, while the others go on.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from hcitui.core.model.readiness import Rows
from hcitui.core.model.remedies import BitLockerVolumeState, FeatureInstall, OptionalFeatureEnable
from hcitui.ps.base import Operation, Params
from hcitui.ps.reads import STOP

# A feature's name as Get-WindowsFeature / Get-WindowsOptionalFeature spell them ("RSAT-AD-Powershell",
# "Microsoft-Hyper-V-Management-PowerShell", "NetFx4"): letters, digits, dots, dashes and underscores.
_FEATURE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# A BitLocker mount point: a drive letter ("C:"), a folder a volume is mounted on ("C:\ClusterStorage\Volume1")
# or a volume GUID path ("\\?\Volume{...}\").
_MOUNT_POINT = re.compile(r"^(?:[A-Za-z]:(?:\\[^\"*?<>|\r\n]*)?|\\\\\?\\Volume\{[0-9A-Fa-f-]{36}\}\\)$")

# Installing a feature takes minutes (the component store), and a node installs several in one call.
FEATURE_TIMEOUT = 1800.0


class FeatureNamesParams(Params):
    names: list[str] = Field(min_length=1, max_length=100, description="Feature names, installed one at a time")

    @field_validator("names")
    @classmethod
    def _valid_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _FEATURE_NAME.match(name):
                raise ValueError(f"{name!r} is not a Windows feature name")
        if len({n.lower() for n in names}) != len(names):
            raise ValueError("a feature is named twice")
        return names


class MountPointParams(Params):
    mount_point: str = Field(min_length=2, max_length=260, description="A BitLocker volume's mount point (C:)")

    @field_validator("mount_point")
    @classmethod
    def _valid_mount_point(cls, value: str) -> str:
        if not _MOUNT_POINT.match(value):
            raise ValueError(f"{value!r} is not a drive letter, a mount folder or a volume GUID path")
        return value


install_windows_features = Operation(
    name="install_windows_features",
    summary="Install Windows features one at a time (Install-WindowsFeature -IncludeAllSubFeature "
            "-IncludeManagementTools); each says whether a restart is needed",
    params=FeatureNamesParams,
    result=Rows[FeatureInstall],  # a lone row or null as ConvertTo-Json may write them: a list
    mutates=True,
    timeout=FEATURE_TIMEOUT,
    script=rf"""
param([Parameter(Mandatory)][string[]]$Names)
{STOP}
$rows = @(foreach ($feature in $Names) {{
    try {{
        # Seed 001's command for the required Windows features. -IncludeAllSubFeature: "all subordinate role
        # services and all subfeatures of ... features specified by the Name parameter" (ServerManager/
        # Install-WindowsFeature.md): RSAT-Hyper-V-Tools brings Hyper-V-PowerShell, which the optional-feature
        # list requires too. -IncludeManagementTools: the cmdlet does not install them otherwise (same page).
        $result = Install-WindowsFeature -Name $feature -IncludeAllSubFeature -IncludeManagementTools
        [pscustomobject]@{{
            Name          = [string]$feature
            # Success, RestartNeeded ("Yes"/"No") and ExitCode: the reference page says only System.Object;
            # Microsoft's MSLab scripts read these three (Scripts/3_Deploy.ps1).
            Success       = [bool]$result.Success
            RestartNeeded = [string]$result.RestartNeeded
            ExitCode      = [string]$result.ExitCode
            Error         = $null
        }}
    }} catch {{
        [pscustomobject]@{{
            Name = [string]$feature; Success = $false; RestartNeeded = 'No'; ExitCode = 'Failed'
            Error = [string]$_.Exception.Message
        }}
    }}
}})
ConvertTo-Json -InputObject $rows -Compress
""",
)

enable_optional_features = Operation(
    name="enable_optional_features",
    summary="Enable optional features one at a time (Enable-WindowsOptionalFeature -Online -All -NoRestart); "
            "each says whether a restart is needed",
    params=FeatureNamesParams,
    result=Rows[OptionalFeatureEnable],
    mutates=True,
    timeout=FEATURE_TIMEOUT,
    script=rf"""
param([Parameter(Mandatory)][string[]]$Names)
{STOP}
$rows = @(foreach ($feature in $Names) {{
    try {{
        # -All enables the parent features it needs; -NoRestart: "keep the application from prompting for a
        # restart or keep it from restarting automatically" (DISM/Enable-WindowsOptionalFeature.md): hcitui
        # restarts the node itself, drained, when a feature says so.
        $result = Enable-WindowsOptionalFeature -Online -FeatureName $feature -All -NoRestart
        [pscustomobject]@{{
            FeatureName   = [string]$feature
            Success       = $true
            # The ImageObject's RestartNeeded (win32 ProjFS page: "reports RestartNeeded: True").
            RestartNeeded = [bool]$result.RestartNeeded
            Error         = $null
        }}
    }} catch {{
        [pscustomobject]@{{
            FeatureName = [string]$feature; Success = $false; RestartNeeded = $false
            Error = [string]$_.Exception.Message
        }}
    }}
}})
ConvertTo-Json -InputObject $rows -Compress
""",
)

_VOLUME_OUT = r"""$volume = @(Get-BitLockerVolume -MountPoint $MountPoint) | Select-Object -First 1
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{
    MountPoint       = [string]$volume.MountPoint
    VolumeStatus     = [string]$volume.VolumeStatus
    ProtectionStatus = [string]$volume.ProtectionStatus
})"""

suspend_bitlocker = Operation(
    name="suspend_bitlocker",
    summary="Suspend BitLocker on one volume until Resume-BitLocker (Suspend-BitLocker -RebootCount 0), "
            "then read its protection status",
    params=MountPointParams,
    result=BitLockerVolumeState,
    mutates=True,
    timeout=120,
    script=rf"""
param([Parameter(Mandatory)][string]$MountPoint)
{STOP}
# -RebootCount 0: "suspend protection indefinitely until you resume it by using the Resume-BitLocker cmdlet"
# (BitLocker/Suspend-BitLocker.md), so a restart during the solution update never stops at the recovery
# screen. The page states no ConfirmImpact; -Confirm:$false makes sure no question reaches the pipeline.
Suspend-BitLocker -MountPoint $MountPoint -RebootCount 0 -Confirm:$false | Out-Null
{_VOLUME_OUT}
""",
)

resume_bitlocker = Operation(
    name="resume_bitlocker",
    summary="Resume BitLocker protection on one volume (Resume-BitLocker), then read its protection status",
    params=MountPointParams,
    result=BitLockerVolumeState,
    mutates=True,
    timeout=120,
    script=rf"""
param([Parameter(Mandatory)][string]$MountPoint)
{STOP}
# The page states no ConfirmImpact; -Confirm:$false makes sure no question reaches the pipeline.
Resume-BitLocker -MountPoint $MountPoint -Confirm:$false | Out-Null
{_VOLUME_OUT}
""",
)

REMEDY_OPS = [install_windows_features, enable_optional_features, suspend_bitlocker, resume_bitlocker]
