"""The CAU preflight's checks as JSON, ``sr-snapshot --reread``, and remedies reaching the operator as
commands (the in-process lab)."""

from __future__ import annotations

import json

import pytest

from hcitui.cli.main import main
from hcitui.core.errors import ExitCode
from support import lab_in_process as in_process


@pytest.fixture(autouse=True)
def lab_in_process(monkeypatch):
    in_process(monkeypatch)


def test_cau_preflight_checks_as_json_like_verify(capsys):
    assert main(["--lab", "--read-only", "cau-preflight", "--tests-only", "--json"]) == ExitCode.FAILED
    out, err = capsys.readouterr()
    payload = json.loads(out)  # standard output holds the JSON alone; progress went to standard error
    assert payload["cluster"] == "LAB-STRETCH" and payload["passed"] is False
    rows = {(c["name"], c["node"]): c for c in payload["checks"]}
    assert rows[("Remoting", "LAB-A1")]["status"] == "fail" and rows[("Remoting", "LAB-A1")]["remediation"]
    assert rows[("Coordinator", None)]["status"] == "pass"
    assert any(c.get("gate") for c in payload["checks"])
    assert all(set(c) <= {"name", "node", "status", "reason", "remediation", "gate"} for c in payload["checks"])
    assert payload["summary"].startswith("NOT PASSED") and payload["gates"].startswith("upgrade gates")
    assert "LAB-STRETCH" in err


def test_sr_snapshot_reread(capsys, state_home):
    assert main(["--lab", "sr-snapshot", "--reread"]) == ExitCode.FAILED
    err = capsys.readouterr().err
    assert "no Storage Replica snapshot has been taken" in err
    assert "run: hcitui sr-snapshot" in err  # the remedy, as the command that carries it out
    assert main(["--lab", "sr-snapshot"]) == ExitCode.OK
    capsys.readouterr()
    assert main(["--lab", "--read-only", "sr-snapshot", "--reread"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "sr-snapshot: 2 partnerships re-read:" in out and "New-SRPartnership" in out
    assert main(["--lab", "sr-snapshot", "--reread", "--dry-run"]) == ExitCode.OK
    assert "nothing is sent" in capsys.readouterr().out


def test_a_node_name_that_cannot_be_one_is_a_usage_error(capsys):
    assert main(["--lab", "drain", "--node", "LAB-A1;Remove-Item", "--yes"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not a valid host name" in err
    assert main(["--lab", "drain", "--yes"]) == ExitCode.USAGE
    assert "drain needs --node NODE (one of LAB-A1, LAB-A2, LAB-B1, LAB-B2)" in capsys.readouterr().err


def test_a_reader_that_goes_away_is_no_crash(tmp_path):
    """``hcitui ops | head -1``: the pipe closes under hcitui; it ends quietly, with no crash log."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.Popen([sys.executable, "-m", "hcitui", "ops"], cwd=Path(__file__).resolve().parents[2], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before hcitui writes its first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err  # 128 + SIGPIPE, as a shell reports it
    assert "internal error" not in err and "Traceback" not in err
    assert not (tmp_path / "state" / "hcitui" / "crash.log").exists()
