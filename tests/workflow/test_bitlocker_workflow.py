"""Suspending and resuming BitLocker for the solution update (workflow/solution/bitlocker.py) on the lab."""

from __future__ import annotations

import asyncio

import pytest

from hcitui.cli import context as wiring
from hcitui.core.errors import Action
from hcitui.core.journal import StepStatus
from hcitui.lab.state import LabBitLocker
from hcitui.workflow import resume, solution
from hcitui.workflow.events import Stage
from hcitui.workflow.steps import Refused, StepFailed

NODES = ["LAB-N1", "LAB-N2", "LAB-N3", "LAB-N4"]


@pytest.fixture
def single(tmp_path):
    lab = wiring.open_lab(tmp_path, 4, sites=1)
    return lab, wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)


def protection(lab) -> dict[str, str]:
    return {name: node.bitlocker["C:"].protection_status for name, node in lab.state.nodes.items()}


def sent(ctx, operation: str) -> list[tuple[str, str]]:
    return [(r["node"], r["parameters"]["MountPoint"]) for r in ctx.audit.records()
            if r["operation"] == operation and r["outcome"] == "ok"]


async def test_suspend_every_protected_volume_then_resume_it(single):
    lab, ctx = single
    lab.state.nodes["LAB-N3"].bitlocker["D:"] = LabBitLocker(volume_type="Data")
    lab.state.nodes["LAB-N4"].bitlocker["C:"].protection_status = "Off"  # already suspended by hand
    lab.state.nodes["LAB-N4"].bitlocker["E:"] = LabBitLocker(volume_status="FullyDecrypted", protection_status="Off")
    events = []
    done = await solution.suspend(ctx, None, events.append)
    assert done == "BitLocker suspended on 3 of 4 nodes."
    assert protection(lab) == dict.fromkeys(NODES, "Off")
    assert lab.state.nodes["LAB-N3"].bitlocker["D:"].protection_status == "Off"
    assert lab.state.nodes["LAB-N1"].bitlocker["C:"].suspended_reboots == 0  # -RebootCount 0: until resumed
    assert sent(ctx, "suspend_bitlocker") == [("LAB-N1", "C:"), ("LAB-N2", "C:"), ("LAB-N3", "C:"), ("LAB-N3", "D:")]
    finals = [e for e in events if e.stage in (Stage.DONE, Stage.SKIPPED)]
    assert [(e.node, e.stage, e.position) for e in finals] == [
        ("LAB-N1", Stage.DONE, (1, 4)), ("LAB-N2", Stage.DONE, (2, 4)), ("LAB-N3", Stage.DONE, (3, 4)),
        ("LAB-N4", Stage.SKIPPED, (4, 4))]
    assert ctx.journal.step(9, "bitlocker-suspend", "LAB-N3").data["done"] == ["C:", "D:"]
    # Again: nothing left to suspend.
    assert (await solution.suspend(ctx)).startswith("Nothing to do")

    done = await solution.resume(ctx)
    assert done == "BitLocker resumed on 4 of 4 nodes."
    assert protection(lab) == dict.fromkeys(NODES, "On")
    # The volume that was never encrypted is left alone.
    assert lab.state.nodes["LAB-N4"].bitlocker["E:"].protection_status == "Off"
    assert ("LAB-N4", "E:") not in sent(ctx, "resume_bitlocker")
    assert ctx.journal.step(9, "bitlocker-resume", "LAB-N4").status is StepStatus.DONE


async def test_one_node_and_a_protection_that_stays_on_fails(single, monkeypatch):
    lab, ctx = single
    from hcitui.lab import HANDLERS

    original = HANDLERS["suspend_bitlocker"]

    def stays_on(lab_, node, params):
        row = original(lab_, node, params)
        node.bitlocker["C:"].protection_status = "On"
        return {**row, "ProtectionStatus": "On"}

    monkeypatch.setitem(HANDLERS, "suspend_bitlocker", stays_on)
    with pytest.raises(StepFailed) as caught:
        await solution.suspend(ctx, ["LAB-N2"])
    assert "LAB-N2 C:: ProtectionStatus is On after Suspend-BitLocker, not Off" in caught.value.sentence
    assert caught.value.remedy.action is Action.BITLOCKER_SUSPEND
    assert sent(ctx, "suspend_bitlocker") == [("LAB-N2", "C:")]  # the other nodes were not asked
    record = ctx.journal.step(9, "bitlocker-suspend", "LAB-N2")
    assert record.status is StepStatus.FAILED
    found = await resume.reverify(ctx, record)
    assert found.status is None and "still On on LAB-N2 C:" in found.sentence


async def test_read_only_refuses_and_stretched_refuses_only_the_suspend(tmp_path):
    lab = wiring.open_lab(tmp_path / "ro", 4, sites=1)
    ctx = wiring.context_for_lab(lab, read_only=True, state_root=tmp_path / "ro")
    for step in (solution.suspend, solution.resume):
        with pytest.raises(Refused, match="read-only"):
            await step(ctx)
    assert list(ctx.audit.records()) == []
    lab = wiring.open_lab(tmp_path / "st", 4)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path / "st")
    with pytest.raises(Refused, match="does not apply to a stretched cluster"):
        await solution.suspend(ctx)
    assert list(ctx.audit.records()) == []
    # Resuming undoes: it is allowed there (nothing is suspended on the fresh lab: nothing to do).
    assert (await solution.resume(ctx)).startswith("Nothing to do")


def test_the_plan_names_each_volume(single):
    lab, ctx = single
    lab.state.nodes["LAB-N2"].bitlocker["D:"] = LabBitLocker(volume_type="Data")
    volumes = asyncio.run(solution.read_volumes(ctx, NODES, solution.SUSPEND))
    assert volumes["LAB-N2"] == ["C:", "D:"]
    preview = solution.plan_bitlocker(ctx, NODES, solution.SUSPEND, volumes).preview()
    assert "Suspend-BitLocker -MountPoint $MountPoint -RebootCount 0 -Confirm:$false" in preview
    assert "-MountPoint 'D:'" in preview and preview.count("suspend_bitlocker (CHANGES THE CLUSTER)") == 5
