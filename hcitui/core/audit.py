"""The audit log, one per cluster: JSON lines, one per remote operation.

Changes and reads go to two files, each rotated at a configured size (see :class:`AuditLog`). No
secret is ever written: the sessions record parameters through ``Params.to_audit`` (secret fields
redacted, bulk values as their size and sha256), and this module also scrubs every password hcitui
holds (``add_secret``, ``HCITUI_PASSWORD``) from every line as a second guard.
"""

from __future__ import annotations

import glob
import heapq
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hcitui.core.files import exclusive_lock, shared_lock
from hcitui.core.journal import cluster_dir

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
        with self._lock, exclusive_lock(self.path):
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
        with shared_lock(self.path):  # opened at one instant: a rotation meanwhile cannot skip a file
            changes = _open_all(self.files(reads=False))
            read_files = _open_all(self.files(changes=False)) if reads else []
        streams = [_lines(changes)] + ([_lines(read_files)] if read_files else [])
        if len(streams) == 1:
            yield from streams[0]
            return
        yield from heapq.merge(*streams, key=lambda record: str(record.get("time") or ""))

    def changes(self) -> Iterator[dict[str, Any]]:
        return self.records(reads=False)


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
