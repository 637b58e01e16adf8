"""``hcitui readiness``: the solution-upgrade readiness checks from the command line, on the one-site lab (the
designed failures, then a lab brought to readiness) and on the stretched lab (it does not apply)."""

from __future__ import annotations

import json

import pytest

from hcitui.cli import context as wiring
from hcitui.cli.commands import BY_NAME
from hcitui.cli.main import main
from hcitui.core.audit import AuditLog
from hcitui.lab import Lab
from hcitui.ps import OPERATIONS
from hcitui.workflow import readiness as rd
from support import FakeClock
from support import lab_in_process as in_process

SINGLE = ["--lab", "--lab-sites", "1"]


@pytest.fixture(autouse=True)
def lab_in_process(monkeypatch):
    in_process(monkeypatch)


def run_json(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def failing(payload) -> set[tuple[str, str | None]]:
    return {(c["name"], c["node"]) for c in payload["checks"] if c["status"] in ("fail", "unknown")}


def _call(lab: Lab, node: str, name: str, params: dict | None = None) -> None:
    op = OPERATIONS[name]
    lab.execute(node, name, op.make_params(params or {}).to_ps())


def _settle(lab: Lab, clock: FakeClock) -> None:
    """Let every restart finish: boot, join, the repair jobs after it."""
    timings = lab.state.timings
    clock.advance(timings.reboot + timings.cluster_join + timings.repair + 1)
    lab.tick()


def bring_up(state_home, *, features: bool = True, bitlocker: bool = True) -> None:
    """The one-site lab (4 nodes, under ``state_home``) as the earlier work leaves it, through the lab's own
    operations on a fake clock: each node restarted into 23H2 (setup's boot, as the OS upgrade's), then the
    post-upgrade (Update-ClusterFunctionalLevel, Update-StoragePool), then (``features``) the second node's
    missing features installed and enabled and that node restarted for the one that needs it, and
    (``bitlocker``) BitLocker suspended with -RebootCount 0 on every node. Saved for the next command."""
    clock = FakeClock()
    lab = Lab.open(wiring.lab_path(state_home, 1), 4, sites=1, clock=clock)
    for node in lab.state.nodes.values():
        node.upgrading = True  # setup has installed 23H2: the next boot comes up on it
        lab.restart(node)
    _settle(lab, clock)
    first, second = list(lab.state.nodes)[:2]
    _call(lab, first, "update_cluster_functional_level")
    for pool in lab.state.pools:
        _call(lab, first, "update_storage_pool", {"friendly_name": pool.friendly_name})
    if features:
        _call(lab, second, "install_windows_features", {"names": ["NetworkATC"]})
        _call(lab, second, "enable_optional_features", {"names": ["Windows-Defender"]})
        lab.restart(lab.state.nodes[second])
        _settle(lab, clock)
    if bitlocker:
        for name in lab.state.nodes:
            _call(lab, name, "suspend_bitlocker", {"mount_point": "C:"})
    lab.save()


def test_the_command_is_declared_read_only():
    entry = BY_NAME["readiness"]
    assert not entry.mutates and entry.help.startswith("after phase 8: the solution-upgrade readiness checks")


def test_fresh_one_site_lab_fails_with_its_designed_failures(capsys, state_home):
    code, payload, err = run_json(capsys, [*SINGLE, "--lab-reset", "readiness", "--json"])
    assert code == 1 and "Traceback" not in err
    assert payload["cluster"] == "LAB-SINGLE" and payload["applies"] is True and payload["passed"] is False
    assert set(payload) == {"cluster", "passed", "applies", "checks"}
    nodes = ["LAB-N1", "LAB-N2", "LAB-N3", "LAB-N4"]
    designed = {(rd.BITLOCKER, n) for n in nodes} | {(rd.NETWORK_ATC_INSTALLED, "LAB-N2"),
                                                      (rd.WINDOWS_FEATURES, "LAB-N2"), (rd.OPTIONAL_FEATURES, "LAB-N2")}
    real = {(rd.OS_23H2, n) for n in nodes} | {(rd.FUNCTIONAL_LEVEL, None), (rd.STORAGE_POOL, None)}
    assert failing(payload) == designed | real
    warned = [c for c in payload["checks"] if c["status"] == "warn"]
    assert [(c["name"], c["node"], c["severity"]) for c in warned] == [("TPM LockoutCount is 0", "LAB-N1", "warning")]
    bitlocker = next(c for c in payload["checks"] if c["name"] == rd.BITLOCKER)
    assert "-RebootCount 0" in bitlocker["remedy"] and bitlocker["severity"] == "critical"
    records = AuditLog(state_home / "clusters" / "LAB-SINGLE" / "audit.jsonl").records()
    assert {r["operation"] for r in records} >= {"get_node_readiness", "get_cluster_readiness"}
    assert not any(OPERATIONS[r["operation"]].mutates for r in records)


def test_plain_output_shows_severity_and_the_remedy_commands(capsys, state_home):
    code = main([*SINGLE, "--lab-reset", "readiness", "--node", "LAB-N2"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  critical BitLocker suspension" in out and "run: hcitui bitlocker-suspend\n" in out
    assert "run: hcitui features-install\n" in out
    assert "LAB-N1 " not in out.split("\n\n", 1)[1]  # --node: that node's checks and the cluster's
    assert out.rstrip().splitlines()[-1].startswith("NOT PASSED")


def test_stretched_lab_says_it_does_not_apply_and_exits_1(capsys, state_home):
    code = main(["--lab", "--lab-reset", "readiness"])
    out = capsys.readouterr().out
    assert code == 1
    result = out[out.index("hcitui: LAB-STRETCH is stretched"):]
    assert result.splitlines()[0].endswith("the solution upgrade does not apply to a stretched cluster: the Arc "
                                           "solution enablement will not be available for it (seed 001)")
    assert "FAIL  critical Stretched cluster" in out and out.rstrip().splitlines()[-1].startswith("DOES NOT APPLY")
    code, payload, err = run_json(capsys, ["--lab", "readiness", "--json"])
    assert code == 1 and payload["applies"] is False and "does not apply" in err


def test_dry_run_prints_the_reads_and_sends_nothing(capsys, state_home):
    code = main([*SINGLE, "--lab-reset", "readiness", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and "get_node_readiness (read-only)" in out and "UNCONFIRMED" in out
    assert not (state_home / "clusters" / "LAB-SINGLE" / "audit.jsonl").exists() or not [
        r for r in AuditLog(state_home / "clusters" / "LAB-SINGLE" / "audit.jsonl").records()
        if r["operation"] == "get_node_readiness"]


def test_a_lab_brought_to_readiness_passes_with_its_tpm_warning(capsys, state_home):
    main([*SINGLE, "--lab-reset", "ops"])  # the reset: a fresh lab under state_home
    capsys.readouterr()
    bring_up(state_home)
    code, payload, err = run_json(capsys, [*SINGLE, "readiness", "--json"])
    assert failing(payload) == set(), err
    assert code == 0 and payload["passed"] is True
    assert {c["status"] for c in payload["checks"]} == {"pass", "warn"}


@pytest.mark.parametrize(("knob", "check"), [
    (lambda n: setattr(n, "wdac_enforcement", 2), rd.WDAC),
    (lambda n: setattr(n, "ui_language", "de-DE"), rd.LANGUAGE),
    (lambda n: setattr(n, "aks_modules", ["AksHci", "Moc"]), rd.AKS),
])
def test_each_knob_fails_its_check_on_an_otherwise_ready_lab(capsys, state_home, knob, check):
    main([*SINGLE, "--lab-reset", "ops"])
    capsys.readouterr()
    bring_up(state_home)
    lab = Lab.open(wiring.lab_path(state_home, 1), 4, sites=1)
    knob(lab.state.nodes["LAB-N3"])
    lab.save()
    code, payload, _ = run_json(capsys, [*SINGLE, "readiness", "--json"])
    assert code == 1 and (check, "LAB-N3") in failing(payload)


def test_end_to_end_the_real_remedies_make_the_lab_ready(capsys, state_home):
    """Slow but real: the OS and post-upgrade brought up by the helper, then hcitui's own remedies (features
    installed with the drained restart they need, BitLocker suspended), then readiness passes."""
    main([*SINGLE, "--lab-reset", "ops"])
    capsys.readouterr()
    bring_up(state_home, features=False, bitlocker=False)
    code, payload, _ = run_json(capsys, [*SINGLE, "readiness", "--json"])
    assert code == 1 and failing(payload) == {(rd.BITLOCKER, f"LAB-N{i}") for i in range(1, 5)} | {
        (rd.NETWORK_ATC_INSTALLED, "LAB-N2"), (rd.WINDOWS_FEATURES, "LAB-N2"), (rd.OPTIONAL_FEATURES, "LAB-N2")}
    assert main([*SINGLE, "features-install", "--yes"]) == 0
    assert main([*SINGLE, "bitlocker-suspend", "--yes"]) == 0
    capsys.readouterr()
    code, payload, err = run_json(capsys, [*SINGLE, "readiness", "--json"])
    assert failing(payload) == set(), err
    assert code == 0 and payload["passed"] is True
