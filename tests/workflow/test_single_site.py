"""A cluster that is not stretched (the one-site lab, LAB-SINGLE): one rule says so (``Context.stretched``:
two sites in the config, or a read that shows them), and every step adapts: verification and the
prerequisites neither read nor judge Storage Replica, the upgrade has no SR snapshot gate, the storage
interlock does not need SR, and the menu's SR line says it does not apply. The stretched lab keeps all of it."""

from __future__ import annotations

from hcitui.cli import context as wiring
from hcitui.core import model
from hcitui.remote import NodeInfo, OperationFailed
from hcitui.workflow import gates, interlocks, prereq, summaries, verify
from hcitui.workflow.checks import Status
from hcitui.workflow.observe import ClusterState
from hcitui.workflow.sr.menu import NOT_APPLICABLE
from hcitui.workflow.summaries import Entry, State
from support import earlier_phases

SR_READS = {"get_sr_groups", "get_sr_partnerships"}


def single(tmp_path, nodes: int = 3):
    lab = wiring.open_lab(tmp_path, nodes, sites=1)
    return wiring.context_for_lab(lab, read_only=False, state_root=tmp_path), lab


def stretched(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    return wiring.context_for_lab(lab, read_only=False, state_root=tmp_path), lab


def operations(ctx) -> set[str]:
    return {r["operation"] for r in ctx.audit.records()}


def node(name: str, site: str | None) -> model.ClusterNode:
    return model.ClusterNode(name=name, state="Up", fault_domain=[f"Site:{site}"] if site else [])


# ------------------------------------------------------------------ the rule


async def test_the_rule_from_the_config(tmp_path):
    ctx, _lab = single(tmp_path)
    other, _ = stretched(tmp_path)
    try:
        assert ctx.stretched is False and ctx.client.sites == []
        assert other.stretched is True
    finally:
        await ctx.close()
        await other.close()


async def test_the_rule_learns_from_a_read(tmp_path):
    ctx, _lab = single(tmp_path)
    try:
        failed = OperationFailed("LAB-N1", "get_sr_groups", "The term 'Get-SRGroup' is not recognized")
        assert ctx.note_read(ClusterState(nodes=[node("LAB-N1", None), node("LAB-N2", None)], sr_groups=failed,
                                          sr_partnerships=[])) is False
        assert ctx.note_read(ClusterState(nodes=[node("N1", "SiteA"), node("N2", "SiteA")])) is False
        assert ctx.note_read(ClusterState(nodes=[node("N1", "SiteA"), node("N2", "SiteB")])) is True
        assert ctx.stretched
    finally:
        await ctx.close()
    ctx, _lab = single(tmp_path)
    try:
        partnership = model.SRPartnership.model_validate(
            {"SourceComputerName": "N1", "SourceRGName": "rg1", "DestinationComputerName": "N2",
             "DestinationRGName": "rg2"})
        assert ctx.note_read(ClusterState(sr_partnerships=[partnership])) is True
    finally:
        await ctx.close()


# ------------------------------------------------------------------ verification and prerequisites


def test_evaluate_without_sr_when_not_stretched_and_not_read():
    observed = ClusterState(nodes=[], groups=[], csv=[], jobs=[], disks=[])
    names = {c.name for c in verify.evaluate(observed, [], stretched=False)}
    assert verify.SR_REPLICATING not in names and verify.NO_STORAGE_JOBS in names
    unread = {c.name: c for c in verify.evaluate(observed, [], stretched=True)}
    assert unread[verify.SR_REPLICATING].status is Status.UNKNOWN  # stretched: fails closed, as before


async def test_verification_of_the_one_site_lab_reads_and_judges_no_sr(tmp_path):
    ctx, _lab = single(tmp_path)
    try:
        report = await verify.run_verification(ctx)
        assert verify.SR_REPLICATING not in {c.name for c in report.checks}
        assert {c.name for c in report.checks} == {*verify.NODE_CHECKS, *verify.CLUSTER_CHECKS} - {
            verify.SR_REPLICATING}
        assert not operations(ctx) & SR_READS
        assert not {c.op.name for c in verify.read_plan(ctx).calls} & SR_READS
    finally:
        await ctx.close()


async def test_verification_of_the_stretched_lab_still_judges_sr(tmp_path):
    ctx, _lab = stretched(tmp_path)
    try:
        report = await verify.run_verification(ctx)
        sr_check = next(c for c in report.checks if c.name == verify.SR_REPLICATING)
        assert sr_check.status is Status.PASS
        assert "get_sr_groups" in operations(ctx)
        assert "get_sr_groups" in {c.op.name for c in verify.read_plan(ctx).calls}
    finally:
        await ctx.close()


async def test_a_config_without_sites_on_a_stretched_cluster_still_reads_sr(tmp_path):
    ctx, _lab = stretched(tmp_path)
    ctx.client.nodes = [NodeInfo(n.name, None) for n in ctx.client.nodes]  # the config names no site
    try:
        assert not ctx.stretched
        report = await verify.run_verification(ctx)
        assert ctx.stretched  # Get-ClusterNode showed two Site fault domains
        sr_check = next(c for c in report.checks if c.name == verify.SR_REPLICATING)
        assert sr_check.status is Status.PASS
    finally:
        await ctx.close()


async def test_prerequisites_of_the_one_site_lab_say_nothing_of_sr(tmp_path):
    ctx, _lab = single(tmp_path)
    try:
        report = await prereq.run_prerequisites(ctx)
        quiet = next(c for c in report.checks if c.name == prereq.STORAGE_QUIET)
        assert quiet.status is Status.PASS
        assert "SR" not in quiet.reason and "Storage Replica" not in quiet.reason
        assert all("SR" not in c.name for c in report.checks)
        assert not operations(ctx) & SR_READS
        assert not {c.op.name for c in prereq.read_plan(ctx).calls} & SR_READS
    finally:
        await ctx.close()


# ------------------------------------------------------------------ gates and interlocks


async def test_the_one_site_lab_has_no_sr_snapshot_gate(tmp_path):
    ctx, lab = single(tmp_path)
    try:
        judged = gates.judge(await gates.read(ctx))
        assert [g.name for g in judged] == [gates.REGISTRY, gates.PREREQ, gates.ISO]
        await earlier_phases(ctx, lab, sr_snapshot=False)  # no SR snapshot: there is no SR
        judged = gates.judge(await gates.read(ctx))
        assert gates.reasons(judged) == [] and all(g.ok for g in judged)
    finally:
        await ctx.close()


async def test_the_stretched_lab_keeps_its_sr_snapshot_gate(tmp_path):
    ctx, lab = stretched(tmp_path)
    try:
        await earlier_phases(ctx, lab, sr_snapshot=False)
        judged = gates.judge(await gates.read(ctx))
        assert [g.name for g in judged] == list(gates.GATE_NAMES)
        assert [g.name for g in judged if not g.ok] == [gates.SR_SNAPSHOT]
    finally:
        await ctx.close()


async def test_gates_learn_a_stretched_cluster_whose_config_names_no_site(tmp_path):
    ctx, lab = stretched(tmp_path)
    ctx.client.nodes = [NodeInfo(n.name, None) for n in ctx.client.nodes]
    try:
        await earlier_phases(ctx, lab, sr_snapshot=False)
        judged = gates.judge(await gates.read(ctx))
        assert [g.name for g in judged if not g.ok] == [gates.SR_SNAPSHOT]  # the gate stays: it fails safe
    finally:
        await ctx.close()


def test_storage_interlock_needs_no_sr_when_not_stretched():
    failed = OperationFailed("LAB-N1", "get_sr_groups", "The term 'Get-SRGroup' is not recognized")
    state = ClusterState(jobs=[], disks=[], sr_groups=failed)
    assert interlocks.storage_blockers(state, stretched=False) == []
    assert interlocks.storage_blockers(state)  # stretched (the default): an unread SR part refuses, as before
    assert interlocks.take_out_blockers("N1", ClusterState(nodes=[node("N1", None)], jobs=[], disks=[],
                                                           sr_groups=failed, cau_run=model.CauRun()),
                                        None, stretched=False) == []


# ------------------------------------------------------------------ the menu's line


async def test_menu_line_says_sr_does_not_apply(tmp_path):
    ctx, _lab = single(tmp_path)
    try:
        overview = summaries.summarize(ctx)
        line = overview.lines[Entry.SR]
        assert line.text == NOT_APPLICABLE and line.state is State.INFO
        assert overview.next is None or overview.next.entry is not Entry.SR
    finally:
        await ctx.close()
    ctx, _lab = stretched(tmp_path)
    try:
        assert summaries.summarize(ctx).lines[Entry.SR].text == "no snapshot yet"
    finally:
        await ctx.close()


# ------------------------------------------------------- SR steps and the monitor


async def test_sr_steps_are_refused_on_a_cluster_that_is_not_stretched(tmp_path):
    """Not only the screen hides them: each SR step itself refuses, before it looks for a snapshot, and
    changes nothing (no mutating call reaches the cluster)."""
    from hcitui.workflow import sr
    from hcitui.workflow.sr.interlocks import NOT_STRETCHED
    from hcitui.workflow.steps import Refused

    ctx, _lab = single(tmp_path)
    try:
        for work in (sr.take_snapshot(ctx), sr.remove_partnerships(ctx), sr.recreate(ctx), sr.compare(ctx)):
            try:
                await work
            except Refused as exc:
                assert exc.reasons[0] == NOT_STRETCHED
            else:
                raise AssertionError("an SR step ran on a cluster that is not stretched")
        assert not any(r["mutates"] for r in ctx.audit.records())
        assert not (tmp_path / "clusters" / ctx.name / "sr-snapshots").exists()
    finally:
        await ctx.close()


async def test_the_stretched_lab_still_takes_its_sr_snapshot(tmp_path):
    from hcitui.workflow import sr

    ctx, _lab = stretched(tmp_path)
    try:
        snapshot = await sr.take_snapshot(ctx)
        assert len(snapshot.partnerships) == 2
    finally:
        await ctx.close()


async def test_the_monitor_says_sr_does_not_apply_and_does_not_read_it(tmp_path):
    from hcitui.workflow.monitor import Monitor

    ctx, _lab = single(tmp_path)
    try:
        snapshot = await Monitor(ctx).refresh()
        assert [line.text for line in snapshot.sr_groups] == [NOT_APPLICABLE]
        assert not operations(ctx) & SR_READS
        assert not snapshot.problems
    finally:
        await ctx.close()
