"""The audit log: round trip, torn lines, redaction, bulk values, rotation, changes kept apart from reads."""

from __future__ import annotations

import json
import stat

import pytest

from hcitui.core.audit import AuditLog

CLUSTER = "HCI-STRETCH01"


def test_audit_round_trip(tmp_path):
    audit = AuditLog.open(tmp_path, CLUSTER)
    assert list(audit.records()) == []
    audit.append({"node": "HCI-A1", "operation": "get_os_version", "outcome": "ok"})
    audit({"node": "HCI-A2", "operation": "get_os_version", "outcome": "timeout"})
    records = list(AuditLog.open(tmp_path, CLUSTER).records())
    assert [r["node"] for r in records] == ["HCI-A1", "HCI-A2"]
    assert records[1]["outcome"] == "timeout"
    assert len(audit.path.read_text().splitlines()) == 2
    assert stat.S_IMODE(audit.path.stat().st_mode) == 0o600


def test_audit_torn_last_line_is_skipped(tmp_path):
    audit = AuditLog.open(tmp_path, CLUSTER)
    audit.append({"n": 1})
    audit.append({"n": 2})
    with audit.path.open("a", encoding="utf-8") as handle:
        handle.write('{"n": 3, "outc')
    assert [r["n"] for r in audit.records()] == [1, 2]


def test_audit_record_after_torn_line_is_kept(tmp_path):
    audit = AuditLog.open(tmp_path, CLUSTER)
    audit.append({"n": 1})
    with audit.path.open("a", encoding="utf-8") as handle:
        handle.write('{"n": 2, "outc')  # killed mid-write
    audit.append({"n": 3})  # the next run
    assert [r["n"] for r in audit.records()] == [1, 3]


@pytest.mark.parametrize("password", ["Sup3r-Secret!", 'quo"te\\back'])
def test_audit_redacts_hcitui_password(tmp_path, monkeypatch, password):
    monkeypatch.setenv("HCITUI_PASSWORD", password)
    audit = AuditLog.open(tmp_path, CLUSTER)
    audit.append({"node": "HCI-A1", "error": f"login with {password} refused", "parameters": {"P": password}})
    raw = audit.path.read_text(encoding="utf-8")
    assert json.dumps(password)[1:-1] not in raw
    assert password not in raw
    record = next(audit.records())
    assert record["error"] == "login with <redacted> refused"
    assert record["parameters"] == {"P": "<redacted>"}


def test_audit_redacts_a_registered_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("HCITUI_PASSWORD", raising=False)
    log = AuditLog.open(tmp_path, "C1")
    log.add_secret("from-the-password-command")
    log.append({"operation": "x", "error": "login with from-the-password-command failed"})
    text = log.path.read_text()
    assert "from-the-password-command" not in text
    assert "<redacted>" in text


# ------------------------------------------------- the audit log: bulk, rotation, changes apart


async def test_a_long_parameter_is_recorded_as_its_size_and_sha256_never_its_content(tmp_path):
    """Any operation, not only write_file_chunk: a read with a 6000-character path, through a session."""
    import hashlib

    from hcitui import ps
    from hcitui.cli import context as wiring
    from hcitui.lab.inprocess import InProcessSession

    lab = wiring.open_lab(tmp_path, 4)
    audit = AuditLog.open(tmp_path, CLUSTER)
    session = InProcessSession(lab, "LAB-A1", audit=audit)
    path = "C:\\" + "HCITUI-BULK-MARKER-" * 300
    await session.invoke(ps.get("get_path_info"), {"Path": path})
    logged = "".join(f.read_text(encoding="utf-8") for f in audit.files())
    assert "HCITUI-BULK-MARKER" not in logged
    (record,) = audit.records()
    digest = hashlib.sha256(path.encode("utf-8")).hexdigest()
    assert record["parameters"] == {"Path": f"<bulk: {len(path)} chars, sha256 {digest}>"}
    assert record["operation"] == "get_path_info" and record["outcome"] == "ok"


def test_bulk_is_summarised_anywhere_in_a_value_and_short_values_stay():
    from hcitui.ps.base import AUDIT_BULK_CHARS, audit_value, bulk_marker

    short = "x" * AUDIT_BULK_CHARS
    assert audit_value(short) == short and audit_value(3) == 3 and audit_value(["a", "b"]) == ["a", "b"]
    long = "y" * (AUDIT_BULK_CHARS + 1)
    assert audit_value({"k": [long]}) == {"k": [bulk_marker(long)]}
    assert audit_value(b"\x00\x01").startswith("<bulk: 2 bytes, sha256 ")
    many = [f"volume-{i}" for i in range(1000)]  # each short, together bulk
    summary = audit_value(many)
    assert isinstance(summary, str) and summary.startswith("<bulk: ") and "volume-999" not in summary


def record(n: int, *, mutates: bool, pad: int = 100) -> dict:
    return {"time": f"2026-01-01T00:00:{n // 1000:02d}.{n % 1000:03d}000+00:00", "node": "N1", "n": n,
            "operation": "set_x" if mutates else "get_x", "mutates": mutates, "pad": "p" * pad}


def test_audit_rotates_at_its_size_and_keeps_that_many_files(tmp_path):
    audit = AuditLog.open(tmp_path, CLUSTER, max_bytes=2000, keep=3)
    for n in range(100):
        audit.append(record(n, mutates=True))
    folder = audit.path.parent
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith("audit.jsonl"))
    assert names == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"]
    assert all(p.stat().st_size <= 2000 for p in audit.files())
    assert stat.S_IMODE((folder / "audit.jsonl.3").stat().st_mode) == 0o600
    kept = [r["n"] for r in audit.records()]
    # Oldest first, across the rotated files, ending with the last one written; the oldest were let go.
    assert kept == list(range(100 - len(kept), 100)) and 20 < len(kept) < 100
    assert audit.files()[0].name == "audit.jsonl.3" and audit.files()[-1].name == "audit.jsonl"


def test_reads_rotate_apart_from_changes_and_are_merged_back_by_time(tmp_path):
    """A monitor's polling fills the read log; the changes between its reads stay where they were."""
    audit = AuditLog.open(tmp_path, CLUSTER, max_bytes=2000, keep=2)
    changes = []
    for n in range(300):
        if n % 100 == 50:
            audit.append(record(n, mutates=True))
            changes.append(n)
        else:
            audit.append(record(n, mutates=False))
    assert audit.reads_path.name == "audit-reads.jsonl" and audit.reads_path.with_name("audit-reads.jsonl.2").exists()
    assert not audit.reads_path.with_name("audit-reads.jsonl.3").exists()
    assert [r["n"] for r in audit.changes()] == changes == [50, 150, 250]  # none rotated out by the reads
    merged = [r["n"] for r in audit.records()]
    assert merged == sorted(merged) and 50 in merged and merged[-1] == 299
    assert set(changes) <= set(merged) and not any(r["mutates"] for r in audit.records() if r["n"] not in changes)


def test_reading_an_audit_log_never_written_creates_nothing(tmp_path):
    audit = AuditLog(tmp_path / "clusters" / "X" / "audit.jsonl")
    assert list(audit.records()) == [] and audit.files() == []
    assert not (tmp_path / "clusters").exists()
