"""2) Registry keys: the workflow on the lab (set, pending reboot, effective, the ReFS toggle) and its judge."""

from __future__ import annotations

import asyncio

import pytest

from hcitui.cli import context as wiring
from hcitui.core import model
from hcitui.core.journal import StepRecord, StepStatus
from hcitui.lab import cluster as lab_cluster
from hcitui.workflow import maintenance, registry
from hcitui.workflow.events import Stage
from hcitui.workflow.registry import Effect
from hcitui.workflow.steps import Refused, StepFailed

NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
GUARD = 60


@pytest.fixture
def lab_ctx(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    t = lab.state.timings
    t.stage_iso, t.reboot, t.cluster_join, t.repair, t.drain_step = 0.2, 0.3, 0.2, 0.3, 0.02
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    ctx.poll = 0.05
    return lab, ctx


def calls(ctx, operation: str) -> list[dict]:
    return [r for r in ctx.audit.records() if r["operation"] == operation]


# ---------------------------------------------------------------------- judge

SET = model.RegistryValues(refs_enable_metadata_validation=0, vid_parameters_key_exists=True,
                           skip_small_local_allocations=0)
BOOT = "2025-01-01T00:00:00+00:00"
LATER = "2025-01-02T00:00:00+00:00"


def record(boot: str | None) -> StepRecord:
    return StepRecord(phase=1, step="registry", node="N", status=StepStatus.DONE,
                      data={"boot_at_set": boot} if boot else {})


@pytest.mark.parametrize("values, boot, records, effect", [
    (model.RegistryValues(), BOOT, [], Effect.NOT_SET),
    (SET.model_copy(update={"skip_small_local_allocations": None}), BOOT, [record(BOOT)], Effect.NOT_SET),
    (SET.model_copy(update={"refs_enable_metadata_validation": 1}), BOOT, [record(BOOT)], Effect.NOT_SET),
    (SET, BOOT, [record(BOOT)], Effect.PENDING),
    (SET, LATER, [record(BOOT)], Effect.EFFECTIVE),
    (SET, BOOT, [], Effect.UNKNOWN),
    (SET, BOOT, [None, record(None)], Effect.UNKNOWN),
    # The ReFS toggle after a restart makes it pending again, whatever the older record says.
    (SET, LATER, [record(BOOT), record(LATER)], Effect.PENDING),
    (None, BOOT, [record(BOOT)], Effect.UNREADABLE),
    (SET, None, [record(BOOT)], Effect.UNREADABLE),
])
def test_judge(values, boot, records, effect):
    assert registry.judge(values, boot, records) is effect


# ------------------------------------------------------------------- the lab


async def test_fresh_lab_reads_not_set(lab_ctx):
    _lab, ctx = lab_ctx
    report = await registry.read_registry(ctx)
    assert list(report.rows) == NODES
    assert all(row.effect is Effect.NOT_SET and row.refs == "-" and row.vid_key == "no" for row in report.rows.values())
    assert report.summary() == "0/4 nodes set: 4 not set"
    assert registry.journal_summary(ctx.journal, NODES) == "not set yet"
    assert not [r for r in ctx.audit.records() if r["mutates"]]


async def test_set_on_all_nodes_is_pending_reboot(lab_ctx):
    lab, ctx = lab_ctx
    outcome = await asyncio.wait_for(registry.set_values(ctx), GUARD)
    assert outcome == {n: "set" for n in NODES}
    for name in NODES:
        node = lab.state.nodes[name]
        values = (node.refs_metadata_validation, node.vid_parameters_key, node.skip_small_local_allocations)
        assert values == (0, True, 0)
        assert node.refs_effective is None and node.skip_effective is None  # the running kernel has not read them
        step = ctx.journal.step(1, "registry", name)
        assert step.status is StepStatus.DONE
        assert step.data["boot_at_set"] == lab_cluster.iso(node.last_boot).replace("Z", "+00:00")
    sets = calls(ctx, "set_registry_values")
    assert sorted(r["node"] for r in sets) == NODES
    assert all(r["parameters"] == {"RefsEnableMetadataValidation": 0, "SkipSmallLocalAllocations": 0} for r in sets)
    report = await registry.read_registry(ctx)
    assert {n: r.effect for n, r in report.rows.items()} == {n: Effect.PENDING for n in NODES}
    assert registry.journal_summary(ctx.journal, NODES) == "4/4 set, 4 pending reboot"


async def test_a_restart_makes_it_effective(lab_ctx):
    lab, ctx = lab_ctx
    # Before: LAB-A1 hosts dynamic-memory VMs and cannot drain (the live-migration trap).
    with pytest.raises(StepFailed, match="live migration"):
        await asyncio.wait_for(maintenance.restart(ctx, "LAB-A1"), GUARD)
    await asyncio.wait_for(registry.set_values(ctx), GUARD)
    await asyncio.wait_for(maintenance.restart(ctx, "LAB-A1"), GUARD)  # now it drains
    assert lab.state.nodes["LAB-A1"].skip_effective == 0
    report = await registry.read_registry(ctx)
    assert report.rows["LAB-A1"].effect is Effect.EFFECTIVE
    assert all(report.rows[n].effect is Effect.PENDING for n in NODES[1:])
    assert registry.journal_summary(ctx.journal, NODES) == "4/4 set, 3 pending reboot"
    assert "effective" in report.rows["LAB-A1"].sentence()


async def test_values_found_set_without_a_record_are_unknown(lab_ctx):
    lab, ctx = lab_ctx
    node = lab.state.nodes["LAB-B1"]
    node.refs_metadata_validation, node.vid_parameters_key, node.skip_small_local_allocations = 0, True, 0
    report = await registry.read_registry(ctx)
    assert report.rows["LAB-B1"].effect is Effect.UNKNOWN
    assert "restart to be sure" in report.rows["LAB-B1"].sentence()
    # Setting them records the boot time, so the next restart can prove them.
    await registry.set_values(ctx, ["LAB-B1"])
    assert (await registry.read_registry(ctx, ["LAB-B1"])).rows["LAB-B1"].effect is Effect.PENDING


async def test_setting_again_leaves_recorded_nodes_alone(lab_ctx):
    _lab, ctx = lab_ctx
    events = []
    await registry.set_values(ctx, progress=events.append)
    assert {e.node for e in events if e.stage is Stage.DONE} == set(NODES)
    before = len(calls(ctx, "set_registry_values"))
    events.clear()
    assert await registry.set_values(ctx, progress=events.append) == {n: "already set" for n in NODES}
    assert {e.node for e in events if e.stage is Stage.SKIPPED} == set(NODES)
    assert len(calls(ctx, "set_registry_values")) == before


async def test_set_on_one_node(lab_ctx):
    lab, ctx = lab_ctx
    assert await registry.set_values(ctx, ["lab-b2"]) == {"LAB-B2": "set"}
    assert [r["node"] for r in calls(ctx, "set_registry_values")] == ["LAB-B2"]
    assert lab.state.nodes["LAB-A1"].skip_small_local_allocations is None
    assert registry.journal_summary(ctx.journal, NODES) == "1/4 set, 1 pending reboot"


async def test_refs_remediation_sets_1_then_0(lab_ctx):
    lab, ctx = lab_ctx
    await registry.set_values(ctx, ["LAB-A2"])
    await maintenance.restart(ctx, "LAB-A2")
    assert (await registry.read_registry(ctx, ["LAB-A2"])).rows["LAB-A2"].effect is Effect.EFFECTIVE
    start = len(list(ctx.audit.records()))
    assert await registry.remediate_refs(ctx, ["LAB-A2"]) == {"LAB-A2": "toggled"}
    run = [r for r in list(ctx.audit.records())[start:] if r["operation"] != "get_os_version"]
    assert [(r["operation"], r["parameters"]) for r in run] == [
        ("set_registry_values", {"RefsEnableMetadataValidation": 1}),
        ("get_registry_values", {}),
        ("set_registry_values", {"RefsEnableMetadataValidation": 0}),
        ("get_registry_values", {}),
    ]
    assert all(r["node"] == "LAB-A2" and r["outcome"] == "ok" for r in run)
    assert lab.state.nodes["LAB-A2"].refs_metadata_validation == 0
    step = ctx.journal.step(1, "refs-remediation", "LAB-A2")
    assert step.status is StepStatus.DONE and step.data["boot_at_set"]
    # The toggle needs a restart to count: pending again.
    assert (await registry.read_registry(ctx, ["LAB-A2"])).rows["LAB-A2"].effect is Effect.PENDING


async def test_a_value_that_does_not_stick_fails_the_step(lab_ctx, monkeypatch):
    lab, ctx = lab_ctx
    monkeypatch.setitem(lab_cluster.HANDLERS, "set_registry_values",
                        lambda lab_, node, params: lab_cluster.HANDLERS["get_registry_values"](lab_, node, {}))
    with pytest.raises(StepFailed) as caught:
        await registry.remediate_refs(ctx, ["LAB-B1"])
    assert "LAB-B1: after setting 1, RefsEnableMetadataValidation reads -" in caught.value.sentence
    assert ctx.journal.step(1, "refs-remediation", "LAB-B1").status is StepStatus.FAILED
    assert len(calls(ctx, "set_registry_values")) == 1  # 0 is never sent after a failed 1


async def test_an_unreachable_node_fails_and_the_others_are_set(lab_ctx):
    lab, ctx = lab_ctx
    lab.state.faults.unreachable = ["LAB-B2"]
    events = []
    with pytest.raises(StepFailed) as caught:
        await registry.set_values(ctx, progress=events.append)
    failed = [e for e in events if e.stage is Stage.FAILED]
    assert [e.node for e in failed] == ["LAB-B2"] and not failed[0].text.startswith("FAILED")
    assert "LAB-B2" in caught.value.message and "(LAB-A1, LAB-A2, LAB-B1 done)" in caught.value.message
    assert all(lab.state.nodes[n].skip_small_local_allocations == 0 for n in NODES[:3])
    assert ctx.journal.step(1, "registry", "LAB-B2") is None  # nothing was set there: nothing recorded


async def test_read_only_refuses_and_sends_nothing(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    ctx = wiring.context_for_lab(lab, read_only=True, state_root=tmp_path)
    for attempt in (registry.set_values(ctx), registry.remediate_refs(ctx, ["LAB-A1"])):
        with pytest.raises(Refused, match="read-only"):
            await attempt
    assert list(ctx.audit.records()) == []
    assert lab.state.nodes["LAB-A1"].refs_metadata_validation is None


def test_plans_show_the_exact_powershell(lab_ctx):
    _lab, ctx = lab_ctx
    plan = registry.plan_set(ctx, NODES)
    assert plan.mutates
    text = plan.preview()
    assert text.count("-RefsEnableMetadataValidation 0 -SkipSmallLocalAllocations 0") == 4
    assert "New-Item -Path $vidKey" in text and "Nothing has run yet" in text
    assert "rolling restart" in text and " o " not in text and "(o" not in text  # no key letters
    remediation = registry.plan_remediate(ctx, ["LAB-A1"]).preview()
    assert remediation.index("-RefsEnableMetadataValidation 1") < remediation.index("-RefsEnableMetadataValidation 0")
    assert "on LAB-A2" not in remediation


# ------------------------------------------------------------ outcome in words


def test_outcome_words_say_what_changed_and_what_was_left():
    assert registry.outcome_words({"B": "set", "A": "set"}) == "set, each read back as 0, on A, B"
    many = {f"N{i}": "set" for i in range(5)} | {"X": "already set"}
    assert registry.outcome_words(many) == "set, each read back as 0, on 5 nodes; already set on X, left as it was"
    assert registry.changed(many) is True
    left = {"A": "already set", "B": "already set"}
    assert registry.outcome_words(left) == "already set on A, B, left as they were"
    assert registry.changed(left) is False
    assert registry.outcome_words({"A": "toggled"}).startswith("RefsEnableMetadataValidation 1 then 0, each read back")


def test_meaning_has_words_for_every_effect():
    assert set(registry.MEANING) == set(Effect)
    assert registry.MEANING[Effect.NOT_SET] == "not set"
    assert registry.MEANING[Effect.PENDING] == "set, restart pending"
    assert registry.MEANING[Effect.EFFECTIVE] == "in force"
