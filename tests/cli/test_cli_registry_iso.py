"""The headless steps `registry` and `iso-stage`, in process (the in-process lab, fast lab time)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcitui.cli import context as wiring
from hcitui.cli.main import main
from hcitui.lab.state import ISO_SIZE
from hcitui.ps.iso import CHUNK_BYTES
from support import lab_in_process

LAB_NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]


@pytest.fixture(autouse=True)
def fast_lab_in_process(monkeypatch):
    lab_in_process(monkeypatch)
    original_open = wiring.open_lab

    def fast_open(*args, **kwargs):
        lab = original_open(*args, **kwargs)
        lab.state.timings.stage_iso = 0.2
        return lab

    monkeypatch.setattr(wiring, "open_lab", fast_open)


def audit(state_home: Path, operation: str | None = None) -> list[dict]:
    path = state_home / "clusters" / "LAB-STRETCH" / "audit.jsonl"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in records if operation is None or r["operation"] == operation]


def lab_state(state_home: Path) -> dict:
    return json.loads((state_home / "lab" / "LAB-STRETCH.json").read_text(encoding="utf-8"))


def test_registry_sets_every_node(capsys, state_home):
    assert main(["--lab", "registry", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "registry: done" in out and "set both to 0; restart to apply" in out
    sets = audit(state_home, "set_registry_values")
    assert sorted(r["node"] for r in sets) == LAB_NODES
    nodes = lab_state(state_home)["nodes"]
    assert all(nodes[n]["skip_small_local_allocations"] == 0 and nodes[n]["refs_metadata_validation"] == 0
               for n in LAB_NODES)


def test_registry_one_node(capsys, state_home):
    assert main(["--lab", "registry", "--node", "lab-b1", "--yes"]) == 0
    assert [r["node"] for r in audit(state_home, "set_registry_values")] == ["LAB-B1"]


def test_registry_remediate_refs(capsys, state_home):
    assert main(["--lab", "registry", "--remediate-refs", "--node", "LAB-A1", "--yes"]) == 0
    assert "registry --remediate-refs: done" in capsys.readouterr().out
    sets = audit(state_home, "set_registry_values")
    assert [(r["node"], r["parameters"]) for r in sets] == [
        ("LAB-A1", {"RefsEnableMetadataValidation": 1}), ("LAB-A1", {"RefsEnableMetadataValidation": 0})]
    assert lab_state(state_home)["nodes"]["LAB-A1"]["refs_metadata_validation"] == 0


def test_registry_dry_run_prints_powershell_and_sends_nothing(capsys, state_home):
    assert main(["--lab", "registry", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Set-ItemProperty -Path $fsKey -Name RefsEnableMetadataValidation" in out
    assert out.count("# set_registry_values (CHANGES THE CLUSTER)") == 4
    assert "dry run: nothing was sent" in out
    assert audit(state_home) == []


def test_registry_read_only_is_refused(capsys, state_home):
    assert main(["--lab", "--read-only", "registry", "--yes"]) == 1
    assert "read-only" in capsys.readouterr().err
    assert audit(state_home) == []


def test_registry_without_yes_and_without_a_terminal_asks_for_it(capsys, state_home, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["--lab", "registry"]) == 1
    assert "add --yes" in capsys.readouterr().err
    assert audit(state_home) == []


def test_registry_unknown_node_and_option_elsewhere_are_usage_errors(capsys):
    assert main(["--lab", "registry", "--node", "NOPE", "--yes"]) == 2
    assert "not a node of LAB-STRETCH" in capsys.readouterr().err
    assert main(["--lab", "iso-stage", "--remediate-refs"]) == 2  # the option is the registry step's own


def test_iso_stage_copies_to_lab_b2_and_stages_all_four(capsys, state_home):
    assert main(["--lab", "iso-stage", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "iso-stage: done" in out and "copied: 8.0 MiB, length verified" in out
    chunks = audit(state_home, "write_file_chunk")
    assert {r["node"] for r in chunks} == {"LAB-B2"} and len(chunks) == ISO_SIZE // CHUNK_BYTES
    assert sorted(r["node"] for r in audit(state_home, "stage_iso")) == LAB_NODES
    nodes = lab_state(state_home)["nodes"]
    assert all(nodes[n]["staged"] for n in LAB_NODES)
    # Again: every node is skipped, nothing is sent.
    before = len(audit(state_home, "stage_iso"))
    assert main(["--lab", "iso-stage", "--yes"]) == 0
    assert "already staged and verified; skipped" in capsys.readouterr().out
    assert len(audit(state_home, "stage_iso")) == before


def test_iso_stage_one_node_and_dry_run(capsys, state_home):
    assert main(["--lab", "iso-stage", "--node", "LAB-A1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Mount-DiskImage -ImagePath $IsoPath" in out and "on LAB-B2" not in out
    assert audit(state_home) == []
    assert main(["--lab", "iso-stage", "--node", "LAB-A1", "--yes"]) == 0
    assert [r["node"] for r in audit(state_home, "stage_iso")] == ["LAB-A1"]
    assert audit(state_home, "write_file_chunk") == []


def test_iso_stage_read_only_is_refused(capsys, state_home):
    assert main(["--lab", "--read-only", "iso-stage", "--yes"]) == 1
    assert "read-only" in capsys.readouterr().err
    assert audit(state_home) == []
