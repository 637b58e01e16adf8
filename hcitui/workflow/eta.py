"""When a long step will finish: one estimator for every step that can say so. Pure, but for the small
:class:`Transfer` that keeps a byte transfer's recent samples.

Two kinds of work are estimated:

- nodes in turn (the rolling restart): each node takes about the median of the nodes done so far in
  this run; before the first is done, the median of the same step's runs the journal remembers
  (:func:`run_durations`); nothing to go on, no estimate (:func:`nodes_finish` returns None);
- bytes moving (the ISO copy, Storage Replica's initial sync): the bytes left at the rate seen over a
  recent window (:func:`rate`, :func:`bytes_finish`).

A step that estimates puts the finish time in its events' ``eta``; one that tried and had nothing to go
on puts :data:`UNKNOWN` there, so the front ends can say "estimate unknown" (``eta`` None: this step makes
no estimate). :func:`words` is how every front end says it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hcitui.core.journal import StepRecord, StepRun, StepStatus

# "Estimated, and there was nothing to go on." Never a real finish time (no step finishes in 1970), and
# safe to format anywhere (unlike datetime.min, which overflows in a zone behind UTC).
UNKNOWN = datetime(1970, 1, 1, tzinfo=UTC)
WINDOW = 60.0  # seconds: a transfer's rate is what moved in the last minute
HISTORY = 20  # the latest runs of a step that the history's median is taken over


def is_unknown(eta: datetime | None) -> bool:
    return eta is not None and eta == UNKNOWN


# ------------------------------------------------------------------------ nodes in turn


def _when(stamp: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None


def run_seconds(run: StepRun) -> float | None:
    """Seconds a done run took, from its start to its finish; None for a run not done or without both times."""
    start, end = _when(run.started), _when(run.finished)
    if run.status is not StepStatus.DONE or start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


def run_durations(records: Iterable[StepRecord], *, limit: int = HISTORY) -> list[float]:
    """Seconds each done run of these records took, oldest first (by its finish); the latest ``limit``.
    Failed, interrupted and running runs, and runs without both times, are left out."""
    found = sorted((run.finished or "", seconds) for record in records for run in record.runs
                   if (seconds := run_seconds(run)) is not None)
    return [seconds for _end, seconds in found[-limit:]] if limit > 0 else []


def latest_duration(record: StepRecord | None) -> float | None:
    """Seconds the record's latest run took, when it is done; None otherwise."""
    return run_seconds(record.latest) if record is not None and record.latest is not None else None


def per_node(observed: Sequence[float], history: Sequence[float]) -> float | None:
    """Seconds one node takes: the median of this run's nodes, else of the history, else None."""
    if observed:
        return float(statistics.median(observed))
    if history:
        return float(statistics.median(history))
    return None


def nodes_finish(observed: Sequence[float], history: Sequence[float], remaining: int, now: datetime,
                 current_started: datetime | None = None) -> datetime | None:
    """When ``remaining`` nodes (the one under way counted, if any) will be done, one at a time.

    ``current_started``: when the node under way began; it is expected to take one node's time from
    then (and to end no sooner than ``now``), then each node after it one node's time. None when there
    is nothing to go on (no node done in this run, no history)."""
    if remaining <= 0:
        return now
    seconds = per_node(observed, history)
    if seconds is None:
        return None
    step = timedelta(seconds=seconds)
    if current_started is None:
        current_end = now + step
    else:
        current_end = max(now, current_started + step)
    return current_end + step * (remaining - 1)


# ------------------------------------------------------------------------ bytes moving


def rate(samples: Sequence[tuple[float, int]], window: float = WINDOW) -> float | None:
    """Bytes per second over the recent ``window`` (seconds) of ``samples`` ((seconds, bytes done), oldest
    first): from the oldest sample within ``window`` of the newest to the newest; the sample before them
    when only the newest is that recent. None: fewer than two samples, or no time between them."""
    if len(samples) < 2:
        return None
    newest_t, newest_done = samples[-1]
    recent = [s for s in samples if newest_t - s[0] <= window]
    first_t, first_done = recent[0] if len(recent) >= 2 else samples[-2]
    elapsed = newest_t - first_t
    if elapsed <= 0:
        return None
    return (newest_done - first_done) / elapsed


def bytes_finish(samples: Sequence[tuple[float, int]], left: int, now: datetime,
                 window: float = WINDOW) -> datetime | None:
    """When ``left`` bytes will have moved at the recent rate; ``now`` when none are left; None when the
    rate is not known or nothing moves."""
    if left <= 0:
        return now
    per_second = rate(samples, window)
    if per_second is None or per_second <= 0:
        return None
    return now + timedelta(seconds=left / per_second)


@dataclass
class Transfer:
    """A byte transfer's samples as it goes: :meth:`note` each count of bytes done, :meth:`finish` for the
    estimate. A count that goes back (a new counter) starts the samples over."""

    window: float = WINDOW
    clock: Callable[[], float] = time.monotonic
    samples: list[tuple[float, int]] = field(default_factory=list)

    def note(self, done: int) -> None:
        if self.samples and done < self.samples[-1][1]:
            self.samples.clear()
        now = self.clock()
        self.samples.append((now, done))
        # Keep what the window needs, and the sample before it (rate() may fall back to it).
        recent = [i for i, (t, _d) in enumerate(self.samples) if now - t <= self.window]
        del self.samples[:max(0, recent[0] - 1)]

    def finish(self, left: int, now: datetime | None = None) -> datetime:
        """The estimate for ``left`` bytes; :data:`UNKNOWN` until the rate is known."""
        found = bytes_finish(self.samples, left, now or datetime.now(UTC), self.window)
        return found if found is not None else UNKNOWN


# ------------------------------------------------------------------------------ words


def words(eta: datetime | None, now: datetime | None = None) -> str | None:
    """``finish about 14:35`` (with the day when it is not today), ``estimate unknown``, or None when the
    step makes no estimate. Local time."""
    if eta is None:
        return None
    if is_unknown(eta):
        return "estimate unknown"
    local = eta.astimezone() if eta.tzinfo else eta
    today = (now.astimezone() if now and now.tzinfo else now or datetime.now()).date()
    return f"finish about {local.strftime('%H:%M' if local.date() == today else '%a %H:%M')}"
