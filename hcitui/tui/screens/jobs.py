"""One job at a time: the one guard every screen that reads or changes the cluster uses.

A job is a Textual worker in the screen's ``JOB_GROUP``, named by what it does ("refresh", "drain
LAB-A1"). While one is pending or running, :attr:`JobGuard.busy` names it and another is refused with
a sentence; the state lives in the worker, so there is no flag to set or forget to clear.

Inside the job itself ``busy`` still names it until its coroutine returns: whatever should show the
screen idle at the job's end is scheduled with ``call_later``, which runs once the job has ended.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, ClassVar

from textual.worker import WorkerState

ACTIVE = (WorkerState.PENDING, WorkerState.RUNNING)


class JobGuard:
    """Mixed into a Textual screen (it uses the screen's ``workers``, ``run_worker`` and ``notify``)."""

    JOB_GROUP: ClassVar[str] = "job"

    def running_in(self, group: str) -> str | None:
        """The name of this screen's worker pending or running in ``group``, or None."""
        for worker in self.workers:  # type: ignore[attr-defined]
            if worker.node is self and worker.group == group and worker.state in ACTIVE:
                return worker.name
        return None

    @property
    def busy(self) -> str | None:
        """What runs now (a read or a change), by its label; None when nothing does."""
        return self.running_in(self.JOB_GROUP)

    def busy_note(self, label: str) -> str:
        """What the operator is told when a job is refused because ``label`` runs."""
        return f"Busy: {label} is running; one thing at a time."

    def is_busy(self) -> bool:
        """True (and the operator told so) while a job runs."""
        busy = self.busy
        if busy:
            self.notify(self.busy_note(busy), timeout=4)  # type: ignore[attr-defined]
            return True
        return False

    def start_job(self, label: str, work: Awaitable[Any]) -> bool:
        """Run ``work`` as this screen's one job, named ``label``; refused (and closed) while another runs."""
        if self.is_busy():
            if hasattr(work, "close"):
                work.close()  # never awaited: say so to Python, not to the operator
            return False
        self.run_worker(work, name=label, group=self.JOB_GROUP,  # type: ignore[attr-defined]
                        exclusive=True, exit_on_error=False)
        return True
