"""Durable file writes: a crash or a kill never leaves a half-written file behind; and the lock files
that serialise writers of one file between processes (the journal, the audit log)."""

from __future__ import annotations

import os
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path


def atomic_write_text(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` atomically: temp file in the same folder, fsync, rename, fsync folder.

    A reader sees the old content or the new, never a mix, whatever happens mid-write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dir_fd)


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock file (``path`` with the suffix ``.lock``) exclusively: one writer at a time,
    across processes. Creates the folder and the lock file; held for milliseconds by its callers."""
    path = Path(path)
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


@contextmanager
def shared_lock(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock file shared with other readers, exclusive of a writer. Creates nothing where
    the folder does not exist (a reader only reads), and goes on without the lock when it cannot be had
    (a read-only folder)."""
    path = Path(path)
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


def log_crash(exc: BaseException, folder: Path, version: str) -> str:
    """Append ``exc``'s traceback to ``crash.log`` in ``folder``; where it went, in words, for the operator."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "crash.log"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {datetime.now(UTC).isoformat()} hcitui {version}\n")
            handle.write("".join(traceback.format_exception(exc)))
        return str(path)
    except OSError:
        return "(could not write the crash log)"
