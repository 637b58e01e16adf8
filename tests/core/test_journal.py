"""The journal (durable run state, atomic writes, recovery, lock)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from hcitui.core import files as fsutil
from hcitui.core.journal import Journal, JournalError, StepStatus, cluster_dir

CLUSTER = "HCI-STRETCH01"


def stray_temp_files(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_steps_round_trip(tmp_path):
    journal = Journal.open(tmp_path, CLUSTER)
    assert journal.steps() == []
    journal.set_step(0, "prerequisites", None, StepStatus.DONE, "all good")
    journal.set_step(2, "drain", "HCI-A1", StepStatus.FAILED, "live migration failed")
    journal.set_step(2, "drain", "HCI-A2", StepStatus.PENDING)

    again = Journal.open(tmp_path, CLUSTER)
    assert again.path == journal.path == cluster_dir(tmp_path, CLUSTER) / "journal.json"
    assert [(r.phase, r.step, r.node, r.status, r.detail) for r in again.steps()] == [
        (0, "prerequisites", None, StepStatus.DONE, "all good"),
        (2, "drain", "HCI-A1", StepStatus.FAILED, "live migration failed"),
        (2, "drain", "HCI-A2", StepStatus.PENDING, None),
    ]
    assert [r.node for r in again.steps(phase=2)] == ["HCI-A1", "HCI-A2"]
    record = again.step(2, "drain", "HCI-A1")
    assert record is not None and record.finished is not None
    assert again.step(2, "drain", "HCI-B9") is None
    assert again.recovered == []


def test_running_step_becomes_unknown_on_reopen(tmp_path):
    journal = Journal.open(tmp_path, CLUSTER)
    journal.set_step(3, "restart", "HCI-A1", StepStatus.RUNNING)
    journal.set_step(3, "restart", "HCI-A2", StepStatus.DONE)
    assert journal.step(3, "restart", "HCI-A1").started is not None

    reopened = Journal.open(tmp_path, CLUSTER)
    record = reopened.step(3, "restart", "HCI-A1")
    assert record.status is StepStatus.UNKNOWN
    assert "re-verify" in record.detail
    assert [r.key for r in reopened.recovered] == ["3/restart/HCI-A1"]
    assert reopened.step(3, "restart", "HCI-A2").status is StepStatus.DONE
    # The recovery itself is saved: a third open has nothing left to recover.
    third = Journal.open(tmp_path, CLUSTER)
    assert third.recovered == []
    assert third.step(3, "restart", "HCI-A1").status is StepStatus.UNKNOWN


def test_lock(tmp_path):
    journal = Journal.open(tmp_path, CLUSTER)
    lock = journal.acquire_lock("HCI-A1", "upgrade", was_paused=True, operator="alice")
    assert (lock.node, lock.reason, lock.was_paused, lock.operator) == ("HCI-A1", "upgrade", True, "alice")
    # the same node again: the same lock
    assert journal.acquire_lock("HCI-A1", "upgrade", was_paused=False).was_paused is True

    with pytest.raises(JournalError) as info:
        journal.acquire_lock("HCI-B1", "upgrade", was_paused=False)
    assert "HCI-A1" in str(info.value)
    assert "one node at a time" in str(info.value)

    # the lock is durable
    reopened = Journal.open(tmp_path, CLUSTER)
    assert reopened.state.lock is not None and reopened.state.lock.node == "HCI-A1"
    with pytest.raises(JournalError, match="HCI-A1"):
        reopened.acquire_lock("HCI-B1", "upgrade", was_paused=False)

    reopened.release_lock("HCI-B1")  # not the holder: nothing happens
    assert reopened.state.lock is not None
    reopened.release_lock("HCI-A1")
    assert reopened.state.lock is None
    assert Journal.open(tmp_path, CLUSTER).state.lock is None
    assert reopened.acquire_lock("HCI-B1", "upgrade", was_paused=False).node == "HCI-B1"


def test_record_verification_persists(tmp_path):
    journal = Journal.open(tmp_path, CLUSTER)
    journal.record_verification({"passed": False, "checks": []})
    assert Journal.open(tmp_path, CLUSTER).state.last_verification == {"passed": False, "checks": []}


def test_crash_mid_write_keeps_previous_journal(tmp_path, monkeypatch):
    journal = Journal.open(tmp_path, CLUSTER)
    journal.set_step(1, "snapshot", None, StepStatus.DONE, "saved")
    before = journal.path.read_bytes()

    seen = {}

    def crash(src, dst):
        # The temp file holds the full new content when the "crash" comes.
        seen["temp"] = os.fspath(src)
        seen["content"] = open(src, encoding="utf-8").read()
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(fsutil.os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        journal.set_step(2, "drain", "HCI-A1", StepStatus.RUNNING)
    monkeypatch.undo()

    assert '"2/drain/HCI-A1"' in seen["content"]
    assert os.path.dirname(seen["temp"]) == str(journal.path.parent)
    assert journal.path.read_bytes() == before
    assert stray_temp_files(journal.path.parent) == []
    reopened = Journal.open(tmp_path, CLUSTER)
    assert [r.key for r in reopened.steps()] == ["1/snapshot/*"]
    assert reopened.recovered == []


def test_atomic_write_text_mode_and_content(tmp_path):
    target = tmp_path / "sub" / "file.json"
    fsutil.atomic_write_text(target, "one")
    fsutil.atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stray_temp_files(target.parent) == []


@pytest.mark.parametrize("content", [b"{ this is not json", b'{"cluster": 5, "steps": "x"}', b"\xff\xfe\x00"])
def test_corrupt_journal_is_an_error_and_left_untouched(tmp_path, content):
    path = cluster_dir(tmp_path, CLUSTER) / "journal.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(JournalError) as info:
        Journal.open(tmp_path, CLUSTER)
    message = str(info.value)
    assert str(path) in message
    assert "left as it is" in message
    assert path.read_bytes() == content


def test_cluster_dir_is_safe(tmp_path):
    folder = cluster_dir(tmp_path, "../../etc/passwd")
    assert folder.parent == tmp_path / "clusters"
    assert "/" not in folder.name and folder.name != ".."


def test_lock_taken_by_another_process_is_seen(tmp_path):
    """Two journals on one cluster (two hcitui processes): the second cannot take a node out."""
    first = Journal.open(tmp_path, "C1")
    second = Journal.open(tmp_path, "C1")  # opened before the first took the lock
    first.acquire_lock("N1", "restart", was_paused=False)
    with pytest.raises(JournalError) as caught:
        second.acquire_lock("N2", "restart", was_paused=False)
    assert "N1 is out of service" in str(caught.value)


# --------------------------------------------------------------------- run history


class Stamps:
    """The journal's clock, moved by hand: each call returns the next of ``stamps``."""

    def __init__(self, *stamps):
        self.stamps = list(stamps)

    def __call__(self):
        return self.stamps.pop(0) if len(self.stamps) > 1 else self.stamps[0]


def test_every_run_of_a_step_is_kept_and_the_latest_is_the_state(tmp_path, monkeypatch):
    from hcitui.core import journal as journal_module
    from hcitui.workflow import report

    monkeypatch.setattr(journal_module, "_now", Stamps(
        "2026-03-01T09:00:00+00:00", "2026-03-01T09:00:01+00:00", "2026-03-01T09:20:00+00:00",
        "2026-03-01T09:20:01+00:00", "2026-03-02T14:00:00+00:00", "2026-03-02T14:00:01+00:00",
        "2026-03-02T14:30:00+00:00", "2026-03-02T14:30:01+00:00"))
    journal = Journal.open(tmp_path, CLUSTER)
    journal.set_step(1, "rolling_restart", None, StepStatus.RUNNING, "0 of 4 nodes", fresh=True)
    journal.set_step(1, "rolling_restart", None, StepStatus.DONE, "4 nodes restarted")
    journal.set_step(1, "rolling_restart", None, StepStatus.RUNNING, "0 of 4 nodes", fresh=True)
    journal.set_step(1, "rolling_restart", None, StepStatus.FAILED, "LAB-A2 did not come back")

    again = Journal.open(tmp_path, CLUSTER)
    record = again.step(1, "rolling_restart")
    assert [(r.status, r.started, r.finished, r.detail) for r in record.runs] == [
        (StepStatus.DONE, "2026-03-01T09:00:00+00:00", "2026-03-01T09:20:00+00:00", "4 nodes restarted"),
        (StepStatus.FAILED, "2026-03-02T14:00:00+00:00", "2026-03-02T14:30:00+00:00", "LAB-A2 did not come back"),
    ]
    assert all(r.operator for r in record.runs)
    # The state of the step is its latest run's.
    assert (record.status, record.started, record.detail) == (
        StepStatus.FAILED, "2026-03-02T14:00:00+00:00", "LAB-A2 did not come back")

    data = report.build(CLUSTER, [], report.read_journal(tmp_path, CLUSTER), report.read_audit(tmp_path, CLUSTER))
    assert [(r["run"], r["status"], r["started"], r["finished"]) for r in data["runs"]] == [
        (1, "done", "2026-03-01T09:00:00Z", "2026-03-01T09:20:00Z"),
        (2, "failed", "2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z"),
    ]
    md = report.to_markdown(data)
    first = md.index("| 2026-03-01T09:00:00Z | 2026-03-01T09:20:00Z | 1 | rolling_restart | cluster | 1 | DONE |")
    second = md.index("| 2026-03-02T14:00:00Z | 2026-03-02T14:30:00Z | 1 | rolling_restart | cluster | 2 | FAILED |")
    assert "## Runs" in md and first < second


def test_reverifying_an_interrupted_run_keeps_its_start(tmp_path, monkeypatch):
    from hcitui.core import journal as journal_module

    monkeypatch.setattr(journal_module, "_now", Stamps(
        "2026-03-01T22:00:00+00:00", "2026-03-01T22:00:01+00:00", "2026-03-01T22:00:02+00:00",
        "2026-03-02T07:00:00+00:00", "2026-03-02T07:00:01+00:00", "2026-03-02T07:05:00+00:00",
        "2026-03-02T07:05:01+00:00"))
    journal = Journal.open(tmp_path, CLUSTER)
    journal.set_step(5, "cau_run", None, StepStatus.RUNNING, "starting", fresh=True)
    reopened = Journal.open(tmp_path, CLUSTER)  # the process died: the run is interrupted
    assert reopened.step(5, "cau_run").status is StepStatus.UNKNOWN
    # Reattached (running again), then concluded by a re-verification: still the same run, same start.
    reopened.set_step(5, "cau_run", None, StepStatus.RUNNING, "reattached after an interruption")
    reopened.set_step(5, "cau_run", None, StepStatus.DONE, "re-verified after an interruption: done")
    record = Journal.open(tmp_path, CLUSTER).step(5, "cau_run")
    assert len(record.runs) == 1
    assert (record.status, record.started) == (StepStatus.DONE, "2026-03-01T22:00:00+00:00")
    assert record.finished.startswith("2026-03-02T07:")


def test_a_journal_of_the_previous_format_loads_each_record_as_one_run(tmp_path):
    path = cluster_dir(tmp_path, CLUSTER) / "journal.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"schema_version": 1, "cluster": CLUSTER, "updated": "2025-06-01T10:20:00+00:00",
                                "steps": {
                                    "1/restart/HCI-A1": {"phase": 1, "step": "restart", "node": "HCI-A1",
                                                         "status": "done", "started": "2025-06-01T10:00:00+00:00",
                                                         "finished": "2025-06-01T10:15:00+00:00",
                                                         "detail": "back Up", "pid": None, "data": {"boot": "x"}},
                                    "0/prerequisites/*": {"phase": 0, "step": "prerequisites", "node": None,
                                                          "status": "pending", "started": None, "finished": None,
                                                          "detail": None, "pid": None, "data": {}}},
                                "lock": None, "last_verification": None, "inventory": {}}))
    journal = Journal.open(tmp_path, CLUSTER)
    record = journal.step(1, "restart", "HCI-A1")
    assert [(r.status, r.started, r.finished, r.detail) for r in record.runs] == [
        (StepStatus.DONE, "2025-06-01T10:00:00+00:00", "2025-06-01T10:15:00+00:00", "back Up")]
    assert record.data == {"boot": "x"} and record.status is StepStatus.DONE
    assert journal.step(0, "prerequisites").runs == [] and journal.step(0, "prerequisites").status is StepStatus.PENDING
    # A new run after it is a second run; the file is written in the new format and reads back.
    journal.set_step(1, "restart", "HCI-A1", StepStatus.RUNNING)
    saved = json.loads(path.read_text())["steps"]["1/restart/HCI-A1"]
    assert "status" not in saved and [r["status"] for r in saved["runs"]] == ["done", "running"]
    assert [r.status for r in Journal.open(tmp_path, CLUSTER).step(1, "restart", "HCI-A1").runs] == [
        StepStatus.DONE, StepStatus.UNKNOWN]


def test_the_history_of_a_step_is_capped_oldest_dropped(tmp_path, monkeypatch):
    from hcitui.core import journal as journal_module

    monkeypatch.setattr(journal_module, "MAX_RUNS", 5)
    journal = Journal.open(tmp_path, CLUSTER)
    for n in range(8):
        journal.set_step(7, "verification", None, StepStatus.RUNNING, f"run {n}")
        journal.set_step(7, "verification", None, StepStatus.DONE, f"run {n}")
    runs = Journal.open(tmp_path, CLUSTER).step(7, "verification").runs
    assert [r.detail for r in runs] == ["run 3", "run 4", "run 5", "run 6", "run 7"]
