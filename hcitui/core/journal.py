"""Durable run state (the journal) and the audit log, one of each per cluster.

The journal says where the upgrade stands: every phase/step/node with its status
(pending, running, done, failed, unknown), the one-node-out lock, and the last
verification. Every change is written atomically, so a kill at any instant leaves the
previous state readable. On load, a step found ``running`` becomes ``unknown``: it must be
re-verified, never assumed done.

The audit log is JSON lines, one per remote operation: changes and reads in two files, each
rotated at a configured size (see :class:`AuditLog`). No secret is ever written: the sessions
record parameters through ``Params.to_audit`` (secret fields redacted, bulk values as their size
and sha256), and this module also scrubs every password hcitui holds (``add_secret``,
``HCITUI_PASSWORD``) from every line as a second guard.
"""

from __future__ import annotations

from hcitui.core.errors import HciError

import getpass
import glob
import heapq
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from hcitui.core.files import atomic_write_text


class StepStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


class JournalError(HciError):
    pass


def local_time(stamp: str | None, empty: str = "", fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A journal time (ISO 8601 with its offset) in local time with its date; ``empty`` when there is
    none, the text itself when it is not a time. Screens, gates and the report all show times so."""
    if not stamp:
        return empty
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime(fmt)
    except ValueError:
        return stamp


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


MAX_RUNS = 50  # runs kept per step (the oldest are dropped): the journal stays bounded


class StepRun(BaseModel):
    """One run of a step: when it started and ended (ISO 8601, UTC with offset), how it ended, by whom."""

    status: StepStatus = StepStatus.PENDING
    started: str | None = None
    finished: str | None = None
    detail: str | None = None
    operator: str | None = None


_RUN_FIELDS = ("status", "started", "finished", "detail", "operator")


class StepRecord(BaseModel):
    """A step (phase, name, node) and every run of it, oldest first. Its state is its latest run's:
    ``status``, ``started``, ``finished``, ``detail`` read (and write) ``runs[-1]``."""

    phase: int
    step: str
    node: str | None = None
    runs: list[StepRun] = Field(default_factory=list)
    pid: int | None = None  # the process running it (a step another live process runs is not interrupted)
    data: dict[str, Any] = Field(default_factory=dict)  # what a step needs to resume (e.g. boot time before)

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, value: Any) -> Any:
        """A record of the previous format (one run, inline) becomes one run; so do keyword arguments."""
        if not isinstance(value, dict) or not any(k in value for k in _RUN_FIELDS):
            return value
        value = dict(value)
        inline = {k: value.pop(k) for k in _RUN_FIELDS if k in value}
        if "runs" not in value:
            status = inline.get("status")
            ran = any(inline.get(k) for k in ("started", "finished", "detail"))
            if ran or (status is not None and StepStatus(status) is not StepStatus.PENDING):
                value["runs"] = [inline]
        return value

    @property
    def key(self) -> str:
        return step_key(self.phase, self.step, self.node)

    @property
    def latest(self) -> StepRun | None:
        return self.runs[-1] if self.runs else None

    def _current(self) -> StepRun:
        if not self.runs:
            self.runs.append(StepRun())
        return self.runs[-1]

    @property
    def status(self) -> StepStatus:
        return self.runs[-1].status if self.runs else StepStatus.PENDING

    @status.setter
    def status(self, value: StepStatus) -> None:
        self._current().status = StepStatus(value)

    @property
    def started(self) -> str | None:
        return self.runs[-1].started if self.runs else None

    @started.setter
    def started(self, value: str | None) -> None:
        self._current().started = value

    @property
    def finished(self) -> str | None:
        return self.runs[-1].finished if self.runs else None

    @finished.setter
    def finished(self, value: str | None) -> None:
        self._current().finished = value

    @property
    def detail(self) -> str | None:
        return self.runs[-1].detail if self.runs else None

    @detail.setter
    def detail(self, value: str | None) -> None:
        self._current().detail = value

    @property
    def operator(self) -> str | None:
        return self.runs[-1].operator if self.runs else None


class NodeLock(BaseModel):
    """One node out of service at a time (RUNBOOK 4.1): who holds it, and the node's prior state."""

    node: str
    reason: str
    since: str
    was_paused: bool
    operator: str | None = None


class NodeBuilds(BaseModel):
    """A node's OS build when hcitui first and last saw it (the report's "before" and "after")."""

    first_build: str
    first_seen: str
    last_build: str
    last_seen: str


class JournalState(BaseModel):
    schema_version: int = 1
    cluster: str
    updated: str | None = None
    steps: dict[str, StepRecord] = Field(default_factory=dict)
    lock: NodeLock | None = None
    last_verification: dict[str, Any] | None = None
    inventory: dict[str, NodeBuilds] = Field(default_factory=dict)


def current_operator() -> str:
    """Who runs this process, as the journal and audit log name them."""
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in a container
        return "unknown"


def step_key(phase: int, step: str, node: str | None) -> str:
    return f"{phase}/{step}/{node or '*'}"


_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def cluster_dir(state_root: Path, cluster: str) -> Path:
    return Path(state_root) / "clusters" / _SAFE.sub("_", cluster)


class Journal:
    """The journal of one cluster. Not shared between processes at the same instant."""

    def __init__(self, path: Path, state: JournalState, recovered: list[StepRecord]) -> None:
        self.path = path
        self.state = state
        self.recovered = recovered  # steps that were running when the last process stopped
        self._lock = threading.Lock()
        # The journal as last read from or written to disk: what another process changed since is merged
        # in on the next write (see _save), so two hcitui processes on one cluster never erase each other.
        self._base: dict[str, Any] = state.model_dump(mode="json")

    @classmethod
    def open(cls, state_root: Path, cluster: str) -> Journal:
        path = cluster_dir(state_root, cluster) / "journal.json"
        if not path.exists():
            return cls(path, JournalState(cluster=cluster), [])
        try:
            state = JournalState.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError, ValueError) as exc:
            raise JournalError(
                f"the journal {path} cannot be read ({exc.__class__.__name__}); it was left as it is. "
                "Move it aside to start a new one."
            ) from None
        recovered = []
        base = state.model_dump(mode="json")
        for record in state.steps.values():
            if record.status is StepStatus.RUNNING and not _running_elsewhere(record.pid):
                record.status = StepStatus.UNKNOWN
                record.detail = "interrupted: was running when hcitui stopped; re-verify before going on"
                recovered.append(record)
        journal = cls(path, state, recovered)
        journal._base = base
        if recovered:
            journal._save()
        return journal

    # ---------------------------------------------------------------- writing
    def _save(self) -> None:
        with _write_lock(self.path):
            self._save_holding_write_lock()

    def _save_holding_write_lock(self) -> None:
        self.state.updated = _now()
        self._merge_from_disk()
        atomic_write_text(self.path, self.state.model_dump_json(indent=1))
        self._base = self.state.model_dump(mode="json")

    def _merge_from_disk(self) -> None:
        """Take in what another process wrote since we last read: ours wins where we changed something."""
        theirs = _read_json(self.path)
        if theirs is None or _without_updated(theirs) == _without_updated(self._base):
            return
        ours, base = self.state.model_dump(mode="json"), self._base
        merged = dict(theirs)
        for name, value in ours.items():
            if name in _KEYED_FIELDS and isinstance(theirs.get(name), dict):
                keyed = dict(theirs[name])
                for key, item in (value or {}).items():
                    if item != (base.get(name) or {}).get(key):
                        keyed[key] = item
                merged[name] = keyed
            elif name == "updated" or value != base.get(name):
                merged[name] = value
        try:
            self.state = JournalState.model_validate(merged)
        except ValidationError:
            return  # what is on disk is not a journal we can merge with: ours is written as it is

    def refresh(self) -> None:
        """Read what other hcitui processes on this cluster wrote (the journal view calls this)."""
        with self._lock:
            theirs = _read_json(self.path)
            if theirs is None:
                return
            try:
                state = JournalState.model_validate(theirs)
            except ValidationError:
                return
            self.state, self._base = state, state.model_dump(mode="json")

    def set_step(self, phase: int, step: str, node: str | None, status: StepStatus, detail: str | None = None,
                 *, data: dict[str, Any] | None = None, fresh: bool = False) -> StepRecord:
        """Record a step's status. ``data`` is merged into what the step keeps; ``fresh`` starts it over.

        A new run begins with ``fresh``, at the step's first record, and when a step that had ended (done
        or failed) runs again; otherwise the latest run is updated: an interrupted (unknown) run that
        resumes or is re-verified keeps its start time. At most ``MAX_RUNS`` runs are kept per step.
        """
        with self._lock:
            key = step_key(phase, step, node)
            record = self.state.steps.get(key)
            if record is None:
                record = StepRecord(phase=phase, step=step, node=node)
            elif fresh:
                record.data = {}
            latest = record.latest
            if (fresh or latest is None
                    or (status is StepStatus.RUNNING and latest.status in (StepStatus.DONE, StepStatus.FAILED))):
                latest = StepRun(operator=current_operator())
                record.runs.append(latest)
                del record.runs[:-MAX_RUNS]
            latest.status = status
            latest.detail = detail
            if data:
                record.data.update(data)
            record.pid = os.getpid() if status is StepStatus.RUNNING else None
            if status is StepStatus.RUNNING:
                if latest.started is None:
                    latest.started = _now()
                latest.finished = None
            elif status in (StepStatus.DONE, StepStatus.FAILED):
                latest.finished = _now()
            self.state.steps[key] = record
            self._save()
            return record

    def step(self, phase: int, step: str, node: str | None = None) -> StepRecord | None:
        return self.state.steps.get(step_key(phase, step, node))

    def steps(self, phase: int | None = None) -> list[StepRecord]:
        rows = [r for r in self.state.steps.values() if phase is None or r.phase == phase]
        return sorted(rows, key=lambda r: (r.phase, r.step, r.node or ""))

    def running_here(self) -> list[str]:
        """The keys of the steps this process runs now."""
        return [r.key for r in self.steps() if r.status is StepStatus.RUNNING and r.pid == os.getpid()]

    def note_left_mid_step(self, keys: list[str]) -> list[StepRecord]:
        """The operator left hcitui while the steps ``keys`` ran: each says so in its detail, and one still
        running is ``unknown`` at once (re-verify before going on), as a step found running at start is."""
        with self._lock:
            noted = []
            note = f"the operator ({current_operator()}) left hcitui mid-step at {_now()}"
            for key in keys:
                record = self.state.steps.get(key)
                if record is None:
                    continue
                reached = f"; it had reached: {record.detail}" if record.detail else ""
                if record.status is StepStatus.RUNNING:
                    record.status, record.pid = StepStatus.UNKNOWN, None
                    record.detail = f"interrupted: {note}{reached}; re-verify before going on"
                else:
                    record.detail = f"{note}{reached}"
                noted.append(record)
            if noted:
                self._save()
            return noted

    def acquire_lock(self, node: str, reason: str, *, was_paused: bool, operator: str | None = None) -> NodeLock:
        # Check and take under the cross-process write lock, against what is on disk: two hcitui
        # processes must never both believe they have a node out.
        with self._lock, _write_lock(self.path):
            self._merge_from_disk()
            current = self.state.lock
            if current is not None and current.node != node:
                raise JournalError(
                    f"{current.node} is out of service since {current.since} ({current.reason}); "
                    "one node at a time"
                )
            if current is None:
                self.state.lock = NodeLock(node=node, reason=reason, since=_now(), was_paused=was_paused,
                                           operator=operator or current_operator())
                self._save_holding_write_lock()
            return self.state.lock

    def release_lock(self, node: str) -> None:
        with self._lock:
            if self.state.lock is not None and self.state.lock.node == node:
                self.state.lock = None
                self._save()

    def record_verification(self, summary: dict[str, Any]) -> None:
        with self._lock:
            self.state.last_verification = summary
            self._save()

    def record_builds(self, builds: dict[str, str], *, every: float = 60.0) -> None:
        """Note each node's build as observed now: the first one seen stays, the last one moves on.

        A node whose build did not change is written at most every ``every`` seconds (a monitor
        observes every few seconds; the journal need not be rewritten each time).
        """
        with self._lock:
            now = datetime.now(timezone.utc)
            stamp = now.isoformat(timespec="seconds")
            changed = False
            for node, build in builds.items():
                known = self.state.inventory.get(node)
                if known is None:
                    self.state.inventory[node] = NodeBuilds(first_build=build, first_seen=stamp,
                                                            last_build=build, last_seen=stamp)
                    changed = True
                elif known.last_build != build or _age(known.last_seen, now) >= every:
                    known.last_build, known.last_seen = build, stamp
                    changed = True
            if changed:
                self._save()


_KEYED_FIELDS = ("steps", "inventory")  # merged entry by entry; every other field as a whole


def _without_updated(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "updated"}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _age(stamp: str, now: datetime) -> float:
    try:
        return (now - datetime.fromisoformat(stamp)).total_seconds()
    except (TypeError, ValueError):
        return float("inf")


def _running_elsewhere(pid: int | None) -> bool:
    """Is ``pid`` another live hcitui process (whose running step is not interrupted)?"""
    if not pid or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    except OSError:
        return False
    try:  # a reused pid is not hcitui: its program (or python -m's module) is named hcitui
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return True
    return any(os.path.basename(arg) == b"hcitui" for arg in argv)


@contextmanager
def _write_lock(path: Path) -> Iterator[None]:
    """Serialise read-merge-write of one journal between processes (held for milliseconds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# --------------------------------------------------------------------- audit log


AUDIT_MAX_BYTES = 10 * 1024 * 1024  # the size at which an audit file is rotated (config: audit_max_mb)
AUDIT_KEEP = 5  # rotated files kept besides the current one (config: audit_keep)


@dataclass
class AuditLog:
    """The audit log of one cluster: JSON lines, in two files that rotate on their own.

    ``path`` (``audit.jsonl``) holds the changes: every operation that mutates, whatever its outcome
    (refused, failed, ok). ``reads_path`` (``audit-reads.jsonl``) holds the reads. A monitor reads the
    cluster every few seconds; kept apart, its reads can never rotate a change out of the log. Each
    file is rotated when a line would take it over ``max_bytes``: ``audit.jsonl`` becomes
    ``audit.jsonl.1`` (the older ones move up), and only ``keep`` rotated files are kept.
    :meth:`records` reads every file of both, oldest first, merged by time.
    """

    path: Path
    max_bytes: int = AUDIT_MAX_BYTES
    keep: int = AUDIT_KEEP

    @classmethod
    def open(cls, state_root: Path, cluster: str, *, max_bytes: int = AUDIT_MAX_BYTES,
             keep: int = AUDIT_KEEP) -> AuditLog:
        path = cluster_dir(state_root, cluster) / "audit.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path, max_bytes=max_bytes, keep=keep)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self._lock = threading.Lock()
        self._secrets: set[str] = set()

    @property
    def reads_path(self) -> Path:
        return self.path.with_name(f"{self.path.stem}-reads{self.path.suffix}")

    def add_secret(self, secret: str | None) -> None:
        """A secret that must never appear in the log (the password in use, whatever its source)."""
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), default=str)
        secrets = set(self._secrets)
        env_secret = os.environ.get("HCITUI_PASSWORD")
        if env_secret and len(env_secret) >= 4:
            secrets.add(env_secret)
        for secret in secrets:
            line = line.replace(json.dumps(secret)[1:-1], "<redacted>")
        # A record that says it changes nothing is a read; anything else (a change, or a record that
        # does not say) goes to the change log.
        path = self.reads_path if record.get("mutates") is False else self.path
        data = (line + "\n").encode("utf-8")
        # The lock file serialises writers across processes, so a rotation never races an append.
        with self._lock, _write_lock(self.path):
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and size + len(data) > self.max_bytes:
                    os.close(fd)
                    fd = -1
                    self._rotate(path)
                    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
                    size = 0
                # A kill mid-write can leave a torn last line: never glue a new record onto it.
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data
                os.write(fd, data)
            finally:
                if fd >= 0:
                    os.close(fd)

    def _rotate(self, path: Path) -> None:
        """``path`` -> ``path.1``, ``path.1`` -> ``path.2``...; what would pass ``keep`` is deleted."""
        for old in _rotated(path):
            if _rotation_number(old, path) >= self.keep:
                old.unlink(missing_ok=True)
        for number in range(self.keep - 1, 0, -1):
            older = path.with_name(f"{path.name}.{number}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{number + 1}"))
        if self.keep < 1:
            path.unlink(missing_ok=True)
        else:
            path.replace(path.with_name(f"{path.name}.1"))

    def __call__(self, record: dict[str, Any]) -> None:
        self.append(record)

    def files(self, *, reads: bool = True, changes: bool = True) -> list[Path]:
        """The files of the log that exist, each kind oldest first (rotated ones, then the current one)."""
        out = []
        for path, wanted in ((self.path, changes), (self.reads_path, reads)):
            if wanted:
                out += [*reversed(_rotated(path)), *([path] if path.exists() else [])]
        return out

    def records(self, *, reads: bool = True) -> Iterator[dict[str, Any]]:
        """Every readable record, oldest first, across the rotated files; a torn line is skipped.
        ``reads=False``: the changes only (and it reads only their files)."""
        with _read_lock(self.path):  # opened at one instant: a rotation meanwhile cannot skip a file
            changes = _open_all(self.files(reads=False))
            read_files = _open_all(self.files(changes=False)) if reads else []
        streams = [_lines(changes)] + ([_lines(read_files)] if read_files else [])
        if len(streams) == 1:
            yield from streams[0]
            return
        yield from heapq.merge(*streams, key=lambda record: str(record.get("time") or ""))

    def changes(self) -> Iterator[dict[str, Any]]:
        return self.records(reads=False)


@contextmanager
def _read_lock(path: Path) -> Iterator[None]:
    """Shared with other readers, exclusive of a writer; creates nothing where nothing was logged yet
    (``hcitui report`` only reads), and reads without it when the lock cannot be had (a read-only folder)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = -1
    if path.parent.is_dir():
        try:
            fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_SH)
        except OSError:
            if fd >= 0:
                os.close(fd)
            fd = -1
    try:
        yield
    finally:
        if fd >= 0:
            os.close(fd)


def _rotation_number(candidate: Path, path: Path) -> int:
    suffix = candidate.name[len(path.name) + 1:]
    return int(suffix) if suffix.isdigit() else -1


def _rotated(path: Path) -> list[Path]:
    """``path.1``, ``path.2``... that exist, newest first."""
    if not path.parent.is_dir():
        return []
    found = [p for p in path.parent.glob(f"{glob.escape(path.name)}.*") if _rotation_number(p, path) > 0]
    return sorted(found, key=lambda p: _rotation_number(p, path))


def _open_all(paths: list[Path]) -> list[Any]:
    handles = []
    for path in paths:
        try:
            handles.append(path.open(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    return handles


def _lines(handles: list[Any]) -> Iterator[dict[str, Any]]:
    for handle in handles:
        with handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    yield record
