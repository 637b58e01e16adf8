"""The menu's line for node maintenance, from the journal alone."""

from __future__ import annotations

from hcitui.core.journal import Journal, StepStatus
from hcitui.workflow.maintenance.common import PHASE, RESTART


def journal_summary(journal: Journal, nodes: list[str]) -> str:
    """ "LAB-A2 out of service (restart)" while a node is out, else "2/4 nodes restarted"."""
    lock = journal.state.lock
    if lock is not None:
        return f"{lock.node} out of service ({lock.reason})"
    done = {r.node for r in journal.steps(PHASE) if r.step == RESTART and r.status is StepStatus.DONE}
    return f"{len(done & set(nodes))}/{len(nodes)} nodes restarted"
