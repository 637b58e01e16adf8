"""The diff: a pure comparison of a snapshot with the cluster as read now.

What must match: computers, group names, data and log volumes, replication mode, log size, RPO when
asynchronous, encryption and consistency groups. What legitimately changes is ignored: ids, status,
LSNs, LastInSyncTime, bytes remaining, partition ids."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from hcitui.core import model
from hcitui.core.units import human_bytes
from hcitui.workflow.sr.snapshot import PartnershipSnapshot, SRSnapshot, groups_by_name, live_key


@dataclass(frozen=True)
class Difference:
    partnership: str  # "SRC -> DST"
    field: str
    expected: str  # in the snapshot
    actual: str  # now
    kind: Literal["changed", "missing", "extra"] = "changed"

    @property
    def sentence(self) -> str:
        if self.kind == "missing":
            return f"{self.partnership}: in the snapshot, not on the cluster"
        if self.kind == "extra":
            return f"{self.partnership}: on the cluster, not in the snapshot"
        return f"{self.partnership}: {self.field}: snapshot {self.expected}, now {self.actual}"


def _volume(path: str | None) -> str:
    return (path or "").strip().rstrip("\\").lower()


def _volumes_text(paths: list[str]) -> str:
    return ", ".join(paths) or "none"


def _same_computer(expected: str, actual: str, sites: Mapping[str, str] | None) -> bool:
    if expected.lower() == actual.lower():
        return True
    if sites:  # a group's owner may move between one site's nodes (drain, restart): the same site counts
        a, b = sites.get(expected.lower()), sites.get(actual.lower())
        return a is not None and a == b
    return False


def _compare(sp: PartnershipSnapshot, live: model.SRPartnership, groups: dict[str, model.SRGroup],
             sites: Mapping[str, str] | None) -> list[Difference]:
    out: list[Difference] = []

    def differs(field: str, expected: Any, actual: Any) -> None:
        out.append(Difference(sp.label, field, str(expected), str(actual)))

    if not _same_computer(sp.source_computer, live.source_computer_name, sites):
        differs("source computer", sp.source_computer, live.source_computer_name)
    if not _same_computer(sp.destination_computer, live.destination_computer_name, sites):
        differs("destination computer", sp.destination_computer, live.destination_computer_name)
    sides = (
        ("source", sp.source_rg, sp.source_volumes, sp.source_log_volume, sp.log_size_in_bytes),
        ("destination", sp.destination_rg, sp.destination_volumes, sp.destination_log_volume,
         sp.destination_log_size_in_bytes if sp.destination_log_size_in_bytes is not None else sp.log_size_in_bytes),
    )
    for side, name, volumes, log_volume, log_size in sides:
        group = groups.get(name.lower())
        if group is None:
            differs(f"{side} group", name, "not shown by Get-SRGroup")
            continue
        live_volumes = [r.data_volume for r in group.replicas]
        if sorted(map(_volume, volumes)) != sorted(map(_volume, live_volumes)):
            differs(f"{side} data volumes", _volumes_text(volumes), _volumes_text(live_volumes))
        if _volume(log_volume) != _volume(group.log_volume):
            differs(f"{side} log volume", log_volume, group.log_volume or "none")
        mode = str(group.replication_mode or "?")
        if mode.lower() != sp.replication_mode.lower():
            differs(f"{side} replication mode", sp.replication_mode, mode)
        if group.log_size_in_bytes != log_size:
            differs(f"{side} log size", human_bytes(log_size), human_bytes(group.log_size_in_bytes))
        if sp.asynchronous and sp.async_rpo is not None and group.async_rpo != sp.async_rpo:
            differs(f"{side} AsyncRPO", f"{sp.async_rpo} s", f"{group.async_rpo} s")
        if sp.is_encrypted is not None and group.is_encrypted is not None and group.is_encrypted != sp.is_encrypted:
            differs(f"{side} encryption", sp.is_encrypted, group.is_encrypted)
        if (sp.consistency_groups is not None and group.is_write_consistency is not None
                and group.is_write_consistency != sp.consistency_groups):
            differs(f"{side} consistency groups", sp.consistency_groups, group.is_write_consistency)
    return out


def diff(snapshot: SRSnapshot, live_groups: list[model.SRGroup], live_partnerships: list[model.SRPartnership],
         sites: Mapping[str, str] | None = None) -> list[Difference]:
    """What differs between the snapshot and the cluster now. Pure. Empty: the same.

    Compared: computers, group names, data and log volumes, replication mode, log size, AsyncRPO
    (asynchronous only), encryption and consistency groups where both sides know them. Ignored:
    ids, status, LSNs, LastInSyncTime, NumOfBytesRemaining, partition ids and sizes. ``sites``
    (node -> site, lower-case names) lets a computer match another node of the same site.
    """
    groups = groups_by_name(live_groups)
    live = {live_key(p): p for p in live_partnerships}
    out: list[Difference] = []
    for sp in snapshot.partnerships:
        current = live.get(sp.key)
        if current is None:
            out.append(Difference(sp.label, "partnership", "present", "missing", kind="missing"))
        else:
            out += _compare(sp, current, groups, sites)
    known = {sp.key for sp in snapshot.partnerships}
    for key, p in live.items():
        if key not in known:
            out.append(Difference(f"{p.source_rg_name} -> {p.destination_rg_name}", "partnership", "absent",
                                  "present", kind="extra"))
    return out


def differences_of(sp: PartnershipSnapshot, groups: list[model.SRGroup], partnerships: list[model.SRPartnership],
                   sites: Mapping[str, str] | None, cluster: str) -> list[Difference]:
    """How one partnership differs from its snapshot entry (the others, present or not, are not its business)."""
    own = SRSnapshot(cluster=cluster, taken_at=datetime.now(UTC), partnerships=[sp])
    return [d for d in diff(own, groups, partnerships, sites) if d.kind != "extra"]
