"""The next step: what needs attention first, then the runbook's phases in order (RUNBOOK.md section 1)."""

from __future__ import annotations

from hcitui.core import model
from hcitui.core.journal import StepRecord, StepStatus
from hcitui.workflow import maintenance, post, prereq, readiness, registry, staging, verify
from hcitui.workflow.cau import options as cau_options
from hcitui.workflow.sr import snapshot as sr_names
from hcitui.workflow.summaries.base import (
    MANUAL_UPGRADE,
    PHASE_ISO,
    PHASE_MAINTENANCE,
    PHASE_PREFLIGHT,
    PHASE_RECREATE,
    PHASE_REGISTRY,
    PHASE_RUN,
    PHASE_SNAPSHOT,
    Entry,
    Facts,
    Recommendation,
    changed_since,
    entry_of,
    hhmm,
    pending_reboot,
    preflight_stale,
    result_time,
    step_words,
    to_recreate,
    too_old,
)


def _some(nodes: list[str], total: int) -> str:
    return f"{len(nodes)} of {total} nodes"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def upgraded(facts: Facts) -> bool:
    """The OS upgrade is done: a rolling-upgrade CAU run succeeded, every node was upgraded by hand, or the
    last live read of every node's OS saw build 25398 or later."""
    run = facts.record(PHASE_RUN, cau_options.RUN)
    if run is not None and run.status is StepStatus.DONE and _plugin(run) == cau_options.ROLLING_UPGRADE:
        return True
    if facts.nodes and len(facts.nodes_with(*MANUAL_UPGRADE)) == len(facts.nodes):
        return True
    builds = facts.builds()
    return bool(facts.nodes) and len(builds) == len(facts.nodes) and all(
        b >= model.UPGRADE_TO_BUILD for b in builds.values())


def upgrade_begun(facts: Facts) -> bool:
    """The OS upgrade has begun (a rolling-upgrade CAU run was started, a node was upgraded by hand, or a
    live read saw a node on 25398): from here the earlier phases' reads no longer apply (a node upgraded
    fails the prerequisites' build check), so the walk stays in phase 5 until the upgrade is done."""
    run = facts.record(PHASE_RUN, cau_options.RUN)
    if run is not None and run.runs and _plugin(run) == cau_options.ROLLING_UPGRADE:
        return True
    if any(r is not None and r.runs for r in facts.per_node(*MANUAL_UPGRADE).values()):
        return True
    return any(b >= model.UPGRADE_TO_BUILD for b in facts.builds().values())


def _plugin(run: StepRecord) -> str:
    return str((run.data.get("options") or {}).get("plugin", cau_options.ROLLING_UPGRADE))


def _attention(facts: Facts) -> Recommendation | None:
    """A node out of service, then a step interrupted, then one running: go back to it before anything."""
    lock = facts.journal.state.lock
    if lock is not None:
        phase = maintenance.UPGRADE_KIND.phase if lock.reason == maintenance.UPGRADE_KIND.label else PHASE_MAINTENANCE
        return Recommendation(Entry.MAINTENANCE, phase,
                              f"{lock.node} is out of service ({lock.reason}) since {hhmm(lock.since)}: "
                              "bring it back first")
    steps = facts.journal.steps()
    for record in steps:
        if record.status is StepStatus.UNKNOWN:
            return Recommendation(entry_of(record), record.phase,
                                  f"the {step_words(record)} was interrupted: open it to re-verify")
    for record in steps:
        if record.status is StepStatus.RUNNING:
            return Recommendation(entry_of(record), record.phase,
                                  f"the {step_words(record)} is running (since {hhmm(record.started)})")
    return None


def _before_upgrade(facts: Facts) -> Recommendation | None:
    """Phases 0 to 4, in order, then the freshness the upgrade relies on."""
    total = len(facts.nodes)
    pre = facts.record(prereq.PHASE, prereq.STEP)
    if pre is None or not pre.runs:
        return Recommendation(Entry.PREREQUISITES, 0, "nothing run yet: start here (read-only)")
    if pre.status is not StepStatus.DONE:
        return Recommendation(Entry.PREREQUISITES, 0, "not passed: fix what fails, run them again")
    keys = facts.per_node(PHASE_REGISTRY, registry.STEP)
    failed = [n for n, r in keys.items() if r is not None and r.status is StepStatus.FAILED]
    done = facts.nodes_with(PHASE_REGISTRY, registry.STEP)
    if failed:
        return Recommendation(Entry.REGISTRY, 1, f"setting the keys failed on {', '.join(failed[:3])}: set them again")
    if not done:
        return Recommendation(Entry.REGISTRY, 1, "prerequisites passed; the keys are not set")
    if len(done) < total:
        return Recommendation(Entry.REGISTRY, 1, f"the keys are set on {_some(done, total)}")
    pending = pending_reboot(facts)
    if pending:
        return Recommendation(Entry.MAINTENANCE, 1,
                              f"the keys are set; {_plural(len(pending), 'node')} must restart to apply them")
    preflight = facts.record(PHASE_PREFLIGHT, cau_options.PREFLIGHT)
    if preflight is None or not preflight.runs:
        return Recommendation(Entry.CAU, 2, "the keys are in force; run the CAU preflight")
    if preflight.status is not StepStatus.DONE:
        return Recommendation(Entry.CAU, 2, "the CAU preflight did not pass: fix it, run it again")
    staged = facts.nodes_with(PHASE_ISO, staging.STAGE)
    if len(staged) < total:
        if not staged:
            return Recommendation(Entry.ISO, 3, "the CAU preflight passed; the ISO is not staged")
        return Recommendation(Entry.ISO, 3, f"the ISO is staged and verified on {_some(staged, total)}")
    if facts.stretched:
        snap = facts.record(PHASE_SNAPSHOT, sr_names.SNAPSHOT)
        if snap is None or not snap.runs:
            return Recommendation(Entry.SR, 4, "the ISO is staged; take the SR snapshot")
        if snap.status is not StepStatus.DONE or not snap.data.get("reread"):
            return Recommendation(Entry.SR, 4, "the SR snapshot is not re-read: take it again")
    # The upgrade relies on a preflight and prerequisites that still describe the cluster (the preflight
    # first: enabling remoting again would make the prerequisites stale, never the other way round).
    change = preflight_stale(facts)
    if change is not None:
        return Recommendation(Entry.CAU, 2, f"run the preflight again: the cluster changed since ({change.words})")
    change = changed_since(facts.journal, result_time(pre))
    if change is not None:
        return Recommendation(Entry.PREREQUISITES, 0, f"run them again: the cluster changed since ({change.words})")
    if too_old(pre, facts.now, facts.max_age_hours):
        return Recommendation(Entry.PREREQUISITES, 0, f"run them again: they passed at {hhmm(result_time(pre))}, "
                                                      f"over the {facts.max_age_hours:g} h the upgrade accepts")
    return None


def _upgrade(facts: Facts) -> Recommendation:
    """Phase 5: the run failed, a manual upgrade half way, or everything it needs is in place."""
    run = facts.record(PHASE_RUN, cau_options.RUN)
    if run is not None and run.status is StepStatus.FAILED:
        return Recommendation(Entry.CAU, 5, "the CAU run failed: see why, recover it or run it again")
    by_hand = facts.nodes_with(*MANUAL_UPGRADE)
    if by_hand:
        return Recommendation(Entry.MAINTENANCE, 5, f"{_some(by_hand, len(facts.nodes))} upgraded by hand: "
                                                    "upgrade the next one")
    return Recommendation(Entry.CAU, 5, "the earlier phases are done: start the rolling upgrade")


def _after_upgrade(facts: Facts) -> Recommendation | None:
    """Phases 6 to 8, in order."""
    if facts.stretched:
        missing = to_recreate(facts)
        if missing:
            return Recommendation(Entry.SR, 6, f"the upgrade is done; {_plural(missing, 'SR partnership')} "
                                               "to recreate")
        removal = facts.record(PHASE_SNAPSHOT, sr_names.REMOVE)
        check = facts.record(PHASE_RECREATE, sr_names.DIFF)
        if removal is not None and removal.status is StepStatus.DONE:
            if check is None or not check.runs:
                return Recommendation(Entry.SR, 6, "compare the recreated partnerships with the snapshot")
            if check.status is not StepStatus.DONE:
                return Recommendation(Entry.SR, 6, "the recreated partnerships differ from the snapshot")
    ver = facts.record(verify.PHASE, "verification")
    if ver is None or not ver.runs:
        return Recommendation(Entry.VERIFICATION, 7, "the upgrade is done; verify the cluster")
    if ver.status is not StepStatus.DONE:
        return Recommendation(Entry.VERIFICATION, 7, "it did not pass: fix what fails, verify again")
    # Phase 8's (and 9's) own changes come after the verification by design: only an earlier phase's change sends the
    # operator back to it here (the line shows it stale either way; the end asks for one more).
    change = changed_since(facts.journal, result_time(ver), keep=lambda r: r.phase not in (post.PHASE, readiness.PHASE))
    if change is not None:
        return Recommendation(Entry.VERIFICATION, 7, f"verify again: the cluster changed since ({change.words})")
    level, pools, validation = (facts.record(post.PHASE, s) for s in (post.LEVEL, post.POOLS, post.VALIDATION))
    if level is None or level.status is not StepStatus.DONE:
        return Recommendation(Entry.POST, 8, "verification passed; raise the functional level")
    if pools is None or pools.status is not StepStatus.DONE:
        return Recommendation(Entry.POST, 8, "the level is raised; upgrade the storage pools")
    if validation is None or validation.status is not StepStatus.DONE:
        return Recommendation(Entry.POST, 8, "the pools are upgraded; run Test-Cluster")
    # The solution update's preparation (phase 9) changes the cluster after the verification by design.
    change = changed_since(facts.journal, result_time(ver), keep=lambda r: r.phase != readiness.PHASE)
    if change is not None:
        return Recommendation(Entry.VERIFICATION, 7, "post-upgrade is done; verify the end state once more")
    return _readiness(facts)


def _readiness(facts: Facts) -> Recommendation | None:
    """Phase 9, after the OS upgrade and post-upgrade: the solution update's readiness (seed 001, "Step 2"),
    on a cluster it applies to (not stretched)."""
    if facts.stretched:
        return None
    record = facts.record(readiness.PHASE, readiness.STEP)
    if record is None or not record.runs:
        return Recommendation(Entry.READINESS, readiness.PHASE,
                              "post-upgrade is done; check the solution upgrade's readiness (read-only)")
    change = changed_since(facts.journal, result_time(record))
    if change is not None:
        return Recommendation(Entry.READINESS, readiness.PHASE,
                              f"check again: the cluster changed since ({change.words})")
    if record.status is not StepStatus.DONE:
        return Recommendation(Entry.READINESS, readiness.PHASE,
                              "not passed: fix what fails (f installs the features, b suspends BitLocker), "
                              "check again")
    return None


def recommend(facts: Facts) -> Recommendation | None:
    """The next step of the runbook, from the journal alone (pure): what needs attention first (a node out,
    a step interrupted or running), then the first phase not done, in the runbook's order (once the OS
    upgrade has begun, only phase 5 until it is done, then phases 6 to 8). None: every phase is done and the
    last verification still holds."""
    found = _attention(facts)
    if found is not None:
        return found
    if upgraded(facts):
        return _after_upgrade(facts)
    if upgrade_begun(facts):
        return _upgrade(facts)
    return _before_upgrade(facts) or _upgrade(facts)
