"""``--lab --lab-sites 1`` and ``lab serve --sites 1``: the one-site lab LAB-SINGLE from the command line.
Its verification and prerequisites carry no Storage Replica check, and read no Storage Replica."""

from __future__ import annotations

import json

import pytest

from hcitui.cli.main import main
from hcitui.cli.parser import parse_args
from hcitui.core.audit import AuditLog
from hcitui.workflow import prereq, verify
from support import lab_in_process as in_process

NODES = ["LAB-N1", "LAB-N2", "LAB-N3"]


@pytest.fixture(autouse=True)
def lab_in_process(monkeypatch):
    in_process(monkeypatch)


def run_json(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def operations(state_home) -> set[str]:
    return {r["operation"] for r in AuditLog(state_home / "clusters" / "LAB-SINGLE" / "audit.jsonl").records()}


def test_verify_json_carries_no_sr_check(capsys, state_home):
    code, payload, err = run_json(capsys, ["--lab", "--lab-sites", "1", "--lab-nodes", "3", "--lab-reset",
                                           "verify", "--json"])
    assert code == 1 and "Traceback" not in err  # 22H2 nodes: the OS build fails, as on the stretched lab
    assert payload["cluster"] == "LAB-SINGLE"
    names = {c["name"] for c in payload["checks"]}
    assert names == {*verify.NODE_CHECKS, *verify.CLUSTER_CHECKS} - {verify.SR_REPLICATING}
    assert not any("SR" in c["name"] or "Storage Replica" in c["reason"] for c in payload["checks"])
    assert sorted({c["node"] for c in payload["checks"] if c["node"]}) == NODES
    assert not operations(state_home) & {"get_sr_groups", "get_sr_partnerships"}


def test_prereq_json_carries_no_sr_check(capsys, state_home):
    code, payload, _err = run_json(capsys, ["--lab", "--lab-sites", "1", "--lab-nodes", "3", "prereq", "--json"])
    assert payload["cluster"] == "LAB-SINGLE"
    names = {c["name"] for c in payload["checks"]}
    assert names == {*prereq.NODE_CHECKS, *prereq.CLUSTER_CHECKS}
    for check in payload["checks"]:
        assert "SR" not in check["name"]
        assert "SR " not in check["reason"] + check.get("remediation", "")
    assert not operations(state_home) & {"get_sr_groups", "get_sr_partnerships"}


def test_the_stretched_lab_is_the_default_and_keeps_its_sr_check(capsys):
    _code, payload, _err = run_json(capsys, ["--lab", "verify", "--json"])
    assert payload["cluster"] == "LAB-STRETCH"
    assert verify.SR_REPLICATING in {c["name"] for c in payload["checks"]}


def test_lab_sites_option(capsys):
    assert parse_args(["--lab", "verify"]).lab_sites == 2
    assert parse_args(["--lab", "--lab-sites", "1", "verify"]).lab_sites == 1
    assert parse_args(["verify", "--lab-sites", "1"]).lab_sites == 1
    assert main(["--lab", "--lab-sites", "3", "verify"]) == 2
    assert "--lab-sites" in capsys.readouterr().err
    assert main(["--lab", "--lab-sites", "2", "--lab-nodes", "3", "verify"]) == 2  # two sites: even only
    assert "--lab-nodes 3" in capsys.readouterr().err


def test_lab_serve_sites_option():
    args = parse_args(["lab", "serve", "--sites", "1", "--nodes", "5"])
    assert (args.sites, args.nodes) == (1, 5)
    assert parse_args(["lab", "serve"]).sites is None  # then --lab-sites, 2
    with pytest.raises(SystemExit):
        parse_args(["lab", "serve", "--sites", "0"])


@pytest.mark.parametrize("step", ["sr-snapshot", "sr-diff", "sr-remove", "sr-recreate"])
def test_sr_commands_refuse_on_the_one_site_lab(capsys, state_home, step):
    code = main(["--lab", "--lab-sites", "1", "--lab-nodes", "3", "--lab-reset", step, "--yes"])
    _out, err = capsys.readouterr()
    assert code == 1
    assert "refused" in err and "Storage Replica does not apply: the cluster is not stretched" in err
    assert "Traceback" not in err
