"""`hcitui lab serve` as its own process, used the way an operator or a script would use it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(tmp_path):
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.pop("HCITUI_PASSWORD", None)
    config = tmp_path / "lab.toml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hcitui", "lab", "serve", "--write-config", str(config)],
        cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines = []
    try:
        while True:
            line = proc.stdout.readline()
            assert line, "lab serve stopped: " + proc.stderr.read()
            lines.append(line.strip())
            if line.startswith("config "):
                break
            assert len(lines) < 40
        yield proc, lines, config, env
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def test_serve_prints_endpoints_and_credentials(served):
    proc, lines, config, _ = served
    nodes = [line.split() for line in lines if line.startswith("LAB-")]
    assert [n[0] for n in nodes] == ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
    assert all(n[1].startswith("https://127.0.0.1:") and n[1].endswith("/wsman") for n in nodes)
    user = next(line.split() for line in lines if line.startswith("user "))
    assert user[0] == "user" and user[2] == "password" and user[4] == "ca" and Path(user[5]).is_file()
    assert user[3] not in config.read_text()  # the password is reached by a command, never stored


def test_plain_pypsrp_client_reads_the_served_lab(served):
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.wsman import WSMan

    _, lines, _, _ = served
    url = next(line.split()[1] for line in lines if line.startswith("LAB-B1 "))
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    user = next(line.split() for line in lines if line.startswith("user "))
    wsman = WSMan("127.0.0.1", port=port, ssl=True, auth="basic", username=user[1], password=user[3],
                  cert_validation=user[5], operation_timeout=10, read_timeout=20)
    with RunspacePool(wsman) as pool:
        shell = PowerShell(pool)
        shell.add_cmdlet("Get-ClusterNode")
        nodes = shell.invoke()
        assert not shell.had_errors
        assert sorted(str(n.extended_properties["Name"]) for n in nodes) == ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
        shell = PowerShell(pool)
        shell.add_cmdlet("Get-Nonsense")
        shell.invoke()
        assert shell.had_errors
        assert "is not recognized as the name of a cmdlet" in str(shell.streams.error[0])


def test_second_process_drives_the_served_lab_with_the_written_config(served):
    _, _, config, env = served
    check = subprocess.run([sys.executable, "-m", "hcitui", "config", "check", str(config)],
                           cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    done = subprocess.run([sys.executable, "-m", "hcitui", "--config", str(config), "verify", "--json"],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # the lab is still on 20349
    report = json.loads(done.stdout)
    assert report["cluster"] == "LAB-STRETCH" and report["passed"] is False
    failing = {(c["name"], c["node"]) for c in report["checks"] if c["status"] == "fail"}
    assert failing == {("OS build 25398", n) for n in ("LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2")}


def test_serve_stops_cleanly_on_interrupt(served):
    proc, _, _, _ = served
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    assert "Traceback" not in proc.stderr.read()


def test_serve_refuses_an_unknown_fault_node(tmp_path):
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "hcitui", "lab", "serve", "--unreachable", "NOPE"],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "no lab node named NOPE" in done.stderr and "Traceback" not in done.stderr


def test_insecure_flag_skips_validation_and_says_so(served, tmp_path):
    _, _, config, env = served
    # The same config without its CA: validation against the system CAs must fail...
    text = "\n".join(line for line in config.read_text().splitlines() if not line.startswith("ca_file"))
    no_ca = tmp_path / "no-ca.toml"
    no_ca.write_text(text + "\n")
    env = dict(env)
    env.pop("REQUESTS_CA_BUNDLE", None)
    env.pop("CURL_CA_BUNDLE", None)
    refused = subprocess.run([sys.executable, "-m", "hcitui", "--config", str(no_ca), "verify", "--json"],
                             cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    report = json.loads(refused.stdout)
    assert {c["status"] for c in report["checks"]} == {"unknown"}
    assert "TLS failed" in report["checks"][0]["reason"]
    # ...and --insecure, explicitly asked for, connects.
    done = subprocess.run([sys.executable, "-m", "hcitui", "--config", str(no_ca), "--insecure", "verify", "--json"],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert any(c["status"] == "pass" for c in json.loads(done.stdout)["checks"])


def test_serve_lab_reset_starts_the_lab_records_over(tmp_path):
    """`lab serve --lab-reset`: a fresh lab with a fresh journal and audit log; the old ones kept beside."""
    from hcitui.core.journal import Journal, StepStatus, cluster_dir

    state = tmp_path / "state"
    root = state / "hcitui"
    old = Journal.open(root, "LAB-STRETCH")
    old.set_step(8, "post-upgrade", None, StepStatus.DONE, "pools upgraded")
    folder = cluster_dir(root, "LAB-STRETCH")
    (folder / "audit.jsonl").write_text('{"operation": "update_storage_pool"}\n', encoding="utf-8")
    env = dict(os.environ, XDG_STATE_HOME=str(state), XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.pop("HCITUI_PASSWORD", None)
    proc = subprocess.Popen([sys.executable, "-m", "hcitui", "lab", "serve", "--lab-reset"], cwd=PROJECT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(40):
            line = proc.stdout.readline()
            assert line, "lab serve stopped: " + proc.stderr.read()
            if line.startswith("user "):
                break
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    said = [line for line in err.splitlines() if line.startswith("Lab reset:")]
    assert len(said) == 1, err
    assert Journal.open(root, "LAB-STRETCH").step(8, "post-upgrade") is None
    assert not (folder / "audit.jsonl").exists()
    kept = sorted(p.name for p in folder.iterdir() if ".reset-" in p.name)
    assert len(kept) == 2 and kept[0].startswith("audit.reset-") and kept[1].startswith("journal.reset-")
    assert "pools upgraded" in (folder / kept[1]).read_text(encoding="utf-8")


def test_fault_knobs_on_the_lab_state():
    """What `lab serve --latency ... --unreachable NODE` sets, in process; names as the lab spells them."""
    from hcitui.cli.commands.lab import _computer
    from hcitui.cli.output import UsageError
    from hcitui.lab import Lab
    from hcitui.lab.serve import set_knobs

    lab = Lab.create(4)
    computers = [*lab.state.nodes, "LAB-MGMT"]
    assert _computer("lab-b1", computers) == "LAB-B1" and _computer("lab-mgmt", computers) == "LAB-MGMT"
    for bad in ("NOPE", "LAB-A1;whoami"):
        with pytest.raises(UsageError, match=f"no lab node named {bad}"):
            _computer(bad, computers)
    set_knobs(lab, latency=-1.0, pool_open_delay=0.3, reboot_seconds=0.1, unreachable=["LAB-A1"],
              http_500=["LAB-MGMT"], hang=["LAB-B2"], cau_fail_node="LAB-B1")
    faults = lab.state.faults
    assert (faults.latency, faults.pool_open_delay, lab.state.timings.reboot) == (0.0, 0.3, 0.5)
    assert (faults.unreachable, faults.http_500, faults.auth_failure, faults.hang) == (
        ["LAB-A1"], ["LAB-MGMT"], [], ["LAB-B2"])
    assert faults.cau_fail_node == "LAB-B1"
    set_knobs(lab)  # figures left as they were; the per-node lists and the CAU failure cleared
    assert (faults.latency, faults.pool_open_delay, lab.state.timings.reboot) == (0.0, 0.3, 0.5)
    assert faults.unreachable == [] and faults.cau_fail_node is None
