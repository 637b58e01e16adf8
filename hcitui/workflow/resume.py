"""After an interruption: which steps were cut short, and how each is checked again.

A step found ``running`` when hcitui starts was interrupted (the journal marks it ``unknown``).
It is never assumed done: it is re-verified. :data:`REVERIFIABLE` names, phase by phase, every
step hcitui can check by itself and the module that declares how; that module declares it with
:func:`register`, keyed by the step's name. A re-verifier reads the cluster (it must not change
anything) and returns the step's status as it really is. A step without one has to be checked
and re-run from its own screen.

    @register("verification")
    async def _again(ctx, record): ...
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from hcitui.core.errors import Remedy
from hcitui.core.journal import StepRecord, StepStatus
from hcitui.core.units import clock
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
    9: "Solution-upgrade readiness",  # after the RUNBOOK's phases: seed 001 "Step 2: prepare for the solution update"
    10: "Fast offline update",  # seed 004: the whole cluster down, every node updated at once
}

_MAINTENANCE, _CAU, _SR, _VERIFY = ("hcitui.workflow.maintenance", "hcitui.workflow.cau", "hcitui.workflow.sr",
                                    "hcitui.workflow.verify")
_SOLUTION = "hcitui.workflow.solution"

# Every step hcitui re-verifies by itself, phase by phase: step name -> the module whose @register declares
# how. This list is the registry: reverifiers() imports exactly these modules (an import that fails fails
# loudly), and register() refuses a step that is not listed here.
REVERIFIABLE: dict[int, dict[str, str]] = {
    1: {"drain": _MAINTENANCE, "restart": _MAINTENANCE, "rolling-restart": _MAINTENANCE},
    2: {"cau-remoting": _CAU},
    4: {"sr-snapshot": _SR, "sr-remove": _SR},
    5: {"manual-upgrade": _MAINTENANCE, "cau-run": _CAU, "cau-stop": _CAU, "cau-recover": _CAU},
    6: {"sr-recreate": _SR},
    7: {"verification": _VERIFY},
    9: {"features-install": _SOLUTION, "features": _SOLUTION, "bitlocker-suspend": _SOLUTION,
        "bitlocker-resume": _SOLUTION},
    10: {"offline-update": "hcitui.workflow.offline"},
}
_DECLARED: dict[str, str] = {step: module for steps in REVERIFIABLE.values() for step, module in steps.items()}


def phase_name(phase: int) -> str:
    return PHASES.get(phase, f"Phase {phase}")


def register(step: str) -> Callable[[Reverifier], Reverifier]:
    """Declare how an interrupted ``step`` is checked again (a read-only look at the cluster).
    The step must be listed in :data:`REVERIFIABLE`."""
    if step not in _DECLARED:
        raise ValueError(f"the re-verifier of {step!r} is not listed in hcitui.workflow.resume.REVERIFIABLE")

    def add(fn: Reverifier) -> Reverifier:
        REVERIFIERS[step] = fn
        return fn

    return add


_loaded = False


def reverifiers() -> dict[str, Reverifier]:
    """Every re-verifier of :data:`REVERIFIABLE`: their modules imported once, each listed step proved
    registered (a module that cannot load, or forgot one, is an error here, not a silent gap)."""
    global _loaded
    if not _loaded:
        for module in dict.fromkeys(_DECLARED.values()):
            importlib.import_module(module)
        missing = [f"{step} ({module})" for step, module in _DECLARED.items() if step not in REVERIFIERS]
        if missing:
            raise RuntimeError("re-verifiers listed but not registered: " + ", ".join(missing))
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
            when = ", started " + clock(local, date=local.date() != datetime.now().date())
        except ValueError:
            when = f", started {record.started}"
    return f"phase {record.phase} {phase_name(record.phase)}: {record.step}{where}{when}"


@dataclass(frozen=True)
class Reverified:
    record: StepRecord
    status: StepStatus | None  # None: no re-verifier, or it could not decide
    sentence: str
    remedy: Remedy | None = None  # what resumes a step found stopped part-way (each front end renders it)


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
        return Reverified(record, None, f"{describe(record)}: could not be re-verified: {message}",
                          getattr(exc, "remedy", None))
    current = ctx.journal.step(record.phase, record.step, record.node)
    if current is None or current.status is StepStatus.UNKNOWN:
        ctx.journal.set_step(record.phase, record.step, record.node, status,
                             f"re-verified after an interruption: {status.value}")
    return Reverified(record, status, f"{describe(record)}: re-verified: {status.value}")

