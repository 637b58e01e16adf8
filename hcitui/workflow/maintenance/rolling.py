"""The rolling restart: every node's restart cycle in turn, one at a time, resumable where it stopped."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from hcitui.core.journal import StepStatus
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, no_progress
from hcitui.workflow.maintenance.common import PHASE, ROLLING
from hcitui.workflow.maintenance.cycle import restart
from hcitui.workflow.steps import Refused, StepFailed


def rolling_record(ctx: Context) -> dict[str, Any]:
    record = ctx.journal.step(PHASE, ROLLING, None)
    return dict(record.data) if record else {}


def _at(progress: Progress, position: tuple[int, int]) -> Progress:
    """``progress`` with every event marked as the node's place in the run (node i of n)."""

    def forward(event: ProgressEvent) -> None:
        progress(dataclasses.replace(event, position=position))

    return forward


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
            await restart(ctx, node, _at(progress, (number, len(order))))
        except (Refused, StepFailed) as exc:
            detail = f"stopped at {node}: {exc}; pending: {', '.join(pending)}"
            ctx.journal.set_step(PHASE, ROLLING, None, StepStatus.FAILED, detail)
            raise
        completed.append(node)
        ctx.journal.set_step(PHASE, ROLLING, None, StepStatus.RUNNING, f"{len(completed)} of {len(order)} nodes",
                             data={"completed": completed})
    ctx.journal.set_step(PHASE, ROLLING, None, StepStatus.DONE, f"{len(order)} nodes restarted")
