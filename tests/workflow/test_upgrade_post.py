"""The manual node-by-node upgrade and the post-upgrade steps, on the lab; screen 8 at 80x24."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Input, Static

from hcitui.cli import context as wiring
from hcitui.cli import main as cli
from hcitui.core.journal import StepStatus
from hcitui.tui.app import HciApp
from hcitui.tui.screens.post import PostUpgradeScreen
from hcitui.tui.widgets.confirm import ConfirmStep
from hcitui.workflow import maintenance, post, verify
from hcitui.workflow.events import Stage
from hcitui.workflow.steps import Refused
from support import earlier_phases, lab_in_process

GUARD = 60
NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]


def fast(lab, *, refs_fixed=True):
    t = lab.state.timings
    t.reboot, t.cluster_join, t.repair, t.drain_step = 0.3, 0.2, 0.3, 0.02
    t.os_install, t.stage_iso, t.test_cluster = 0.2, 0.05, 0.1
    for node in lab.state.nodes.values():
        node.vid_parameters_key, node.skip_small_local_allocations = True, 0
        if refs_fixed:
            node.refs_metadata_validation = node.refs_effective = 0


def stage(lab, nodes=NODES):
    for node in nodes:
        lab.execute(node, "stage_iso", {"IsoPath": lab.state.iso_path, "Destination": lab.state.staging_path})


@pytest.fixture
def lab_ctx(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    lab.state.nodes["LAB-B2"].files[lab.state.iso_path] = lab.state.nodes["LAB-A1"].files[lab.state.iso_path]
    fast(lab)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    ctx.poll = 0.05
    return lab, ctx


# ------------------------------------------------------------------ manual upgrade


async def test_manual_upgrade_refused_without_staged_setup_changes_nothing(lab_ctx):
    lab, ctx = lab_ctx
    with pytest.raises(Refused) as caught:
        await maintenance.manual_upgrade(ctx, "LAB-A2")
    assert any("setup.exe is not in" in r for r in caught.value.reasons)
    assert lab.state.cau_self_updating is True  # a refusal changes nothing, not even the CAU role
    assert ctx.journal.state.lock is None
    assert not any(r["mutates"] for r in ctx.audit.records())


async def test_manual_upgrade_of_one_node(lab_ctx):
    lab, ctx = lab_ctx
    stage(lab, ["LAB-A2"])
    await earlier_phases(ctx, lab)  # its gates open: registry in force, prerequisites, SR snapshot, ISO
    await asyncio.wait_for(maintenance.manual_upgrade(ctx, "LAB-A2"), GUARD)
    node = lab.state.nodes["LAB-A2"]
    assert node.build == 25398 and node.display_version == "23H2" and node.cluster_state == "Up"
    assert lab.state.cau_self_updating is False  # disabled first, so it cannot pause nodes
    assert ctx.journal.step(5, "manual-upgrade", "LAB-A2").status is StepStatus.DONE
    assert ctx.journal.state.lock is None
    ops = [r["operation"] for r in ctx.audit.records() if r["mutates"]]
    assert ops.index("disable_cau_self_updating") < ops.index("suspend_node") < ops.index("start_os_upgrade")
    with pytest.raises(Refused) as caught:  # a second time: already on 25398
        await maintenance.manual_upgrade(ctx, "LAB-A2")
    assert any("already on 25398" in r for r in caught.value.reasons)


async def test_refs_trap_on_the_manual_path_is_caught_by_verification(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    fast(lab, refs_fixed=False)  # RefsEnableMetadataValidation never set
    stage(lab, ["LAB-A1", "LAB-A2", "LAB-B1"])
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    ctx.poll = 0.05
    await earlier_phases(ctx, lab, registry_values=False)
    with pytest.raises(Refused) as refused:  # the registry gate: never set, so not in force
        await maintenance.manual_upgrade(ctx, "LAB-A2")
    assert all("registry values" in r for r in refused.value.reasons) and len(refused.value.reasons) == 4
    await asyncio.wait_for(maintenance.manual_upgrade(ctx, "LAB-A2", override_registry="rehearse the trap"), GUARD)
    override = ctx.journal.step(5, "registry-override", "LAB-A2")
    assert override.data["reason"] == "rehearse the trap" and override.data["for"] == "manual-upgrade"
    report = await verify.run_verification(ctx)
    csv = [c for c in report.checks if c.name == verify.NODE_CSV]
    assert csv and all(c.status.value == "fail" and "Unavailable" in c.reason for c in csv)


# ------------------------------------------------------------------ post-upgrade


def all_upgraded(lab):
    for node in lab.state.nodes.values():
        node.build, node.ubr, node.display_version = 25398, 1913, "23H2"


async def test_functional_level_refused_until_every_node_is_on_25398(lab_ctx):
    lab, ctx = lab_ctx
    with pytest.raises(Refused) as caught:
        await post.update_level(ctx)
    assert len([r for r in caught.value.reasons if "is not on 25398" in r]) == 4
    assert lab.state.functional_level == 11


async def test_pools_refused_before_the_level_then_everything_in_order(lab_ctx):
    lab, ctx = lab_ctx
    all_upgraded(lab)
    with pytest.raises(Refused) as caught:
        await post.update_pools(ctx)
    assert any("raise it first" in r for r in caught.value.reasons)
    events = []
    level = await post.update_level(ctx, events.append)
    assert level.cluster_functional_level == 12 == lab.state.functional_level
    assert events[-1].stage is Stage.DONE
    events.clear()
    await post.update_pools(ctx, events.append)
    assert {p.version for p in lab.state.pools} == {"Windows Server 2025"}
    assert [(e.done, e.total) for e in events] == [(i, len(events) - 1) for i in range(len(events))]
    assert events[-1].stage is Stage.DONE
    events.clear()
    report = await post.validate(ctx, events.append)
    assert events[0].stage is Stage.WAITING and events[0].since is not None and events[-1].stage is Stage.DONE
    assert report.failed == 0 and report.report_path.endswith(".htm")
    steps = {r.step: r.status for r in ctx.journal.steps(8)}
    assert steps == {"functional-level": StepStatus.DONE, "storage-pools": StepStatus.DONE,
                     "test-cluster": StepStatus.DONE}


async def test_vm_versions_update_shut_down_vms_and_report_running_ones(lab_ctx):
    lab, ctx = lab_ctx
    all_upgraded(lab)
    vm = next(g for g in lab.state.groups if g.name == "VM-A02")
    vm.state = "Offline"
    skipped = await post.update_vms(ctx)
    assert vm.vm_version == "12.0"
    assert any("VM-A01 is Running" in s for s in skipped)
    assert ctx.journal.step(8, "vm-versions").status is StepStatus.FAILED  # not every VM was updated


# ---------------------------------------------------------------------- headless


@pytest.fixture
def in_process(monkeypatch):
    lab_in_process(monkeypatch, poll=0.05, prepare=lambda lab: (fast(lab), all_upgraded(lab)))


def test_headless_post_upgrade_needs_yes_then_runs(in_process, capsys):
    assert cli.main(["--lab", "post-upgrade"]) == 1
    assert "cannot be undone: add --yes" in capsys.readouterr().err
    assert cli.main(["--lab", "--read-only", "post-upgrade", "--yes"]) == 1
    assert "read-only" in capsys.readouterr().err
    assert cli.main(["--lab", "post-upgrade", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "functional level 12" in out and "pools upgraded" in out and "Test-Cluster" in out


def test_headless_manual_upgrade_refusal_is_a_sentence(in_process, capsys):
    assert cli.main(["--lab", "manual-upgrade", "--node", "LAB-A1", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "upgrade LAB-A1 refused" in err and "Traceback" not in err


# ------------------------------------------------------------------------ screen 8


async def test_screen_typed_confirmation(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    fast(lab)
    all_upgraded(lab)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    app = HciApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("8")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PostUpgradeScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "Functional level 11" in screen.query_one("#post-level", Static).content.plain
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep) and app.screen.typed == "LAB-STRETCH"
        await pilot.press("y")  # y is a letter in the box here, not a confirmation
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep)
        app.screen.query_one(Input).value = "LAB-STRETC"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep) and lab.state.functional_level == 11
        app.screen.query_one(Input).value = "LAB-STRETCH"
        await pilot.press("enter")
        for _ in range(100):
            await pilot.pause(0.05)
            if screen.busy is None and lab.state.functional_level == 12:
                break
        await app.workers.wait_for_complete()
        assert lab.state.functional_level == 12
        assert "Done: raise the functional level" in screen.query_one("#post-summary", Static).content.plain


async def test_screen_read_only_hides_the_irreversible_steps(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    all_upgraded(lab)
    ctx = wiring.context_for_lab(lab, read_only=True, state_root=tmp_path)
    app = HciApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("8")
        await pilot.pause()
        await app.workers.wait_for_complete()
        screen = app.screen
        for action in PostUpgradeScreen.MUTATING_ACTIONS:
            assert screen.check_action(action, ()) is False
        await pilot.press("l", "s", "m")
        await pilot.pause()
        assert isinstance(app.screen, PostUpgradeScreen)
        assert not any(r["mutates"] for r in ctx.audit.records())
        assert lab.state.functional_level == 11


# ------------------------------------------------------------ honest outcomes


def vms_off(lab):
    for group in lab.state.groups:
        if group.name.startswith("VM-"):
            group.state = "Offline"


async def test_read_gives_each_nodes_state_in_the_cluster(lab_ctx):
    lab, ctx = lab_ctx
    lab.state.nodes["LAB-B1"].cluster_state = "Paused"
    state = await post.read(ctx)
    assert [state.node_state(n) for n in NODES] == ["Up", "Up", "Paused", "Up"]


async def test_vm_versions_with_nothing_to_update_say_so(lab_ctx):
    lab, ctx = lab_ctx
    all_upgraded(lab)
    vms_off(lab)
    events = []
    assert await post.update_vms(ctx, events.append) == []
    assert events[-1].stage is Stage.DONE and "VMs updated to 12.0, each read back" in events[-1].text
    updates = len([r for r in ctx.audit.records() if r["operation"] == "update_vm_version"])
    assert updates > 0
    events.clear()
    assert await post.update_vms(ctx, events.append) == []  # a second time: every VM already at 12.0
    assert [e.stage for e in events] == [Stage.SKIPPED]
    assert events[-1].text == f"nothing to update: {updates} VMs already at version 12.0"
    assert len([r for r in ctx.audit.records() if r["operation"] == "update_vm_version"]) == updates
    record = ctx.journal.step(8, "vm-versions")
    assert record.status is StepStatus.DONE and record.detail.startswith("nothing to update")


async def test_vm_versions_that_could_not_be_updated_are_not_done(lab_ctx):
    lab, ctx = lab_ctx
    all_upgraded(lab)  # the VMs run: none can be updated
    events = []
    skipped = await post.update_vms(ctx, events.append)
    assert skipped and events[-1].stage is Stage.FAILED
    assert events[-1].text.startswith("0 of ") and "not updated: VM-A01 is Running" in events[-1].text


async def test_raising_the_level_twice_says_there_was_nothing_to_raise(lab_ctx):
    lab, ctx = lab_ctx
    all_upgraded(lab)
    events = []
    await post.update_level(ctx, events.append)
    assert events[-1].stage is Stage.DONE and events[-1].text == "functional level 12 (was 11), read back"
    events.clear()
    level = await post.update_level(ctx, events.append)
    assert level.cluster_functional_level == 12
    assert [(e.stage, e.text) for e in events] == [
        (Stage.SKIPPED, "nothing to raise: the functional level is already 12")]
    assert not [r for r in ctx.audit.records() if r["operation"] == "update_cluster_functional_level"][1:]


async def test_pools_say_what_they_were_upgraded_to(lab_ctx):
    lab, ctx = lab_ctx
    all_upgraded(lab)
    await post.update_level(ctx)
    events = []
    await post.update_pools(ctx, events.append)
    assert events[-1].text == "2 pools upgraded to Windows Server 2025, each read back"
    lab.state.pools = []  # the lab lists no primordial pool: none left to upgrade
    events.clear()
    await post.update_pools(ctx, events.append)
    assert [e.stage for e in events] == [Stage.SKIPPED] and events[0].text.startswith("nothing to upgrade")


async def _open_post(pilot, app) -> PostUpgradeScreen:
    await pilot.press("8")
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(app.screen, PostUpgradeScreen)
    return app.screen


async def _typed_step(pilot, app, screen, key):
    await pilot.press(key)
    await pilot.pause()
    assert isinstance(app.screen, ConfirmStep)
    app.screen.query_one(Input).value = "LAB-STRETCH"
    await pilot.press("enter")
    for _ in range(200):
        await pilot.pause(0.05)
        if app.screen is screen and screen.busy is None and screen.change is None:
            break
    await app.workers.wait_for_complete()
    await pilot.pause()
    return screen.query_one("#post-summary", Static).content.plain


async def test_screen_shows_states_and_says_when_nothing_was_updated(tmp_path):
    from hcitui.tui.widgets.node_table import NodeTable

    lab = wiring.open_lab(tmp_path, 4)
    fast(lab)
    all_upgraded(lab)
    vms_off(lab)
    lab.state.nodes["LAB-A2"].cluster_state = "Paused"
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    app = HciApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_post(pilot, app)
        table = screen.query_one("#post-nodes", NodeTable)
        assert [str(table.get_cell(n, "state")) for n in NODES] == ["Up", "Paused", "Up", "Up"]
        assert [str(table.get_cell(n, "status")) for n in NODES] == ["on 25398"] * 4
        assert str(table.get_cell("LAB-A1", "vms")) == "2 of 2"  # its VMs are on 10.0, the host offers 12.0
        outcome = await _typed_step(pilot, app, screen, "m")
        assert outcome.startswith("Done: update VM configuration versions: ") and "to 12.0, each read back" in outcome
        assert str(table.get_cell("LAB-A1", "vms")) == "0 of 2"
        outcome = await _typed_step(pilot, app, screen, "m")
        assert outcome.startswith("Nothing done: nothing to update: ") and "already at version 12.0" in outcome
        assert "Done" not in outcome
