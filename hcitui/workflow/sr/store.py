"""Taking the snapshot and reading it back.

The snapshot is written atomically into the journal directory (``sr-snapshots/<time>.json`` and
``latest.json``) and then *re-read*: parsed back from disk and checked against the hash recorded
when it was written. Removal and recreation use only a re-read snapshot (:func:`load_snapshot`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from hcitui.core import model
from hcitui.core.files import atomic_write_text
from hcitui.core.journal import StepStatus, cluster_dir
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.observe import observe
from hcitui.workflow.sr.interlocks import not_stretched, sr_unreadable
from hcitui.workflow.sr.snapshot import (
    PHASE_SNAPSHOT,
    REREAD,
    SNAPSHOT,
    TAKE_NEW,
    SnapshotError,
    SRSnapshot,
    build_snapshot,
    live_key,
)
from hcitui.workflow.steps import Refused, StepFailed


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
    stamp = snapshot.taken_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
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
                            "take a new one", remedy=TAKE_NEW) from None
    sha = _sha(raw)
    if sha != info.sha256:
        raise SnapshotError(f"the snapshot {info.path} changed since it was written (sha256 {sha[:12]}, "
                            f"written as {info.sha256[:12]}): take a new one", remedy=TAKE_NEW)
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


def _none_taken() -> SnapshotError:
    return SnapshotError("no Storage Replica snapshot has been taken: take one first", remedy=TAKE_NEW)


def reread_snapshot(ctx: Context) -> SRSnapshot:
    """Read the journal's snapshot back from disk and check it is what was written; journal the result."""
    info = snapshot_info(ctx)
    if info is None:
        raise _none_taken()
    try:
        snapshot = _read_file(ctx, info)
    except SnapshotError as exc:
        ctx.journal.set_step(PHASE_SNAPSHOT, SNAPSHOT, None, StepStatus.FAILED, exc.sentence, data={"reread": False})
        raise
    count = len(snapshot.partnerships)
    ctx.journal.set_step(PHASE_SNAPSHOT, SNAPSHOT, None, StepStatus.DONE,
                         f"{count} partnership{'s' if count != 1 else ''}, re-read OK: {info.path.name}",
                         data={"reread": True, "reread_at": datetime.now(UTC).isoformat(timespec="seconds")})
    return snapshot


def load_snapshot(ctx: Context) -> SRSnapshot:
    """The current snapshot, checked against its hash, only if it was re-read. Raises SnapshotError."""
    info = snapshot_info(ctx)
    if info is None:
        raise _none_taken()
    if not info.reread or info.status is not StepStatus.DONE:
        raise SnapshotError(f"the snapshot {info.path.name} was not re-read after it was written: "
                            "re-read it first", remedy=REREAD)
    return _read_file(ctx, info)


def verified(ctx: Context, step: str) -> SRSnapshot:
    """The re-read snapshot ``step`` works from; Refused (with the error's remedy) without one."""
    try:
        return load_snapshot(ctx)
    except SnapshotError as exc:
        raise Refused(step, [exc.sentence], remedy=exc.remedy) from None


async def take_snapshot(ctx: Context, progress: Progress = no_progress, *, reread: bool = True) -> SRSnapshot:
    """Read every group and partnership, write the snapshot, then re-read it (unless told not to).

    Refused while the current snapshot holds a partnership the cluster no longer has (removed and
    not yet recreated): a new snapshot would forget how to recreate it."""
    step = "SR snapshot"
    progress(ProgressEvent(ctx.name, "reading Get-SRGroup and Get-SRPartnership"))
    state = await observe(ctx, ("sr_groups", "sr_partnerships"))
    outside = not_stretched(ctx, state, ("sr_groups", "sr_partnerships"))
    if outside:
        raise Refused(step, outside)
    reasons = sr_unreadable(state, ("sr_groups", "sr_partnerships"))
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
    progress(ProgressEvent(ctx.name, f"written: {path.name}"))
    if not reread:
        return snapshot
    try:
        snapshot = reread_snapshot(ctx)
    except SnapshotError as exc:
        raise StepFailed(step, exc.sentence, remedy=exc.remedy) from None
    progress(ProgressEvent(ctx.name, f"re-read OK: {count} partnerships", 1.0, stage=Stage.DONE,
                           done=count, total=count))
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
