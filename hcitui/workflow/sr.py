"""Storage Replica, phases 4 and 6: snapshot, removal, recreation one at a time, and the diff.

The snapshot is structured: per partnership everything ``New-SRPartnership`` needs to recreate it
(computers, group names, data and log volumes, mode, log size, RPO, flags), plus the raw groups
for reference. It is written atomically into the journal directory (``sr-snapshots/<time>.json``
and ``latest.json``) and then *re-read*: parsed back from disk and checked against the hash
recorded when it was written. Removal needs that re-read snapshot, and a snapshot that still
describes every live partnership as it is (a stale or edited snapshot refuses the removal).

Recreation goes one partnership at a time, each ``New-SRPartnership`` followed by a wait until
its destination group is ContinuouslyReplicating with NumOfBytesRemaining 0; a partnership found
present is not created again (this is how a run killed half way resumes). Each one, and then the
whole, is proved by :func:`diff`, a pure comparison of what must match (computers, group names,
volumes, log volumes, mode, log size, RPO when asynchronous, encryption, consistency groups) that
ignores what legitimately changes (ids, status, LSNs, LastInSyncTime, bytes remaining, partition
ids).

Interlocks: removal and recreation are refused unless every node is Up (fail closed: an unread
part refuses). Removal is also refused while a partnership is not ContinuouslyReplicating (one in
initial sync is not a steady state to snapshot or tear down).
"""

from __future__ import annotations

from hcitui.core.errors import HciError

import asyncio
import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hcitui.core import model
from hcitui.core.files import atomic_write_text
from hcitui.core.journal import StepRecord, StepStatus, cluster_dir
from hcitui.ps import ps_quote, reads
from hcitui.ps import sr as sr_ops
from hcitui.remote import RemoteError
from hcitui.workflow import resume
from hcitui.workflow.context import Context
from hcitui.workflow.observe import ClusterState, observe, problem
from hcitui.workflow.events import Progress, ProgressEvent, no_progress
from hcitui.workflow.steps import Plan, Refused, StepFailed

PHASE_SNAPSHOT, PHASE_RECREATE = 4, 6
SNAPSHOT, REMOVE, RECREATE, DIFF = "sr-snapshot", "sr-remove", "sr-recreate", "sr-diff"
SR_PARTS = ("nodes", "sr_groups", "sr_partnerships")
REPLICATING = frozenset({"continuouslyreplicating", "continuouslyreplicating_inrpo"})
GIB, MIB = 1024**3, 1024**2


class SnapshotError(HciError):
    """No usable snapshot: none taken, unreadable, changed since written, or incomplete."""


# ----------------------------------------------------------------------- model


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


def _by_name(groups: Iterable[model.SRGroup]) -> dict[str, model.SRGroup]:
    return {g.name.lower(): g for g in groups}


def build_snapshot(cluster: str, groups: list[model.SRGroup], partnerships: list[model.SRPartnership],
                   taken_at: datetime | None = None) -> SRSnapshot:
    """The snapshot of what was read. Refuses (SnapshotError) to describe a partnership incompletely."""
    by_name = _by_name(groups)
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
    return SRSnapshot(cluster=cluster, taken_at=taken_at or datetime.now(timezone.utc), partnerships=rows,
                      groups=reads.get_sr_groups.dump_result(groups))


# ------------------------------------------------------------------------ diff


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


def size_text(count: int | None) -> str:
    if count is None:
        return "?"
    if count and count % GIB == 0 and count < 1024 * GIB:
        return f"{count // GIB} GiB"
    if count >= 1024 * GIB:
        return f"{count / (1024 * GIB):.2f} TiB"
    if count >= GIB:
        return f"{count / GIB:.1f} GiB"
    if count and count % MIB == 0:
        return f"{count // MIB} MiB"
    return f"{count} bytes"


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
            differs(f"{side} log size", size_text(log_size), size_text(group.log_size_in_bytes))
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
    groups = _by_name(live_groups)
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


# ------------------------------------------------------------------ interlocks


def _sr_unreadable(state: ClusterState, parts: tuple[str, ...]) -> list[str]:
    labels = {"nodes": "cluster nodes", "sr_groups": "Storage Replica groups",
              "sr_partnerships": "Storage Replica partnerships"}
    return [f"{labels[part]}: {problem(getattr(state, part))}" for part in parts if problem(getattr(state, part))]


def _nodes_up(state: ClusterState) -> list[str]:
    if problem(state.nodes):
        return []
    return [f"{n.name} is {n.state}: every node must be Up" for n in state.nodes if n.state != model.NodeState.UP]


def replicating(group: model.SRGroup) -> bool:
    return bool(group.replicas) and all(str(r.replication_status or "").lower() in REPLICATING
                                        for r in group.replicas)


def removal_blockers(snapshot: SRSnapshot, state: ClusterState) -> list[str]:
    """May the live partnerships be removed now? Pure; fails closed."""
    reasons = _sr_unreadable(state, SR_PARTS) + _nodes_up(state)
    if problem(state.sr_groups) or problem(state.sr_partnerships):
        return reasons
    taken = snapshot.taken_at.astimezone().strftime("%Y-%m-%d %H:%M")
    for difference in diff(snapshot, state.sr_groups, state.sr_partnerships):
        if difference.kind == "missing":
            continue  # removed already (a removal that was interrupted goes on)
        if difference.kind == "extra":
            reasons.append(f"partnership {difference.partnership} is not in the snapshot taken {taken}: "
                           "take a new snapshot")
        else:
            reasons.append(f"{difference.sentence}: the snapshot taken {taken} is out of date; take a new one")
    groups = _by_name(state.sr_groups)
    for p in state.sr_partnerships:
        for name in (p.source_rg_name, p.destination_rg_name):
            group = groups.get(name.lower())
            if group is not None and not replicating(group):
                status = next((str(r.replication_status) for r in group.replicas
                               if str(r.replication_status or "").lower() not in REPLICATING), "not replicating")
                left = f", {size_text(group.bytes_remaining)} left" if group.bytes_remaining else ""
                reasons.append(f"Storage Replica group {group.name} is {status}{left}: wait until it replicates")
    return reasons


def recreate_blockers(state: ClusterState) -> list[str]:
    return _sr_unreadable(state, SR_PARTS) + _nodes_up(state)


# -------------------------------------------------------------- snapshot files


@dataclass(frozen=True)
class SnapshotInfo:
    """The current snapshot as the journal records it (no file is read)."""

    path: Path
    sha256: str
    taken_at: str
    partnerships: int
    reread: bool
    status: StepStatus
    detail: str


def snapshot_dir(ctx: Context) -> Path:
    return cluster_dir(ctx.state_root, ctx.name) / "sr-snapshots"


def snapshot_info(ctx: Context) -> SnapshotInfo | None:
    record = ctx.journal.step(PHASE_SNAPSHOT, SNAPSHOT)
    if record is None or not record.data.get("path"):
        return None
    data = record.data
    return SnapshotInfo(Path(data["path"]), str(data.get("sha256", "")), str(data.get("taken_at", "")),
                        int(data.get("partnerships", 0)), bool(data.get("reread")), record.status,
                        record.detail or "")


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def write_snapshot(ctx: Context, snapshot: SRSnapshot) -> tuple[Path, str]:
    """Atomically: ``sr-snapshots/<UTC time>.json`` and the ``latest.json`` copy. Returns (path, sha256)."""
    text = snapshot.model_dump_json(indent=2) + "\n"
    folder = snapshot_dir(ctx)
    stamp = snapshot.taken_at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path, count = folder / f"{stamp}.json", 1
    while path.exists():
        count += 1
        path = folder / f"{stamp}-{count}.json"
    atomic_write_text(path, text)
    atomic_write_text(folder / "latest.json", text)
    return path, _sha(text.encode("utf-8"))


def _read_file(ctx: Context, info: SnapshotInfo) -> SRSnapshot:
    """The snapshot file parsed back, if it is exactly what was written. Raises SnapshotError."""
    try:
        raw = info.path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"the snapshot {info.path} cannot be read ({exc.strerror or exc}): "
                            "take a new one") from None
    sha = _sha(raw)
    if sha != info.sha256:
        raise SnapshotError(f"the snapshot {info.path} changed since it was written (sha256 {sha[:12]}, "
                            f"written as {info.sha256[:12]}): take a new one")
    try:
        snapshot = SRSnapshot.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "snapshot"
        raise SnapshotError(f"the snapshot {info.path} is not a valid snapshot ({where}: {first['msg']})") from None
    if snapshot.cluster.lower() != ctx.name.lower():
        raise SnapshotError(f"the snapshot {info.path} is of cluster {snapshot.cluster}, not {ctx.name}")
    if len(snapshot.partnerships) != info.partnerships:
        raise SnapshotError(f"the snapshot {info.path} holds {len(snapshot.partnerships)} partnerships; "
                            f"{info.partnerships} were written")
    return snapshot


def reread_snapshot(ctx: Context) -> SRSnapshot:
    """Read the journal's snapshot back from disk and check it is what was written; journal the result."""
    info = snapshot_info(ctx)
    if info is None:
        raise SnapshotError("no Storage Replica snapshot has been taken: take one first (s, or hcitui sr-snapshot)")
    try:
        snapshot = _read_file(ctx, info)
    except SnapshotError as exc:
        ctx.journal.set_step(PHASE_SNAPSHOT, SNAPSHOT, None, StepStatus.FAILED, exc.sentence, data={"reread": False})
        raise
    count = len(snapshot.partnerships)
    ctx.journal.set_step(PHASE_SNAPSHOT, SNAPSHOT, None, StepStatus.DONE,
                         f"{count} partnership{'s' if count != 1 else ''}, re-read OK: {info.path.name}",
                         data={"reread": True, "reread_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    return snapshot


def load_snapshot(ctx: Context) -> SRSnapshot:
    """The current snapshot, checked against its hash, only if it was re-read. Raises SnapshotError."""
    info = snapshot_info(ctx)
    if info is None:
        raise SnapshotError("no Storage Replica snapshot has been taken: take one first (s, or hcitui sr-snapshot)")
    if not info.reread or info.status is not StepStatus.DONE:
        raise SnapshotError(f"the snapshot {info.path.name} was not re-read after it was written: "
                            "re-read it first (v, or hcitui sr-snapshot again)")
    return _read_file(ctx, info)


async def take_snapshot(ctx: Context, progress: Progress = no_progress, *, reread: bool = True) -> SRSnapshot:
    """Read every group and partnership, write the snapshot, then re-read it (unless told not to).

    Refused while the current snapshot holds a partnership the cluster no longer has (removed and
    not yet recreated): a new snapshot would forget how to recreate it."""
    step = "SR snapshot"
    progress(ProgressEvent(ctx.name, "reading Get-SRGroup and Get-SRPartnership", None))
    state = await observe(ctx, ("sr_groups", "sr_partnerships"))
    reasons = _sr_unreadable(state, ("sr_groups", "sr_partnerships"))
    if reasons:
        raise StepFailed(step, "; ".join(reasons))
    forgotten = _would_forget(ctx, state.sr_partnerships)
    if forgotten:
        raise Refused(step, [f"the current snapshot holds {', '.join(forgotten)}, which the cluster does not have "
                             "now (removed): recreate it first, or a new snapshot would forget it"])
    try:
        snapshot = build_snapshot(ctx.name, state.sr_groups, state.sr_partnerships)
    except SnapshotError as exc:
        raise StepFailed(step, exc.sentence) from None
    path, sha = write_snapshot(ctx, snapshot)
    count = len(snapshot.partnerships)
    ctx.journal.set_step(
        PHASE_SNAPSHOT, SNAPSHOT, None, StepStatus.RUNNING, f"written to {path.name}; not re-read yet",
        data={"path": str(path), "sha256": sha, "reread": False, "partnerships": count,
              "taken_at": snapshot.taken_at.isoformat(timespec="seconds")},
        fresh=True)
    progress(ProgressEvent(ctx.name, f"written: {path.name}", None))
    if not reread:
        return snapshot
    try:
        snapshot = reread_snapshot(ctx)
    except SnapshotError as exc:
        raise StepFailed(step, exc.sentence) from None
    progress(ProgressEvent(ctx.name, f"re-read OK: {count} partnerships", 1.0))
    return snapshot


def _would_forget(ctx: Context, partnerships: list[model.SRPartnership]) -> list[str]:
    """Partnerships of the current snapshot the cluster no longer has: a new snapshot must not drop them."""
    info = snapshot_info(ctx)
    if info is None:
        return []
    try:
        current = _read_file(ctx, info)
    except SnapshotError:
        return []  # unreadable or changed: it could not recreate anything anyway
    live = {live_key(p) for p in partnerships}
    return [sp.label for sp in current.partnerships if sp.key not in live]


def _verified(ctx: Context, step: str) -> SRSnapshot:
    try:
        return load_snapshot(ctx)
    except SnapshotError as exc:
        raise Refused(step, [exc.sentence]) from None


def sites_of(ctx: Context) -> dict[str, str]:
    return {n.name.lower(): n.site for n in ctx.client.nodes if n.site}


# --------------------------------------------------------------- PowerShell


def remove_params(sp: PartnershipSnapshot) -> dict[str, Any]:
    return {"source_computer_name": sp.source_computer, "source_rg_name": sp.source_rg,
            "destination_computer_name": sp.destination_computer, "destination_rg_name": sp.destination_rg}


def recreate_params(sp: PartnershipSnapshot) -> dict[str, Any]:
    """New-SRPartnership's parameters for one snapshot entry (switches only when on)."""
    return {
        "source_computer_name": sp.source_computer,
        "source_rg_name": sp.source_rg,
        "source_volume_name": list(sp.source_volumes),
        "source_log_volume_name": sp.source_log_volume,
        "destination_computer_name": sp.destination_computer,
        "destination_rg_name": sp.destination_rg,
        "destination_volume_name": list(sp.destination_volumes),
        "destination_log_volume_name": sp.destination_log_volume,
        "replication_mode": "Asynchronous" if sp.asynchronous else "Synchronous",
        "log_size_in_bytes": sp.log_size_in_bytes,
        "async_rpo": sp.async_rpo if sp.asynchronous else None,
        "enable_encryption": bool(sp.is_encrypted),
        "enable_consistency_groups": bool(sp.consistency_groups),
        "enable_compression": bool(sp.compression),
    }


def new_command(sp: PartnershipSnapshot) -> str:
    """The plain New-SRPartnership command line equivalent to recreating ``sp`` (for the operator)."""
    try:
        params = sr_ops.new_sr_partnership.make_params(recreate_params(sp)).to_ps()
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"# cannot be recreated as it is: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    parts = ["New-SRPartnership"]
    for key, value in params.items():
        parts.append(f"-{key}" if value is True else f"-{key} {ps_quote(value)}")
    parts.append("-Force")
    return " `\n    ".join(parts)


def view_text(snapshot: SRSnapshot, path: Path | None = None, sha: str | None = None) -> str:
    lines = [f"# Storage Replica snapshot of {snapshot.cluster}, taken "
             f"{snapshot.taken_at.astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')}"]
    if path is not None:
        lines.append(f"# File: {path}")
    if sha:
        lines.append(f"# sha256: {sha}")
    lines.append(f"# {len(snapshot.partnerships)} partnerships. Recreating one by hand (after its removal):")
    for sp in snapshot.partnerships:
        lines += ["", f"# {sp.label}", new_command(sp)]
    if any(sp.compression is None for sp in snapshot.partnerships):
        lines += ["", "# Compression is not readable from Get-SRGroup: if you had enabled it, add -EnableCompression."]
    lines += ["", "# The snapshot file:", snapshot.model_dump_json(indent=2)]
    return "\n".join(lines) + "\n"


def plan_remove(ctx: Context) -> Plan:
    plan = Plan(f"Remove the SR partnerships of {ctx.name}, one at a time (phase 4)")
    plan.notes += [
        "Refused unless a snapshot was taken and re-read and still describes",
        "every live partnership, every node is Up and every partnership is",
        "ContinuouslyReplicating. Each removal is proved by Get-SRPartnership",
        "no longer listing it; the destination groups go, the source groups stay.",
        "Partnerships already removed are skipped (an interrupted run goes on).",
    ]
    try:
        snapshot = load_snapshot(ctx)
    except SnapshotError as exc:
        plan.notes.append(f"Nothing to remove yet: {exc.sentence}.")
        return plan
    for sp in snapshot.partnerships:
        plan.add(sr_ops.remove_sr_partnership, remove_params(sp), f"any node of {ctx.name}", sp.label)
    return plan


def plan_recreate(ctx: Context) -> Plan:
    plan = Plan(f"Recreate the SR partnerships of {ctx.name} from the snapshot (phase 6)")
    plan.notes += [
        "One partnership at a time: each waits for its initial block copy (its",
        "destination group ContinuouslyReplicating, NumOfBytesRemaining 0) before",
        "the next is created. One already present is not created again. Then the",
        "configuration is compared with the snapshot.",
    ]
    try:
        snapshot = load_snapshot(ctx)
    except SnapshotError as exc:
        plan.notes.append(f"Nothing to recreate from: {exc.sentence}.")
        return plan
    for sp in snapshot.partnerships:
        plan.add(sr_ops.new_sr_partnership, recreate_params(sp), f"any node of {ctx.name}", sp.label)
    return plan


# --------------------------------------------------------------------- removal


async def remove_partnerships(ctx: Context, progress: Progress = no_progress) -> list[str]:
    """Remove every live partnership the re-read snapshot describes, one at a time, each proved gone."""
    step = "remove SR partnerships"
    snapshot = _verified(ctx, step)
    state = await observe(ctx, SR_PARTS)
    reasons = removal_blockers(snapshot, state)
    if reasons:
        raise Refused(step, reasons)
    live = {live_key(p) for p in state.sr_partnerships}
    present = [sp for sp in snapshot.partnerships if sp.key in live]
    record = ctx.journal.step(PHASE_SNAPSHOT, REMOVE)
    if not present and record is not None and record.status is StepStatus.DONE:
        return list(record.data.get("removed", []))  # done before: nothing left to remove
    info = snapshot_info(ctx)
    # Interrupted or failed earlier with this same snapshot: go on, keeping what was removed then.
    resuming = (record is not None and record.status is not StepStatus.DONE and info is not None
                and record.data.get("snapshot") == str(info.path))
    removed: list[str] = list(record.data.get("removed", [])) if resuming and record else []
    ctx.journal.set_step(PHASE_SNAPSHOT, REMOVE, None, StepStatus.RUNNING,
                         f"removing {len(present)} partnership{'s' if len(present) != 1 else ''}",
                         data={"snapshot": str(info.path) if info else None, "removed": removed}, fresh=not resuming)
    for index, sp in enumerate(present):
        pending = ", ".join(p.label for p in present[index:])
        progress(ProgressEvent(sp.label, "Remove-SRPartnership", None))
        error: RemoteError | None = None
        try:
            await ctx.client.invoke_cluster(sr_ops.remove_sr_partnership, remove_params(sp))
        except RemoteError as exc:
            error = exc
        after = await observe(ctx, ("sr_partnerships",))
        if problem(after.sr_partnerships):
            message = f"{sp.label}: cannot prove it is gone: {problem(after.sr_partnerships)}; pending: {pending}"
            ctx.journal.set_step(PHASE_SNAPSHOT, REMOVE, None, StepStatus.FAILED, message)
            raise StepFailed(step, message)
        if any(live_key(p) == sp.key for p in after.sr_partnerships):
            why = error.message if error else "Get-SRPartnership still lists it after Remove-SRPartnership"
            message = f"{sp.label}: {why}; pending: {pending}"
            ctx.journal.set_step(PHASE_SNAPSHOT, REMOVE, None, StepStatus.FAILED, message)
            raise StepFailed(step, message)
        removed.append(sp.label)
        ctx.journal.set_step(PHASE_SNAPSHOT, REMOVE, None, StepStatus.RUNNING,
                             f"{index + 1} of {len(present)} removed", data={"removed": removed})
        progress(ProgressEvent(sp.label, "removed: Get-SRPartnership no longer lists it", 1.0))
    ctx.journal.set_step(PHASE_SNAPSHOT, REMOVE, None, StepStatus.DONE,
                         f"{len(removed)} removed; recreate them from the snapshot after the upgrade")
    return removed


# ------------------------------------------------------------------ recreation


def _find(partnerships: list[model.SRPartnership], key: str) -> model.SRPartnership | None:
    return next((p for p in partnerships if live_key(p) == key), None)


async def _wait_for_sync(ctx: Context, sp: PartnershipSnapshot, progress: Progress, step: str) -> None:
    """Until the destination group is ContinuouslyReplicating with nothing remaining; progress from
    NumOfBytesRemaining against the partition sizes (or the most seen remaining)."""
    deadline = time.monotonic() + ctx.cluster.timeouts.storage_sync
    most = 0
    while True:
        state = await observe(ctx, ("sr_groups",))
        group = None if problem(state.sr_groups) else _by_name(state.sr_groups).get(sp.destination_rg.lower())
        if problem(state.sr_groups):
            text, fraction = f"cannot read Get-SRGroup now: {problem(state.sr_groups)}", None
        elif group is None:
            text, fraction = f"waiting for group {sp.destination_rg} to appear", None
        else:
            statuses = [str(r.replication_status or "?") for r in group.replicas]
            if any(s.lower() == "failed" for s in statuses):
                raise StepFailed(step, f"{sp.label}: the destination group {group.name} is Failed")
            remaining = group.bytes_remaining
            if replicating(group) and remaining == 0:
                progress(ProgressEvent(sp.label, "initial sync done: ContinuouslyReplicating", 1.0))
                return
            most = max(most, remaining)
            total = sum(r.partition_size or 0 for r in group.replicas)
            base = total if total >= remaining and total > 0 else most
            fraction = max(0.0, min(1.0, 1 - remaining / base)) if base else None
            status = next((s for s in statuses if s.lower() not in REPLICATING), statuses[0] if statuses else "?")
            text = f"initial sync: {size_text(remaining)} left ({status})"
        if time.monotonic() > deadline:
            raise StepFailed(step, f"{sp.label}: the initial sync did not finish within "
                                   f"{ctx.cluster.timeouts.storage_sync:g} s ({text})")
        progress(ProgressEvent(sp.label, text, fraction))
        await asyncio.sleep(ctx.poll)


async def _recreate_one(ctx: Context, sp: PartnershipSnapshot, progress: Progress, step: str,
                        sites: Mapping[str, str]) -> None:
    state = await observe(ctx, ("sr_groups", "sr_partnerships"))
    if problem(state.sr_partnerships):
        raise StepFailed(step, f"{sp.label}: Storage Replica partnerships: {problem(state.sr_partnerships)}")
    record = ctx.journal.step(PHASE_RECREATE, RECREATE, sp.label)
    if _find(state.sr_partnerships, sp.key) is None:
        if record is not None and record.data.get("sent"):
            progress(ProgressEvent(sp.label, "was sent before an interruption but is not there: creating it again", None))
        ctx.journal.set_step(PHASE_RECREATE, RECREATE, sp.label, StepStatus.RUNNING, "creating",
                             data={"sent": False}, fresh=True)
        progress(ProgressEvent(sp.label, "New-SRPartnership", None))
        try:
            await ctx.client.invoke_cluster(sr_ops.new_sr_partnership, recreate_params(sp))
        except RemoteError as exc:
            again = await observe(ctx, ("sr_partnerships",))
            if problem(again.sr_partnerships) or _find(again.sr_partnerships, sp.key) is None:
                ctx.journal.set_step(PHASE_RECREATE, RECREATE, sp.label, StepStatus.FAILED, exc.message)
                raise StepFailed(step, f"{sp.label}: {exc.message}") from None
        ctx.journal.set_step(PHASE_RECREATE, RECREATE, sp.label, StepStatus.RUNNING, "initial block copy",
                             data={"sent": True})
    elif record is None or record.status is not StepStatus.DONE:
        progress(ProgressEvent(sp.label, "already present: checking its sync", None))
        ctx.journal.set_step(PHASE_RECREATE, RECREATE, sp.label, StepStatus.RUNNING,
                             "present; checking its initial sync", data={"sent": True})
    try:
        await _wait_for_sync(ctx, sp, progress, step)
    except StepFailed as exc:
        ctx.journal.set_step(PHASE_RECREATE, RECREATE, sp.label, StepStatus.FAILED, exc.message)
        raise
    after = await observe(ctx, ("sr_groups", "sr_partnerships"))
    reasons = _sr_unreadable(after, ("sr_groups", "sr_partnerships"))
    if reasons:
        ctx.journal.set_step(PHASE_RECREATE, RECREATE, sp.label, StepStatus.FAILED, "; ".join(reasons))
        raise StepFailed(step, f"{sp.label}: cannot compare it with the snapshot: " + "; ".join(reasons))
    own = SRSnapshot(cluster=ctx.name, taken_at=datetime.now(timezone.utc), partnerships=[sp])
    differences = [d for d in diff(own, after.sr_groups, after.sr_partnerships, sites) if d.kind != "extra"]
    if differences:
        message = "replicates, but differs from the snapshot: " + "; ".join(
            d.sentence.removeprefix(f"{sp.label}: ") for d in differences)
        ctx.journal.set_step(PHASE_RECREATE, RECREATE, sp.label, StepStatus.FAILED, message)
        raise StepFailed(step, f"{sp.label} {message}")
    ctx.journal.set_step(PHASE_RECREATE, RECREATE, sp.label, StepStatus.DONE,
                         "ContinuouslyReplicating; same as the snapshot")
    progress(ProgressEvent(sp.label, "replicating, same as the snapshot", 1.0))


def record_diff(ctx: Context, differences: list[Difference]) -> None:
    if differences:
        ctx.journal.set_step(PHASE_RECREATE, DIFF, None, StepStatus.FAILED,
                             f"{len(differences)} difference{'s' if len(differences) != 1 else ''}: "
                             + "; ".join(d.sentence for d in differences[:3]))
    else:
        ctx.journal.set_step(PHASE_RECREATE, DIFF, None, StepStatus.DONE, "same as the snapshot")


async def recreate(ctx: Context, progress: Progress = no_progress) -> list[Difference]:
    """Recreate every partnership of the snapshot, one at a time, then diff the whole against it."""
    step = "recreate SR partnerships"
    snapshot = _verified(ctx, step)
    state = await observe(ctx, SR_PARTS)
    reasons = recreate_blockers(state)
    if reasons:
        raise Refused(step, reasons)
    sites = sites_of(ctx)
    for sp in snapshot.partnerships:
        await _recreate_one(ctx, sp, progress, step, sites)
    differences = await compare(ctx, snapshot)
    if differences:
        raise StepFailed(step, "the recreated configuration differs from the snapshot: "
                         + "; ".join(d.sentence for d in differences[:3]))
    return differences


async def compare(ctx: Context, snapshot: SRSnapshot | None = None, *, record: bool = True) -> list[Difference]:
    """Read the cluster and diff it against the (re-read) snapshot. Raises SnapshotError or StepFailed."""
    snapshot = snapshot or load_snapshot(ctx)
    state = await observe(ctx, ("sr_groups", "sr_partnerships"))
    reasons = _sr_unreadable(state, ("sr_groups", "sr_partnerships"))
    if reasons:
        raise StepFailed("SR diff", "; ".join(reasons))
    differences = diff(snapshot, state.sr_groups, state.sr_partnerships, sites_of(ctx))
    if record:
        record_diff(ctx, differences)
    return differences


# ------------------------------------------------------------- menu and resume


def menu_state(ctx: Context) -> str:
    """One phrase for the main menu: where the SR work stands, from the journal."""
    info = snapshot_info(ctx)
    recreated = [r for r in ctx.journal.steps(PHASE_RECREATE) if r.step == RECREATE]
    removal = ctx.journal.step(PHASE_SNAPSHOT, REMOVE)
    if recreated and info is not None:
        done = sum(1 for r in recreated if r.status is StepStatus.DONE)
        check = ctx.journal.step(PHASE_RECREATE, DIFF)
        tail = ""
        if check is not None:
            tail = ", diff same" if check.status is StepStatus.DONE else ", diff DIFFERS"
        return f"{done}/{info.partnerships} recreated{tail}"
    if removal is not None:
        if removal.status is StepStatus.DONE:
            return f"{len(removal.data.get('removed', []))} removed; recreate after the upgrade"
        if removal.status in (StepStatus.RUNNING, StepStatus.UNKNOWN):
            return "removal interrupted; run it again"
        return "removal failed; see the journal"
    if info is None:
        return "no snapshot yet"
    if not info.reread:
        return "snapshot not re-read"
    when = info.taken_at
    try:
        when = datetime.fromisoformat(info.taken_at).astimezone().strftime("%H:%M")
    except ValueError:
        pass
    return f"snapshot {when}, {info.partnerships} partnerships"


@resume.register(SNAPSHOT)
async def _reverify_snapshot(ctx: Context, record: StepRecord) -> StepStatus:
    try:
        reread_snapshot(ctx)
    except SnapshotError:
        return StepStatus.FAILED
    return StepStatus.DONE


@resume.register(REMOVE)
async def _reverify_removal(ctx: Context, record: StepRecord) -> StepStatus:
    snapshot = load_snapshot(ctx)
    state = await observe(ctx, ("sr_partnerships",))
    if problem(state.sr_partnerships):
        raise StepFailed("re-verify SR removal", problem(state.sr_partnerships) or "")
    live = {live_key(p) for p in state.sr_partnerships}
    return StepStatus.PENDING if any(sp.key in live for sp in snapshot.partnerships) else StepStatus.DONE


@resume.register(RECREATE)
async def _reverify_recreate(ctx: Context, record: StepRecord) -> StepStatus:
    snapshot = load_snapshot(ctx)
    sp = next((p for p in snapshot.partnerships if p.label == record.node), None)
    if sp is None:
        return StepStatus.FAILED
    state = await observe(ctx, ("sr_groups", "sr_partnerships"))
    reasons = _sr_unreadable(state, ("sr_groups", "sr_partnerships"))
    if reasons:
        raise StepFailed("re-verify SR recreate", "; ".join(reasons))
    if _find(state.sr_partnerships, sp.key) is None:
        return StepStatus.PENDING
    group = _by_name(state.sr_groups).get(sp.destination_rg.lower())
    if group is None or not replicating(group) or group.bytes_remaining:
        return StepStatus.PENDING
    own = SRSnapshot(cluster=ctx.name, taken_at=datetime.now(timezone.utc), partnerships=[sp])
    differences = [d for d in diff(own, state.sr_groups, state.sr_partnerships, sites_of(ctx)) if d.kind != "extra"]
    return StepStatus.FAILED if differences else StepStatus.DONE
