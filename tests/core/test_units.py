"""How hcitui writes quantities: bytes at each unit boundary, durations, clock times, bars, Markdown cells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hcitui.core import units

KIB, MIB, GIB, TIB = 1024, 1024**2, 1024**3, 1024**4


# ------------------------------------------------------------------------- bytes


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (KIB, "1.0 KiB"),
        (KIB + 512, "1.5 KiB"),
        (MIB - 1, "1.0 MiB"),  # 1023.999 KiB: never written "1024.0 KiB"
        (MIB, "1.0 MiB"),
        (GIB - 1, "1.0 GiB"),
        (GIB, "1.0 GiB"),
        (int(1.5 * GIB), "1.5 GiB"),
        (TIB - 1, "1.0 TiB"),
        (TIB, "1.0 TiB"),
        (2 * TIB, "2.0 TiB"),
        (1024 * TIB, "1024.0 TiB"),  # the largest unit goes on counting
        (1023.4, "1023 B"),
        (1023.6, "1.0 KiB"),  # 1024 bytes once rounded: the next unit
        (int(1023.94 * KIB), "1023.9 KiB"),
    ],
)
def test_bytes_at_each_unit_boundary(count, text):
    assert units.human_bytes(count) == text


def test_bytes_unknown_and_negative():
    assert units.human_bytes(None) == "?"
    assert units.human_bytes(None, unknown="-") == "-"
    assert units.human_bytes(-2 * MIB) == "-2.0 MiB"


# --------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0:00"),
        (42, "0:42"),
        (59.9, "0:59"),  # whole seconds: never rounded up to the next minute
        (60, "1:00"),
        (725, "12:05"),
        (3599, "59:59"),
        (3600, "1:00:00"),  # hours appear from the first hour on
        (3725, "1:02:05"),
        (36000 + 61, "10:01:01"),
        (30 * 3600, "30:00:00"),  # hours do not roll over into days
        (-5, "0:00"),
    ],
)
def test_durations_with_and_without_hours(seconds, text):
    assert units.duration(seconds) == text


def test_duration_unknown():
    assert units.duration(None) == "?"
    assert units.duration(None, unknown="") == ""


@pytest.mark.parametrize(("ms", "text"), [(0, "0 ms"), (840, "840 ms"), (9_999, "9999 ms"), (10_000, "10.0 s"),
                                          (12_345, "12.3 s")])
def test_milliseconds(ms, text):
    assert units.milliseconds(ms) == text
    assert units.milliseconds(None) == "?"


def test_clock_local_time_with_and_without_date():
    aware = datetime(2026, 11, 24, 13, 5, 9, tzinfo=UTC)
    local = aware.astimezone()
    assert units.clock(aware) == local.strftime("%H:%M:%S")
    assert units.clock(aware, date=True) == local.strftime("%Y-%m-%d %H:%M:%S")
    other = datetime(2026, 11, 24, 23, 30, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert units.clock(other, date=True) == other.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert units.clock(naive) == "03:04:05"  # a naive time is taken as local already
    assert units.clock(None) == "" and units.clock(None, unknown="never") == "never"


# ---------------------------------------------------------------------------- bars


def test_bar_at_zero_half_full_and_unknown():
    assert units.bar(0) == "[" + "." * 20 + "]   0%"
    assert units.bar(0.5) == "[" + "#" * 10 + "." * 10 + "]  50%"
    assert units.bar(1) == "[" + "#" * 20 + "] 100%"
    assert units.bar(None) == "[" + "?" * 20 + "]   ?%"


def test_bars_line_up_whatever_the_fraction():
    widths = {len(units.bar(f)) for f in (None, 0, 0.05, 0.5, 0.999, 1)}
    assert widths == {len("[" + "." * 20 + "] 100%")}


def test_bar_width_clamp_and_percent_off():
    assert units.bar(0.5, width=4, percent=False) == "[##..]"
    assert units.bar(None, width=4, percent=False) == "[????]"
    assert units.bar(2.0, width=4, percent=False) == "[####]"  # never longer than its width
    assert units.bar(-1.0, width=4, percent=False) == "[....]"


# -------------------------------------------------------------------- Markdown cells


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("plain", "plain"),
        ("a|b", "a\\|b"),
        ("||", "\\|\\|"),
        ("line one\nline two", "line one line two"),
        ("windows\r\nline", "windows line"),
        ("old\rmac", "old mac"),
        (None, ""),
        (0, "0"),
        (20349, "20349"),
    ],
)
def test_md_cell_escapes_pipes_and_folds_lines(value, cell):
    assert units.md_cell(value) == cell


def test_md_cell_keeps_a_table_row_whole():
    row = "| " + " | ".join(units.md_cell(v) for v in ("N1", "a|b\nc", None)) + " |"
    assert "\n" not in row
    assert row.replace("\\|", "").count("|") == 4  # the row's own separators, and no more


def test_md_table_escapes_every_cell_and_rules_every_column():
    from hcitui.core.units import md_table

    lines = md_table(["a", "b"], [["x|y", None], [1, "two\nlines"]])
    assert lines == ["| a | b |", "|---|---|", "| x\\|y |  |", "| 1 | two lines |"]
