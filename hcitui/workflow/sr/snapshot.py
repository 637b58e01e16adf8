"""The Storage Replica snapshot's model: per partnership everything ``New-SRPartnership`` needs to
recreate it (computers, group names, data and log volumes, mode, log size, RPO, flags), plus the raw
groups for reference; and :func:`build_snapshot`, which refuses to describe a partnership incompletely."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hcitui.core import model
from hcitui.core.errors import Action, HciError, Remedy
from hcitui.ps import reads

PHASE_SNAPSHOT, PHASE_RECREATE = 4, 6
SNAPSHOT, REMOVE, RECREATE, DIFF = "sr-snapshot", "sr-remove", "sr-recreate", "sr-diff"
SR_PARTS = ("nodes", "sr_groups", "sr_partnerships")
REPLICATING = frozenset({"continuouslyreplicating", "continuouslyreplicating_inrpo"})

TAKE_NEW = Remedy(action=Action.SR_SNAPSHOT)  # the next step when there is no usable snapshot
REREAD = Remedy(action=Action.SR_REREAD)  # ... when the snapshot was written but not read back


class SnapshotError(HciError):
    """No usable snapshot: none taken, unreadable, changed since written, or incomplete. ``remedy``:
    what makes one usable, when hcitui can do it (take a new one, re-read it)."""

    def __init__(self, sentence: str, *, remedy: Remedy | None = None) -> None:
        super().__init__(sentence)
        self.remedy = remedy


class PartnershipSnapshot(BaseModel):
    """One partnership as New-SRPartnership needs it back."""

    model_config = ConfigDict(extra="forbid")

    source_computer: str
    source_rg: str
    destination_computer: str
    destination_rg: str
    source_volumes: list[str] = Field(min_length=1)
    source_log_volume: str = Field(min_length=1)
    destination_volumes: list[str] = Field(min_length=1)
    destination_log_volume: str = Field(min_length=1)
    replication_mode: str
    log_size_in_bytes: int
    destination_log_size_in_bytes: int | None = None
    async_rpo: int | None = None  # only for Asynchronous
    is_encrypted: bool | None = None
    consistency_groups: bool | None = None  # IsWriteConsistency
    compression: bool | None = None  # not readable from Get-SRGroup: None (unknown), never passed
    partnership_id: str | None = None  # for reference only; a recreated partnership has a new one

    @property
    def key(self) -> str:
        return pair_key(self.source_rg, self.destination_rg)

    @property
    def label(self) -> str:
        return f"{self.source_rg} -> {self.destination_rg}"

    @property
    def asynchronous(self) -> bool:
        return self.replication_mode.lower() == "asynchronous"


class SRSnapshot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    cluster: str
    taken_at: datetime
    partnerships: list[PartnershipSnapshot]
    groups: list[dict[str, Any]] = Field(default_factory=list)  # Get-SRGroup as read, for reference

    def find(self, key: str) -> PartnershipSnapshot | None:
        return next((p for p in self.partnerships if p.key == key), None)


def pair_key(source_rg: str, destination_rg: str) -> str:
    return f"{source_rg.lower()}>{destination_rg.lower()}"


def live_key(p: model.SRPartnership) -> str:
    return pair_key(p.source_rg_name, p.destination_rg_name)


def groups_by_name(groups: Iterable[model.SRGroup]) -> dict[str, model.SRGroup]:
    """Groups by lower-case name (Storage Replica names compare without case)."""
    return {g.name.lower(): g for g in groups}


def find_live(partnerships: list[model.SRPartnership], key: str) -> model.SRPartnership | None:
    return next((p for p in partnerships if live_key(p) == key), None)


def replicating(group: model.SRGroup) -> bool:
    return bool(group.replicas) and all(str(r.replication_status or "").lower() in REPLICATING
                                        for r in group.replicas)


def build_snapshot(cluster: str, groups: list[model.SRGroup], partnerships: list[model.SRPartnership],
                   taken_at: datetime | None = None) -> SRSnapshot:
    """The snapshot of what was read. Refuses (SnapshotError) to describe a partnership incompletely."""
    by_name = groups_by_name(groups)
    rows = []
    for p in partnerships:
        label = f"{p.source_rg_name} -> {p.destination_rg_name}"
        source, destination = by_name.get(p.source_rg_name.lower()), by_name.get(p.destination_rg_name.lower())
        for name, group in ((p.source_rg_name, source), (p.destination_rg_name, destination)):
            if group is None:
                raise SnapshotError(f"partnership {label}: Get-SRGroup does not show group {name}; "
                                    "a snapshot without it could not recreate the partnership")
            if not group.log_volume or not group.replicas or group.log_size_in_bytes is None:
                raise SnapshotError(f"partnership {label}: group {name} shows no log volume, data volume or "
                                    "log size; a snapshot without them could not recreate the partnership")
        assert source is not None and destination is not None
        mode = str(source.replication_mode or "Synchronous")
        rows.append(PartnershipSnapshot(
            source_computer=p.source_computer_name,
            source_rg=p.source_rg_name,
            destination_computer=p.destination_computer_name,
            destination_rg=p.destination_rg_name,
            source_volumes=[r.data_volume for r in source.replicas],
            source_log_volume=source.log_volume,
            destination_volumes=[r.data_volume for r in destination.replicas],
            destination_log_volume=destination.log_volume,
            replication_mode=mode,
            log_size_in_bytes=source.log_size_in_bytes,
            destination_log_size_in_bytes=destination.log_size_in_bytes,
            async_rpo=source.async_rpo if mode.lower() == "asynchronous" else None,
            is_encrypted=source.is_encrypted,
            consistency_groups=source.is_write_consistency,
            partnership_id=p.id,
        ))
    return SRSnapshot(cluster=cluster, taken_at=taken_at or datetime.now(UTC), partnerships=rows,
                      groups=reads.get_sr_groups.dump_result(groups))
