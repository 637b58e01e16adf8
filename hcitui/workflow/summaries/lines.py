"""One :class:`Summary` per menu entry: each phase module's own phrase where it has one, its state, when its
result was taken, and "(stale: ...)" on a read-only result the cluster changed since (see each line)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hcitui.core.journal import Journal, StepRecord, StepStatus
from hcitui.workflow import maintenance, offline, post, prereq, readiness, registry, sr, staging, verify
from hcitui.workflow.cau import options as cau_options
from hcitui.workflow.cau import summary as cau_summary
from hcitui.workflow.context import Context
from hcitui.workflow.sr import snapshot as sr_names
from hcitui.workflow.summaries.base import (
    PHASE_ISO,
    PHASE_MAINTENANCE,
    PHASE_PREFLIGHT,
    PHASE_RECREATE,
    PHASE_REGISTRY,
    PHASE_RUN,
    PHASE_SNAPSHOT,
    STALE_NOTE,
    Change,
    Entry,
    Facts,
    Recommendation,
    State,
    Summary,
    at_words,
    changed_since,
    pending_reboot,
    preflight_stale,
    result_time,
    to_recreate,
    too_old,
    when,
)
from hcitui.workflow.summaries.walk import recommend

# ------------------------------------------------------------------ the lines


def _simple_line(record: StepRecord | None, stale: Change | None = None, *, old: bool = False) -> Summary:
    """A one-record step (prerequisites, verification): its detail, when, and whether it is stale."""
    if record is None:
        return Summary("not run yet", State.NOT_STARTED)
    if record.status is StepStatus.UNKNOWN:
        return Summary("interrupted; run again", State.INTERRUPTED, when(record.started))
    if record.status is StepStatus.RUNNING:
        return Summary("running", State.IN_PROGRESS, when(record.started))
    stamp = result_time(record)
    text = f"{record.detail or record.status.value}{at_words(stamp)}"
    if stale is not None or old:
        note = STALE_NOTE if stale is not None else "(stale: older than the upgrade allows; run again)"
        return Summary(f"{text} {note}", State.STALE, when(stamp))
    return Summary(text, State.DONE if record.status is StepStatus.DONE else State.FAILED, when(stamp))


def prerequisites_line(facts: Facts) -> Summary:
    # Stale: any change to the cluster after they were taken (a node restarted, a key set, the ISO staged, the
    # upgrade...): they read every node's state and build, the storage, the VMs, the CAU role and the ISO.
    # Also stale when older than prereq_max_age_hours, the age the OS upgrade's gate accepts.
    record = facts.record(prereq.PHASE, prereq.STEP)
    stale = changed_since(facts.journal, result_time(record))
    return _simple_line(record, stale, old=too_old(record, facts.now, facts.max_age_hours))


def verification_line(facts: Facts) -> Summary:
    # Stale: any change to the cluster after it was taken: it proves the end state (nodes, builds, CSVs, SR,
    # storage jobs, disks), which every change can move.
    record = facts.record(verify.PHASE, "verification")
    return _simple_line(record, changed_since(facts.journal, result_time(record)))


def readiness_line(facts: Facts) -> Summary:
    # Stale: any change to the cluster after it was taken (a feature installed, BitLocker suspended, a node
    # restarted...): it reads every node's features, BitLocker, OS and the cluster's level and pool. On a
    # stretched cluster the solution upgrade does not apply: a fact, neither to do nor failed.
    if not facts.stretched:
        record = facts.record(readiness.PHASE, readiness.STEP)
        return _simple_line(record, changed_since(facts.journal, result_time(record)))
    return Summary("does not apply: stretched cluster", State.INFO)


def _latest(records: list[StepRecord | None]) -> datetime | None:
    times = [t for r in records if r is not None and (t := when(result_time(r))) is not None]
    return max(times) if times else None


def _per_node_state(records: list[StepRecord | None], done: int, total: int) -> State:
    present = [r for r in records if r is not None and r.runs]
    if not present:
        return State.NOT_STARTED
    statuses = {r.status for r in present}
    if StepStatus.UNKNOWN in statuses:
        return State.INTERRUPTED
    if StepStatus.RUNNING in statuses:
        return State.IN_PROGRESS
    if StepStatus.FAILED in statuses:
        return State.FAILED
    return State.DONE if done >= total else State.IN_PROGRESS


def registry_line(facts: Facts) -> Summary:
    # Never stale: hcitui is the only writer it records, a later set or ReFS toggle is its own newer record,
    # and whether the keys are in force (set, then restarted) is the line itself ("pending reboot").
    records = [facts.record(PHASE_REGISTRY, registry.STEP, n) for n in facts.nodes]
    done = len(facts.nodes_with(PHASE_REGISTRY, registry.STEP))
    state = _per_node_state(records, done, len(facts.nodes))
    if state is State.DONE and pending_reboot(facts):
        state = State.IN_PROGRESS
    return Summary(registry.journal_summary(facts.journal, facts.nodes), state, _latest(records))


def maintenance_line(facts: Facts) -> Summary:
    # Never stale: a restart is an event, not a reading; whether the keys needed one is the registry line's.
    records = [facts.record(PHASE_MAINTENANCE, maintenance.RESTART, n) for n in facts.nodes]
    done = len(facts.nodes_with(PHASE_MAINTENANCE, maintenance.RESTART))
    state = _per_node_state(records, done, len(facts.nodes))
    if facts.journal.state.lock is not None:
        state = State.IN_PROGRESS
    return Summary(maintenance.journal_summary(facts.journal, facts.nodes), state, _latest(records))


def iso_line(facts: Facts) -> Summary:
    # Never stale from the journal: no other step writes the staging folder; the upgrade's gate reads every
    # folder again before the upgrade and refuses one that no longer matches what was verified.
    records = [facts.record(PHASE_ISO, staging.STAGE, n) for n in facts.nodes]
    done = len(facts.nodes_with(PHASE_ISO, staging.STAGE))
    copies = [facts.record(PHASE_ISO, staging.COPY, n) for n in facts.nodes]
    state = _per_node_state([*records, *copies], done, len(facts.nodes))
    if state is State.FAILED and done >= len(facts.nodes):
        state = State.DONE  # a copy that failed once, then staged and verified everywhere
    return Summary(staging.journal_summary(facts.journal, facts.nodes), state, _latest(records))


def cau_line(facts: Facts) -> Summary:
    text = cau_summary.menu_state(facts.journal)
    run = facts.record(PHASE_RUN, cau_options.RUN)
    if run is not None and run.runs:
        # A run is an event with its own outcome: never stale.
        state = {StepStatus.DONE: State.DONE, StepStatus.FAILED: State.FAILED, StepStatus.RUNNING: State.IN_PROGRESS,
                 StepStatus.UNKNOWN: State.INTERRUPTED}.get(run.status, State.NOT_STARTED)
        return Summary(text, state, when(result_time(run)))
    pre = facts.record(PHASE_PREFLIGHT, cau_options.PREFLIGHT)
    if pre is None or not pre.runs:
        return Summary(text, State.NOT_STARTED)
    if pre.status in (StepStatus.RUNNING, StepStatus.UNKNOWN):
        return Summary(text, State.IN_PROGRESS if pre.status is StepStatus.RUNNING else State.INTERRUPTED,
                       when(pre.started))
    if preflight_stale(facts) is not None:
        return Summary(f"{text} {STALE_NOTE}", State.STALE, when(result_time(pre)))
    # The preflight alone is phase 2 done; the run (phase 5) has not started.
    state = State.IN_PROGRESS if pre.status is StepStatus.DONE else State.FAILED
    return Summary(text, state, when(result_time(pre)))


def sr_line(ctx: Context, facts: Facts) -> Summary:
    # Never stale from the journal: hcitui removes and recreates partnerships only from the snapshot; the
    # upgrade's gate compares the snapshot with a fresh read of the partnerships before the upgrade.
    if not facts.stretched:  # no Storage Replica to snapshot or recreate: a fact, neither to do nor failed
        return Summary(sr.menu_state(ctx), State.INFO)
    records = [r for r in facts.journal.steps() if r.phase in (PHASE_SNAPSHOT, PHASE_RECREATE) and r.runs]
    statuses = {r.status for r in records}
    if not records:
        state = State.NOT_STARTED
    elif StepStatus.UNKNOWN in statuses:
        state = State.INTERRUPTED
    elif StepStatus.RUNNING in statuses:
        state = State.IN_PROGRESS
    elif StepStatus.FAILED in statuses:
        state = State.FAILED
    else:
        state = State.DONE if _sr_done(facts) else State.IN_PROGRESS
    return Summary(sr.menu_state(ctx), state, _latest(records))


def _sr_done(facts: Facts) -> bool:
    """The SR work is done: the snapshot is re-read and whatever was removed is recreated and diffed."""
    snap = facts.record(PHASE_SNAPSHOT, sr_names.SNAPSHOT)
    if snap is None or snap.status is not StepStatus.DONE or not snap.data.get("reread"):
        return False
    return not to_recreate(facts)


def post_line(facts: Facts) -> Summary:
    # Never stale: each of these changes is proved by a read when it is made, and none can be undone.
    records = {step: facts.record(post.PHASE, step) for step in (post.LEVEL, post.POOLS, post.VALIDATION)}
    done = {step for step, r in records.items() if r is not None and r.status is StepStatus.DONE}
    parts = [words for step, words in ((post.LEVEL, "level raised"), (post.POOLS, "pools upgraded"),
                                       (post.VALIDATION, "validated")) if step in done]
    present = [r for r in records.values() if r is not None and r.runs]
    at = _latest(list(records.values()))
    if not present:
        return Summary("not started (cannot be undone)", State.NOT_STARTED)
    if len(done) == len(records):
        state = State.DONE
    elif any(r.status is StepStatus.FAILED for r in present):
        state = State.FAILED
    else:
        state = State.IN_PROGRESS
    return Summary(", ".join(parts) if parts else "started; nothing done yet", state, at)


def offline_line(ctx: Context, facts: Facts) -> Summary:
    # Never stale: an update is an event with its own closing checks; an open window is the loudest state.
    record = facts.record(offline.PHASE, offline.STEP)
    text = offline.journal_summary(ctx)
    if record is None or not record.runs:
        return Summary(text, State.NOT_STARTED)
    state = {StepStatus.DONE: State.DONE, StepStatus.FAILED: State.FAILED, StepStatus.RUNNING: State.IN_PROGRESS,
             StepStatus.UNKNOWN: State.INTERRUPTED}.get(record.status, State.NOT_STARTED)
    return Summary(text, state, when(result_time(record)))


def monitor_line(ctx: Context) -> Summary:
    return Summary(f"read-only, refreshes every {ctx.cluster.monitor_interval:g} s", State.INFO)


def audit_line(ctx: Context) -> Summary:
    """How many operations and changes are logged (counted without parsing)."""
    total = changes = 0
    for path in ctx.audit.files():
        try:
            data = path.read_bytes()
        except OSError:
            continue
        total += data.count(b"\n")
        changes += data.count(b'"mutates":true')
    if not total:
        return Summary("nothing logged yet", State.INFO)
    return Summary(f"{total} operations, {changes} changes", State.INFO)


def journal_line(journal: Journal) -> Summary:
    """How many steps, and the ones that need attention."""
    steps = journal.steps()
    if not steps:
        return Summary("no step recorded yet", State.INFO)
    counts = {s: sum(1 for r in steps if r.status is s) for s in StepStatus}
    parts = [f"{counts[StepStatus.DONE]}/{len(steps)} done"]
    if counts[StepStatus.RUNNING]:
        parts.append(f"{counts[StepStatus.RUNNING]} running")
    if counts[StepStatus.FAILED]:
        parts.append(f"{counts[StepStatus.FAILED]} failed")
    if counts[StepStatus.UNKNOWN]:
        parts.append(f"{counts[StepStatus.UNKNOWN]} interrupted")
    return Summary(", ".join(parts), State.INFO, when(journal.state.updated))


@dataclass(frozen=True)
class Overview:
    """Every entry's line and the next step (None: nothing left to do)."""

    lines: dict[Entry, Summary]
    next: Recommendation | None


def summarize(ctx: Context, now: datetime | None = None) -> Overview:
    """What the menu shows: one :class:`Summary` per entry and the recommended next step."""
    facts = Facts.of(ctx, now)
    lines = {
        Entry.PREREQUISITES: prerequisites_line(facts),
        Entry.REGISTRY: registry_line(facts),
        Entry.MAINTENANCE: maintenance_line(facts),
        Entry.ISO: iso_line(facts),
        Entry.CAU: cau_line(facts),
        Entry.SR: sr_line(ctx, facts),
        Entry.VERIFICATION: verification_line(facts),
        Entry.POST: post_line(facts),
        Entry.MONITOR: monitor_line(ctx),
        Entry.AUDIT: audit_line(ctx),
        Entry.JOURNAL: journal_line(ctx.journal),
        Entry.READINESS: readiness_line(facts),
        Entry.OFFLINE: offline_line(ctx, facts),
    }
    return Overview(lines, recommend(facts))
