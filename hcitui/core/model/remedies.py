"""What the solution-upgrade readiness remedies report: a Windows feature installed, an optional feature
enabled, a BitLocker volume suspended or resumed (seed 001, "Step 2: prepare for the solution update")."""

from __future__ import annotations

from hcitui.core.model.base import PSModel

# Install-WindowsFeature's RestartNeeded: "Yes" and "No" are what Microsoft's MSLab scripts compare it with;
# any other value (the enum's "Maybe" is UNCONFIRMED) is taken as a restart needed, as MSLab's
# `where restartneeded -ne "No"` does.
_RESTART_NOT_NEEDED = "no"


class FeatureInstall(PSModel):
    """One Windows feature after ``Install-WindowsFeature`` (one call per feature)."""

    name: str
    success: bool = False
    restart_needed: str | None = None  # Yes, No (Maybe: UNCONFIRMED)
    exit_code: str | None = None  # Success, NoChangeNeeded, SuccessRestartRequired, Failed, ... (shown as read)
    error: str | None = None  # the exception's message when the cmdlet threw

    @property
    def needs_restart(self) -> bool:
        return self.success and (self.restart_needed or "No").strip().lower() != _RESTART_NOT_NEEDED


class OptionalFeatureEnable(PSModel):
    """One optional feature after ``Enable-WindowsOptionalFeature -Online -All -NoRestart``."""

    feature_name: str
    success: bool = False
    restart_needed: bool = False
    error: str | None = None

    @property
    def needs_restart(self) -> bool:
        return self.success and self.restart_needed


class BitLockerVolumeState(PSModel):
    """A BitLocker volume as ``Get-BitLockerVolume -MountPoint`` reads it after a suspend or resume."""

    mount_point: str
    volume_status: str | None = None  # FullyEncrypted, FullyDecrypted, EncryptionInProgress, ...
    protection_status: str | None = None  # On, Off

    @property
    def protected(self) -> bool:
        return (self.protection_status or "").strip().lower() == "on"
