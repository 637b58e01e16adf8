"""What the lines and the walk share: the entries, the states, the journal's times, what changes the
cluster (and so what makes a read-only result stale), and :class:`Facts`, what everything is judged on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from hcitui.core.journal import Journal, StepRecord, StepStatus, local_time
from hcitui.workflow import maintenance, offline, post, prereq, readiness, registry, solution, staging, verify
from hcitui.workflow.cau import options as cau_options
from hcitui.workflow.context import Context
from hcitui.workflow.resume import phase_name
from hcitui.workflow.sr import snapshot as sr_names


class Entry(StrEnum):
    """The menu's entries, by what they are (the menu numbers them)."""

    PREREQUISITES = "prerequisites"
    REGISTRY = "registry keys"
    MAINTENANCE = "node drain and restart"
    ISO = "ISO staging"
    CAU = "CAU run"
    SR = "Storage Replica"
    VERIFICATION = "verification"
    POST = "post-upgrade"
    MONITOR = "monitor"
    AUDIT = "audit log"
    JOURNAL = "journal"
    READINESS = "solution-upgrade readiness"
    OFFLINE = "fast offline update"


class State(StrEnum):
    NOT_STARTED = "not started"
    IN_PROGRESS = "in progress"
    DONE = "done"
    FAILED = "failed"
    STALE = "stale"  # a result taken before the cluster changed: run it again
    INTERRUPTED = "interrupted"  # hcitui stopped while it ran: re-verify
    INFO = "info"  # a view, not a step (monitor, audit log, journal)


@dataclass(frozen=True)
class Summary:
    """One menu line: what to show, what it means, when its result was taken (None: no result)."""

    text: str
    state: State
    at: datetime | None = None


@dataclass(frozen=True)
class Recommendation:
    """The next step: the entry to open, the runbook phase it serves, and why (one line)."""

    entry: Entry
    phase: int
    why: str

    @property
    def phase_name(self) -> str:
        return phase_name(self.phase)


# The runbook phases each entry serves (RUNBOOK.md section 1): the menu's numbers are not phase numbers.
PHASES: dict[Entry, tuple[int, ...]] = {
    Entry.PREREQUISITES: (0,),
    Entry.REGISTRY: (1,),
    Entry.MAINTENANCE: (1,),
    Entry.ISO: (3,),
    Entry.CAU: (2, 5),
    Entry.SR: (4, 6),
    Entry.VERIFICATION: (7,),
    Entry.POST: (8,),
    Entry.READINESS: (readiness.PHASE,),
    Entry.OFFLINE: (offline.PHASE,),
}

PHASE_REGISTRY, PHASE_MAINTENANCE, PHASE_ISO = registry.PHASE, maintenance.PHASE, staging.PHASE
PHASE_PREFLIGHT, PHASE_RUN = cau_options.PREFLIGHT_PHASE, cau_options.RUN_PHASE
PHASE_SNAPSHOT, PHASE_RECREATE = sr_names.PHASE_SNAPSHOT, sr_names.PHASE_RECREATE
MANUAL_UPGRADE = (maintenance.UPGRADE_KIND.phase, maintenance.UPGRADE_KIND.step)

# Every journal step that changes the cluster, with how a sentence names it. A read-only result taken before
# one of these was last active may no longer hold. Not here: the reads (prerequisites, CAU preflight, SR
# snapshot and diff, verification, Test-Cluster) and the registry gate's override (a note, not a change).
CHANGES: dict[tuple[int, str], str] = {
    (PHASE_REGISTRY, registry.STEP): "key setting",
    (PHASE_REGISTRY, registry.REMEDIATION): "ReFS toggle",
    (PHASE_MAINTENANCE, maintenance.DRAIN): "drain",
    (PHASE_MAINTENANCE, maintenance.RESUME): "resume",
    (PHASE_MAINTENANCE, maintenance.RESTART): "restart",
    (PHASE_MAINTENANCE, maintenance.ROLLING): "rolling restart",
    (PHASE_PREFLIGHT, cau_options.REMOTING): "remoting setup",
    (PHASE_ISO, staging.COPY): "ISO copy",
    (PHASE_ISO, staging.STAGE): "ISO staging",
    (PHASE_SNAPSHOT, sr_names.REMOVE): "SR removal",
    (PHASE_RUN, cau_options.RUN): "CAU run",
    (PHASE_RUN, cau_options.STOP): "CAU stop",
    (PHASE_RUN, cau_options.RECOVER): "CAU recovery",
    MANUAL_UPGRADE: "manual upgrade",
    (PHASE_RECREATE, sr_names.RECREATE): "SR recreate",
    (post.PHASE, post.LEVEL): "functional level update",
    (post.PHASE, post.POOLS): "pool upgrade",
    (post.PHASE, post.VMS): "VM version update",
    (solution.PHASE, solution.FEATURES_RUN): "features install",
    (solution.PHASE, solution.FEATURES): "features install",
    (solution.PHASE, solution.BITLOCKER_SUSPEND): "BitLocker suspend",
    (solution.PHASE, solution.BITLOCKER_RESUME): "BitLocker resume",
    (offline.PHASE, offline.STEP): "fast offline update",
}

# Which entry shows a journal step (for an interrupted or running step, "go back there").
_ENTRY_OF_PHASE: dict[int, Entry] = {0: Entry.PREREQUISITES, 1: Entry.MAINTENANCE, 2: Entry.CAU, 3: Entry.ISO,
                                     4: Entry.SR, 5: Entry.CAU, 6: Entry.SR, 7: Entry.VERIFICATION, 8: Entry.POST,
                                     readiness.PHASE: Entry.READINESS, offline.PHASE: Entry.OFFLINE}
_ENTRY_OF_STEP: dict[tuple[int, str], Entry] = {
    (PHASE_REGISTRY, registry.STEP): Entry.REGISTRY,
    (PHASE_REGISTRY, registry.REMEDIATION): Entry.REGISTRY,
    MANUAL_UPGRADE: Entry.MAINTENANCE,
}
# How a sentence names a step that is not a change.
_WORDS: dict[tuple[int, str], str] = {
    (prereq.PHASE, prereq.STEP): "prerequisites",
    (PHASE_PREFLIGHT, cau_options.PREFLIGHT): "CAU preflight",
    (PHASE_SNAPSHOT, sr_names.SNAPSHOT): "SR snapshot",
    (PHASE_RECREATE, sr_names.DIFF): "SR diff",
    (verify.PHASE, "verification"): "verification",
    (post.PHASE, post.VALIDATION): "Test-Cluster",
    (readiness.PHASE, readiness.STEP): "readiness checks",
}


def entry_of(record: StepRecord) -> Entry:
    """The menu entry whose screen runs (and re-verifies) ``record``'s step."""
    return _ENTRY_OF_STEP.get((record.phase, record.step)) or _ENTRY_OF_PHASE.get(record.phase, Entry.JOURNAL)


def step_words(record: StepRecord) -> str:
    """ "restart on LAB-A1", "CAU run": a step as a sentence names it."""
    key = (record.phase, record.step)
    words = CHANGES.get(key) or _WORDS.get(key) or record.step
    return f"{words} on {record.node}" if record.node else words


# ------------------------------------------------------------------ times


def when(stamp: str | None) -> datetime | None:
    """A journal time as a datetime (UTC when it carries no offset); None when there is none or it is bad."""
    if not stamp:
        return None
    try:
        value = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def hhmm(stamp: str | None) -> str:
    """``14:02`` in local time ("?" when the journal has no time)."""
    text = local_time(stamp, fmt="%H:%M")
    return text if text and text != stamp else "?"


def at_words(stamp: str | None) -> str:
    """`` at 14:02`` for a journal time, "" when there is none."""
    return f" at {hhmm(stamp)}" if when(stamp) else ""


def result_time(record: StepRecord | None) -> str | None:
    return None if record is None else (record.finished or record.started)


@dataclass(frozen=True)
class Change:
    """A step that changed the cluster after a result was taken."""

    record: StepRecord

    @property
    def words(self) -> str:
        stamp = self.record.finished or self.record.started
        return f"{step_words(self.record)} at {hhmm(stamp)}" if when(stamp) else step_words(self.record)


def changed_since(journal: Journal, stamp: str | None,
                  keep: Callable[[StepRecord], bool] = lambda record: True) -> Change | None:
    """The latest change (of :data:`CHANGES`, kept by ``keep``) active after ``stamp``: its run ended after
    it, or it is still running or interrupted (fails closed: it may be changing the cluster now). None: no
    change since, or nothing was taken (``stamp`` None)."""
    taken = when(stamp)
    if taken is None:
        return None
    latest: tuple[datetime, StepRecord] | None = None
    for record in journal.steps():
        if (record.phase, record.step) not in CHANGES or not record.runs or not keep(record):
            continue
        active = record.status in (StepStatus.RUNNING, StepStatus.UNKNOWN)
        end = when(record.finished) or when(record.started)
        if end is None or end <= taken:
            if not active:
                continue
            end = taken + timedelta(seconds=1)  # still under way: after whatever was taken meanwhile
        if latest is None or end > latest[0]:
            latest = (end, record)
    return None if latest is None else Change(latest[1])


STALE_NOTE = "(stale: the cluster changed since; run again)"


def too_old(record: StepRecord | None, now: datetime, max_age_hours: float) -> bool:
    taken = when(result_time(record))
    return taken is not None and now - taken > timedelta(hours=max_age_hours)


# ------------------------------------------------------------------ what the judgement works from


@dataclass
class Facts:
    """What the lines and the next step are judged on: the journal, the nodes, and now."""

    journal: Journal
    nodes: list[str]
    stretched: bool = True
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    max_age_hours: float = 24.0  # the OS upgrade's gate on the prerequisites' age (prereq_max_age_hours)

    @classmethod
    def of(cls, ctx: Context, now: datetime | None = None) -> Facts:
        return cls(ctx.journal, list(ctx.client.node_names), stretched=ctx.stretched,
                   now=now or datetime.now(UTC), max_age_hours=ctx.cluster.prereq_max_age_hours)

    def record(self, phase: int, step: str, node: str | None = None) -> StepRecord | None:
        return self.journal.step(phase, step, node)

    def per_node(self, phase: int, step: str) -> dict[str, StepRecord | None]:
        return {n: self.journal.step(phase, step, n) for n in self.nodes}

    def nodes_with(self, phase: int, step: str, status: StepStatus = StepStatus.DONE) -> list[str]:
        return [n for n, r in self.per_node(phase, step).items() if r is not None and r.status is status]

    def builds(self) -> dict[str, int]:
        """Each node's OS build as the last live read of it saw it (the journal's inventory)."""
        out = {}
        for node in self.nodes:
            seen = self.journal.state.inventory.get(node)
            if seen is not None and seen.last_build.split(".")[0].isdigit():
                out[node] = int(seen.last_build.split(".")[0])
        return out


def pending_reboot(facts: Facts) -> list[str]:
    """Nodes whose keys hcitui set (or toggled) and that have not restarted since, as
    :func:`registry.journal_summary` counts them: the keys are read at boot, so they are not in force yet."""
    pending = []
    for node in facts.nodes:
        restart = facts.record(PHASE_MAINTENANCE, maintenance.RESTART, node)
        for step in registry.RECORD_STEPS:
            record = facts.record(PHASE_REGISTRY, step, node)
            if (record is None or record.status is not StepStatus.DONE or not record.data.get("boot_at_set")
                    or record.data.get("effective_at_boot")):
                continue
            restarted = (restart is not None and restart.status is StepStatus.DONE
                         and (r := when(restart.started)) is not None and (s := when(record.finished)) is not None
                         and r >= s)
            if not restarted:
                pending.append(node)
                break
    return pending


def preflight_stale(facts: Facts) -> Change | None:
    # The CAU preflight is stale after any change to the cluster since it ran: it reads remoting on every
    # node, Test-CauSetup, Test-Cluster and an Invoke-CauScan of the staged media. The remoting it enables
    # itself ends before it does, so it does not count.
    return changed_since(facts.journal, result_time(facts.record(PHASE_PREFLIGHT, cau_options.PREFLIGHT)))


def to_recreate(facts: Facts) -> int:
    removal = facts.record(PHASE_SNAPSHOT, sr_names.REMOVE)
    if removal is None or removal.status is not StepStatus.DONE:
        return 0
    removed = len(removal.data.get("removed", []) or [])
    recreated = sum(1 for r in facts.journal.steps(PHASE_RECREATE)
                    if r.step == sr_names.RECREATE and r.status is StepStatus.DONE)
    return max(0, removed - recreated)
