"""After an interruption: which steps were cut short, and how each is checked again.

A step found ``running`` when hcitui starts was interrupted (the journal marks it ``unknown``).
It is never assumed done: it is re-verified. Each step that knows how to check its own outcome
registers a re-verifier here, keyed by its step name; the re-verifier reads the cluster (it must
not change anything) and returns the step's status as it really is. A step without one has to be
checked and re-run from its own screen.

    @register("verification")
    async def _again(ctx, record): ...
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from hcitui.core.journal import StepRecord, StepStatus
from hcitui.workflow.context import Context

Reverifier = Callable[[Context, StepRecord], Awaitable[StepStatus]]
REVERIFIERS: dict[str, Reverifier] = {}

# RUNBOOK phases, in order: the journal view groups steps by these.
PHASES: dict[int, str] = {
    0: "Prerequisites",
    1: "Registry keys and restarts",
    2: "CAU preflight",
    3: "ISO staging",
    4: "SR snapshot",
    5: "OS upgrade",
    6: "SR recreate",
    7: "Verification",
    8: "Post-upgrade",
}


def phase_name(phase: int) -> str:
    return PHASES.get(phase, f"Phase {phase}")


def register(step: str) -> Callable[[Reverifier], Reverifier]:
    """Declare how an interrupted ``step`` is checked again (a read-only look at the cluster)."""

    def add(fn: Reverifier) -> Reverifier:
        REVERIFIERS[step] = fn
        return fn

    return add


_loaded = False


def reverifiers() -> dict[str, Reverifier]:
    """Every registered re-verifier: the workflow modules register theirs when imported, so import them all."""
    global _loaded
    if not _loaded:
        import hcitui.workflow as package

        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            try:
                importlib.import_module(info.name)
            except Exception:  # a module that cannot load registers nothing; it fails loudly where it is used
                continue
        _loaded = True
    return REVERIFIERS


def has_reverifier(record: StepRecord) -> bool:
    return record.step in reverifiers()


def describe(record: StepRecord) -> str:
    """``phase 5 OS upgrade: os_upgrade on LAB-A1, started 10:42:07`` (local time; with the date on another day)."""
    where = f" on {record.node}" if record.node else ""
    when = ""
    if record.started:
        try:
            local = datetime.fromisoformat(record.started).astimezone()
            fmt = "%H:%M:%S" if local.date() == datetime.now().date() else "%Y-%m-%d %H:%M:%S"
            when = ", started " + local.strftime(fmt)
        except ValueError:
            when = f", started {record.started}"
    return f"phase {record.phase} {phase_name(record.phase)}: {record.step}{where}{when}"


@dataclass(frozen=True)
class Reverified:
    record: StepRecord
    status: StepStatus | None  # None: no re-verifier, or it could not decide
    sentence: str


async def reverify(ctx: Context, record: StepRecord) -> Reverified:
    """Check one interrupted step again and journal what was found. Never raises for the cluster's failures."""
    fn = reverifiers().get(record.step)
    if fn is None:
        return Reverified(record, None, f"{describe(record)}: hcitui cannot check this step by itself; "
                                        "check it and run it again from its screen")
    try:
        status = await fn(ctx, record)
    except Exception as exc:  # a read that failed: the step stays unknown
        message = getattr(exc, "sentence", None) or f"{type(exc).__name__}: {exc}"
        return Reverified(record, None, f"{describe(record)}: could not be re-verified: {message}")
    current = ctx.journal.step(record.phase, record.step, record.node)
    if current is None or current.status is StepStatus.UNKNOWN:
        ctx.journal.set_step(record.phase, record.step, record.node, status,
                             f"re-verified after an interruption: {status.value}")
    return Reverified(record, status, f"{describe(record)}: re-verified: {status.value}")


@register("verification")
async def _reverify_verification(ctx: Context, record: StepRecord) -> StepStatus:
    """Verification only reads: checking it again is running it again."""
    from hcitui.workflow.verify import run_verification

    report = await run_verification(ctx)
    return StepStatus.DONE if report.passed else StepStatus.FAILED
