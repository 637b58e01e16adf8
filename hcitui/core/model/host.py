"""One node as a host: remoting, Azure registration, Secure Boot, its virtual machines and its paths."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from hcitui.core.model.base import PSEnum, PSModel, _as_list, open_enum


class RemotingState(PSModel):
    """WinRM and PowerShell remoting on one node (after ``Set-WSManQuickConfig``/``Enable-PSRemoting``)."""

    win_rm_status: str | None = Field(None, alias="WinRMStatus")
    win_rm_start_type: str | None = Field(None, alias="WinRMStartType")
    listeners: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    ps_remoting_enabled: bool = Field(False, alias="PSRemotingEnabled")

    @property
    def enabled(self) -> bool:
        return (self.ps_remoting_enabled and str(self.win_rm_status).lower() == "running"
                and bool(self.listeners))


class RegistrationStatus(PSEnum):
    REGISTERED = "Registered"
    NOT_YET = "NotYet"
    OUT_OF_POLICY = "OutOfPolicy"


class AzureRegistration(PSModel):
    """``Get-AzureStackHCI`` on a node."""

    registration_status: open_enum(RegistrationStatus) | None = None
    connection_status: str | None = None
    cluster_status: str | None = None


class SecureBootState(PSEnum):
    ON = "On"
    OFF = "Off"
    NOT_SUPPORTED = "NotSupported"


class SecureBoot(PSModel):
    state: open_enum(SecureBootState)
    detail: str | None = None


class VmSummary(PSModel):
    """Virtual machines hosted by one node."""

    total: int = 0
    running: int = 0
    dynamic_memory_running: int = 0
    running_names: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)


class VmVersion(PSModel):
    name: str
    host: str | None = None
    state: str | None = None
    version: str | None = None
    highest_supported: str | None = None


class PathInfo(PSModel):
    path: str
    exists: bool
    is_container: bool | None = None
    length: int | None = None
