"""4) ISO staging: the resumable copy, staging and its proof on the lab, the reference, the config."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

import pytest

from hcitui.cli import context as wiring
from hcitui.core import model
from hcitui.core.config import ConfigError, parse_config
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepStatus
from hcitui.lab.state import ISO_FILE_COUNT, ISO_SIZE
from hcitui.ps.iso import CHUNK_BYTES
from hcitui.workflow import eta, staging
from hcitui.workflow.events import Stage
from hcitui.workflow.staging import IsoState, NodeIso
from hcitui.workflow.steps import Refused, StepFailed

NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
CHUNKS = ISO_SIZE // CHUNK_BYTES
GUARD = 60


@pytest.fixture
def lab_ctx(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    t = lab.state.timings
    t.stage_iso, t.reboot, t.cluster_join, t.repair, t.drain_step = 0.2, 0.3, 0.2, 0.3, 0.02
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    ctx.poll = 0.05
    return lab, ctx


def calls(ctx, operation: str, since: int = 0) -> list[dict]:
    return [r for r in list(ctx.audit.records())[since:] if r["operation"] == operation]


def audit_size(ctx) -> int:
    return len(list(ctx.audit.records()))


def iso_length(lab, node: str) -> int | None:
    return lab.state.nodes[node].files.get(lab.state.iso_path)


# ------------------------------------------------------------------ the source


def test_the_lab_source_iso_is_made_once_and_is_the_nodes_size(lab_ctx, tmp_path):
    lab, ctx = lab_ctx
    source = ctx.cluster.iso_source
    assert source == tmp_path / "lab" / "AzureLocal-2509-25398.iso"
    assert source.stat().st_size == ISO_SIZE
    stamp = source.stat().st_mtime_ns
    assert wiring.lab_cluster_config(lab).iso_source == source
    assert source.stat().st_mtime_ns == stamp  # not rewritten: an interrupted copy can resume


def test_config_iso_source_must_be_an_existing_file(tmp_path):
    iso = tmp_path / "my.iso"
    base = "[[clusters]]\nname = 'C1'\nnodes = ['N1']\niso_source = '{}'\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(base.format(iso), "t.toml")
    assert "iso_source" in caught.value.problems[0] and "is not an existing file" in caught.value.problems[0]
    iso.write_bytes(b"x")
    assert parse_config(base.format(iso), "t.toml").clusters[0].iso_source == iso


# ------------------------------------------------------------------ pure parts


def staged(count: int, size: int, setup: bool = True) -> model.StagingInfo:
    return model.StagingInfo(path="C:\\S", exists=True, has_setup=setup, file_count=count, total_bytes=size)


def rows(**infos) -> dict[str, NodeIso]:
    return {name: NodeIso(name, staging=info) for name, info in infos.items()}


def test_reference_is_the_majority_then_the_first():
    assert staging.reference(rows(A=staged(5, 50), B=staged(4, 40), C=staged(4, 40)), ["A", "B", "C"]) == ("B", (4, 40))
    assert staging.reference(rows(A=staged(5, 50), B=staged(4, 40)), ["A", "B"]) == ("A", (5, 50))
    assert staging.reference(rows(A=staged(5, 50, setup=False), B=staged(4, 40)), ["A", "B"]) == ("B", (4, 40))
    assert staging.reference(rows(A=staged(5, 50, setup=False)), ["A"]) is None


def test_judge_staging_gives_the_numbers():
    ok, reason = staging.judge_staging(NodeIso("B", staging=staged(4, 40)), ("A", (5, 50)), "C:\\S")
    assert not ok and "4 files, 40 bytes" in reason and "A's 5 files, 50 bytes" in reason
    ok, reason = staging.judge_staging(NodeIso("B", staging=staged(5, 50, setup=False)), None, "C:\\S")
    assert not ok and "setup.exe is missing" in reason
    assert staging.judge_staging(NodeIso("A", staging=staged(5, 50)), ("A", (5, 50)), "C:\\S")[0]


# ------------------------------------------------------------------------ copy


async def test_fresh_lab_lacks_the_iso_on_lab_b2_only(lab_ctx):
    _lab, ctx = lab_ctx
    report = await staging.read_iso(ctx)
    states = {n: r.iso_state(report.source_size) for n, r in report.rows.items()}
    assert states == {"LAB-A1": IsoState.PRESENT, "LAB-A2": IsoState.PRESENT, "LAB-B1": IsoState.PRESENT,
                      "LAB-B2": IsoState.MISSING}
    assert report.reference is None


async def test_copy_to_lab_b2(lab_ctx):
    lab, ctx = lab_ctx
    seen, events = [], []
    outcome = await asyncio.wait_for(staging.copy_iso(
        ctx, progress=lambda e: (seen.append((e.node, e.fraction)), events.append(e))), GUARD)
    assert outcome == {"LAB-A1": "already there", "LAB-A2": "already there", "LAB-B1": "already there",
                       "LAB-B2": "copied"}
    assert iso_length(lab, "LAB-B2") == ISO_SIZE
    chunks = calls(ctx, "write_file_chunk")
    assert {r["node"] for r in chunks} == {"LAB-B2"}
    assert [r["parameters"]["Offset"] for r in chunks] == [i * CHUNK_BYTES for i in range(CHUNKS)]
    assert ctx.journal.step(3, "iso-copy", "LAB-B2").status is StepStatus.DONE
    fractions = [f for n, f in seen if n == "LAB-B2" and f is not None]
    assert fractions[0] == 0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    # The bytes are fields: done of total, the source's size; the stage says skipped, copying, done.
    copying = [e for e in events if e.node == "LAB-B2"]
    assert all(e.total == ISO_SIZE for e in copying) and [e.done for e in copying] == sorted(e.done for e in copying)
    assert copying[-1].done == ISO_SIZE and copying[-1].stage is Stage.DONE
    assert all(e.stage is Stage.WORKING for e in copying[:-1])
    assert {e.node: e.stage for e in events if e.node != "LAB-B2"} == {n: Stage.SKIPPED for n in NODES[:3]}
    assert not any(e.text.startswith("FAILED") or "%" in e.text for e in events)
    # The proof is a read of the node's file after the copy.
    assert calls(ctx, "get_path_info")[-1]["node"] == "LAB-B2"


async def test_copies_say_which_node_of_them_and_when_they_all_finish(lab_ctx):
    # Two nodes lack the ISO: each copy's events say node i of 2; the finish is every copy's, at the rate
    # the bytes went over this machine's uplink: unknown until a second count, then a time; none once done.
    lab, ctx = lab_ctx
    del lab.state.nodes["LAB-A2"].files[lab.state.iso_path]
    began = datetime.now(UTC)
    events = []
    outcome = await asyncio.wait_for(staging.copy_iso(ctx, progress=events.append), GUARD)
    assert outcome["LAB-A2"] == outcome["LAB-B2"] == "copied"
    copying = [e for e in events if e.total]
    assert {e.node: e.position for e in copying} == {"LAB-A2": (1, 2), "LAB-B2": (2, 2)}
    assert eta.is_unknown(copying[0].eta)  # one count: no rate yet
    timed = [e for e in copying[1:] if e.node == "LAB-A2" or e.done < e.total]
    assert timed and all(e.eta is not None and not eta.is_unknown(e.eta) and e.eta >= began for e in timed)
    ended = [e for e in copying if e.node == "LAB-B2" and e.done == e.total]  # its last chunk, then its end
    assert ended and all(e.eta is None for e in ended) and ended[-1].stage is Stage.DONE
    # LAB-A2's end still has LAB-B2's copy ahead of it: a time, not the end.
    a2_done = next(e for e in copying if e.node == "LAB-A2" and e.stage is Stage.DONE)
    assert a2_done.eta is not None and not eta.is_unknown(a2_done.eta)


async def test_an_interrupted_copy_resumes_at_the_recorded_offset(lab_ctx):
    lab, ctx = lab_ctx
    task: asyncio.Task | None = None

    def cancel_after_three(event):
        if len(calls(ctx, "write_file_chunk")) == 3 and task is not None:
            task.cancel()

    task = asyncio.ensure_future(staging.copy_iso(ctx, ["LAB-B2"], cancel_after_three))
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, GUARD)
    assert iso_length(lab, "LAB-B2") == 3 * CHUNK_BYTES
    record = ctx.journal.step(3, "iso-copy", "LAB-B2")
    assert record.status is StepStatus.FAILED and "interrupted" in record.detail
    assert staging.journal_summary(ctx.journal, NODES) == "0/4 nodes staged, copy to LAB-B2 unfinished"

    start = audit_size(ctx)
    assert await asyncio.wait_for(staging.copy_iso(ctx, ["LAB-B2"]), GUARD) == {"LAB-B2": "copied"}
    resumed = calls(ctx, "write_file_chunk", start)
    assert len(resumed) == CHUNKS - 3
    assert resumed[0]["parameters"]["Offset"] == 3 * CHUNK_BYTES
    assert iso_length(lab, "LAB-B2") == ISO_SIZE


async def test_a_chunk_sent_but_unconfirmed_still_resumes(lab_ctx):
    """Killed after the node wrote a chunk but before we heard back: the journal knew it was in flight."""
    lab, ctx = lab_ctx
    source = ctx.cluster.iso_source
    stat = source.stat()
    lab.state.nodes["LAB-B2"].files[lab.state.iso_path] = 5 * CHUNK_BYTES
    ctx.journal.set_step(3, "iso-copy", "LAB-B2", StepStatus.RUNNING, "copying",
                         data={"source_size": stat.st_size, "source_mtime_ns": stat.st_mtime_ns,
                               "offset": 4 * CHUNK_BYTES, "sending_to": 5 * CHUNK_BYTES})
    await staging.copy_iso(ctx, ["LAB-B2"])
    chunks = calls(ctx, "write_file_chunk")
    assert len(chunks) == CHUNKS - 5 and chunks[0]["parameters"]["Offset"] == 5 * CHUNK_BYTES


@pytest.mark.parametrize("change", ["source", "length", "no record"])
async def test_a_copy_starts_over_when_anything_disagrees(lab_ctx, change):
    lab, ctx = lab_ctx
    source = ctx.cluster.iso_source
    stat = source.stat()
    lab.state.nodes["LAB-B2"].files[lab.state.iso_path] = 3 * CHUNK_BYTES
    if change != "no record":
        ctx.journal.set_step(3, "iso-copy", "LAB-B2", StepStatus.FAILED, "interrupted",
                             data={"source_size": stat.st_size, "source_mtime_ns": stat.st_mtime_ns,
                                   "offset": 3 * CHUNK_BYTES, "sending_to": None})
    if change == "source":
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a new file at the same path
    if change == "length":
        lab.state.nodes["LAB-B2"].files[lab.state.iso_path] = 2 * CHUNK_BYTES + 17
    await staging.copy_iso(ctx, ["LAB-B2"])
    chunks = calls(ctx, "write_file_chunk")
    assert len(chunks) == CHUNKS and chunks[0]["parameters"]["Offset"] == 0
    assert iso_length(lab, "LAB-B2") == ISO_SIZE


async def test_copy_needs_a_source(lab_ctx):
    lab, ctx = lab_ctx
    ctx.cluster = ctx.cluster.model_copy(update={"iso_source": None})
    with pytest.raises(Refused, match="no iso_source"):
        await staging.copy_iso(ctx)
    assert calls(ctx, "write_file_chunk") == []


# ----------------------------------------------------------------------- stage


async def test_stage_all_nodes_copies_then_stages_and_verifies(lab_ctx):
    lab, ctx = lab_ctx
    outcome = await asyncio.wait_for(staging.stage(ctx), GUARD)
    assert outcome == {n: "staged and verified" for n in NODES}
    assert iso_length(lab, "LAB-B2") == ISO_SIZE
    records = list(ctx.audit.records())
    first_stage = next(i for i, r in enumerate(records) if r["operation"] == "stage_iso")
    last_chunk = max(i for i, r in enumerate(records) if r["operation"] == "write_file_chunk")
    assert last_chunk < first_stage  # the copy comes first
    assert sorted(r["node"] for r in calls(ctx, "stage_iso")) == NODES
    for name in NODES:
        media = lab.state.nodes[name].staged[lab.state.staging_path]
        assert media.has_setup and media.file_count == ISO_FILE_COUNT
        step = ctx.journal.step(3, "iso-stage", name)
        assert step.status is StepStatus.DONE and step.data["file_count"] == ISO_FILE_COUNT
    report = await staging.read_iso(ctx)
    assert len({r.counts for r in report.rows.values()}) == 1
    assert staging.journal_summary(ctx.journal, NODES) == "4/4 nodes staged"


async def test_a_second_run_skips_the_staged_nodes(lab_ctx):
    _lab, ctx = lab_ctx
    first = []
    await asyncio.wait_for(staging.stage(ctx, progress=first.append), GUARD)
    # Staging after a copy: the copy's end is not the node's end; the proof is.
    assert [e.stage for e in first if e.node == "LAB-B2" and e.text.startswith("copied")] == [Stage.WORKING]
    assert {e.node for e in first if e.stage is Stage.DONE} == set(NODES)
    start = audit_size(ctx)
    events = []
    outcome = await asyncio.wait_for(staging.stage(ctx, progress=events.append), GUARD)
    assert outcome == {n: "already staged and verified" for n in NODES}
    assert {e.node: e.stage for e in events} == {n: Stage.SKIPPED for n in NODES}
    assert calls(ctx, "stage_iso", start) == [] and calls(ctx, "write_file_chunk", start) == []
    assert {r["node"] for r in calls(ctx, "get_staging_info", start)} == set(NODES)  # a fresh read, each node


async def test_a_node_whose_staging_differs_is_flagged_then_restaged(lab_ctx):
    lab, ctx = lab_ctx
    await asyncio.wait_for(staging.stage(ctx), GUARD)
    lab.state.nodes["LAB-B1"].staged[lab.state.staging_path].file_count -= 1
    with pytest.raises(StepFailed) as caught:
        await staging.verify_staging(ctx)
    message = caught.value.message
    assert message.startswith("LAB-B1: ") and f"{ISO_FILE_COUNT - 1} files" in message
    assert f"differ from LAB-A1's {ISO_FILE_COUNT} files" in message
    assert ctx.journal.step(3, "iso-stage", "LAB-B1").status is StepStatus.FAILED
    assert staging.journal_summary(ctx.journal, NODES) == "3/4 nodes staged, 1 failed"
    start = audit_size(ctx)
    outcome = await asyncio.wait_for(staging.stage(ctx), GUARD)
    assert [r["node"] for r in calls(ctx, "stage_iso", start)] == ["LAB-B1"]
    assert outcome["LAB-B1"] == "staged and verified"
    assert staging.journal_summary(ctx.journal, NODES) == "4/4 nodes staged"


async def test_a_truncated_iso_fails_with_the_mount_error(lab_ctx):
    lab, ctx = lab_ctx
    ctx.cluster = ctx.cluster.model_copy(update={"iso_source": None})  # nothing to copy it again from
    lab.state.nodes["LAB-A2"].files[lab.state.iso_path] = ISO_SIZE // 2
    with pytest.raises(StepFailed) as caught:
        await asyncio.wait_for(staging.stage(ctx, ["LAB-A2"]), GUARD)
    assert "LAB-A2: stage_iso: Mount-DiskImage : The disc image file is corrupted" in caught.value.sentence
    step = ctx.journal.step(3, "iso-stage", "LAB-A2")
    assert step.status is StepStatus.FAILED and "corrupted" in step.detail


async def test_a_truncated_iso_is_copied_again_from_the_source(lab_ctx):
    lab, ctx = lab_ctx
    lab.state.nodes["LAB-A2"].files[lab.state.iso_path] = ISO_SIZE // 2
    assert await asyncio.wait_for(staging.stage(ctx, ["LAB-A2"]), GUARD) == {"LAB-A2": "staged and verified"}
    chunks = calls(ctx, "write_file_chunk")
    assert chunks[0]["parameters"]["Offset"] == 0 and len(chunks) == CHUNKS  # no record: from the start


async def test_a_missing_iso_without_a_source_fails_that_node(lab_ctx):
    _lab, ctx = lab_ctx
    ctx.cluster = ctx.cluster.model_copy(update={"iso_source": None})
    events = []
    with pytest.raises(StepFailed) as caught:
        await asyncio.wait_for(staging.stage(ctx, progress=events.append), GUARD)
    assert "LAB-B2: the ISO is not on the node" in caught.value.message and "no iso_source" in caught.value.message
    failed = [e for e in events if e.stage is Stage.FAILED]
    assert [e.node for e in failed] == ["LAB-B2"] and failed[0].text.startswith("the ISO is not on the node")
    assert "(LAB-A1, LAB-A2, LAB-B1 done)" in caught.value.message
    assert "LAB-B2" not in {r["node"] for r in calls(ctx, "stage_iso")}


async def test_read_only_refuses_copy_and_stage(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    ctx = wiring.context_for_lab(lab, read_only=True, state_root=tmp_path)
    for attempt in (staging.copy_iso(ctx), staging.stage(ctx)):
        with pytest.raises(Refused, match="read-only"):
            await attempt
    assert list(ctx.audit.records()) == []
    with pytest.raises(StepFailed, match="no node has setup.exe") as caught:
        await staging.verify_staging(ctx)  # a read: allowed, and nothing is staged yet
    assert caught.value.remedy == Remedy(action=Action.ISO_STAGE) and "(s)" not in caught.value.sentence
    assert not [r for r in ctx.audit.records() if r["mutates"]]


def test_plans_show_the_exact_powershell(lab_ctx):
    _lab, ctx = lab_ctx
    text = staging.plan_stage(ctx, NODES, missing=["LAB-B2"]).preview()
    assert text.count("Mount-DiskImage -ImagePath $IsoPath") == 4
    assert text.count("# write_file_chunk") == 1 and "on LAB-B2" in text
    assert f"{CHUNKS} calls, one per 256.0 KiB" in text
    copy = staging.plan_copy(ctx, ["LAB-B2"]).preview()
    assert "[System.IO.File]::Open" in copy and "-Offset 0" in copy


# ------------------------------------------------------------------ the audit log stays small


async def test_staging_a_64_mib_iso_leaves_an_audit_log_under_1_mb(tmp_path, monkeypatch):
    """Each 256 KiB chunk is recorded as its size and sha256, never its base64 (which was 1.4 times the ISO)."""
    import base64

    import hcitui.lab.cluster
    import hcitui.lab.serve
    import hcitui.lab.state
    from hcitui.ps.base import bulk_marker

    size = 64 * 1024 * 1024
    for module in (hcitui.lab.state, hcitui.lab.cluster, hcitui.lab.serve):  # serve makes the source ISO
        monkeypatch.setattr(module, "ISO_SIZE", size)
    lab = wiring.open_lab(tmp_path, 4)
    lab.state.timings.stage_iso = 0.2
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    ctx.poll = 0.05
    assert ctx.cluster.iso_source.stat().st_size == size
    assert await asyncio.wait_for(staging.stage(ctx), GUARD) == {n: "staged and verified" for n in NODES}
    assert iso_length(lab, "LAB-B2") == size
    chunks = calls(ctx, "write_file_chunk")
    assert len(chunks) == size // CHUNK_BYTES
    first = base64.b64encode(ctx.cluster.iso_source.read_bytes()[:CHUNK_BYTES]).decode("ascii")
    assert chunks[0]["parameters"]["Data"] == bulk_marker(first)  # checkable against the source
    assert chunks[0]["parameters"]["Data"].startswith(f"<bulk: {len(first)} chars, sha256 ")
    logged = sum(path.stat().st_size for path in ctx.audit.files())
    assert 0 < logged < 1024 * 1024, logged
