"""The command line, in process (state isolated by the autouse fixture) and once as a subprocess.

The in-process tests pin ``--lab`` to the in-process lab transport: they test the command line
(options, output, exit codes, audit lines), not the carrier. The subprocess test at the end runs
``python -m hcitui --lab verify --json`` exactly as an operator would, with whatever ``--lab`` uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hcitui import __version__, ps
from hcitui.cli import context as wiring
from hcitui.cli.main import main
from hcitui.core.config import EXAMPLE
from hcitui.workflow import verify
from support import lab_in_process as in_process

PROJECT = Path(__file__).resolve().parents[2]
LAB_NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]


@pytest.fixture(autouse=True)
def lab_in_process(monkeypatch):
    in_process(monkeypatch)


def audit_lines(state_home: Path) -> list[dict]:
    """Every record, changes and reads (kept in two files), oldest first."""
    from hcitui.core.audit import AuditLog

    return list(AuditLog(state_home / "clusters" / "LAB-STRETCH" / "audit.jsonl").records())


def run_json(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def hcitui_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("hcitui:")]


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"hcitui {__version__}"


def test_unknown_option_is_usage_error(capsys):
    assert main(["--no-such-option"]) == 2
    assert "usage" in capsys.readouterr().err


# --------------------------------------------------------------------- verify


def test_lab_verify_json(capsys, state_home):
    code, payload, err = run_json(capsys, ["--lab", "verify", "--json"])
    assert code == 1
    assert set(payload) >= {"cluster", "passed", "checks"}
    assert payload["cluster"] == "LAB-STRETCH"
    assert payload["passed"] is False
    statuses = set()
    for check in payload["checks"]:
        assert set(check) == {"name", "node", "status", "reason"}
        statuses.add(check["status"])
    assert {"pass", "fail"} <= statuses
    builds = [c for c in payload["checks"] if c["name"] == verify.NODE_BUILD]
    assert sorted(c["node"] for c in builds) == LAB_NODES
    assert all(c["status"] == "fail" for c in builds)
    assert "Traceback" not in err

    # One audit line per remote operation: 6 cluster-wide reads + 1 per node.
    expected = len(verify.CLUSTER_READS) + len(verify.NODE_READS) * len(LAB_NODES)
    assert expected == 10
    records = audit_lines(state_home)
    assert len(records) == expected
    operations = sorted(r["operation"] for r in records)
    assert operations == sorted([op.name for op in verify.CLUSTER_READS.values()] + ["get_os_version"] * 4)
    assert all(r["outcome"] == "ok" and r["mutates"] is False for r in records)
    assert sorted(r["node"] for r in records if r["operation"] == "get_os_version") == LAB_NODES


def test_options_after_the_step(capsys, state_home):
    code_before, before, _ = run_json(capsys, ["--lab", "verify", "--json"])
    code_after, after, _ = run_json(capsys, ["verify", "--lab", "--json"])
    assert code_before == code_after == 1
    strip = lambda p: [(c["name"], c["node"], c["status"]) for c in p["checks"]]  # noqa: E731
    assert strip(before) == strip(after)
    assert after["passed"] == before["passed"] is False
    assert len(audit_lines(state_home)) == 20


def test_lab_verify_one_node(capsys):
    code, payload, _ = run_json(capsys, ["--lab", "verify", "--node", "LAB-A1", "--json"])
    assert code == 1
    nodes = {c["node"] for c in payload["checks"]}
    assert nodes == {"LAB-A1", None}
    assert payload["passed"] is False


def test_lab_verify_unknown_node(capsys):
    assert main(["--lab", "verify", "--node", "NOPE"]) == 2
    err = capsys.readouterr().err
    assert len(hcitui_lines(err)) == 1
    assert "NOPE" in err and "LAB-A1" in err


def test_lab_verify_dry_run(capsys, state_home):
    assert main(["--lab", "verify", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Get-ClusterNode" in out
    assert "Get-ClusterSharedVolumeState" in out
    for node in LAB_NODES:
        assert f"# get_os_version (read-only) on {node}" in out
    assert audit_lines(state_home) == []


def test_lab_verify_text_output(capsys):
    assert main(["--lab", "verify"]) == 1
    out = capsys.readouterr().out
    assert "NOT PASSED" in out
    assert "FAIL" in out and "PASS" in out


def test_lab_verify_read_only(capsys, state_home):
    code, payload, _ = run_json(capsys, ["--lab", "--read-only", "verify", "--json"])
    assert code == 1
    assert not any(c["status"] == "unknown" for c in payload["checks"])
    assert all(r["outcome"] == "ok" for r in audit_lines(state_home))


def test_lab_nodes_odd_is_usage_error(capsys):
    assert main(["--lab", "--lab-nodes", "3", "verify"]) == 2
    err = capsys.readouterr().err
    assert len(hcitui_lines(err)) == 1
    assert "--lab-nodes 3" in err


def test_lab_reset_starts_the_journal_and_audit_log_over(capsys, state_home):
    from hcitui.core.audit import AuditLog
    from hcitui.core.journal import Journal, StepStatus, cluster_dir

    assert main(["--lab", "verify", "--json"]) == 1
    folder = cluster_dir(state_home, "LAB-STRETCH")
    # What an upgraded lab leaves in its journal: a fresh lab must not show it.
    Journal.open(state_home, "LAB-STRETCH").set_step(8, "post-upgrade", None, StepStatus.DONE, "pools upgraded")
    before = list(AuditLog(folder / "audit.jsonl").records())
    assert before
    real = cluster_dir(state_home, "HCI-PROD")  # a real cluster's records: never touched
    real.mkdir(parents=True)
    (real / "journal.json").write_text('{"cluster": "HCI-PROD", "steps": {}}', encoding="utf-8")
    (real / "audit.jsonl").write_text('{"operation": "resume_node"}\n', encoding="utf-8")
    real_files = {p.name: p.read_bytes() for p in real.iterdir()}
    capsys.readouterr()

    code = main(["--lab", "--lab-reset", "verify", "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert json.loads(out)["cluster"] == "LAB-STRETCH"  # standard output stays the JSON alone
    said = [line for line in err.splitlines() if line.startswith("Lab reset:")]
    assert len(said) == 1 and "journal and audit log start over" in said[0]

    fresh = Journal.open(state_home, "LAB-STRETCH")
    assert fresh.step(8, "post-upgrade") is None
    assert all(record.phase == 7 for record in fresh.steps())  # only this run's verification
    assert len(list(AuditLog(folder / "audit.jsonl").records())) == len(before)  # this run's reads alone

    kept = sorted(p.name for p in folder.iterdir() if ".reset-" in p.name)
    stamp = kept[0].split(".reset-")[1].split(".")[0]
    assert stamp in said[0]
    assert f"journal.reset-{stamp}.json" in kept
    assert "pools upgraded" in (folder / f"journal.reset-{stamp}.json").read_text(encoding="utf-8")
    old_audit = [json.loads(line) for name in kept if name.startswith("audit")
                 for line in (folder / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(old_audit) == len(before)
    assert {p.name: p.read_bytes() for p in real.iterdir()} == real_files


def test_lab_reset_of_a_cluster_that_is_not_the_lab_is_refused(state_home):
    from hcitui.core.journal import cluster_dir

    real = cluster_dir(state_home, "HCI-PROD")
    real.mkdir(parents=True)
    (real / "journal.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError):
        wiring.reset_lab_records(state_home, "HCI-PROD")
    assert [p.name for p in real.iterdir()] == ["journal.json"]


def test_lab_eight_nodes(capsys):
    code, payload, _ = run_json(capsys, ["--lab", "--lab-nodes", "8", "verify", "--json"])
    assert code == 1
    nodes = sorted({c["node"] for c in payload["checks"] if c["node"]})
    assert nodes == [f"LAB-A{i}" for i in range(1, 5)] + [f"LAB-B{i}" for i in range(1, 5)]
    assert len([c for c in payload["checks"] if c["name"] == verify.NODE_BUILD]) == 8


def test_missing_config(capsys, tmp_path):
    assert main(["--config", str(tmp_path / "missing.toml"), "verify"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("hcitui: ") and "no such config file" in err
    assert "Traceback" not in err


def test_lab_and_config_exclude_each_other(capsys, tmp_path):
    assert main(["--lab", "--config", str(tmp_path / "x.toml"), "verify"]) == 2
    assert "exclude each other" in capsys.readouterr().err


# ------------------------------------------------------------------------ ops


def test_ops_lists_every_operation(capsys):
    assert main(["ops"]) == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines()[1:] if line.strip()}
    assert listed == set(ps.OPERATIONS)
    row = next(line for line in out.splitlines() if line.startswith("suspend_node "))
    assert row.split()[1] == "yes"


def test_ops_show(capsys):
    assert main(["ops", "show", "get_cluster_nodes"]) == 0
    out = capsys.readouterr().out
    assert "Get-ClusterNode" in out
    assert out.startswith("# get_cluster_nodes (read-only)")


def test_ops_show_with_required_parameter(capsys):
    assert main(["ops", "show", "suspend_node"]) == 0
    out = capsys.readouterr().out
    assert "CHANGES THE CLUSTER" in out
    assert "-Name '<Name>'" in out


def test_ops_show_unknown(capsys):
    assert main(["ops", "show", "nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and len(hcitui_lines(err)) == 1


def test_ops_bad_usage(capsys):
    assert main(["ops", "frobnicate"]) == 2
    assert "usage" in capsys.readouterr().err


# --------------------------------------------------------------------- config


def test_config_example_passes_check(capsys, tmp_path):
    assert main(["config", "example"]) == 0
    text = capsys.readouterr().out
    assert text == EXAMPLE
    path = tmp_path / "hci.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ok: cluster HCI-STRETCH01: 4 nodes (SiteA, SiteB)" in out


def test_config_check_bad_node_name(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        "[[clusters]]\nname = \"C1\"\n[[clusters.nodes]]\nname = 'LAB-A1; Remove-Item C:\\ -Recurse'\n",
        encoding="utf-8",
    )
    assert main(["config", "check", str(path)]) == 2
    captured = capsys.readouterr()
    lines = hcitui_lines(captured.err)
    assert len(lines) == 1
    assert len(captured.err.strip().splitlines()) == 1
    assert "nodes[0]" in lines[0] and ".name" in lines[0]
    assert "not a valid host name" in lines[0]
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_config_check_uses_config_option(capsys, tmp_path):
    path = tmp_path / "hci.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert main(["--config", str(path), "config", "check"]) == 0
    assert "ok: cluster HCI-STRETCH01" in capsys.readouterr().out


def test_config_check_default_path_missing(capsys):
    assert main(["config", "check"]) == 2
    assert "no such config file" in capsys.readouterr().err


def test_config_bad_usage(capsys):
    assert main(["config"]) == 2
    assert "usage" in capsys.readouterr().err


# ----------------------------------------------------------------- subprocess


def test_subprocess_lab_verify_json(tmp_path):
    env = dict(os.environ)
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env.pop("HCITUI_PASSWORD", None)
    done = subprocess.run(
        [sys.executable, "-m", "hcitui", "--lab", "verify", "--json"],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "internal error" not in done.stderr, done.stderr
    payload = json.loads(done.stdout)
    assert payload["cluster"] == "LAB-STRETCH" and payload["passed"] is False
    assert "Traceback" not in done.stderr
    reads = tmp_path / "state" / "hcitui" / "clusters" / "LAB-STRETCH" / "audit-reads.jsonl"
    assert len(reads.read_text().splitlines()) == 10  # verification only reads: the read log
