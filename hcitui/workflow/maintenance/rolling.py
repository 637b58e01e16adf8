"""The rolling restart: every node's restart cycle in turn, one at a time, resumable where it stopped.
Every event says which node of the run it is about and when the run should finish (workflow/eta.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hcitui.core.journal import StepStatus
from hcitui.workflow import eta
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.maintenance.common import PHASE, RESTART, ROLLING
from hcitui.workflow.maintenance.cycle import restart
from hcitui.workflow.steps import Refused, StepFailed


def rolling_record(ctx: Context) -> dict[str, Any]:
    record = ctx.journal.step(PHASE, ROLLING, None)
    return dict(record.data) if record else {}


def _at(progress: Progress, position: tuple[int, int],
        estimate: Callable[[ProgressEvent], datetime | None]) -> Progress:
    """``progress`` with every event marked as the node's place in the run (node i of n) and the run's
    estimated finish."""

    def forward(event: ProgressEvent) -> None:
        progress(dataclasses.replace(event, position=position, eta=estimate(event)))

    return forward


def _current_start(ctx: Context, node: str) -> datetime:
    """When the node's restart began: its interrupted run's start when it resumes one, else now."""
    record = ctx.journal.step(PHASE, RESTART, node)
    if record is not None and record.status in (StepStatus.RUNNING, StepStatus.UNKNOWN) and record.started:
        try:
            return datetime.fromisoformat(record.started)
        except ValueError:
            pass
    return datetime.now(UTC)


def finish_estimate(ctx: Context, order: list[str], completed: list[str], node: str,
                    started: datetime) -> Callable[[ProgressEvent], datetime | None]:
    """The run's finish for each of ``node``'s events: every node left takes the median of the restarts
    done in this run (the journal's times), or before the first, of the restarts the journal remembers.
    :data:`eta.UNKNOWN` with nothing to go on; None once nothing is left, or for a failure."""

    def estimate(event: ProgressEvent) -> datetime | None:
        if event.stage is Stage.FAILED:
            return None
        finished = event.stage is Stage.DONE
        done = [*completed, node] if finished else completed
        left = [n for n in order if n not in done]
        if not left:
            return None
        observed = [s for n in done if (s := eta.latest_duration(ctx.journal.step(PHASE, RESTART, n))) is not None]
        history = eta.run_durations(r for r in ctx.journal.steps(PHASE) if r.step == RESTART)
        found = eta.nodes_finish(observed, history, len(left), datetime.now(UTC), None if finished else started)
        return found if found is not None else eta.UNKNOWN

    return estimate


async def rolling_restart(ctx: Context, nodes: list[str] | None = None, progress: Progress = no_progress) -> None:
    """Every node in turn, one at a time; stops at the first failure with what is pending shown.
    Resumes an interrupted rolling restart at the node where it stopped."""
    record = ctx.journal.step(PHASE, ROLLING, None)
    if record is not None and record.status in (StepStatus.RUNNING, StepStatus.UNKNOWN):
        order = list(record.data.get("order", []))
        completed = list(record.data.get("completed", []))
        ctx.journal.set_step(PHASE, ROLLING, None, StepStatus.RUNNING, "resumed after an interruption")
    else:
        order = list(nodes or ctx.client.node_names)
        completed = []
        ctx.journal.set_step(PHASE, ROLLING, None, StepStatus.RUNNING, f"0 of {len(order)} nodes",
                             data={"order": order, "completed": [], "started": datetime.now().isoformat()},
                             fresh=True)
    for number, node in enumerate(order, start=1):
        if node in completed:
            continue
        pending = [n for n in order if n not in completed]
        try:
            estimate = finish_estimate(ctx, order, completed, node, _current_start(ctx, node))
            await restart(ctx, node, _at(progress, (number, len(order)), estimate))
        except (Refused, StepFailed) as exc:
            detail = f"stopped at {node}: {exc}; pending: {', '.join(pending)}"
            ctx.journal.set_step(PHASE, ROLLING, None, StepStatus.FAILED, detail)
            raise
        completed.append(node)
        ctx.journal.set_step(PHASE, ROLLING, None, StepStatus.RUNNING, f"{len(completed)} of {len(order)} nodes",
                             data={"completed": completed})
    ctx.journal.set_step(PHASE, ROLLING, None, StepStatus.DONE, f"{len(order)} nodes restarted")
