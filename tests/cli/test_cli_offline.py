"""``hcitui offline-update`` end to end on the one-site lab over WinRM: refused without --yes on a fresh lab; on a
lab on 23H2 (as after the upgrade), --yes runs it to its closing checks and ``verify --json`` passes after it."""

from __future__ import annotations

import json
import subprocess
import sys

from hcitui.cli import context as wiring
from hcitui.lab.state import NEW_BUILD, NEW_UBR


def hcitui(*args: str, env=None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hcitui", "--lab", "--lab-sites", "1", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def env_for(state_home) -> dict:
    import os

    env = dict(os.environ)
    env["XDG_STATE_HOME"] = str(state_home.parent)
    env["NO_COLOR"] = "1"
    return env


def on_23h2(state_home) -> None:
    """The lab as the OS upgrade leaves it (every node on 25398), fast lab time."""
    lab = wiring.open_lab(state_home, 4, sites=1)
    for node in lab.state.nodes.values():
        node.build, node.ubr, node.display_version = NEW_BUILD, NEW_UBR, "23H2"
    lab.save()


def test_refused_without_yes_on_a_fresh_lab_and_nothing_is_sent(state_home):
    done = hcitui("--lab-reset", "offline-update", env=env_for(state_home))
    assert done.returncode == 1
    assert "offline-update stops the whole cluster" in done.stderr and "goes offline for the whole window" in \
        done.stderr and "Add --yes" in done.stderr
    audit = state_home / "clusters" / "LAB-SINGLE" / "audit.jsonl"
    assert not audit.exists() or '"mutates":true' not in audit.read_text()


def test_read_only_is_refused_and_dry_run_prints_the_powershell(state_home):
    refused = hcitui("--read-only", "offline-update", "--yes", env=env_for(state_home))
    assert refused.returncode == 1 and "read-only" in refused.stderr
    dry = hcitui("offline-update", "--dry-run", env=env_for(state_home))
    assert dry.returncode == 0
    assert "Stop-Cluster -Force" in dry.stdout and "Add-WindowsPackage -Online" in dry.stdout
    assert "# dry run: nothing was sent to LAB-SINGLE" in dry.stdout


def test_yes_runs_the_update_and_verify_passes_after_it(state_home):
    on_23h2(state_home)
    done = hcitui("offline-update", "--yes", env=env_for(state_home))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "offline-update: closing checks PASSED" in done.stdout
    assert "5/10 install the updates on every node at once" in done.stdout
    verify = hcitui("verify", "--json", env=env_for(state_home))
    assert verify.returncode == 0, verify.stdout[-2000:]
    assert json.loads(verify.stdout)["passed"] is True
