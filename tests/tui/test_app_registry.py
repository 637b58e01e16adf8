"""2) Registry keys at 80x24, keyboard only."""

from __future__ import annotations

import asyncio

from textual.widgets import Static

from hcitui.tui.screens.menu import MenuScreen
from hcitui.tui.screens.registry import RegistryScreen
from hcitui.tui.widgets.confirm import ConfirmStep
from hcitui.tui.widgets.help import HelpScreen
from hcitui.tui.widgets.node_table import NodeTable
from hcitui.tui.widgets.preview import PowerShellPreview
from tuikit import FAST_RESTARTS, NODES, SIZE, make_app, mutating_calls, open_screen, settle, text_of


async def open_registry(pilot) -> RegistryScreen:
    return await open_screen(pilot, ("2",), RegistryScreen)  # opens at once: no other option starts with 2


def cells(screen: RegistryScreen, column: str) -> list[str]:
    table = screen.query_one("#reg-nodes", NodeTable)
    return [str(table.get_cell(node, column)) for node in NODES]


async def test_opens_at_once_and_shows_the_values(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "2) Registry keys" in text_of(app.screen.query_one("#menu-items", Static))
        screen = await open_registry(pilot)
        assert cells(screen, "refs") == ["-"] * 4 and cells(screen, "vid") == ["no"] * 4
        assert cells(screen, "effect") == ["no"] * 4
        assert all(c.startswith("20349.") for c in cells(screen, "build"))
        assert text_of(screen.query_one("#reg-summary", Static)).startswith("0/4 nodes set: 4 not set")
        detail = text_of(screen.query_one("#reg-detail", Static))
        assert detail.startswith("LAB-A1: RefsEnableMetadataValidation -") and "not set" in detail


async def test_set_all_dry_run_then_run(tmp_path):
    app, ctx, lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_registry(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep)
        assert "SkipSmallLocalAllocations" in app.screen.preview and "New-ItemProperty" in app.screen.preview
        await pilot.press("d")
        await settle(pilot)
        assert app.screen is screen
        assert "nothing was sent" in text_of(screen.query_one("#reg-outcome", Static))
        assert mutating_calls(ctx) == []

        await pilot.press("a")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert sorted(r["node"] for r in mutating_calls(ctx)) == NODES
        assert cells(screen, "refs") == ["0"] * 4 and cells(screen, "skip") == ["0"] * 4
        assert cells(screen, "vid") == ["yes"] * 4 and cells(screen, "effect") == ["pending"] * 4
        assert cells(screen, "status") == ["set both to 0; restart to apply"] * 4
        assert "Done: set the registry values" in text_of(screen.query_one("#reg-outcome", Static))
        assert "4 pending reboot" in text_of(screen.query_one("#reg-summary", Static))
        assert all(n.skip_small_local_allocations == 0 for n in lab.state.nodes.values())
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MenuScreen)
        assert "4/4 set, 4 pending reboot" in text_of(app.screen.query_one("#menu-items", Static))


async def test_set_the_selected_node_and_the_refs_toggle(tmp_path):
    app, ctx, _lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_registry(pilot)
        await pilot.press("down")  # LAB-A2
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep) and "LAB-A2" in app.screen.title_text
        await pilot.press("y")
        await settle(pilot)
        assert [r["node"] for r in mutating_calls(ctx)] == ["LAB-A2"]
        assert cells(screen, "effect") == ["no", "pending", "no", "no"]

        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep)
        assert app.screen.preview.index("-RefsEnableMetadataValidation 1") < app.screen.preview.index(
            "-RefsEnableMetadataValidation 0\n")
        await pilot.press("y")
        await settle(pilot)
        toggles = [r["parameters"] for r in mutating_calls(ctx)][1:]
        assert toggles == [{"RefsEnableMetadataValidation": 1}, {"RefsEnableMetadataValidation": 0}]
        assert str(screen.query_one("#reg-nodes", NodeTable).get_cell("LAB-A2", "status")) == (
            "toggled 1 then 0; restart to apply")
        assert "ReFS remediation: done" in text_of(screen.query_one("#reg-detail", Static))


async def test_a_refusal_reaches_the_operator_as_a_sentence(tmp_path):
    app, _ctx, lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS)
    lab.state.faults.unreachable = ["LAB-B2"]
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_registry(pilot)
        assert str(screen.query_one("#reg-nodes", NodeTable).get_cell("LAB-B2", "effect")) == "?"
        await pilot.press("a", "y")
        await settle(pilot)
        outcome = text_of(screen.query_one("#reg-outcome", Static))
        assert outcome.startswith("set the registry values failed: LAB-B2:") and "Traceback" not in outcome
        assert str(screen.query_one("#reg-nodes", NodeTable).get_cell("LAB-B2", "status")).startswith("FAILED")


async def test_rolling_restart_key_opens_the_maintenance_screen(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_registry(pilot)
        await pilot.press("o")
        await settle(pilot)
        names = [type(s).__name__ for s in app.screen_stack]
        assert "MaintenanceScreen" in names, names
        for _ in range(3):  # the rolling restart's confirmation, then the screen
            if app.screen is screen:
                break
            await pilot.press("escape")
            await settle(pilot)
        assert app.screen is screen


async def test_preview_help_and_no_overlapping_refresh(tmp_path):
    app, ctx, _lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_registry(pilot)
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PowerShellPreview) and "SkipSmallLocalAllocations" in app.screen.script
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.keys)
        assert keys.get("a") == "Set all" and keys.get("x") and keys.get("o") and keys.get("r") == "Refresh"
        await pilot.press("escape")
        reads = len([r for r in ctx.audit.records() if r["operation"] == "get_registry_values"])
        step = asyncio.Event()
        assert screen.start_job("something", step.wait())  # as while a step runs
        assert screen.busy == "something"
        await pilot.press("r")
        await pilot.pause()
        step.set()  # the step ends; a refresh the r had started would now have read too
        await settle(pilot)
        assert len([r for r in ctx.audit.records() if r["operation"] == "get_registry_values"]) == reads
        assert screen.busy is None
        await pilot.press("r")
        await settle(pilot)
        assert len([r for r in ctx.audit.records() if r["operation"] == "get_registry_values"]) == reads + 4


async def test_read_only_hides_the_changes_and_sends_nothing(tmp_path):
    app, ctx, _lab = make_app(tmp_path, read_only=True, poll=0.05, timings=FAST_RESTARTS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_registry(pilot)
        for action in RegistryScreen.MUTATING_ACTIONS:
            assert screen.check_action(action, ()) is False
        await pilot.press("a", "s", "x", "o")
        await settle(pilot)
        assert app.screen is screen
        assert mutating_calls(ctx) == []
        await pilot.press("question_mark")
        await pilot.pause()
        assert not {"a", "s", "x", "o"} & set(dict(app.screen.keys))


async def test_status_says_what_the_values_mean_and_a_step_that_did_nothing_says_so(tmp_path):
    app, ctx, _lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_registry(pilot)
        assert cells(screen, "status") == ["not set"] * 4  # not "ok": the read worked, nothing is set
        await pilot.press("a", "y")
        await settle(pilot)
        outcome = text_of(screen.query_one("#reg-outcome", Static))
        assert "set, each read back as 0, on 4 nodes" in outcome
        await pilot.press("r")
        await settle(pilot)
        assert cells(screen, "status") == ["set, restart pending"] * 4
        sets = len(mutating_calls(ctx))
        await pilot.press("a", "y")  # again: every node is set and recorded
        await settle(pilot)
        outcome = text_of(screen.query_one("#reg-outcome", Static))
        assert outcome == "Nothing to do: already set on 4 nodes, left as they were."
        assert len(mutating_calls(ctx)) == sets
