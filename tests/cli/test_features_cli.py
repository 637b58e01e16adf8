"""``hcitui features-install``, ``bitlocker-suspend`` and ``bitlocker-resume`` on the one-site lab; and once, end
to end on a fresh lab, the whole way from a failing readiness to a passing one through the command line."""

from __future__ import annotations

import json

import pytest

from hcitui.cli import context as wiring
from hcitui.cli.commands import BY_NAME
from hcitui.cli.main import main
from hcitui.core.audit import AuditLog
from hcitui.lab import Lab
from support import lab_in_process as in_process

SINGLE = ["--lab", "--lab-sites", "1"]
FAST = {"reboot": 0.3, "cluster_join": 0.2, "repair": 0.3, "drain_step": 0.02, "os_install": 0.3,
        "test_cluster": 0.2, "stage_iso": 0.2}


@pytest.fixture(autouse=True)
def lab_in_process(monkeypatch):
    in_process(monkeypatch, FAST, poll=0.05)  # timings belong to a run: each command's lab starts with its own


def fresh_lab(state_home) -> Lab:
    """A fresh one-site lab of 4 nodes, saved for the commands (whose restarts take a fraction of a second)."""
    return Lab.open(wiring.lab_path(state_home, 1), 4, sites=1, reset=True)


def reopened(state_home) -> Lab:
    return Lab.open(wiring.lab_path(state_home, 1), 4, sites=1)


def changes(state_home) -> list[dict]:
    return [r for r in AuditLog(state_home / "clusters" / "LAB-SINGLE" / "audit.jsonl").records() if r["mutates"]]


def test_declared_as_changes():
    for name in ("features-install", "bitlocker-suspend", "bitlocker-resume"):
        assert BY_NAME[name].mutates is True and BY_NAME[name].module == "solution"


def test_features_install_prints_a_line_per_node_per_stage(capsys, state_home):
    fresh_lab(state_home)
    code = main([*SINGLE, "features-install", "--yes"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert any("LAB-N1" in line and "nothing to install" in line and "(node 1 of 4" in line for line in lines)
    n2 = [line for line in lines if " LAB-N2 " in line]
    assert any("draining" in line for line in n2) and any("restarting" in line for line in n2)
    assert any("every required feature Installed and Enabled (restarted)" in line for line in n2)
    assert "features installed on 1 of 4 nodes (LAB-N2)" in out and lines[-1] == "features-install: done"
    node = reopened(state_home).state.nodes["LAB-N2"]
    assert node.features["NetworkATC"] == "Installed" and node.optional_features["Windows-Defender"] == "Enabled"


def test_dry_run_names_what_it_would_install_and_sends_nothing(capsys, state_home):
    fresh_lab(state_home)
    assert main([*SINGLE, "features-install", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "-Names @('NetworkATC')" in out and "# LAB-N1: nothing to install (skipped)" in out
    assert out.rstrip().endswith("# dry run: nothing was sent to LAB-SINGLE")
    assert main([*SINGLE, "bitlocker-suspend", "--dry-run", "--node", "LAB-N3"]) == 0
    out = capsys.readouterr().out
    assert "suspend_bitlocker (CHANGES THE CLUSTER) on LAB-N3" in out and "-MountPoint 'C:'" in out
    assert changes(state_home) == []


def test_bitlocker_suspend_then_resume_one_node(capsys, state_home):
    fresh_lab(state_home)
    assert main([*SINGLE, "bitlocker-suspend", "--yes", "--node", "lab-n3"]) == 0
    out = capsys.readouterr().out
    assert "LAB-N3" in out and "C: suspended until Resume-BitLocker" in out and "LAB-N1" not in out
    nodes = reopened(state_home).state.nodes
    assert nodes["LAB-N3"].bitlocker["C:"].protection_status == "Off"
    assert nodes["LAB-N1"].bitlocker["C:"].protection_status == "On"
    assert main([*SINGLE, "bitlocker-resume", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "BitLocker resumed on 1 of 4 nodes." in out
    assert reopened(state_home).state.nodes["LAB-N3"].bitlocker["C:"].protection_status == "On"


def test_read_only_and_stretched_are_refused_with_nothing_sent(capsys, state_home):
    fresh_lab(state_home)
    for step in ("features-install", "bitlocker-suspend", "bitlocker-resume"):
        assert main([*SINGLE, "--read-only", step, "--yes"]) == 1
        err = capsys.readouterr().err
        assert f"hcitui: {step} refused: this session is read-only" in err and "Traceback" not in err
    assert changes(state_home) == []
    assert main(["--lab", "--lab-reset", "features-install", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "features-install refused; nothing was changed:" in err
    assert "does not apply to a stretched cluster" in err


def test_without_yes_and_without_a_terminal_it_asks_for_yes(capsys, state_home):
    fresh_lab(state_home)
    assert main([*SINGLE, "bitlocker-suspend"]) == 1
    assert "add --yes" in capsys.readouterr().err


def test_end_to_end_from_failing_readiness_to_passing(capsys, state_home):
    """A fresh one-site lab: readiness fails; the ISO staged, the prerequisites passed, every node upgraded by
    hand (the registry values set, their gate overridden: a rolling restart to make them in force is not the point
    here), post-upgrade, the
    features installed, BitLocker suspended: readiness passes, with the TPM warning only."""
    fresh_lab(state_home)
    assert main([*SINGLE, "readiness", "--json"]) == 1
    capsys.readouterr()
    assert main([*SINGLE, "iso-stage", "--yes"]) == 0
    assert main([*SINGLE, "registry", "--yes"]) == 0  # SkipSmallLocalAllocations: the drains can move the VMs
    assert main([*SINGLE, "prereq"]) == 0, capsys.readouterr()
    for node in ("LAB-N1", "LAB-N2", "LAB-N3", "LAB-N4"):
        assert main([*SINGLE, "manual-upgrade", "--node", node, "--yes", "--override-registry", "e2e lab"]) == 0, \
            capsys.readouterr()
    assert main([*SINGLE, "post-upgrade", "--yes"]) == 0, capsys.readouterr()
    assert main([*SINGLE, "features-install", "--yes"]) == 0, capsys.readouterr()
    assert main([*SINGLE, "bitlocker-suspend", "--yes"]) == 0, capsys.readouterr()
    capsys.readouterr()
    code = main([*SINGLE, "readiness", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["passed"] is True and payload["applies"] is True
    critical = [c for c in payload["checks"] if c["severity"] == "critical" and c["status"] != "pass"]
    assert critical == []
    assert [c["name"] for c in payload["checks"] if c["status"] == "warn"] == ["TPM LockoutCount is 0"]
