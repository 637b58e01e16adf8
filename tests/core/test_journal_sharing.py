"""One journal, several hcitui processes: a monitor next to a run must not erase the run's steps.

Each write merges what another process wrote since (ours wins only where we changed something),
a step another live hcitui process is running is not "interrupted", and the builds seen first
and last per node are kept for the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hcitui.core.journal import Journal, StepStatus

CLUSTER = "HCI-STRETCH01"
PROJECT = Path(__file__).resolve().parents[2]


def test_two_writers_keep_each_others_steps(tmp_path):
    runner = Journal.open(tmp_path, CLUSTER)
    watcher = Journal.open(tmp_path, CLUSTER)  # e.g. a monitor in another process, opened at the same time
    runner.set_step(1, "drain", "HCI-A1", StepStatus.RUNNING)
    watcher.record_builds({"HCI-A1": "20349.2655"})  # must not erase the runner's step
    runner.set_step(1, "drain", "HCI-A1", StepStatus.DONE, "drained")  # must not erase the watcher's builds
    runner.acquire_lock("HCI-A1", "restart", was_paused=False)
    watcher.record_verification({"passed": False, "checks": []})

    on_disk = Journal.open(tmp_path, CLUSTER)
    record = on_disk.step(1, "drain", "HCI-A1")
    assert record.status is StepStatus.DONE and record.detail == "drained"
    assert on_disk.state.inventory["HCI-A1"].first_build == "20349.2655"
    assert on_disk.state.lock is not None and on_disk.state.lock.node == "HCI-A1"
    assert on_disk.state.last_verification == {"passed": False, "checks": []}


def test_same_key_written_by_both_last_writer_wins_that_key_only(tmp_path):
    one = Journal.open(tmp_path, CLUSTER)
    two = Journal.open(tmp_path, CLUSTER)
    one.set_step(0, "prerequisites", None, StepStatus.DONE, "first")
    two.set_step(7, "verification", None, StepStatus.FAILED, "second")
    two.set_step(0, "prerequisites", None, StepStatus.FAILED, "second says")
    final = Journal.open(tmp_path, CLUSTER)
    assert final.step(0, "prerequisites").detail == "second says"
    assert final.step(7, "verification").detail == "second"


def test_refresh_reads_what_another_process_wrote(tmp_path):
    view = Journal.open(tmp_path, CLUSTER)
    other = Journal.open(tmp_path, CLUSTER)
    other.set_step(5, "os_upgrade", "HCI-B1", StepStatus.RUNNING)
    assert view.step(5, "os_upgrade", "HCI-B1") is None
    view.refresh()
    assert view.step(5, "os_upgrade", "HCI-B1").status is StepStatus.RUNNING


def test_running_step_of_a_live_other_process_is_not_interrupted(tmp_path):
    """A second hcitui (a monitor) opening the journal while a run is under way leaves its step running."""
    journal = Journal.open(tmp_path, CLUSTER)
    journal.set_step(3, "restart", "HCI-A1", StepStatus.RUNNING)
    # Pretend another live hcitui process runs it: a child whose command line says hcitui.
    child = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(30)", "hcitui"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        data = json.loads(journal.path.read_text())
        data["steps"]["3/restart/HCI-A1"]["pid"] = child.pid
        journal.path.write_text(json.dumps(data))
        other = Journal.open(tmp_path, CLUSTER)
        assert other.recovered == []
        assert other.step(3, "restart", "HCI-A1").status is StepStatus.RUNNING
    finally:
        child.kill()
        child.wait(timeout=10)
    # Once that process is gone, the step was interrupted.
    after = Journal.open(tmp_path, CLUSTER)
    assert [r.key for r in after.recovered] == ["3/restart/HCI-A1"]


def test_running_step_records_the_pid_and_clears_it_when_done(tmp_path):
    journal = Journal.open(tmp_path, CLUSTER)
    assert journal.set_step(2, "cau", None, StepStatus.RUNNING).pid == os.getpid()
    assert journal.set_step(2, "cau", None, StepStatus.DONE).pid is None


def test_record_builds_keeps_the_first_and_moves_the_last(tmp_path):
    journal = Journal.open(tmp_path, CLUSTER)
    journal.record_builds({"HCI-A1": "20349.2655", "HCI-A2": "20349.2655"})
    journal.record_builds({"HCI-A1": "25398.1913"})
    seen = Journal.open(tmp_path, CLUSTER).state.inventory
    assert (seen["HCI-A1"].first_build, seen["HCI-A1"].last_build) == ("20349.2655", "25398.1913")
    assert (seen["HCI-A2"].first_build, seen["HCI-A2"].last_build) == ("20349.2655", "20349.2655")


def test_record_builds_does_not_rewrite_an_unchanged_build_at_every_look(tmp_path):
    journal = Journal.open(tmp_path, CLUSTER)
    journal.record_builds({"HCI-A1": "20349.2655"})
    stamp = journal.path.stat().st_mtime_ns
    journal.record_builds({"HCI-A1": "20349.2655"})
    assert journal.path.stat().st_mtime_ns == stamp
    journal.record_builds({"HCI-A1": "20349.2655"}, every=0)
    assert Journal.open(tmp_path, CLUSTER).state.inventory["HCI-A1"].last_build == "20349.2655"


def test_old_journal_without_the_new_fields_still_loads(tmp_path):
    path = tmp_path / "clusters" / CLUSTER / "journal.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"schema_version": 1, "cluster": CLUSTER, "steps": {
        "0/prerequisites/*": {"phase": 0, "step": "prerequisites", "node": None, "status": "done"}}}))
    journal = Journal.open(tmp_path, CLUSTER)
    assert journal.state.inventory == {} and journal.step(0, "prerequisites").status is StepStatus.DONE
