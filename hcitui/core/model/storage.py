"""Storage Spaces Direct: cluster shared volumes, storage jobs, virtual disks and pools."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from hcitui.core.model.base import PSEnum, PSModel, _as_list, open_enum


class CsvStateInfo(PSEnum):
    DIRECT = "Direct"
    FILE_SYSTEM_REDIRECTED = "FileSystemRedirected"
    BLOCK_REDIRECTED = "BlockRedirected"
    UNAVAILABLE = "Unavailable"  # PowerShell spelling UNCONFIRMED (RUNBOOK 3)
    PAUSED = "Paused"  # PowerShell spelling UNCONFIRMED (RUNBOOK 3)


class StorageJobState(PSEnum):
    NEW = "New"
    STARTING = "Starting"
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    SHUTTING_DOWN = "ShuttingDown"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"
    KILLED = "Killed"
    EXCEPTION = "Exception"
    SERVICE = "Service"
    QUERY_PENDING = "QueryPending"


class HealthStatus(PSEnum):
    HEALTHY = "Healthy"
    WARNING = "Warning"
    UNHEALTHY = "Unhealthy"
    UNKNOWN = "Unknown"


class OperationalStatus(PSEnum):
    OK = "OK"
    SUBOPTIMAL = "Suboptimal"
    IN_SERVICE = "InService"
    INCOMPLETE = "Incomplete"
    DEGRADED = "Degraded"
    NO_REDUNDANCY = "No Redundancy"
    DETACHED = "Detached"


class CsvState(PSModel):
    name: str
    volume_name: str | None = None
    volume_friendly_name: str | None = None
    node: str
    state_info: open_enum(CsvStateInfo)
    file_system_redirected_io_reason: str | None = Field(None, alias="FileSystemRedirectedIOReason")
    block_redirected_io_reason: str | None = Field(None, alias="BlockRedirectedIOReason")

    @property
    def is_available(self) -> bool:
        """A CSV row counts as up unless it is Unavailable or Paused (RUNBOOK 3)."""
        return str(self.state_info).lower() not in {"unavailable", "paused"}


class StorageJob(PSModel):
    name: str
    job_state: open_enum(StorageJobState) = StorageJobState.RUNNING
    percent_complete: int | None = None
    bytes_processed: int | None = None
    bytes_total: int | None = None

    @property
    def progress(self) -> float | None:
        if self.bytes_total:
            return min(1.0, (self.bytes_processed or 0) / self.bytes_total)
        if self.percent_complete is not None:
            return self.percent_complete / 100
        return None


class VirtualDisk(PSModel):
    friendly_name: str
    health_status: open_enum(HealthStatus) = HealthStatus.UNKNOWN
    operational_status: Annotated[list[open_enum(OperationalStatus)], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )


class StoragePool(PSModel):
    friendly_name: str
    is_primordial: bool = False
    health_status: open_enum(HealthStatus) = HealthStatus.UNKNOWN
    operational_status: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    version: str | None = None
