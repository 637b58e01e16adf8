"""Durable run state (the journal) and the audit log, one of each per cluster.

The journal says where the upgrade stands: every phase/step/node with its status
(pending, running, done, failed, unknown), the one-node-out lock, and the last
verification. Every change is written atomically, so a kill at any instant leaves the
previous state readable. On load, a step found ``running`` becomes ``unknown``: it must be
re-verified, never assumed done.

The audit log is JSON lines, one per remote operation. No secret is ever written: the
sessions record parameters through ``Params.to_audit`` (secret fields redacted), and this
module also scrubs every password hcitui holds (``add_secret``, ``HCITUI_PASSWORD``) from
every line as a second guard.
"""

from __future__ import annotations

import getpass
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

from pydantic import BaseModel, Field, ValidationError

from hcitui.fsutil import atomic_write_text


class StepStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


class JournalError(Exception):
    pass


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class StepRecord(BaseModel):
    phase: int
    step: str
    node: str | None = None
    status: StepStatus = StepStatus.PENDING
    started: str | None = None
    finished: str | None = None
    detail: str | None = None
    pid: int | None = None  # the process running it (a step another live process runs is not interrupted)
    data: dict[str, Any] = Field(default_factory=dict)  # what a step needs to resume (e.g. boot time before)

    @property
    def key(self) -> str:
        return step_key(self.phase, self.step, self.node)


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
        """Record a step's status. ``data`` is merged into what the step keeps; ``fresh`` starts it over."""
        with self._lock:
            key = step_key(phase, step, node)
            record = self.state.steps.get(key)
            if record is None or fresh:
                record = StepRecord(phase=phase, step=step, node=node)
            entering = record.status is not StepStatus.RUNNING or record.started is None
            record.status = status
            record.detail = detail
            if data:
                record.data.update(data)
            record.pid = os.getpid() if status is StepStatus.RUNNING else None
            if status is StepStatus.RUNNING and entering:
                record.started, record.finished = _now(), None
            elif status in (StepStatus.DONE, StepStatus.FAILED):
                record.finished = _now()
            self.state.steps[key] = record
            self._save()
            return record

    def step(self, phase: int, step: str, node: str | None = None) -> StepRecord | None:
        return self.state.steps.get(step_key(phase, step, node))

    def steps(self, phase: int | None = None) -> list[StepRecord]:
        rows = [r for r in self.state.steps.values() if phase is None or r.phase == phase]
        return sorted(rows, key=lambda r: (r.phase, r.step, r.node or ""))

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


@dataclass
class AuditLog:
    path: Path

    @classmethod
    def open(cls, state_root: Path, cluster: str) -> AuditLog:
        path = cluster_dir(state_root, cluster) / "audit.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()

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
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                # A kill mid-write can leave a torn last line: never glue a new record onto it.
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = "\n" + line
                os.write(fd, (line + "\n").encode("utf-8"))
            finally:
                os.close(fd)

    def __call__(self, record: dict[str, Any]) -> None:
        self.append(record)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable record, oldest first; a torn last line (a kill mid-write) is skipped."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue
