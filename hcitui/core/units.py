"""How hcitui writes quantities for the operator, once: bytes, durations, clock times, progress bars
and Markdown cells. Every screen, report and printed line uses these, so one number reads the same
everywhere."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_bytes(count: int | float | None, unknown: str = "?") -> str:
    """``512 B``, ``1.5 GiB``, ``2.0 TiB``; ``unknown`` when nothing was read."""
    if count is None:
        return unknown
    size = float(count)
    for unit in _UNITS:
        # Judged as it will be written: 1023.96 KiB reads 1.0 MiB, never 1024.0 KiB.
        shown = round(size) if unit == "B" else round(size, 1)
        if abs(shown) < 1024 or unit == _UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"  # pragma: no cover - the loop always returns


def duration(seconds: float | None, unknown: str = "?") -> str:
    """``0:42``, ``12:05``, ``1:02:05``; ``unknown`` when there is no figure."""
    if seconds is None:
        return unknown
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def milliseconds(ms: float | None, unknown: str = "?") -> str:
    """A call's duration: ``840 ms`` below ten seconds, ``12.3 s`` above."""
    if ms is None:
        return unknown
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def clock(when: datetime | None, unknown: str = "", *, date: bool = False) -> str:
    """A moment in local time: ``14:05:09``, or ``2026-11-24 14:05:09`` with ``date``."""
    if when is None:
        return unknown
    local = when.astimezone() if when.tzinfo else when
    return local.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")


def bar(fraction: float | None, width: int = 20, *, percent: bool = True) -> str:
    """A progress bar readable without colour: ``[########............]  40%``; with ``percent`` off,
    the brackets alone. An unknown fraction shows as ``[????]   ?%``."""
    if fraction is None:
        inner = "?" * width
        return f"[{inner}]" + ("   ?%" if percent else "")  # as wide as a known " 40%"
    done = max(0, min(width, int(fraction * width)))
    text = "[" + "#" * done + "." * (width - done) + "]"
    return text + (f" {fraction:4.0%}" if percent else "")


def md_cell(value: object) -> str:
    """A value as one Markdown table cell: pipes escaped, newlines folded."""
    text = str(value if value is not None else "")
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def md_table(headers: list[str], rows: Iterable[Iterable[object]]) -> list[str]:
    """A Markdown table's lines: the header, its rule, then a line per row, every cell through
    :func:`md_cell`. The report and the command log both write their tables with it."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_cell(cell) for cell in row) + " |" for row in rows]
    return lines
