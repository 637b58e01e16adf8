"""Installing the solution update's features node by node (workflow/solution/features.py) on the one-site lab:
what is missing decides, the drain and its interlocks, a restart only when a feature needs one, the first
failure stops the run, an interrupted run goes on where it stopped, read-only and stretched refuse."""

from __future__ import annotations

import asyncio

import pytest

from hcitui.cli import context as wiring
from hcitui.core.errors import Action
from hcitui.core.journal import Journal, StepStatus
from hcitui.workflow import resume, solution
from hcitui.workflow.events import Stage
from hcitui.workflow.steps import Refused, StepFailed

GUARD = 60
NODES = ["LAB-N1", "LAB-N2", "LAB-N3", "LAB-N4"]


def fast(lab) -> None:
    t = lab.state.timings
    t.reboot, t.cluster_join, t.repair, t.drain_step = 0.3, 0.2, 0.3, 0.02
    for node in lab.state.nodes.values():
        node.vid_parameters_key, node.skip_small_local_allocations = True, 0


@pytest.fixture
def single(tmp_path):
    lab = wiring.open_lab(tmp_path, 4, sites=1)
    fast(lab)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    ctx.poll = 0.05
    return lab, ctx


def calls(ctx, operation: str) -> list[str]:
    return [r["target"] for r in ctx.audit.records() if r["operation"] == operation and r["outcome"] == "ok"]


def all_present(lab) -> bool:
    return all(state == "Installed" for n in lab.state.nodes.values() for state in n.features.values()) and all(
        state == "Enabled" for n in lab.state.nodes.values() for state in n.optional_features.values())


async def test_only_the_node_that_lacks_features_is_drained_and_restarted(single):
    lab, ctx = single
    events = []
    done = await asyncio.wait_for(solution.install_features(ctx, None, events.append), GUARD)
    assert "features installed on 1 of 4 nodes (LAB-N2)" in done
    assert all_present(lab)
    # LAB-N2 alone was drained, installed on, and restarted (Windows-Defender said RestartNeeded).
    assert calls(ctx, "suspend_node") == ["LAB-N2"]
    assert calls(ctx, "install_windows_features") == ["LAB-N2"]
    assert calls(ctx, "restart_node") == ["LAB-N2"]
    assert lab.state.nodes["LAB-N2"].cluster_state == "Up" and ctx.journal.state.lock is None
    # Every event says which node of the run it is; the others were skipped with a sentence.
    assert all(e.position is not None and e.position[1] == 4 for e in events)
    skipped = [e for e in events if e.stage is Stage.SKIPPED]
    assert [e.node for e in skipped] == ["LAB-N1", "LAB-N3", "LAB-N4"]
    assert all("nothing to install" in e.text for e in skipped)
    final = [e for e in events if e.node == "LAB-N2" and e.stage is Stage.DONE]
    assert len(final) == 1 and "restarted" in final[0].text  # the drain's and resume's own "done" are not it
    assert ctx.journal.step(9, "features", "LAB-N2").status is StepStatus.DONE
    assert ctx.journal.step(9, "features-install").status is StepStatus.DONE
    # Run again: nothing to do, nothing sent that changes the cluster.
    before = len([r for r in ctx.audit.records() if r["mutates"]])
    done = await asyncio.wait_for(solution.install_features(ctx), GUARD)
    assert done.startswith("nothing to install")
    assert len([r for r in ctx.audit.records() if r["mutates"]]) == before


async def test_no_restart_when_no_feature_needs_one(single):
    lab, ctx = single
    lab.state.nodes["LAB-N2"].optional_features["Windows-Defender"] = "Enabled"  # only NetworkATC is missing
    await asyncio.wait_for(solution.install_features(ctx, ["LAB-N2"]), GUARD)
    assert calls(ctx, "suspend_node") == ["LAB-N2"] and calls(ctx, "resume_node") == ["LAB-N2"]
    assert calls(ctx, "restart_node") == []
    assert all_present(lab) and lab.state.nodes["LAB-N2"].cluster_state == "Up"
    assert ctx.journal.state.lock is None


async def test_a_failed_install_stops_the_run_with_the_node_left_drained(single, monkeypatch):
    lab, ctx = single
    from hcitui.lab import HANDLERS

    original = HANDLERS["install_windows_features"]
    lab.state.nodes["LAB-N1"].features["RSAT-AD-AdminCenter"] = "Removed"  # its payload is gone

    def no_payload(lab_, node, params):
        if node.name == "LAB-N1":
            return [{"Name": name, "Success": False, "RestartNeeded": "No", "ExitCode": "Failed",
                     "Error": "The source files could not be found."} for name in params["Names"]]
        return original(lab_, node, params)

    monkeypatch.setitem(HANDLERS, "install_windows_features", no_payload)
    with pytest.raises(StepFailed) as caught:
        await asyncio.wait_for(solution.install_features(ctx), GUARD)
    sentence = caught.value.sentence
    assert "RSAT-AD-AdminCenter (The source files could not be found.)" in sentence
    assert "LAB-N1 stays drained" in sentence and caught.value.remedy.action is Action.FEATURES_INSTALL
    # It stopped at LAB-N1: LAB-N2 was not touched, LAB-N1 is still out, as the run's record says.
    assert calls(ctx, "suspend_node") == ["LAB-N1"] and calls(ctx, "restart_node") == []
    assert lab.state.nodes["LAB-N2"].features["NetworkATC"] == "Available"
    assert lab.state.nodes["LAB-N1"].cluster_state == "Paused" and ctx.journal.state.lock.node == "LAB-N1"
    run = ctx.journal.step(9, "features-install")
    assert run.status is StepStatus.FAILED and "stopped at LAB-N1" in run.detail
    assert ctx.journal.step(9, "features", "LAB-N1").status is StepStatus.FAILED
    # Fixed (the payload back), run again: LAB-N1 goes on as it is (not drained again), then LAB-N2.
    monkeypatch.setitem(HANDLERS, "install_windows_features", original)
    lab.state.nodes["LAB-N1"].features["RSAT-AD-AdminCenter"] = "Available"
    await asyncio.wait_for(solution.install_features(ctx), GUARD * 2)
    assert calls(ctx, "suspend_node") == ["LAB-N1", "LAB-N2"]
    assert all_present(lab) and ctx.journal.state.lock is None
    assert all(lab.state.nodes[n].cluster_state == "Up" for n in NODES)


async def test_refused_when_another_node_is_out_and_nothing_changes(single):
    lab, ctx = single
    from hcitui.workflow import maintenance

    await asyncio.wait_for(maintenance.drain(ctx, "LAB-N4"), GUARD)
    with pytest.raises(Refused) as caught:
        await asyncio.wait_for(solution.install_features(ctx), GUARD)
    assert any("LAB-N4 is out of service" in r for r in caught.value.reasons)
    assert calls(ctx, "install_windows_features") == [] and calls(ctx, "suspend_node") == ["LAB-N4"]
    assert lab.state.nodes["LAB-N2"].features["NetworkATC"] == "Available"


async def test_an_interrupted_run_goes_on_where_it_stopped(single, tmp_path):
    lab, ctx = single
    lab.state.timings.reboot = 2.0
    task = asyncio.ensure_future(solution.install_features(ctx))
    for _ in range(400):
        await asyncio.sleep(0.05)
        if calls(ctx, "restart_node") == ["LAB-N2"]:
            break
    assert calls(ctx, "restart_node") == ["LAB-N2"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # A new process: the run and LAB-N2's install are interrupted, LAB-N2 is out and restarting.
    ctx.journal = Journal.open(tmp_path, ctx.name)
    assert ctx.journal.state.lock.node == "LAB-N2"
    assert ctx.journal.step(9, "features-install").status is StepStatus.UNKNOWN
    found = await resume.reverify(ctx, ctx.journal.step(9, "features", "LAB-N2"))
    assert found.status is None and found.remedy.action is Action.FEATURES_INSTALL  # not assumed done
    await asyncio.wait_for(solution.install_features(ctx), GUARD * 2)
    assert calls(ctx, "restart_node") == ["LAB-N2"]  # the cycle was resumed, not started again
    assert calls(ctx, "install_windows_features") == ["LAB-N2"]
    assert all_present(lab) and ctx.journal.state.lock is None
    assert ctx.journal.step(9, "features-install").status is StepStatus.DONE


async def test_read_only_and_stretched_refuse_before_anything_is_sent(tmp_path):
    lab = wiring.open_lab(tmp_path / "ro", 4, sites=1)
    ctx = wiring.context_for_lab(lab, read_only=True, state_root=tmp_path / "ro")
    with pytest.raises(Refused, match="read-only"):
        await solution.install_features(ctx)
    assert list(ctx.audit.records()) == []
    lab = wiring.open_lab(tmp_path / "st", 4)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path / "st")
    with pytest.raises(Refused, match="stretched"):
        await solution.install_features(ctx)
    assert list(ctx.audit.records()) == []


def test_the_plan_names_what_is_missing_and_skips_the_rest(single):
    _lab, ctx = single
    missing = asyncio.run(solution.read_missing(ctx, NODES))
    assert missing["LAB-N1"].nothing and missing["LAB-N2"].windows == ["NetworkATC"]
    assert sorted(missing["LAB-N2"].optional) == ["NetworkATC", "Windows-Defender"]
    preview = solution.plan_features(ctx, NODES, missing).preview()
    assert "# LAB-N1: nothing to install (skipped)" in preview
    assert "install_windows_features (CHANGES THE CLUSTER) on LAB-N2" in preview
    assert "-Names @('NetworkATC')" in preview and "-IncludeAllSubFeature -IncludeManagementTools" in preview
    assert "on LAB-N1" not in preview.split("# LAB-N1: nothing")[1]


# ------------------------------------------------------------------ the menu's line and next step


def test_readiness_is_next_after_post_upgrade_and_stale_after_a_remedy(tmp_path):
    from datetime import UTC, datetime, timedelta

    from hcitui.workflow import post, readiness, summaries
    from hcitui.workflow.summaries import Entry, Facts, State

    journal = Journal.open(tmp_path, "LAB-SINGLE")
    t0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

    def put(phase, step, node, status, minute, detail=None):
        record = journal.set_step(phase, step, node, status, detail, fresh=True)
        record.runs[-1].started = (t0 + timedelta(minutes=minute)).isoformat()
        record.runs[-1].finished = (t0 + timedelta(minutes=minute + 0.5)).isoformat()

    def facts(stretched=False):
        return Facts(journal, NODES, stretched=stretched, now=t0 + timedelta(hours=2))

    journal.record_builds(dict.fromkeys(NODES, "25398.1189"))
    for minute, step in enumerate((post.LEVEL, post.POOLS, post.VALIDATION)):
        put(post.PHASE, step, None, StepStatus.DONE, minute)
    put(7, "verification", None, StepStatus.DONE, 10, "PASSED")
    found = summaries.recommend(facts())
    assert (found.entry, found.phase) == (Entry.READINESS, 9) and "readiness" in found.why
    assert summaries.recommend(facts(stretched=True)) is None  # it does not apply there
    assert summaries.readiness_line(facts()).state is State.NOT_STARTED
    put(readiness.PHASE, readiness.STEP, None, StepStatus.FAILED, 20, "NOT PASSED: 80 pass, 5 fail")
    assert "f installs the features" in summaries.recommend(facts()).why
    assert summaries.readiness_line(facts()).state is State.FAILED
    put(solution.PHASE, solution.FEATURES, "LAB-N2", StepStatus.DONE, 30, "every required feature Installed")
    found = summaries.recommend(facts())
    assert found.entry is Entry.READINESS and "features install on LAB-N2" in found.why  # stale: check again
    assert summaries.readiness_line(facts()).state is State.STALE
    put(readiness.PHASE, readiness.STEP, None, StepStatus.DONE, 40, "PASSED with 1 warning")
    assert summaries.recommend(facts()) is None
    assert summaries.readiness_line(facts()).text.startswith("PASSED with 1 warning at ")
