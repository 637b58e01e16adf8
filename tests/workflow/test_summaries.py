"""The menu's lines and its next step (workflow/summaries.py), from a journal built here, times set by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hcitui.cli import context as wiring
from hcitui.core.journal import Journal, StepStatus, local_time
from hcitui.workflow import registry, staging, summaries
from hcitui.workflow.cau import options as cau_options
from hcitui.workflow.summaries import Entry, Facts, State

NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def stamp(minute: float) -> str:
    return (T0 + timedelta(minutes=minute)).isoformat(timespec="seconds")


def hhmm(minute: float) -> str:
    return local_time(stamp(minute), fmt="%H:%M")


def put(journal: Journal, phase: int, step: str, node: str | None, status: StepStatus, minute: float, *,
        detail: str | None = None, data: dict | None = None) -> None:
    """A run of a step at ``minute`` (it takes half a minute when it ended)."""
    record = journal.set_step(phase, step, node, status, detail, data=data, fresh=True)
    record.runs[-1].started = stamp(minute)
    record.runs[-1].finished = stamp(minute + 0.5) if status in (StepStatus.DONE, StepStatus.FAILED) else None


@pytest.fixture
def journal(tmp_path) -> Journal:
    return Journal.open(tmp_path, "C")


def facts(journal: Journal, *, minutes: float = 120, stretched: bool = True, nodes=NODES) -> Facts:
    return Facts(journal, list(nodes), stretched=stretched, now=T0 + timedelta(minutes=minutes), max_age_hours=24)


def next_of(journal: Journal, **kw) -> tuple[Entry, int, str] | None:
    found = summaries.recommend(facts(journal, **kw))
    return None if found is None else (found.entry, found.phase, found.why)


def keys_set(journal: Journal, minute: float) -> None:
    for node in NODES:
        put(journal, 1, registry.STEP, node, StepStatus.DONE, minute, detail="set, pending reboot",
            data={"boot_at_set": "2025-01-01T00:00:00+00:00"})


def restarted(journal: Journal, minute: float) -> None:
    for i, node in enumerate(NODES):
        put(journal, 1, "restart", node, StepStatus.DONE, minute + i, detail="restarted, resumed, storage quiet")


def staged(journal: Journal, minute: float) -> None:
    for node in NODES:
        put(journal, staging.PHASE, staging.STAGE, node, StepStatus.DONE, minute, detail="verified",
            data={"file_count": 10, "total_bytes": 100})


def snapshot(journal: Journal, minute: float) -> None:
    put(journal, 4, "sr-snapshot", None, StepStatus.DONE, minute, detail="2 partnerships, re-read OK",
        data={"reread": True, "path": "/x/latest.json", "partnerships": 2})


# ------------------------------------------------------------------ the walk, phase by phase


def test_the_walk_follows_the_runbook_and_never_loops(journal):
    assert next_of(journal) == (Entry.PREREQUISITES, 0, "nothing run yet: start here (read-only)")
    put(journal, 0, "prerequisites", None, StepStatus.FAILED, 0, detail="NOT PASSED: 10 pass, 1 fail")
    assert next_of(journal)[:2] == (Entry.PREREQUISITES, 0)
    put(journal, 0, "prerequisites", None, StepStatus.DONE, 1, detail="PASSED with 2 warnings")
    assert next_of(journal) == (Entry.REGISTRY, 1, "prerequisites passed; the keys are not set")

    put(journal, 1, registry.STEP, "LAB-A1", StepStatus.DONE, 5, data={"boot_at_set": "2025-01-01T00:00:00+00:00"})
    assert next_of(journal) == (Entry.REGISTRY, 1, "the keys are set on 1 of 4 nodes")
    keys_set(journal, 6)
    assert next_of(journal) == (Entry.MAINTENANCE, 1, "the keys are set; 4 nodes must restart to apply them")
    restarted(journal, 10)
    assert next_of(journal) == (Entry.CAU, 2, "the keys are in force; run the CAU preflight")

    put(journal, 2, "cau-preflight", None, StepStatus.DONE, 20, detail="PASSED")
    assert next_of(journal) == (Entry.ISO, 3, "the CAU preflight passed; the ISO is not staged")
    staged(journal, 30)
    assert next_of(journal) == (Entry.SR, 4, "the ISO is staged; take the SR snapshot")
    snapshot(journal, 40)

    # Before the upgrade: the preflight (the ISO was staged after it), then the prerequisites (everything
    # since 12:01), each once: running one again makes nothing else stale.
    entry, phase, why = next_of(journal)
    assert (entry, phase) == (Entry.CAU, 2)
    assert why.startswith("run the preflight again: the cluster changed since (ISO staging on LAB-")
    assert why.endswith(f" at {hhmm(30.5)})")
    put(journal, 2, "cau-preflight", None, StepStatus.DONE, 50, detail="PASSED")
    entry, phase, why = next_of(journal)
    assert (entry, phase) == (Entry.PREREQUISITES, 0)
    assert why.startswith("run them again: the cluster changed since (ISO staging on LAB-")
    put(journal, 0, "prerequisites", None, StepStatus.DONE, 55, detail="PASSED")
    assert next_of(journal) == (Entry.CAU, 5, "the earlier phases are done: start the rolling upgrade")


def test_a_failed_key_and_a_failed_preflight_send_back_to_them(journal):
    put(journal, 0, "prerequisites", None, StepStatus.DONE, 0, detail="PASSED")
    keys_set(journal, 1)
    put(journal, 1, registry.STEP, "LAB-B2", StepStatus.FAILED, 2, detail="access denied")
    assert next_of(journal) == (Entry.REGISTRY, 1, "setting the keys failed on LAB-B2: set them again")
    keys_set(journal, 3)
    restarted(journal, 4)
    put(journal, 2, "cau-preflight", None, StepStatus.FAILED, 10, detail="NOT PASSED: Test-CauSetup")
    assert next_of(journal) == (Entry.CAU, 2, "the CAU preflight did not pass: fix it, run it again")


def test_a_node_restarted_before_its_keys_were_set_is_still_pending(journal):
    put(journal, 0, "prerequisites", None, StepStatus.DONE, 0, detail="PASSED")
    restarted(journal, 1)
    keys_set(journal, 10)  # after the restarts: not in force
    assert next_of(journal)[:2] == (Entry.MAINTENANCE, 1)
    assert summaries.pending_reboot(facts(journal)) == NODES
    line = summaries.registry_line(facts(journal))
    assert line.state is State.IN_PROGRESS and line.text == registry.journal_summary(journal, NODES)


def test_a_cluster_that_is_not_stretched_needs_no_snapshot(journal):
    put(journal, 0, "prerequisites", None, StepStatus.DONE, 0, detail="PASSED")
    keys_set(journal, 1)
    restarted(journal, 2)
    put(journal, 2, "cau-preflight", None, StepStatus.DONE, 10, detail="PASSED")
    staged(journal, 5)
    put(journal, 0, "prerequisites", None, StepStatus.DONE, 20, detail="PASSED")
    assert next_of(journal, stretched=False)[:2] == (Entry.CAU, 5)
    assert next_of(journal, stretched=True)[:2] == (Entry.SR, 4)


def test_prerequisites_older_than_the_gate_allows_are_asked_again(journal):
    put(journal, 0, "prerequisites", None, StepStatus.DONE, 0, detail="PASSED")
    keys_set(journal, -60)
    restarted(journal, -50)
    staged(journal, -45)
    put(journal, 2, "cau-preflight", None, StepStatus.DONE, -40, detail="PASSED")
    snapshot(journal, -20)
    assert next_of(journal, minutes=60)[:2] == (Entry.CAU, 5)
    entry, phase, why = next_of(journal, minutes=25 * 60)
    assert (entry, phase) == (Entry.PREREQUISITES, 0)
    assert why == f"run them again: they passed at {hhmm(0.5)}, over the 24 h the upgrade accepts"
    line = summaries.prerequisites_line(facts(journal, minutes=25 * 60))
    assert line.state is State.STALE and "stale" in line.text


def test_a_failed_run_and_a_manual_upgrade_half_way(journal):
    put(journal, 5, "cau-run", None, StepStatus.FAILED, 0, detail="run 1a2b ended RunFailed")
    assert next_of(journal) == (Entry.CAU, 5, "the CAU run failed: see why, recover it or run it again")
    put(journal, 5, "cau-run", None, StepStatus.DONE, 1, data={"options": {"plugin": cau_options.WINDOWS_UPDATE}})
    assert not summaries.upgraded(facts(journal))  # monthly updates are no OS upgrade
    put(journal, 5, "manual-upgrade", "LAB-A1", StepStatus.DONE, 2)
    assert next_of(journal) == (Entry.MAINTENANCE, 5, "1 of 4 nodes upgraded by hand: upgrade the next one")
    for node in NODES:
        put(journal, 5, "manual-upgrade", node, StepStatus.DONE, 3)
    assert summaries.upgraded(facts(journal))


# ------------------------------------------------------------------ after the upgrade


def test_after_the_upgrade_recreate_verify_then_post_upgrade(journal):
    put(journal, 4, "sr-remove", None, StepStatus.DONE, 0, data={"removed": ["p1", "p2"]})
    put(journal, 5, "cau-run", None, StepStatus.DONE, 10, detail="run done",
        data={"options": {"plugin": cau_options.ROLLING_UPGRADE}})
    assert summaries.upgraded(facts(journal))
    assert next_of(journal) == (Entry.SR, 6, "the upgrade is done; 2 SR partnerships to recreate")
    put(journal, 6, "sr-recreate", "p1", StepStatus.DONE, 20)
    assert next_of(journal) == (Entry.SR, 6, "the upgrade is done; 1 SR partnership to recreate")
    put(journal, 6, "sr-recreate", "p2", StepStatus.DONE, 21)
    assert next_of(journal) == (Entry.SR, 6, "compare the recreated partnerships with the snapshot")
    put(journal, 6, "sr-diff", None, StepStatus.FAILED, 22)
    assert next_of(journal) == (Entry.SR, 6, "the recreated partnerships differ from the snapshot")
    put(journal, 6, "sr-diff", None, StepStatus.DONE, 23)
    assert next_of(journal) == (Entry.VERIFICATION, 7, "the upgrade is done; verify the cluster")
    put(journal, 7, "verification", None, StepStatus.FAILED, 30, detail="NOT PASSED: 30 pass, 1 fail")
    assert next_of(journal)[:2] == (Entry.VERIFICATION, 7)
    put(journal, 7, "verification", None, StepStatus.DONE, 31, detail="PASSED")
    assert next_of(journal) == (Entry.POST, 8, "verification passed; raise the functional level")

    # An earlier phase's change after the verification sends the operator back to it.
    put(journal, 1, "restart", "LAB-A1", StepStatus.DONE, 32)
    assert next_of(journal) == (Entry.VERIFICATION, 7,
                                f"verify again: the cluster changed since (restart on LAB-A1 at {hhmm(32.5)})")
    assert summaries.verification_line(facts(journal)).state is State.STALE
    put(journal, 7, "verification", None, StepStatus.DONE, 33, detail="PASSED")

    # Phase 8's own changes do not (the line still says stale), until all of it is done: then once more.
    put(journal, 8, "functional-level", None, StepStatus.DONE, 40)
    assert next_of(journal) == (Entry.POST, 8, "the level is raised; upgrade the storage pools")
    assert summaries.verification_line(facts(journal)).state is State.STALE
    put(journal, 8, "storage-pools", None, StepStatus.DONE, 41)
    assert next_of(journal) == (Entry.POST, 8, "the pools are upgraded; run Test-Cluster")
    put(journal, 8, "test-cluster", None, StepStatus.DONE, 42)
    assert summaries.post_line(facts(journal)).state is State.DONE
    assert next_of(journal) == (Entry.VERIFICATION, 7, "post-upgrade is done; verify the end state once more")
    put(journal, 7, "verification", None, StepStatus.DONE, 50, detail="PASSED")
    assert next_of(journal) is None


def test_the_builds_the_last_reads_saw_say_the_upgrade_is_done(journal):
    journal.record_builds({node: "20349.2655" for node in NODES})
    assert not summaries.upgraded(facts(journal))
    journal.record_builds({node: "25398.1189" for node in NODES[:3]}, every=0)
    assert not summaries.upgraded(facts(journal))
    journal.record_builds({"LAB-B2": "25398.1189"}, every=0)
    assert summaries.upgraded(facts(journal))
    assert next_of(journal) == (Entry.VERIFICATION, 7, "the upgrade is done; verify the cluster")


# ------------------------------------------------------------------ what needs attention first


def test_a_node_out_an_interrupted_step_and_a_running_one_come_first(journal):
    put(journal, 0, "prerequisites", None, StepStatus.DONE, 0, detail="PASSED")
    put(journal, 3, staging.STAGE, "LAB-A2", StepStatus.RUNNING, 5)
    entry, phase, why = next_of(journal)
    assert (entry, phase) == (Entry.ISO, 3) and why.startswith("the ISO staging on LAB-A2 is running")
    put(journal, 1, registry.STEP, "LAB-B1", StepStatus.UNKNOWN, 4)
    assert next_of(journal) == (Entry.REGISTRY, 1, "the key setting on LAB-B1 was interrupted: open it to re-verify")
    journal.acquire_lock("LAB-A1", "upgrade", was_paused=False)
    entry, phase, why = next_of(journal)
    assert (entry, phase) == (Entry.MAINTENANCE, 5) and why.startswith("LAB-A1 is out of service (upgrade)")


# ------------------------------------------------------------------ stale lines


def test_prerequisites_line_is_stale_once_the_cluster_changed(journal):
    put(journal, 0, "prerequisites", None, StepStatus.DONE, 0, detail="PASSED")
    line = summaries.prerequisites_line(facts(journal))
    assert line == summaries.Summary(f"PASSED at {hhmm(0.5)}", State.DONE, T0 + timedelta(minutes=0.5))
    # Reads after it (a snapshot, a verification, a preflight) change nothing.
    snapshot(journal, 5)
    put(journal, 7, "verification", None, StepStatus.DONE, 6)
    put(journal, 2, "cau-preflight", None, StepStatus.DONE, 7)
    assert summaries.prerequisites_line(facts(journal)).state is State.DONE
    # A change that ended before it was taken does not count either.
    put(journal, 3, staging.COPY, "LAB-A1", StepStatus.DONE, -10)
    assert summaries.prerequisites_line(facts(journal)).state is State.DONE
    put(journal, 1, "restart", "LAB-B1", StepStatus.DONE, 10)
    line = summaries.prerequisites_line(facts(journal))
    assert line.state is State.STALE
    assert line.text == f"PASSED at {hhmm(0.5)} (stale: the cluster changed since; run again)"


def test_a_change_still_running_or_interrupted_counts_whenever_it_started(journal):
    put(journal, 1, "drain", "LAB-A2", StepStatus.RUNNING, -30)  # started before, still under way
    put(journal, 0, "prerequisites", None, StepStatus.DONE, 0, detail="PASSED")
    change = summaries.changed_since(journal, stamp(0.5))
    assert change is not None and change.record.step == "drain"
    assert summaries.changed_since(journal, None) is None  # nothing taken: nothing stale


def test_a_failed_result_is_stale_too_and_an_interrupted_one_says_so(journal):
    put(journal, 7, "verification", None, StepStatus.FAILED, 0, detail="NOT PASSED: 10 pass, 2 fail")
    assert summaries.verification_line(facts(journal)).state is State.FAILED
    put(journal, 6, "sr-recreate", "p1", StepStatus.DONE, 5)
    line = summaries.verification_line(facts(journal))
    assert line.state is State.STALE and line.text.startswith("NOT PASSED: 10 pass, 2 fail at ")
    put(journal, 0, "prerequisites", None, StepStatus.UNKNOWN, 10)
    assert summaries.prerequisites_line(facts(journal)) == summaries.Summary(
        "interrupted; run again", State.INTERRUPTED, T0 + timedelta(minutes=10))


def test_cau_line_marks_a_stale_preflight_and_delegates_its_text(journal):
    from hcitui.workflow.cau import summary as cau_summary

    put(journal, 2, "cau-preflight", None, StepStatus.DONE, 0, detail="PASSED")
    line = summaries.cau_line(facts(journal))
    assert line.text == cau_summary.menu_state(journal) and line.state is State.IN_PROGRESS
    staged(journal, 5)
    line = summaries.cau_line(facts(journal))
    assert line.state is State.STALE and line.text == f"{cau_summary.menu_state(journal)} {summaries.STALE_NOTE}"
    put(journal, 5, "cau-run", None, StepStatus.RUNNING, 10, detail="run 1a2b3c4d: LAB-A2 Installing")
    assert summaries.cau_line(facts(journal)) == summaries.Summary(
        "run 1a2b3c4d: LAB-A2 Installing", State.IN_PROGRESS, T0 + timedelta(minutes=10))


# ------------------------------------------------------------------ every entry, from a context


def test_summarize_gives_every_entry_a_line_and_the_first_step(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    ctx = wiring.context_for_lab(lab, read_only=True, state_root=tmp_path)
    overview = summaries.summarize(ctx)
    assert set(overview.lines) == set(Entry)
    assert overview.lines[Entry.PREREQUISITES] == summaries.Summary("not run yet", State.NOT_STARTED)
    assert overview.lines[Entry.REGISTRY].text == registry.journal_summary(ctx.journal, ctx.client.node_names)
    assert overview.lines[Entry.ISO].text == staging.journal_summary(ctx.journal, ctx.client.node_names)
    assert overview.lines[Entry.MONITOR].state is State.INFO and "every 5 s" in overview.lines[Entry.MONITOR].text
    assert overview.lines[Entry.JOURNAL].text == "no step recorded yet"
    assert overview.lines[Entry.AUDIT].text == "nothing logged yet"
    # The solution upgrade's readiness does not apply to a stretched cluster (the lab's): a fact, not a step.
    assert overview.lines[Entry.READINESS] == summaries.Summary("does not apply: stretched cluster", State.INFO)
    assert all(line.state is State.NOT_STARTED for entry, line in overview.lines.items()
               if entry in summaries.PHASES and entry is not Entry.READINESS)
    assert overview.next is not None and (overview.next.entry, overview.next.phase) == (Entry.PREREQUISITES, 0)
    assert overview.next.phase_name == "Prerequisites"
    # The phases each entry serves are the runbook's, in order.
    # After them: 9, the solution update's readiness (12) Readiness), 10, the fast offline update.
    assert [p for phases in summaries.PHASES.values() for p in phases] == [0, 1, 1, 3, 2, 5, 4, 6, 7, 8, 9, 10]
