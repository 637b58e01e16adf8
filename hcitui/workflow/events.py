"""The one progress event every step emits, typed: the front ends show it (a Status cell, a progress
line, a printed line) without parsing its words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Stage(StrEnum):
    """Where one node's part of a step stands."""

    WORKING = "working"  # the step is doing something on this node now
    WAITING = "waiting"  # waiting on something outside hcitui: a restart, a long remote command
    DONE = "done"  # this node's part ended and was verified
    SKIPPED = "skipped"  # nothing was needed on this node
    FAILED = "failed"  # this node's part failed; ``text`` says why


@dataclass(frozen=True)
class ProgressEvent:
    """``node`` is a node name, or the cluster's name for cluster-wide work. ``text`` is for the operator
    and carries no key letters. ``status`` is a value the node reported (CAU's per-node status, a drain
    status) for a screen's column; ``since`` when a long wait began; ``done`` and ``total`` count bytes
    or items; ``position`` is (this node's number, how many nodes) in a rolling step."""

    node: str
    text: str
    fraction: float | None = None
    stage: Stage = Stage.WORKING
    status: str | None = None
    since: datetime | None = None
    done: int | None = None
    total: int | None = None
    position: tuple[int, int] | None = None
    eta: datetime | None = None

    @property
    def failed(self) -> bool:
        return self.stage is Stage.FAILED


Progress = Callable[[ProgressEvent], None]


def no_progress(event: ProgressEvent) -> None:
    return None
