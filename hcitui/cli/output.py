"""What the command line prints, written once: progress lines, the checks table (or JSON), and errors
with their remedies as commands.

Progress reaches the command line as typed events, and is printed from their fields alone: a
:class:`ProgressEvent` from a step (stage, status, fraction, done/total, position, since, eta) or a
:class:`NodeEvent` from a read's fan-out. The words of an event are the operator's, never parsed here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from hcitui.cli import remedies
from hcitui.core.config import ConfigError
from hcitui.core.errors import ExitCode, HciError
from hcitui.core.units import clock
from hcitui.remote.fanout import NodeEvent
from hcitui.workflow import eta
from hcitui.workflow.checks import CheckResult, Status
from hcitui.workflow.events import ProgressEvent, Stage
from hcitui.workflow.steps import Refused

NODE_WIDTH = 16  # the node column of progress lines and of the checks table


# ----------------------------------------------------------------------- progress


def _tenth(event: ProgressEvent) -> int | None:
    """Which tenth of its way a measured event is at (0-10), or None when it carries no measure."""
    measure = event.fraction
    if measure is None and event.done is not None and event.total:
        measure = event.done / event.total
    return None if measure is None else max(0, min(10, int(measure * 10)))


def describe(event: ProgressEvent, now: datetime | None = None) -> str:
    """The event as the words of one line: ``FAILED: `` before a failure's words, then what is known
    besides them, in brackets: ``(node 2 of 4, 1,048,576 of 8,388,608, since 14:05:09, finish about 14:35)
    [12%]``. A count (done of total) carries no unit: the words say what is counted. The finish is the
    step's estimate (``estimate unknown`` when it had nothing to go on yet)."""
    words = f"FAILED: {event.text}" if event.stage is Stage.FAILED else event.text
    extras = []
    if event.position is not None:
        extras.append(f"node {event.position[0]} of {event.position[1]}")
    if event.done is not None:
        extras.append(f"{event.done:,} of {event.total:,}" if event.total is not None else f"{event.done:,}")
    if event.since is not None and (now is None or clock(event.since) != clock(now)):
        extras.append(f"since {clock(event.since)}")
    finish = eta.words(event.eta, now)
    if finish:
        extras.append(finish)
    if extras:
        words += f" ({', '.join(extras)})"
    if event.fraction is not None:
        words += f" [{event.fraction:.0%}]"
    return words


@dataclass
class _Shown:
    key: tuple[Any, ...]
    text: str
    tenth: int | None


class Printer:
    """THE progress printer: one timed line per node each time what it is doing changes, not per poll.

    Pass it as a step's ``progress`` and as a read's ``on_event``. A :class:`ProgressEvent` makes a line
    when its node's stage, status, position or words change, or when a measured event (a fraction, or
    done of total) reaches another tenth: a moving measure alone is not a change until then.
    A :class:`NodeEvent` (a read's queued/running/ok/failed) is a line each time.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream
        self._shown: dict[str, _Shown] = {}

    def __call__(self, event: ProgressEvent | NodeEvent) -> None:
        if isinstance(event, NodeEvent):
            self._print(event.line())
            return
        key = (event.stage, event.status, event.position)
        tenth = _tenth(event)
        last = self._shown.get(event.node)
        if last is not None and (last.key, last.text, last.tenth) == (key, event.text, tenth):
            return
        self._shown[event.node] = _Shown(key, event.text, tenth)
        now = datetime.now()
        self._print(f"{event.node:<{NODE_WIDTH}} {describe(event, now)}", now)

    def _print(self, line: str, now: datetime | None = None) -> None:
        print(f"{clock(now or datetime.now())} {line}", file=self.stream or sys.stdout, flush=True)


# ------------------------------------------------------------------------- checks

STATUS_WORDS = {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.UNKNOWN: "UNKN"}


def checks_table(checks: Iterable[CheckResult], stream: IO[str] | None = None) -> None:
    """Judged checks (verification, prerequisites, the CAU preflight) as a table between blank lines:
    ``FAIL  Remoting      LAB-A1           why`` and, under a check that did not pass, ``fix: what to do``."""
    out = stream or sys.stdout
    rows = list(checks)
    width = max((len(c.name) for c in rows), default=0)
    indent = " " * (5 + 1 + width + 1 + NODE_WIDTH + 1)
    print(file=out)
    for check in rows:
        status = Status(check.status)
        print(f"{STATUS_WORDS[status]:<5} {check.name:<{width}} {check.node or '(cluster)':<{NODE_WIDTH}} "
              f"{check.reason}", file=out)
        if check.remediation and status is not Status.PASS:
            print(f"{indent}fix: {check.remediation}", file=out)
    print(file=out)


def checks_json(payload: dict[str, Any]) -> None:
    """A report's JSON (``as_json()``) on standard output, alone there."""
    print(json.dumps(payload, indent=2))


# ------------------------------------------------------------------------- errors


class UsageError(HciError):
    """The command line asked for what cannot be (an unknown node, a missing option): exit 2, nothing sent."""


def fail(message: str, code: int = ExitCode.FAILED) -> int:
    """``hcitui: message`` on standard error; returns ``code``."""
    print(f"hcitui: {message}", file=sys.stderr)
    return code


def note(message: str) -> None:
    """A line for the operator on standard error, beside a result on standard output."""
    print(message, file=sys.stderr, flush=True)


def error(exc: HciError) -> int:
    """An error as the operator reads it, on standard error, and the exit code it ends with.

    A config's problems are a line each (exit 2). A refusal lists its reasons, a line each, then what
    to do as a command (exit 1). Anything else is one line, its remedy as a command (exit 1; a usage
    error exits 2)."""
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            fail(problem)
        return ExitCode.USAGE
    if isinstance(exc, Refused):
        fail(f"{exc.step} refused; nothing was changed:")
        for reason in exc.reasons:
            fail(f"  - {reason}")
        said = remedies.advice(exc.remedy)
        if said:
            fail(said)
        return ExitCode.FAILED
    return fail(remedies.sentence(exc), ExitCode.USAGE if isinstance(exc, UsageError) else ExitCode.FAILED)
