"""Durable run state: the journal, one per cluster.

The journal says where the upgrade stands: every phase/step/node with its status
(pending, running, done, failed, unknown), the one-node-out lock, and the last
verification. Every change is written atomically, so a kill at any instant leaves the
previous state readable. On load, a step found ``running`` becomes ``unknown``: it must be
re-verified, never assumed done.

The audit log, kept beside it in the same cluster folder, is :mod:`hcitui.core.audit`.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import threading
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from hcitui.core.errors import HciError
from hcitui.core.files import atomic_write_text, exclusive_lock


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
    return datetime.now(UTC).isoformat(timespec="seconds")


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
        with exclusive_lock(self.path):
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
        with self._lock, exclusive_lock(self.path):
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
            now = datetime.now(UTC)
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
