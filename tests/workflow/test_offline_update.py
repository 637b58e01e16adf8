"""The fast offline update's workflow on the lab (in-process, lab time fast): the stages in seed 004's order,
an interruption resumed, the refusals before anything is sent, Storage Replica's consequences accepted or not."""

from __future__ import annotations

import pytest

from hcitui.cli import context as wiring
from hcitui.core.journal import StepStatus
from hcitui.lab.state import LabStorageJob
from hcitui.workflow import offline, resume
from hcitui.workflow.events import Stage
from hcitui.workflow.offline.staged import stage_packages
from hcitui.workflow.steps import Refused, StepFailed

FAST = {"reboot": 0.3, "cluster_join": 0.2, "repair": 0.3, "drain_step": 0.02}


def open_ctx(tmp_path, *, sites: int = 1, read_only: bool = False, nodes: int = 4):
    lab = wiring.open_lab(tmp_path, nodes, sites=sites)
    for name, value in FAST.items():
        setattr(lab.state.timings, name, value)
    for node in lab.state.nodes.values():
        node.build, node.ubr = 25398, 1913
    lab.save()
    ctx = wiring.context_for_lab(lab, read_only=read_only, state_root=tmp_path)
    ctx.poll = 0.05
    return ctx, lab


def changes(ctx) -> list[str]:
    return [r["operation"] for r in ctx.audit.records() if r["mutates"] and r["outcome"] == "ok"]


async def test_the_stages_run_in_seed_004s_order_and_end_with_passing_checks(tmp_path):
    ctx, lab = open_ctx(tmp_path)
    done: list[str] = []
    try:
        report = await offline.offline_update(ctx, lambda e: done.append(e.status) if e.node == ctx.name and
                                              e.stage is Stage.DONE and e.status != "monitor" else None)
    finally:
        await ctx.close()
    assert report.passed, [c for c in report.checks if not c.ok]
    assert done == offline.STAGE_NAMES[2:-1]
    sent = [op for op in changes(ctx) if op != "write_file_chunk"]
    order = ["stop_csv_resources", "stop_cluster", "set_cluster_service_startup", "install_update_package",
             "restart_node", "set_cluster_service_startup", "start_cluster_service", "start_csv_resources"]
    assert [op for i, op in enumerate(sent) if i == 0 or sent[i - 1] != op] == order
    assert sent.count("restart_node") == 4 and sent.count("install_update_package") == 4
    assert {n.ubr for n in lab.state.nodes.values()} == {2032}
    record = offline.record(ctx)
    assert record.status is StepStatus.DONE and record.data["window_open"] is False


async def test_an_interrupted_update_resumes_where_it_stood_without_repeating_what_was_done(tmp_path):
    ctx, lab = open_ctx(tmp_path)

    class Killed(Exception):
        pass

    def kill_at_restart(event):
        if event.status == "restart" and event.node != ctx.name and event.stage is Stage.WAITING:
            raise Killed  # as hcitui dying while the nodes restart

    try:
        with pytest.raises(Killed):
            await offline.offline_update(ctx, kill_at_restart)
        assert offline.window_open(ctx) and offline.reached(ctx) == "install"
        ctx.journal.set_step(offline.PHASE, offline.STEP, None, StepStatus.UNKNOWN, "interrupted")
        verdict = await resume.reverify(ctx, offline.record(ctx))
        assert verdict.status is None and "window open" in verdict.sentence  # not assumed done
        before = changes(ctx)
        report = await offline.offline_update(ctx)
    finally:
        await ctx.close()
    assert report.passed
    again = changes(ctx)[len(before):]
    assert "stop_cluster" not in again and "install_update_package" not in again
    assert before.count("restart_node") + again.count("restart_node") <= 8
    assert all(n.cluster_state == "Up" and n.updates == {"KB5048654": "Installed"} for n in lab.state.nodes.values())


async def test_refused_before_anything_is_sent(tmp_path):
    ctx, lab = open_ctx(tmp_path, read_only=True)
    try:
        with pytest.raises(Refused, match="read-only"):
            await offline.offline_update(ctx)
    finally:
        await ctx.close()
    ctx, lab = open_ctx(tmp_path / "jobs")
    lab.state.storage_jobs.append(LabStorageJob(name="Repair", site="Site1", started=lab.now, duration=3600,
                                                bytes_total=100))
    try:
        with pytest.raises(Refused) as refused:
            await offline.offline_update(ctx)
    finally:
        await ctx.close()
    assert any("storage jobs run" in r for r in refused.value.reasons)
    assert changes(ctx) == []  # the preconditions come first: not even a package is copied


async def test_refused_without_packages_and_with_an_unreachable_node(tmp_path):
    ctx, lab = open_ctx(tmp_path)
    ctx.cluster = ctx.cluster.model_copy(update={"update_packages": []})
    try:
        with pytest.raises(Refused, match="no update_packages"):
            await offline.offline_update(ctx)
    finally:
        await ctx.close()
    ctx, lab = open_ctx(tmp_path / "down")
    try:
        await stage_packages(ctx, ctx.client.node_names, lambda e: None)
        lab.state.faults.unreachable = ["LAB-N2"]
        with pytest.raises(Refused) as refused:
            await offline.offline_update(ctx)
    finally:
        await ctx.close()
    assert any("LAB-N2" in r for r in refused.value.reasons)
    assert "stop_cluster" not in changes(ctx)


async def test_a_stretched_cluster_with_storage_replica_needs_the_consequences_accepted(tmp_path):
    ctx, lab = open_ctx(tmp_path, sites=2)
    try:
        with pytest.raises(Refused) as refused:
            await offline.offline_update(ctx)
        assert any("BOTH SITES GO DOWN" in r for r in refused.value.reasons)
        assert changes(ctx) == []  # refused before a package is copied
        report = await offline.offline_update(ctx, accept_sr_downtime=True)
    finally:
        await ctx.close()
    assert report.passed, [c for c in report.checks if not c.ok]
    assert offline.record(ctx).data["sr_accepted"] is True


async def test_a_failed_stage_leaves_the_window_open_with_the_remedy_to_run_again(tmp_path):
    ctx, lab = open_ctx(tmp_path)
    lab.state.timings.reboot = 0.3
    ctx.cluster = ctx.cluster.model_copy(update={"timeouts": ctx.cluster.timeouts.model_copy(update={"reboot": 0.2})})
    lab.state.timings.reboot = 30.0  # the nodes do not come back within the (shortened) reboot timeout
    try:
        with pytest.raises(StepFailed) as failed:
            await offline.offline_update(ctx)
    finally:
        await ctx.close()
    assert "restart" in failed.value.message and "window stays open" in failed.value.message
    assert failed.value.remedy is not None and failed.value.remedy.action.name == "OFFLINE_UPDATE"
    assert offline.window_open(ctx)
    assert offline.journal_summary(ctx).startswith("FAILED at restart: WINDOW OPEN")
