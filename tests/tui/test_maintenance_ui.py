"""3) Node drain and restart at 80x24, and the headless maintenance steps."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from textual.widgets import Static

from hcitui.cli import context as wiring
from hcitui.cli import main as cli
from hcitui.tui.screens.maintenance import MaintenanceScreen, RegistryOverride
from hcitui.tui.widgets.confirm import ConfirmStep
from hcitui.tui.widgets.node_table import NodeTable
from hcitui.tui.widgets.override import OverrideReason
from hcitui.workflow import eta
from hcitui.workflow.events import ProgressEvent, Stage
from support import earlier_phases, lab_in_process
from tuikit import (
    FAST_RESTARTS,
    SIZE,
    make_app,
    open_screen,
    registry_values_set,
    row_shown,
    screen_lines,
    screen_text,
    text_of,
    wait_idle,
)

UPGRADE_TIMINGS = {**FAST_RESTARTS, "os_install": 0.2}


async def open_maintenance(pilot) -> MaintenanceScreen:
    return await open_screen(pilot, ("3",), MaintenanceScreen)


async def test_restart_a_node_from_the_screen(tmp_path):
    app, _ctx, lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS, setup=registry_values_set)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_maintenance(pilot)
        table = screen.query_one("#mnt-nodes", NodeTable)
        assert str(table.get_cell("LAB-B2", "state")) == "Up"
        await pilot.press("down", "down", "down")  # LAB-B2
        assert table.selected_node == "LAB-B2"
        boot = lab.state.nodes["LAB-B2"].last_boot
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep)
        assert "Suspend-ClusterNode" in app.screen.preview and "shutdown.exe" in app.screen.preview
        await pilot.press("y")
        await wait_idle(pilot, screen)
        assert lab.state.nodes["LAB-B2"].last_boot != boot
        assert "Done: restart LAB-B2" in text_of(screen.query_one("#mnt-summary", Static))
        assert str(table.get_cell("LAB-B2", "state")) == "Up"


async def test_dry_run_sends_nothing(tmp_path):
    app, ctx, lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS, setup=registry_values_set)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_maintenance(pilot)
        before = len(list(ctx.audit.records()))
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert "Dry run of drain LAB-A1: nothing was sent" in text_of(screen.query_one("#mnt-summary", Static))
        records = list(ctx.audit.records())[before:]
        assert not any(r["mutates"] for r in records)
        assert lab.state.nodes["LAB-A1"].cluster_state == "Up"


async def test_refusal_reaches_the_operator(tmp_path):
    app, _ctx, lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS, setup=registry_values_set)
    lab.state.nodes["LAB-B1"].cluster_state = "Paused"  # another node is not Up
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_maintenance(pilot)
        assert "cannot be taken out now" in text_of(screen.query_one("#mnt-check", Static))
        await pilot.press("n", "y")
        await wait_idle(pilot, screen)
        summary = text_of(screen.query_one("#mnt-summary", Static))
        assert "drain LAB-A1 refused" in summary and "LAB-B1 is Paused" in summary
        assert lab.state.nodes["LAB-A1"].cluster_state == "Up"


async def test_read_only_hides_every_change(tmp_path):
    app, ctx, _lab = make_app(tmp_path, read_only=True, poll=0.05, timings=FAST_RESTARTS, setup=registry_values_set)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_maintenance(pilot)
        for action in MaintenanceScreen.MUTATING_ACTIONS:
            assert screen.check_action(action, ()) is False
        await pilot.press("n", "u", "s", "o")
        await pilot.pause()
        assert isinstance(app.screen, MaintenanceScreen)  # no confirmation was even offered
        assert not any(r["mutates"] for r in ctx.audit.records())


async def test_the_registry_gate_alone_can_be_overridden_with_a_typed_reason(tmp_path):
    # 16 nodes at 80x24: g on a fresh lab is refused with the gates' reasons and no override is offered;
    # once only the registry gate is closed, a prompt asks for the reason: empty is refused, a typed one
    # leads to the PowerShell, the upgrade runs and the journal keeps the reason as record_override does.
    def in_force(lab) -> None:
        """The registry values in force (set by hand, say), but hcitui did not record when."""
        for node in lab.state.nodes.values():
            node.refs_metadata_validation, node.refs_effective = 0, 0
            node.vid_parameters_key, node.skip_small_local_allocations, node.skip_effective = True, 0, 0

    app, ctx, lab = make_app(tmp_path, nodes=16, poll=0.05, timings=UPGRADE_TIMINGS, setup=in_force)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_maintenance(pilot)
        summary = screen.query_one("#mnt-summary", Static)
        assert screen.selected == "LAB-A1"
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep)
        await pilot.press("y")
        await wait_idle(pilot, screen)
        refused = text_of(summary)
        assert "upgrade LAB-A1 refused" in refused
        assert "prerequisites have not been run" in refused and "registry values" in refused
        assert app.screen is screen  # other gates closed too: no override offered
        assert ctx.journal.step(5, "registry-override", "LAB-A1") is None

        await earlier_phases(ctx, lab, registry_values=False)  # every gate open but the registry's
        await pilot.press("g")
        await pilot.pause()
        await pilot.press("y")
        await wait_idle(pilot, screen)
        await pilot.pause()
        prompt = app.screen
        assert isinstance(prompt, RegistryOverride) and prompt.node == "LAB-A1"
        assert "upgrade LAB-A1 refused" in text_of(summary)
        assert len(prompt.reasons) == 16 and all("registry values" in r for r in prompt.reasons)
        field = prompt.query_one(OverrideReason)
        assert field.input.has_focus
        for widget in (prompt.query_one("#ovr-title"), prompt.query_one("#ovr-reasons"), field.input,
                       prompt.query_one("#ovr-keys")):  # all of it fits 80x24
            assert 0 <= widget.region.y and widget.region.bottom <= 24 and widget.region.height >= 1, widget
            assert widget.region.right <= 80, widget
        assert "(+12 more nodes" in text_of(prompt.query_one("#ovr-reasons", Static))

        await pilot.press("space", "enter")  # a blank is no reason
        await pilot.pause()
        assert app.screen is prompt
        assert "No reason typed" in text_of(prompt.query_one("#ovr-message", Static))
        assert ctx.journal.step(5, "manual-upgrade", "LAB-A1") is None or \
            ctx.journal.step(5, "manual-upgrade", "LAB-A1").status.value != "running"

        reason = "CHG-4711 values set by GPO, restart pending"
        await pilot.press(*reason)
        await pilot.press("enter")
        await pilot.pause()
        confirm = app.screen
        assert isinstance(confirm, ConfirmStep)
        assert f"OVERRIDDEN if it is closed, journalled with: {reason}" in confirm.preview
        await pilot.press("y")
        await wait_idle(pilot, screen, limit=120.0)
        override = ctx.journal.step(5, "registry-override", "LAB-A1")
        assert override is not None and override.data["reason"] == reason
        assert override.data["for"] == "manual-upgrade" and len(override.data["waived"]) == 8
        assert override.data["operator"] and reason in override.detail
        upgrade = ctx.journal.step(5, "manual-upgrade", "LAB-A1")
        assert upgrade is not None and upgrade.status.value == "done", text_of(summary)
        assert lab.state.nodes["LAB-A1"].build == 25398


async def test_the_override_prompt_is_cancelled_with_escape(tmp_path):
    app, ctx, lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS, setup=registry_values_set)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_maintenance(pilot)
        await earlier_phases(ctx, lab, registry_values=False)
        await pilot.press("g", "y")
        await wait_idle(pilot, screen)
        await pilot.pause()
        assert isinstance(app.screen, RegistryOverride)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        assert "no override" in text_of(screen.query_one("#mnt-summary", Static))
        assert ctx.journal.step(5, "registry-override", "LAB-A1") is None
        assert lab.state.nodes["LAB-A1"].cluster_state == "Up"


def bottom(lines: list[str]) -> str:
    """The three lines above the footer, as one (a summary may wrap)."""
    return " ".join(line.strip() for line in lines[-4:-1])


async def test_16_nodes_at_80x24_keep_the_summary_the_progress_and_the_cursor_in_view(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, nodes=16)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_maintenance(pilot)
        lines = screen_lines(app)
        assert len(lines) == SIZE[1] and "o rolling restart" in bottom(lines)  # the summary above the footer
        footer = lines[-1]
        for binding in MaintenanceScreen.BINDINGS:  # every key shown fits in the footer, palette included
            assert not binding.show or f"{binding.key} {binding.description}" in footer
        assert "Help" in footer and "palette" in footer
        await pilot.press(*["down"] * 15)
        await pilot.pause()
        assert screen.selected == "LAB-B8"
        lines = screen_lines(app)
        assert row_shown(lines, "LAB-B8") and any("LAB-B8: can be taken out now" in line for line in lines)

        # A rolling restart's event: its node of the run and its finish; the cursor's row stays in view.
        today = datetime.now().replace(hour=14, minute=35)
        screen.show_progress(ProgressEvent("LAB-A2", "restarting", position=(2, 16), eta=today))
        await pilot.pause()
        lines = screen_lines(app)
        assert " LAB-A2 (node 2 of 16): restarting · finish about 14:35" in lines
        assert row_shown(lines, "LAB-B8") and "o rolling restart" in bottom(lines)
        screen.show_progress(ProgressEvent("LAB-A1", "waiting for storage", 0.25, stage=Stage.WAITING,
                                           done=1024**3, total=4 * 1024**3, position=(1, 16), eta=eta.UNKNOWN))
        await pilot.pause()
        lines = screen_lines(app)
        assert " LAB-A1 (node 1 of 16): waiting for storage · estimate unknown" in lines
        assert any("1.0 GiB of 4.0 GiB" in line for line in lines)
        assert row_shown(lines, "LAB-B8") and "o rolling restart" in bottom(lines)


# ----------------------------------------------------------------- headless


@pytest.fixture
def in_process(monkeypatch, tmp_path):
    lab_in_process(monkeypatch, FAST_RESTARTS, poll=0.05)


@pytest.fixture
def in_process_registry_set(in_process, monkeypatch):
    """As ``in_process``, with the registry values set (LAB-A1's dynamic-memory VMs can move): a rolling
    restart goes through."""
    pinned = wiring.context_for_lab

    def registry_set(lab, **kwargs):
        registry_values_set(lab)
        return pinned(lab, **kwargs)

    monkeypatch.setattr(wiring, "context_for_lab", registry_set)


def test_headless_rolling_restart_prints_the_node_of_the_run_and_the_finish(in_process_registry_set, capsys):
    # A fresh lab's journal remembers no restart: the first node's lines say so; from the second node on,
    # every line has the finish at the pace of the restarts done.
    assert cli.main(["--lab", "rolling-restart", "--yes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    first = [line for line in lines if "(node 1 of 4" in line]
    assert first and all("estimate unknown" in line or "finish about" in line for line in first)
    assert any("estimate unknown" in line for line in first)
    second = [line for line in lines if "(node 2 of 4" in line]
    assert second and all("finish about" in line for line in second)


def audit(state_home):
    path = state_home / "clusters" / "LAB-STRETCH" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_headless_dry_run_prints_powershell_and_sends_nothing(in_process, capsys, state_home):
    assert cli.main(["--lab", "restart", "--node", "LAB-A2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Suspend-ClusterNode" in out and "Resume-ClusterNode" in out and "dry run: nothing was sent" in out
    assert not any(r["mutates"] for r in audit(state_home))


def test_headless_read_only_refuses_before_sending(in_process, capsys, state_home):
    assert cli.main(["--lab", "--read-only", "restart", "--node", "LAB-A2", "--yes"]) == 1
    assert "read-only" in capsys.readouterr().err
    assert audit(state_home) == []


def test_headless_needs_yes_without_a_terminal(in_process, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert cli.main(["--lab", "drain", "--node", "LAB-A2"]) == 1
    assert "add --yes" in capsys.readouterr().err


def test_headless_unknown_node_is_a_usage_error(in_process, capsys):
    assert cli.main(["--lab", "drain", "--node", "NOPE", "--yes"]) == 2
    assert "not a node of LAB-STRETCH" in capsys.readouterr().err


def test_headless_drain_refusal_and_failure_are_sentences(in_process, capsys, state_home):
    # LAB-A1 hosts dynamic-memory VMs and SkipSmallLocalAllocations is unset: the drain fails.
    assert cli.main(["--lab", "drain", "--node", "LAB-A1", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "drain LAB-A1 failed" in err and "live migration" in err and "Traceback" not in err
    assert cli.main(["--lab", "drain", "--node", "LAB-A2", "--yes"]) == 0
    assert cli.main(["--lab", "drain", "--node", "LAB-B1", "--yes"]) == 1
    assert "LAB-A2 is out of service" in capsys.readouterr().err
    assert cli.main(["--lab", "resume", "--node", "LAB-A2", "--yes"]) == 0


# ------------------------------------------------------------------ leaving mid-step


async def start_slow_restart(pilot, ctx, lab, node="LAB-A1"):
    """A restart whose node stays down (a long reboot): it is surely running when q is pressed."""
    from hcitui.core.journal import StepStatus

    lab.state.timings.reboot = 3600.0
    screen = await open_maintenance(pilot)
    await pilot.press("s")
    await pilot.pause()
    await pilot.press("y")
    for _ in range(600):  # until the step is under way (the lock taken, the node going down)
        await pilot.pause(0.05)
        record = ctx.journal.step(1, "restart", node)
        if record is not None and record.status is StepStatus.RUNNING and "restart sent" in (record.detail or ""):
            return screen
    raise AssertionError(f"the restart of {node} never got under way: {record}")


async def test_quitting_mid_step_asks_and_leaving_is_journalled(tmp_path):
    from hcitui.cli.main import EXIT_LEFT_MID_STEP
    from hcitui.core.journal import Journal, StepStatus
    from hcitui.tui.widgets.leave import LeaveStep

    app, ctx, lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS, setup=registry_values_set)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_slow_restart(pilot, ctx, lab)
        assert screen.running_change() is not None
        await pilot.press("q")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, LeaveStep)
        text = screen_text(modal)
        assert "restart LAB-A1" in text  # what runs, on which node
        assert "hcitui resume --node LAB-A1" in text and "3) u" in text  # how the node is brought back
        assert f"status {EXIT_LEFT_MID_STEP}" in text
        box = modal.query_one("Vertical").region
        assert box.right <= SIZE[0] and box.bottom <= SIZE[1]  # fits 80x24
        assert modal.query_one("#leave-keys").region.bottom <= SIZE[1]

        await pilot.press("n")  # stay: the step goes on
        await pilot.pause()
        assert app.screen is screen and app.is_running
        assert screen.running_change() is not None
        assert any(w.node is screen and not w.is_finished for w in app.workers)
        assert ctx.journal.step(1, "restart", "LAB-A1").status is StepStatus.RUNNING

        await pilot.press("escape")  # Esc would leave the screen, and stop the step: it asks too
        await pilot.pause()
        assert isinstance(app.screen, LeaveStep)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen

        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, LeaveStep)
        await pilot.press("y")  # leave anyway
        for _ in range(200):
            if not app.is_running:
                break
            await pilot.pause(0.05)
    assert app.return_code == EXIT_LEFT_MID_STEP != 0
    record = Journal.open(tmp_path, ctx.name).step(1, "restart", "LAB-A1")
    assert record.status is StepStatus.UNKNOWN
    assert "left hcitui mid-step" in record.detail
    assert Journal.open(tmp_path, ctx.name).state.lock.node == "LAB-A1"  # still out of service


async def test_quitting_from_the_menu_with_nothing_running_does_not_ask(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS, setup=registry_values_set)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert not app.is_running
    assert app.return_code == 0


async def test_a_read_quits_without_asking(tmp_path):
    from hcitui.tui.screens.verify import VerifyScreen

    app, _ctx, _lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS, setup=registry_values_set)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await pilot.pause()
        assert isinstance(app.screen, VerifyScreen)
        assert app.running_change() is None  # verification reads: no question
        await pilot.press("q")
        await pilot.pause()
    assert not app.is_running
    assert app.return_code == 0
