"""The readiness remedies through the lab served over WinRM: each script passes the front door on the way in
and its lab handler answers what the script declares (hcitui.lab.readiness)."""

from __future__ import annotations

import asyncio

from hcitui.cli import context as wiring
from hcitui.lab import Lab
from hcitui.lab.state import build_lab
from hcitui.ps import remedies as ops


def test_each_remedy_round_trips_over_winrm(tmp_path):
    lab = Lab(build_lab(2, sites=1))
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path, transport="winrm")

    async def go():
        try:
            installed = await ctx.client.invoke("LAB-N2", ops.install_windows_features, {"names": ["NetworkATC"]})
            enabled = await ctx.client.invoke("LAB-N2", ops.enable_optional_features,
                                              {"names": ["Windows-Defender"]})
            suspended = await ctx.client.invoke("LAB-N1", ops.suspend_bitlocker, {"mount_point": "C:"})
            resumed = await ctx.client.invoke("LAB-N1", ops.resume_bitlocker, {"mount_point": "C:"})
            return installed, enabled, suspended, resumed
        finally:
            await ctx.close()

    installed, enabled, suspended, resumed = asyncio.run(go())
    assert [(r.name, r.success, r.restart_needed, r.needs_restart) for r in installed] == [
        ("NetworkATC", True, "No", False)]
    assert [(r.feature_name, r.success, r.needs_restart) for r in enabled] == [("Windows-Defender", True, True)]
    assert (suspended.mount_point, suspended.protection_status, suspended.volume_status) == ("C:", "Off",
                                                                                           "FullyEncrypted")
    assert resumed.protection_status == "On"
    node = lab.state.nodes["LAB-N2"]
    assert node.features["NetworkATC"] == "Installed" and node.optional_features["Windows-Defender"] == "EnablePending"
    records = [r for r in ctx.audit.records() if r["mutates"]]
    assert [r["operation"] for r in records] == ["install_windows_features", "enable_optional_features",
                                                 "suspend_bitlocker", "resume_bitlocker"]
    assert all(r["outcome"] == "ok" for r in records)
