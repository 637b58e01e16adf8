"""The one estimator, with numbers: nodes in turn (median of this run, else of the history), bytes at the
recent rate, the transfer's samples, and how every front end says it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hcitui.core.journal import StepRecord, StepRun, StepStatus
from hcitui.workflow import eta

NOW = datetime(2026, 1, 2, 14, 0, 0, tzinfo=UTC)


def run(started: str | None, finished: str | None, status: StepStatus = StepStatus.DONE) -> StepRun:
    return StepRun(status=status, started=started, finished=finished)


# ---------------------------------------------------------------------- nodes in turn


def test_run_durations_are_the_done_runs_oldest_first():
    records = [
        StepRecord(phase=1, step="restart", node="LAB-A1", runs=[
            run("2026-01-01T10:00:00+00:00", "2026-01-01T10:10:00+00:00"),  # 600 s
            run("2026-01-01T12:00:00+00:00", "2026-01-01T12:01:00+00:00", StepStatus.FAILED),  # failed: out
        ]),
        StepRecord(phase=1, step="restart", node="LAB-A2", runs=[
            run("2026-01-01T09:00:00+00:00", "2026-01-01T09:05:00+00:00"),  # 300 s, the oldest
            run("2026-01-01T13:00:00+00:00", None, StepStatus.UNKNOWN),  # interrupted: out
            run(None, "2026-01-01T13:00:00+00:00"),  # no start: out
            run("2026-01-01T14:00:00+00:00", "2026-01-01T13:00:00+00:00"),  # ends before it starts: out
        ]),
    ]
    assert eta.run_durations(records) == [300.0, 600.0]
    assert eta.run_durations(records, limit=1) == [600.0]  # the latest
    assert eta.latest_duration(records[0]) is None  # its latest run failed
    assert eta.latest_duration(StepRecord(phase=1, step="restart", runs=[
        run("2026-01-01T10:00:00+00:00", "2026-01-01T10:00:42+00:00")])) == 42.0
    assert eta.latest_duration(None) is None


def test_one_node_takes_the_median_of_this_run_else_of_the_history():
    assert eta.per_node([100, 300, 200], [5000]) == 200  # observed wins
    assert eta.per_node([100, 300], []) == 200
    assert eta.per_node([], [600, 60, 900]) == 600  # before the first node of this run is done
    assert eta.per_node([], []) is None


def test_nodes_finish():
    # 3 nodes left, 10 minutes each, nothing under way yet: 30 minutes from now.
    assert eta.nodes_finish([600], [], 3, NOW) == NOW + timedelta(minutes=30)
    # The one under way began 4 minutes ago: 6 minutes left of it, then 2 more nodes.
    assert eta.nodes_finish([600], [], 3, NOW, NOW - timedelta(minutes=4)) == NOW + timedelta(minutes=26)
    # It has taken longer than a node takes: it ends no sooner than now.
    assert eta.nodes_finish([600], [], 3, NOW, NOW - timedelta(minutes=25)) == NOW + timedelta(minutes=20)
    # From the history before the first node is done; nothing to go on: None.
    assert eta.nodes_finish([], [120, 240, 180], 2, NOW) == NOW + timedelta(minutes=6)
    assert eta.nodes_finish([], [], 2, NOW) is None
    assert eta.nodes_finish([], [], 0, NOW) == NOW  # nothing left


# ----------------------------------------------------------------------- bytes moving


def test_rate_over_the_recent_window():
    assert eta.rate([]) is None and eta.rate([(0.0, 0)]) is None
    assert eta.rate([(5.0, 0), (5.0, 100)]) is None  # no time between them
    assert eta.rate([(0.0, 0), (10.0, 1000)]) == 100.0
    # Slow at first (1 B/s for 100 s), then 50 B/s for the last 60 s: the last minute's rate counts.
    samples = [(0.0, 0), (100.0, 100), (130.0, 1600), (160.0, 3100)]
    assert eta.rate(samples, window=60) == 50.0
    assert eta.rate(samples, window=1000) == pytest.approx(3100 / 160)
    # Only the newest sample in the window: the one before it is the start.
    assert eta.rate([(0.0, 0), (500.0, 1000)], window=60) == 2.0


def test_bytes_finish():
    samples = [(0.0, 0), (10.0, 1000)]  # 100 B/s
    assert eta.bytes_finish(samples, 6000, NOW) == NOW + timedelta(minutes=1)
    assert eta.bytes_finish(samples, 0, NOW) == NOW
    assert eta.bytes_finish([(0.0, 0)], 6000, NOW) is None  # no rate yet
    assert eta.bytes_finish([(0.0, 500), (10.0, 500)], 6000, NOW) is None  # nothing moves


def test_a_transfer_keeps_its_recent_samples_and_starts_over_when_its_count_goes_back():
    now = [0.0]
    transfer = eta.Transfer(window=60, clock=lambda: now[0])
    transfer.note(0)
    assert transfer.finish(1000, NOW) is eta.UNKNOWN  # one sample: no rate yet
    for second in range(10, 201, 10):
        now[0] = float(second)
        transfer.note(second * 100)  # 100 B/s
    assert transfer.finish(6000, NOW) == NOW + timedelta(minutes=1)
    assert len(transfer.samples) <= 8  # the window's samples and the one before them, not all 21
    now[0] = 210.0
    transfer.note(0)  # a new counter: the old rate no longer says anything
    assert transfer.samples == [(210.0, 0)] and transfer.finish(6000, NOW) is eta.UNKNOWN


# ------------------------------------------------------------------------------ words


def test_words():
    local_now = datetime(2026, 1, 2, 14, 0, 0)
    assert eta.words(None) is None  # the step makes no estimate
    assert eta.words(eta.UNKNOWN) == "estimate unknown"
    assert eta.is_unknown(eta.UNKNOWN) and not eta.is_unknown(None) and not eta.is_unknown(NOW)
    assert eta.words(datetime(2026, 1, 2, 14, 35, 10), local_now) == "finish about 14:35"
    assert eta.words(datetime(2026, 1, 3, 2, 10), local_now) == "finish about Sat 02:10"  # not today
    aware = NOW + timedelta(minutes=35)
    assert eta.words(aware, aware) == f"finish about {aware.astimezone():%H:%M}"  # UTC shown in local time
