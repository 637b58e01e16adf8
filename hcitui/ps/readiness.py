"""Solution-upgrade readiness reads: what the environment checker's upgrade checks look at, with plain cmdlets.

Read-only (``mutates=False``), and nothing is installed on the nodes: the environment checker itself is not
used (its own guidance says to remove it before deployment). ``get_node_readiness`` reads every section of one
node, ``get_cluster_readiness`` the cluster-wide part. Each section sits in its own try/catch, so a cmdlet or
module that is missing on a node makes that section unreadable (its ``...Error`` text) and no more: the node's
other sections are still read and judged.

Sources: seed 001 (upgrade-22h2-to-23h2, "Step 2: prepare for the solution update") and MicrosoftDocs/
azure-stack-docs azure-stack/hci/upgrade/validate-solution-upgrade-readiness.md (the checks, the feature lists,
the 250 GB infrastructure volume named Infrastructure_1).
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from hcitui.core import model
from hcitui.core.model.readiness import AKS_MODULES, MOC_SERVICES, REQUIRED_OPTIONAL_FEATURES, REQUIRED_WINDOWS_FEATURES
from hcitui.ps.base import NoParams, Operation, Params, Scope
from hcitui.ps.reads import STOP

_NAME = r"^[A-Za-z0-9][A-Za-z0-9.+_-]*$"


class NodeReadinessParams(Params):
    """What to look for on each node: seed 001's feature lists, the AKS hybrid modules and the MOC services."""

    windows_features: list[str] = Field(default_factory=lambda: list(REQUIRED_WINDOWS_FEATURES), min_length=1,
                                        description="Get-WindowsFeature names (seed 001)")
    optional_features: list[str] = Field(default_factory=lambda: list(REQUIRED_OPTIONAL_FEATURES), min_length=1,
                                         description="Get-WindowsOptionalFeature names (seed 001)")
    aks_modules: list[str] = Field(default_factory=lambda: list(AKS_MODULES), min_length=1,
                                   description="PowerShell modules of AKS hybrid and MOC")
    moc_services: list[str] = Field(default_factory=lambda: list(MOC_SERVICES), min_length=1,
                                    description="MOC agent services")

    @field_validator("windows_features", "optional_features", "aks_modules", "moc_services")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not re.match(_NAME, name) or len(name) > 128:
                raise ValueError(f"not a feature, module or service name: {name!r}")
        return names


get_node_readiness = Operation(
    name="get_node_readiness",
    summary="Solution-upgrade readiness of a node: OS, features, BitLocker, WDAC, language, TPM, AKS/MOC",
    params=NodeReadinessParams,
    result=model.NodeReadiness,
    mutates=False,
    timeout=180,
    script=rf"""
param(
    [Parameter(Mandatory)][string[]]$WindowsFeatures,
    [Parameter(Mandatory)][string[]]$OptionalFeatures,
    [Parameter(Mandatory)][string[]]$AksModules,
    [Parameter(Mandatory)][string[]]$MocServices
)
{STOP}
$out = [ordered]@{{}}
# The OS version as get_os_version reads it (registry CurrentVersion).
try {{
    $cv = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    $out.CurrentBuildNumber = [int]$cv.CurrentBuildNumber
    $out.UBR = [int]$cv.UBR
    $out.DisplayVersion = [string]$cv.DisplayVersion
}} catch {{ $out.OsError = $_.Exception.Message }}
# Windows features (ServerManager): Name and InstallState (Installed, Available, InstallPending, Removed).
try {{
    $out.Features = @(Get-WindowsFeature -Name $WindowsFeatures | ForEach-Object {{
        [pscustomobject]@{{ Name = [string]$_.Name; InstallState = [string]$_.InstallState }}
    }})
}} catch {{ $out.FeaturesError = $_.Exception.Message }}
# Optional features (DISM): one listing of the image, kept to the names asked for (-FeatureName takes one name).
# UNCONFIRMED: FeatureName on the listing's objects (the parameter is documented, the output property is shown in
# no reference page); a feature missing from the listing is judged "not present".
try {{
    $out.OptionalFeatures = @(Get-WindowsOptionalFeature -Online | Where-Object {{ $OptionalFeatures -contains $_.FeatureName }} | ForEach-Object {{
        [pscustomobject]@{{ FeatureName = [string]$_.FeatureName; State = [string]$_.State }}
    }})
}} catch {{ $out.OptionalFeaturesError = $_.Exception.Message }}
# BitLocker volumes: ProtectionStatus On means a restart asks for the recovery key (seed 001).
try {{
    $out.BitLocker = @(Get-BitLockerVolume | ForEach-Object {{
        [pscustomobject]@{{ MountPoint = [string]$_.MountPoint; VolumeStatus = [string]$_.VolumeStatus
                           ProtectionStatus = [string]$_.ProtectionStatus; VolumeType = [string]$_.VolumeType }}
    }})
}} catch {{ $out.BitLockerError = $_.Exception.Message }}
# WDAC: code integrity policy enforcement, 0 off, 1 audit, 2 enforced (microsoft/MSLab DeviceGuard scenario).
try {{
    $dg = Get-CimInstance -Namespace root\Microsoft\Windows\DeviceGuard -ClassName Win32_DeviceGuard
    $out.DeviceGuard = [pscustomobject]@{{
        CodeIntegrityPolicyEnforcementStatus         = [int]$dg.CodeIntegrityPolicyEnforcementStatus
        UsermodeCodeIntegrityPolicyEnforcementStatus = [int]$dg.UsermodeCodeIntegrityPolicyEnforcementStatus
    }}
}} catch {{ $out.DeviceGuardError = $_.Exception.Message }}
# Language: the OS install language (an LCID), the system locale and the culture. UNCONFIRMED: which of these
# the environment checker's "Language is English" test reads; hcitui judges the install language.
try {{
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    $out.Language = [pscustomobject]@{{
        OSLanguage   = [int]$os.OSLanguage
        SystemLocale = [string](Get-WinSystemLocale).Name
        Culture      = [string](Get-Culture).Name
    }}
}} catch {{ $out.LanguageError = $_.Exception.Message }}
# TPM: the nine properties of the environment checker's warnings (Get-Tpm).
try {{
    $tpm = Get-Tpm
    $out.Tpm = [pscustomobject]@{{
        TpmPresent = [bool]$tpm.TpmPresent; TpmReady = [bool]$tpm.TpmReady; TpmEnabled = [bool]$tpm.TpmEnabled
        TpmActivated = [bool]$tpm.TpmActivated; OwnerClearDisabled = [bool]$tpm.OwnerClearDisabled
        ManagedAuthLevel = [string]$tpm.ManagedAuthLevel; AutoProvisioning = [string]$tpm.AutoProvisioning
        LockedOut = [bool]$tpm.LockedOut; LockoutCount = [int]$tpm.LockoutCount
    }}
}} catch {{ $out.TpmError = $_.Exception.Message }}
# AKS hybrid and MOC leftovers: their PowerShell modules installed on the node.
try {{
    $out.AksModules = @(Get-Module -ListAvailable -Name $AksModules | ForEach-Object {{
        [pscustomobject]@{{ Name = [string]$_.Name; Version = [string]$_.Version }}
    }})
}} catch {{ $out.AksModulesError = $_.Exception.Message }}
# MOC agent services present on the node (a name that is not there is no error: it is not installed).
# UNCONFIRMED: the MOC service names (wssdagent, wssdcloudagent) have no public Microsoft source.
try {{
    $out.MocServices = @(Get-Service -Name $MocServices -ErrorAction SilentlyContinue | ForEach-Object {{
        [pscustomobject]@{{ Name = [string]$_.Name; Status = [string]$_.Status }}
    }})
}} catch {{ $out.MocServicesError = $_.Exception.Message }}
ConvertTo-Json -InputObject ([pscustomobject]$out) -Depth 4 -Compress
""",
)

get_cluster_readiness = Operation(
    name="get_cluster_readiness",
    summary="Solution-upgrade readiness of the cluster: name, functional level, pool space, volume names",
    scope=Scope.CLUSTER,
    params=NoParams,
    result=model.ClusterReadiness,
    mutates=False,
    timeout=60,
    script=rf"""
param()
{STOP}
$out = [ordered]@{{}}
try {{
    $cluster = Get-Cluster
    $out.Name = [string]$cluster.Name
    $out.FunctionalLevel = [int]$cluster.ClusterFunctionalLevel
}} catch {{ $out.ClusterError = $_.Exception.Message }}
# The pool's version (after Update-StoragePool) and its free space: Size - AllocatedSize must hold the 250 GB
# infrastructure volume (validate-solution-upgrade-readiness.md, Remediation 6).
try {{
    $out.Pools = @(Get-StoragePool -IsPrimordial $false | ForEach-Object {{
        [pscustomobject]@{{ FriendlyName = [string]$_.FriendlyName; Version = [string]$_.Version
                           Size = [int64]$_.Size; AllocatedSize = [int64]$_.AllocatedSize }}
    }})
}} catch {{ $out.PoolsError = $_.Exception.Message }}
# No volume may be named Infrastructure_1 already (Remediation 7).
try {{
    $out.VirtualDisks = @(Get-VirtualDisk | ForEach-Object {{ [string]$_.FriendlyName }})
}} catch {{ $out.VirtualDisksError = $_.Exception.Message }}
ConvertTo-Json -InputObject ([pscustomobject]$out) -Depth 4 -Compress
""",
)

READINESS_OPS = [get_node_readiness, get_cluster_readiness]
