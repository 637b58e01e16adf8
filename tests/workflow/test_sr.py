"""Storage Replica: the pure diff, the snapshot file, removal and recreation on the lab, the prompt trap,
resume after a kill, and the headless steps."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from datetime import UTC, datetime

import pytest

from hcitui import ps
from hcitui.cli import context as wiring
from hcitui.cli import main as cli
from hcitui.core import model
from hcitui.core.errors import Action
from hcitui.core.journal import Journal, StepStatus
from hcitui.lab import Lab, LabPowerShellError, frontdoor
from hcitui.lab.frontdoor import NON_INTERACTIVE
from hcitui.lab.state import _volume_path
from hcitui.ps import sr as sr_ops
from hcitui.workflow import eta, sr
from hcitui.workflow.events import ProgressEvent, Stage
from hcitui.workflow.observe import ClusterState
from hcitui.workflow.steps import Refused, StepFailed
from support import lab_in_process

GUARD = 60
GIB = 1024**3
FIRST, SECOND = "SiteA-Data01-RG -> SiteB-Replica01-RG", "SiteA-Data02-RG -> SiteB-Replica02-RG"


def live(lab: Lab) -> tuple[list[model.SRGroup], list[model.SRPartnership]]:
    groups = ps.get("get_sr_groups").parse_result(lab.execute("LAB-A1", "get_sr_groups", {}))
    partnerships = ps.get("get_sr_partnerships").parse_result(lab.execute("LAB-A1", "get_sr_partnerships", {}))
    return groups, partnerships


def group(groups: list[model.SRGroup], name: str) -> model.SRGroup:
    return next(g for g in groups if g.name == name)


# ------------------------------------------------------------------------ diff


@pytest.fixture
def taken(lab):
    groups, partnerships = live(lab)
    return sr.build_snapshot(lab.state.cluster_name, groups, partnerships)


def test_snapshot_holds_what_new_srpartnership_needs(taken):
    assert [p.label for p in taken.partnerships] == [FIRST, SECOND]
    first = taken.partnerships[0]
    assert (first.source_computer, first.destination_computer) == ("LAB-A1", "LAB-B1")
    assert first.source_volumes == ["C:\\ClusterStorage\\SiteA-Data01"]
    assert first.destination_volumes == [_volume_path("data-b-01")]
    assert (first.source_log_volume, first.destination_log_volume) == (_volume_path("log-a-01"),
                                                                       _volume_path("log-b-01"))
    assert (first.replication_mode, first.log_size_in_bytes, first.async_rpo) == ("Synchronous", 8 * GIB, None)
    assert first.is_encrypted is False and first.consistency_groups is False and first.compression is None
    assert {g["Name"] for g in taken.groups} == {"SiteA-Data01-RG", "SiteB-Replica01-RG", "SiteA-Data02-RG",
                                                 "SiteB-Replica02-RG"}


def test_a_right_recreate_is_the_same(lab, taken):
    assert sr.diff(taken, *live(lab)) == []


def test_a_changed_log_size_is_caught(lab, taken):
    groups, partnerships = live(lab)
    group(groups, "SiteB-Replica01-RG").log_size_in_bytes = 4 * GIB
    differences = sr.diff(taken, groups, partnerships)
    assert [(d.partnership, d.field, d.expected, d.actual) for d in differences] == [
        (FIRST, "destination log size", "8.0 GiB", "4.0 GiB")]
    assert "snapshot 8.0 GiB, now 4.0 GiB" in differences[0].sentence


@pytest.mark.parametrize("side, change, field", [
    ("SiteA-Data02-RG", lambda g: setattr(g.replicas[0], "data_volume", "C:\\ClusterStorage\\Other"),
     "source data volumes"),
    ("SiteB-Replica01-RG", lambda g: g.replicas.append(model.SRReplica(data_volume="D:")), "destination data volumes"),
    ("SiteA-Data01-RG", lambda g: setattr(g, "log_volume", "L:\\"), "source log volume"),
    ("SiteB-Replica02-RG", lambda g: setattr(g, "replication_mode", "Asynchronous"), "destination replication mode"),
    ("SiteA-Data01-RG", lambda g: setattr(g, "is_encrypted", True), "source encryption"),
])
def test_a_changed_volume_or_setting_is_caught(lab, taken, side, change, field):
    groups, partnerships = live(lab)
    change(group(groups, side))
    assert [d.field for d in sr.diff(taken, groups, partnerships)] == [field]


def test_missing_and_extra_partnerships_are_differences(lab, taken):
    groups, partnerships = live(lab)
    differences = sr.diff(taken, groups, partnerships[1:])
    assert [(d.partnership, d.kind) for d in differences] == [(FIRST, "missing")]
    extra = model.SRPartnership(source_computer_name="LAB-A2", source_rg_name="New-RG",
                                destination_computer_name="LAB-B2", destination_rg_name="New-Replica-RG")
    differences = sr.diff(taken, groups, [*partnerships, extra])
    assert [(d.partnership, d.kind) for d in differences] == [("New-RG -> New-Replica-RG", "extra")]


def test_ids_status_lsns_and_progress_are_ignored(lab, taken):
    groups, partnerships = live(lab)
    for g in groups:
        g.id = "00000000-0000-0000-0000-000000000000"
        g.computer_name = "LAB-B2"
        g.is_primary = not g.is_primary
        for r in g.replicas:
            r.partition_id = "another"
            r.partition_size = 1
            r.replication_status = "InitialBlockCopy"
            r.num_of_bytes_remaining = 12345
            r.last_in_sync_time = None
    for p in partnerships:
        p.id = "new-id"
    names = {g.name: g.name.upper() for g in groups}  # names compare without case
    for g in groups:
        g.name = names[g.name]
    assert sr.diff(taken, groups, partnerships) == []


def test_async_rpo_is_compared_only_for_asynchronous(lab, taken):
    groups, partnerships = live(lab)
    group(groups, "SiteA-Data01-RG").async_rpo = 300  # synchronous: RPO means nothing
    assert sr.diff(taken, groups, partnerships) == []
    asynchronous = taken.model_copy(deep=True)
    first = asynchronous.partnerships[0]
    first.replication_mode, first.async_rpo = "Asynchronous", 30
    for g in groups:
        if g.name in ("SiteA-Data01-RG", "SiteB-Replica01-RG"):
            g.replication_mode = "Asynchronous"
    fields = [d.field for d in sr.diff(asynchronous, groups, partnerships)]
    assert fields == ["source AsyncRPO"]  # 300 s on the source now; the destination kept 30 s


def test_a_computer_may_move_within_its_site_only(lab, taken):
    groups, partnerships = live(lab)
    partnerships[0].source_computer_name = "LAB-A2"
    assert [d.field for d in sr.diff(taken, groups, partnerships)] == ["source computer"]
    sites = {"lab-a1": "SiteA", "lab-a2": "SiteA", "lab-b1": "SiteB", "lab-b2": "SiteB"}
    assert sr.diff(taken, groups, partnerships, sites) == []
    partnerships[0].source_computer_name = "LAB-B2"
    assert [d.field for d in sr.diff(taken, groups, partnerships, sites)] == ["source computer"]


def test_a_partnership_without_its_groups_cannot_be_snapshotted(lab):
    groups, partnerships = live(lab)
    with pytest.raises(sr.SnapshotError, match="does not show group SiteB-Replica01-RG"):
        sr.build_snapshot("LAB-STRETCH", [g for g in groups if g.name != "SiteB-Replica01-RG"], partnerships)


def test_removal_interlocks_fail_closed(lab, taken):
    groups, partnerships = live(lab)
    nodes = [model.ClusterNode(name=n, state="Up") for n in lab.state.nodes]
    quiet = ClusterState(nodes=nodes, sr_groups=groups, sr_partnerships=partnerships)
    assert sr.removal_blockers(taken, quiet) == []
    paused = [model.ClusterNode(name=n, state="Paused" if n == "LAB-B2" else "Up") for n in lab.state.nodes]
    assert "LAB-B2 is Paused: every node must be Up" in sr.removal_blockers(
        taken, ClusterState(nodes=paused, sr_groups=groups, sr_partnerships=partnerships))
    assert any("Storage Replica partnerships: not read" in r
               for r in sr.removal_blockers(taken, ClusterState(nodes=nodes, sr_groups=groups)))
    syncing = [g.model_copy(deep=True) for g in groups]
    syncing[1].replicas[0].replication_status = "InitialBlockCopy"
    syncing[1].replicas[0].num_of_bytes_remaining = 2 * GIB
    reasons = sr.removal_blockers(taken, ClusterState(nodes=nodes, sr_groups=syncing, sr_partnerships=partnerships))
    assert reasons == ["Storage Replica group SiteB-Replica01-RG is InitialBlockCopy, 2.0 GiB left: "
                       "wait until it replicates"]


# -------------------------------------------------------------------- the lab


@pytest.fixture
def lab_ctx(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    lab.state.timings.sr_initial_sync = 0.5
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    ctx.poll = 0.05
    return lab, ctx


def calls(ctx, operation: str) -> list[dict]:
    return [r for r in ctx.audit.records() if r["operation"] == operation]


def mutations(ctx) -> list[dict]:
    return [r for r in ctx.audit.records() if r["mutates"]]


async def test_snapshot_is_written_reread_and_tamper_is_caught(lab_ctx):
    lab, ctx = lab_ctx
    snapshot = await asyncio.wait_for(sr.take_snapshot(ctx), GUARD)
    info = sr.snapshot_info(ctx)
    assert info.reread and info.status is StepStatus.DONE and info.partnerships == 2
    assert info.path.parent == sr.snapshot_dir(ctx) and info.path.parent.parent.name == "LAB-STRETCH"
    latest = info.path.parent / "latest.json"
    assert latest.read_bytes() == info.path.read_bytes()
    record = ctx.journal.step(4, "sr-snapshot")
    assert record.data["path"] == str(info.path) and record.data["reread"] is True and len(record.data["sha256"]) == 64
    assert sr.reread_snapshot(ctx) == snapshot
    assert sr.SRSnapshot.model_validate_json(info.path.read_text()).partnerships[1].label == SECOND

    text = json.loads(info.path.read_text())
    text["partnerships"][0]["log_size_in_bytes"] = 4 * GIB  # someone "fixes" the file by hand
    info.path.write_text(json.dumps(text, indent=2))
    # The removal reads it again itself: a file that is not what was written refuses it.
    with pytest.raises(Refused, match="changed since it was written"):
        await sr.remove_partnerships(ctx)
    with pytest.raises(sr.SnapshotError, match="changed since it was written"):
        sr.reread_snapshot(ctx)
    assert sr.snapshot_info(ctx).reread is False
    assert ctx.journal.step(4, "sr-snapshot").status is StepStatus.FAILED
    assert sr.menu_state(ctx) == "snapshot not re-read"
    with pytest.raises(Refused, match="not re-read"):
        await sr.recreate(ctx)
    assert len(lab.state.partnerships) == 2 and mutations(ctx) == []


async def test_removal_needs_a_reread_snapshot(lab_ctx):
    lab, ctx = lab_ctx
    with pytest.raises(Refused) as caught:
        await sr.remove_partnerships(ctx)
    assert "no Storage Replica snapshot has been taken" in caught.value.sentence
    await sr.take_snapshot(ctx, reread=False)
    with pytest.raises(Refused) as caught:
        await sr.remove_partnerships(ctx)
    assert "was not re-read" in caught.value.sentence
    with pytest.raises(Refused, match="was not re-read"):
        await sr.recreate(ctx)
    assert len(lab.state.partnerships) == 2 and mutations(ctx) == []
    sr.reread_snapshot(ctx)
    await asyncio.wait_for(sr.remove_partnerships(ctx), GUARD)
    assert lab.state.partnerships == []


async def test_snapshot_remove_recreate_diff(lab_ctx):
    lab, ctx = lab_ctx
    await sr.take_snapshot(ctx)
    removed = await asyncio.wait_for(sr.remove_partnerships(ctx), GUARD)
    assert removed == [FIRST, SECOND]
    assert lab.state.partnerships == []
    # The destination groups went; the source groups stayed.
    assert sorted(g.name for g in lab.state.sr_groups) == ["SiteA-Data01-RG", "SiteA-Data02-RG"]
    assert ctx.journal.step(4, "sr-remove").status is StepStatus.DONE
    assert [r["parameters"]["SourceRGName"] for r in calls(ctx, "remove_sr_partnership")] == [
        "SiteA-Data01-RG", "SiteA-Data02-RG"]
    # A new snapshot now would forget how to recreate them: refused, the old one stays.
    path = sr.snapshot_info(ctx).path
    with pytest.raises(Refused, match="would forget it"):
        await sr.take_snapshot(ctx)
    assert sr.snapshot_info(ctx).path == path and sr.snapshot_info(ctx).reread

    seen: list[tuple[str, str, float | None]] = []
    differences = await asyncio.wait_for(sr.recreate(ctx, lambda e: seen.append((e.node, e.text, e.fraction))), GUARD)
    assert differences == []
    assert len(lab.state.partnerships) == 2
    assert all(g.status == "ContinuouslyReplicating" for g in lab.state.sr_groups)
    # The initial block copy was watched: fractions between 0 and 1 from NumOfBytesRemaining.
    fractions = [f for n, t, f in seen if n == FIRST and t.startswith("initial sync:")]
    assert fractions and all(0 <= f < 1 for f in fractions)
    assert (FIRST, "initial sync done: ContinuouslyReplicating", 1.0) in seen
    # One at a time: the second was created only after the first replicated.
    order = [(n, t) for n, t, f in seen]
    assert order.index((FIRST, "replicating, same as the snapshot")) < order.index((SECOND, "New-SRPartnership"))
    assert [r["outcome"] for r in calls(ctx, "new_sr_partnership")] == ["ok", "ok"]
    for label in (FIRST, SECOND):
        assert ctx.journal.step(6, "sr-recreate", label).status is StepStatus.DONE
    assert ctx.journal.step(6, "sr-diff").status is StepStatus.DONE
    assert await sr.compare(ctx) == []
    assert sr.menu_state(ctx) == "2/2 recreated, diff same"


async def test_a_wrong_recreate_is_caught(lab_ctx):
    lab, ctx = lab_ctx
    await sr.take_snapshot(ctx)
    await sr.remove_partnerships(ctx)
    snapshot = sr.load_snapshot(ctx)
    wrong = sr.recreate_params(snapshot.partnerships[0])
    wrong["log_size_in_bytes"] = 4 * GIB
    await ctx.client.invoke_cluster(sr_ops.new_sr_partnership, wrong)
    differences = await sr.compare(ctx)
    assert (FIRST, "source log size", "8.0 GiB", "4.0 GiB") in [(d.partnership, d.field, d.expected, d.actual)
                                                            for d in differences]
    assert (SECOND, "missing") in [(d.partnership, d.kind) for d in differences]
    with pytest.raises(StepFailed) as caught:
        await asyncio.wait_for(sr.recreate(ctx), GUARD)
    assert "differs from the snapshot" in caught.value.sentence and "log size" in caught.value.sentence
    assert ctx.journal.step(6, "sr-recreate", FIRST).status is StepStatus.FAILED
    # It stopped there: the second was not created.
    assert len(calls(ctx, "new_sr_partnership")) == 1


async def test_removal_refused_while_the_snapshot_is_out_of_date_or_a_node_is_down(lab_ctx):
    lab, ctx = lab_ctx
    await sr.take_snapshot(ctx)
    lab.state.sr_groups[0].log_size_in_bytes = 16 * GIB  # changed after the snapshot
    with pytest.raises(Refused) as caught:
        await sr.remove_partnerships(ctx)
    assert any("source log size: snapshot 8.0 GiB, now 16.0 GiB" in r and "out of date" in r
               for r in caught.value.reasons)
    lab.state.sr_groups[0].log_size_in_bytes = 8 * GIB
    lab.state.nodes["LAB-B2"].cluster_state = "Paused"
    with pytest.raises(Refused) as caught:
        await sr.remove_partnerships(ctx)
    assert caught.value.reasons == ["LAB-B2 is Paused: every node must be Up"]
    assert len(lab.state.partnerships) == 2 and mutations(ctx) == []


async def test_an_interrupted_removal_goes_on(lab_ctx):
    lab, ctx = lab_ctx
    await sr.take_snapshot(ctx)
    lab.execute("LAB-A1", "remove_sr_partnership", sr_ops.remove_sr_partnership.make_params(
        sr.remove_params(sr.load_snapshot(ctx).partnerships[0])).to_ps())
    assert await asyncio.wait_for(sr.remove_partnerships(ctx), GUARD) == [SECOND]
    assert lab.state.partnerships == []


async def test_the_prompt_trap(lab_ctx, monkeypatch):
    lab, ctx = lab_ctx
    declared = sr_ops.remove_sr_partnership
    assert "Remove-SRPartnership @remove -Force" in declared.script
    assert "Remove-SRPartnerships" not in declared.script
    await sr.take_snapshot(ctx)
    # Without -Force, the cmdlet would prompt; a remote pipeline cannot answer.
    prompting = dataclasses.replace(declared, script=declared.script.replace(" -Force", ""))
    monkeypatch.setitem(ps.OPERATIONS, "remove_sr_partnership", prompting)
    monkeypatch.setattr(sr_ops, "remove_sr_partnership", prompting)
    with pytest.raises(StepFailed) as caught:
        await asyncio.wait_for(sr.remove_partnerships(ctx), GUARD)
    assert NON_INTERACTIVE.rstrip(".") in caught.value.sentence
    assert len(lab.state.partnerships) == 2
    assert ctx.journal.step(4, "sr-remove").status is StepStatus.FAILED
    # With -Force back, the removal goes on and succeeds.
    monkeypatch.setitem(ps.OPERATIONS, "remove_sr_partnership", declared)
    monkeypatch.setattr(sr_ops, "remove_sr_partnership", declared)
    assert await asyncio.wait_for(sr.remove_partnerships(ctx), GUARD) == [FIRST, SECOND]
    assert lab.state.partnerships == [] and ctx.journal.step(4, "sr-remove").status is StepStatus.DONE
    lab.execute("LAB-A1", "new_sr_partnership", sr_ops.new_sr_partnership.make_params(
        sr.recreate_params(sr.load_snapshot(ctx).partnerships[0])).to_ps())
    # The guide's typo is no cmdlet at all.
    typo = dataclasses.replace(declared, script=declared.script.replace("Remove-SRPartnership @",
                                                                        "Remove-SRPartnerships @"))
    refusals = frontdoor.check(typo.script)
    assert refusals and "'Remove-SRPartnerships' is not recognized" in str(refusals[0])


async def test_killed_mid_recreate_resumes_without_creating_twice(lab_ctx, tmp_path):
    lab, ctx = lab_ctx
    lab.state.timings.sr_initial_sync = 2.0
    await sr.take_snapshot(ctx)
    await sr.remove_partnerships(ctx)
    seen: list[tuple[str, str, float | None]] = []
    task = asyncio.ensure_future(sr.recreate(ctx, lambda e: seen.append((e.node, e.text, e.fraction))))
    for _ in range(400):  # until the first partnership's initial sync is under way
        await asyncio.sleep(0.05)
        if any(n == FIRST and f is not None and 0 < f < 1 for n, t, f in seen):
            break
    assert any(n == FIRST and t.startswith("initial sync:") for n, t, f in seen)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # A new process: the step that was running is unknown, never assumed done.
    ctx.journal = Journal.open(tmp_path, ctx.name)
    assert ctx.journal.step(6, "sr-recreate", FIRST).status is StepStatus.UNKNOWN
    assert "recreated" in sr.menu_state(ctx)
    seen.clear()
    await asyncio.wait_for(sr.recreate(ctx, lambda e: seen.append((e.node, e.text, e.fraction))), GUARD)
    assert (FIRST, "already present: checking its sync", None) in seen
    assert [r["parameters"]["SourceRGName"] for r in calls(ctx, "new_sr_partnership")] == [
        "SiteA-Data01-RG", "SiteA-Data02-RG"]  # the first was not created twice
    assert all(ctx.journal.step(6, "sr-recreate", label).status is StepStatus.DONE for label in (FIRST, SECOND))


async def test_reverifiers_after_an_interruption(lab_ctx, tmp_path):
    from hcitui.workflow import resume

    lab, ctx = lab_ctx
    await sr.take_snapshot(ctx)
    await sr.remove_partnerships(ctx)
    record = ctx.journal.set_step(6, "sr-recreate", FIRST, StepStatus.UNKNOWN, "interrupted")
    assert (await resume.reverify(ctx, record)).status is StepStatus.PENDING
    await sr.recreate(ctx)
    assert (await resume.reverify(ctx, record)).status is StepStatus.DONE
    removal = ctx.journal.step(4, "sr-remove")
    assert (await resume.reverify(ctx, removal)).status is StepStatus.PENDING  # they are back


async def test_the_whole_cycle_over_winrm(tmp_path):
    """Through pypsrp and the lab's WinRM endpoint: a log size in bytes is beyond Int32 on the wire."""
    lab = wiring.open_lab(tmp_path, 4)
    lab.state.timings.sr_initial_sync = 0.5
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path, transport="winrm")
    ctx.poll = 0.05
    try:
        await asyncio.wait_for(sr.take_snapshot(ctx), GUARD)
        assert await asyncio.wait_for(sr.remove_partnerships(ctx), GUARD) == [FIRST, SECOND]
        assert await asyncio.wait_for(sr.recreate(ctx), GUARD) == []
        assert [r["parameters"]["LogSizeInBytes"] for r in calls(ctx, "new_sr_partnership")] == [8 * GIB, 8 * GIB]
        assert all(g.log_size_in_bytes == 8 * GIB for g in lab.state.sr_groups)
    finally:
        await ctx.close()


def test_lab_validates_like_a_real_host(lab):
    remove = {"SourceRGName": "SiteA-Data01-RG", "DestinationComputerName": "LAB-B1",
              "DestinationRGName": "SiteB-Replica01-RG"}
    with pytest.raises(LabPowerShellError, match="Unable to find replication group Nope-RG"):
        lab.execute("LAB-A1", "remove_sr_partnership", {**remove, "SourceRGName": "Nope-RG"})
    new = {"SourceComputerName": "LAB-A1", "SourceRGName": "SiteA-Data01-RG",
           "SourceVolumeName": ["C:\\ClusterStorage\\SiteA-Data01"], "SourceLogVolumeName": _volume_path("log-a-01"),
           "DestinationComputerName": "LAB-B1", "DestinationRGName": "SiteB-Replica01-RG",
           "DestinationVolumeName": [_volume_path("data-b-01")], "DestinationLogVolumeName": _volume_path("log-b-01")}
    with pytest.raises(LabPowerShellError, match="already exists"):
        lab.execute("LAB-A1", "new_sr_partnership", new)
    lab.execute("LAB-A1", "remove_sr_partnership", remove)
    for change, words in [
        ({"LogSizeInBytes": 256 * 1024**2}, "minimum is 512 MB"),
        ({"ReplicationMode": "Asynchronous", "AsyncRPO": 10}, "minimum is 30 seconds"),
        ({"DestinationVolumeName": ["\\\\?\\Volume{nope}\\"]},
         "destination data volume \\\\?\\Volume{nope}\\ was not found"),
        ({"DestinationLogVolumeName": _volume_path("log-a-01")}, "is not available on a node of SiteB"),
        ({"DestinationVolumeName": [_volume_path("data-b-02")]}, "already in replication group SiteB-Replica02-RG"),
        ({"DestinationComputerName": "LAB-A2"}, "same site"),
    ]:
        with pytest.raises(LabPowerShellError, match=re.escape(words)):
            lab.execute("LAB-A1", "new_sr_partnership", {**new, **change})
    assert len(lab.state.partnerships) == 1  # nothing was created by the refused calls
    lab.execute("LAB-A1", "new_sr_partnership", {**new, "ReplicationMode": "Asynchronous", "AsyncRPO": 60,
                                                 "EnableEncryption": True})
    groups, _ = live(lab)
    destination = group(groups, "SiteB-Replica01-RG")
    assert str(destination.replicas[0].replication_status) == "InitialBlockCopy"
    assert destination.bytes_remaining > 0
    assert (str(destination.replication_mode), destination.async_rpo, destination.is_encrypted) == (
        "Asynchronous", 60, True)


def test_params_refuse_what_new_srpartnership_would():
    base = dict(source_rg_name="A", source_volume_name=["C:\\x"], source_log_volume_name="L:",
                destination_computer_name="B1", destination_rg_name="B", destination_volume_name=["D:"],
                destination_log_volume_name="M:")
    with pytest.raises(ValueError):
        sr_ops.NewPartnershipParams(**base, log_size_in_bytes=256 * 1024**2)
    with pytest.raises(ValueError):
        sr_ops.NewPartnershipParams(**base, async_rpo=5)
    with pytest.raises(ValueError):
        sr_ops.NewPartnershipParams(**{**base, "source_volume_name": []})
    params = sr_ops.NewPartnershipParams(**base, enable_encryption=False, seeded=True)
    assert params.to_ps()["Seeded"] is True and "EnableEncryption" not in params.to_ps()  # switches only when on
    text = sr_ops.new_sr_partnership.render(params)
    assert "-SourceRGName 'A'" in text and "-SourceVolumeName @('C:\\x')" in text


def test_snapshot_view_shows_equivalent_commands(taken):
    text = sr.view_text(taken)
    assert text.count("New-SRPartnership `") == 2
    assert "-DestinationVolumeName @('" + _volume_path("data-b-01").replace("'", "''") + "')" in text
    assert "-LogSizeInBytes 8589934592" in text and "-Force" in text and "-AsyncRPO" not in text
    assert '"schema_version": 1' in text


# -------------------------------------------------------- typed progress and remedies


async def test_progress_is_typed(lab_ctx):
    """Stage, status, bytes and position are fields of the event: no front end reads them from its words."""
    lab, ctx = lab_ctx
    events: list[ProgressEvent] = []
    await sr.take_snapshot(ctx, events.append)
    assert events[-1].stage is Stage.DONE and (events[-1].done, events[-1].total) == (2, 2)
    events.clear()
    await asyncio.wait_for(sr.remove_partnerships(ctx, events.append), GUARD)
    assert [(e.node, e.stage, e.position) for e in events if e.stage is Stage.DONE] == [
        (FIRST, Stage.DONE, (1, 2)), (SECOND, Stage.DONE, (2, 2))]
    events.clear()
    await asyncio.wait_for(sr.recreate(ctx, events.append), GUARD)
    copying = [e for e in events if e.node == FIRST and e.stage is Stage.WAITING and e.total]
    assert copying, [e.text for e in events]
    for e in copying:
        assert e.status == "InitialBlockCopy" and e.since is not None and e.position == (1, 2)
        assert 0 <= e.done < e.total and e.fraction == pytest.approx(e.done / e.total)
    assert len({e.since for e in copying}) == 1  # one wait, one start
    synced = next(e for e in events if e.node == FIRST and e.fraction == 1.0 and e.stage is Stage.WORKING)
    assert synced.status == "ContinuouslyReplicating" and synced.done == synced.total > 0
    assert [(e.node, e.position) for e in events if e.stage is Stage.DONE] == [(FIRST, (1, 2)), (SECOND, (2, 2))]
    assert not any(e.stage is Stage.FAILED for e in events)


async def test_the_initial_sync_estimates_its_finish_from_its_rate(lab_ctx):
    # The bytes remaining are read each poll: the first read has no rate ("estimate unknown"), the next
    # ones a time at the rate they went down; an event that is not the sync's makes no estimate.
    lab, ctx = lab_ctx
    lab.state.timings.sr_initial_sync = 2.0
    await sr.take_snapshot(ctx)
    await asyncio.wait_for(sr.remove_partnerships(ctx), GUARD)
    began = datetime.now(UTC)
    events: list[ProgressEvent] = []
    await asyncio.wait_for(sr.recreate(ctx, events.append), GUARD)
    syncing = [e for e in events if e.node == FIRST and e.stage is Stage.WAITING and e.total]
    assert len(syncing) >= 3, [e.text for e in events]
    assert eta.is_unknown(syncing[0].eta)
    timed = [e.eta for e in syncing[1:]]
    assert all(t is not None and not eta.is_unknown(t) and t >= began for t in timed)
    assert all(e.eta is None for e in events if not (e.stage is Stage.WAITING and e.total))


async def test_a_failed_partnership_is_a_failed_event(lab_ctx):
    lab, ctx = lab_ctx
    await sr.take_snapshot(ctx)
    await sr.remove_partnerships(ctx)
    wrong = sr.recreate_params(sr.load_snapshot(ctx).partnerships[0])
    wrong["log_size_in_bytes"] = 4 * GIB
    await ctx.client.invoke_cluster(sr_ops.new_sr_partnership, wrong)
    events: list[ProgressEvent] = []
    with pytest.raises(StepFailed):
        await asyncio.wait_for(sr.recreate(ctx, events.append), GUARD)
    failed = [e for e in events if e.stage is Stage.FAILED]
    assert [(e.node, e.position) for e in failed] == [(FIRST, (1, 2))]
    assert "differs from the snapshot" in failed[0].text and not failed[0].text.startswith(FIRST)


async def test_refusals_carry_their_remedy_not_a_key(lab_ctx):
    lab, ctx = lab_ctx
    with pytest.raises(Refused) as caught:
        await sr.remove_partnerships(ctx)
    assert caught.value.remedy is not None and caught.value.remedy.action is Action.SR_SNAPSHOT
    await sr.take_snapshot(ctx, reread=False)
    with pytest.raises(Refused) as not_reread:
        await sr.recreate(ctx)
    assert not_reread.value.remedy.action is Action.SR_REREAD
    sr.reread_snapshot(ctx)
    info = sr.snapshot_info(ctx)
    info.path.write_text(info.path.read_text().replace("8589934592", "4294967296"))
    with pytest.raises(sr.SnapshotError) as changed:
        sr.load_snapshot(ctx)
    assert changed.value.remedy.action is Action.SR_SNAPSHOT
    for error in (caught.value, not_reread.value, changed.value):
        # The words name the thing to do; no key letter or command line is left in them.
        assert not re.search(r"\([a-z](,|\))", error.sentence) and "hcitui" not in error.sentence, error.sentence


# ------------------------------------------------------------------- headless


@pytest.fixture
def in_process(monkeypatch):
    lab_in_process(monkeypatch, {"sr_initial_sync": 0.5}, poll=0.05)


def audit(state_home) -> list[dict]:
    path = state_home / "clusters" / "LAB-STRETCH" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_headless_steps_end_to_end(in_process, capsys, state_home):
    assert cli.main(["--lab", "sr-diff"]) == 2
    assert "nothing to compare with" in capsys.readouterr().err
    assert cli.main(["--lab", "sr-remove", "--yes"]) == 1
    assert "no Storage Replica snapshot has been taken" in capsys.readouterr().err

    assert cli.main(["--lab", "--read-only", "sr-snapshot"]) == 0  # reads only: allowed read-only
    out = capsys.readouterr().out
    assert "2 partnerships written and re-read" in out and "New-SRPartnership" in out
    assert cli.main(["--lab", "sr-diff"]) == 0
    assert "SAME: 2 partnerships" in capsys.readouterr().out

    assert cli.main(["--lab", "--read-only", "sr-remove", "--yes"]) == 1
    assert "read-only" in capsys.readouterr().err
    assert cli.main(["--lab", "sr-remove"]) == 1  # destructive: --yes stands for the typed name
    assert "cannot be undone" in capsys.readouterr().err
    assert cli.main(["--lab", "sr-remove", "--dry-run"]) == 0
    assert "Remove-SRPartnership @remove -Force" in capsys.readouterr().out
    assert not any(r["mutates"] for r in audit(state_home))

    assert cli.main(["--lab", "sr-remove", "--yes"]) == 0
    assert "sr-remove: done" in capsys.readouterr().out
    assert cli.main(["--lab", "sr-diff", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["same"] is False and {d["kind"] for d in payload["differences"]} == {"missing"}

    assert cli.main(["--lab", "sr-recreate", "--yes"]) == 0
    assert "sr-recreate: done" in capsys.readouterr().out
    assert cli.main(["--lab", "sr-diff"]) == 0
    assert [r["operation"] for r in audit(state_home) if r["mutates"]] == [
        "remove_sr_partnership", "remove_sr_partnership", "new_sr_partnership", "new_sr_partnership"]


def test_headless_diff_catches_a_wrong_recreate(in_process, capsys, state_home):
    assert cli.main(["--lab", "sr-snapshot"]) == 0
    assert cli.main(["--lab", "sr-remove", "--yes"]) == 0
    lab = wiring.open_lab(state_home, 4)
    lab.state.timings.sr_initial_sync = 0.2
    values = ps.get("new_sr_partnership").make_params({
        "SourceComputerName": "LAB-A1", "SourceRGName": "SiteA-Data02-RG",
        "SourceVolumeName": ["C:\\ClusterStorage\\SiteA-Data02"], "SourceLogVolumeName": _volume_path("log-a-02"),
        "DestinationComputerName": "LAB-B1", "DestinationRGName": "SiteB-Replica02-RG",
        "DestinationVolumeName": [_volume_path("data-b-02")], "DestinationLogVolumeName": _volume_path("log-b-02"),
        "LogSizeInBytes": 16 * GIB}).to_ps()  # the wrong log size
    lab.execute("LAB-A1", "new_sr_partnership", values)
    lab.save()
    capsys.readouterr()
    assert cli.main(["--lab", "sr-diff"]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS " + SECOND + ": source log size: snapshot 8.0 GiB, now 16.0 GiB" in out and "DIFFERENT:" in out
    assert cli.main(["--lab", "sr-recreate", "--yes"]) == 1  # the first is recreated; the second differs
    assert "differs from the snapshot" in capsys.readouterr().err
