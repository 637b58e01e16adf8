"""Pilot tests of 1) Prerequisites at 80x24, keyboard only."""

from __future__ import annotations

import asyncio

from textual.widgets import DataTable, Static

from hcitui.tui.screens.menu import MenuScreen
from hcitui.tui.screens.prereq import PrereqScreen
from hcitui.tui.widgets.help import HelpScreen
from hcitui.tui.widgets.node_table import NodeTable
from hcitui.tui.widgets.preview import PowerShellPreview
from tuikit import NODES, SIZE, make_app, open_screen, settle, text_of

# Reads per run on the 4-node lab: 6 cluster-wide, 4 per node plus the ISO lookup.
READS = 6 + 5 * 4


def iso_everywhere(lab) -> None:
    """The ISO on LAB-B2 too (the fresh lab has it on the other three)."""
    lab.state.nodes["LAB-B2"].files[lab.state.iso_path] = 123


async def open_prerequisites(pilot) -> PrereqScreen:
    return await open_screen(pilot, ("1", "enter"), PrereqScreen)


def detail(screen: PrereqScreen) -> str:
    return text_of(screen.query_one("#prereq-detail", Static))


async def test_menu_lists_prerequisites_first(tmp_path):
    app, _ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, MenuScreen)
        items = text_of(app.screen.query_one("#menu-items", Static))
        assert "1) Prerequisites" in items
        lines = [line for line in items.splitlines() if line.strip()]
        assert "1) Prerequisites" in lines[0] and "not run yet" in lines[0]


async def test_prerequisites_screen_shows_nodes_results_and_remediation(tmp_path):
    app, ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_prerequisites(pilot)
        table = screen.query_one("#prereq-nodes", NodeTable)
        assert [str(k.value) for k in table.rows] == NODES
        for node in NODES:
            assert str(table.get_cell(node, "up")) == "PASS"
            assert str(table.get_cell(node, "os")) == "PASS"
            assert str(table.get_cell(node, "reg")) == "PASS"
            assert str(table.get_cell(node, "sb")) == "PASS"
            assert str(table.get_cell(node, "vms")) == "WARN"  # the lab's VMs are running
            assert str(table.get_cell(node, "state")) == "Up"
        assert str(table.get_cell("LAB-B2", "iso")) == "FAIL"
        for node in NODES[:3]:
            assert str(table.get_cell(node, "iso")) == "PASS"
        assert str(table.get_cell("LAB-B2", "status")) == "1 blocking"
        checks = screen.query_one("#prereq-checks", DataTable)
        assert checks.row_count == 4 * 7 + 3
        summary = text_of(screen.query_one("#prereq-summary", Static))
        assert "NOT PASSED" in summary and "1 fail" in summary

        # The detail of the highlighted node gives reason and remediation.
        await pilot.press("down", "down", "down")
        await pilot.pause()
        assert table.selected_node == "LAB-B2"
        text = detail(screen)
        assert "FAIL ISO present" in text and "not found" in text and "4) ISO staging" in text

        # On the checks table, the highlighted row's reason and remediation.
        await pilot.press("tab")
        await pilot.pause()
        assert screen.focused is checks
        row = list(checks.rows).index(next(k for k in checks.rows if k.value == "ISO present|LAB-B2"))
        checks.move_cursor(row=row)
        await pilot.pause()
        text = detail(screen)
        # The words are the workflow's; the key and the screen come from the check's remedy (Action.ISO_STAGE).
        assert ("ISO present (LAB-B2)" in text
                and "Fix: stage the ISO (it copies it to the nodes): s on 4) ISO staging" in text)
        assert len(list(ctx.audit.records())) == READS


async def test_prerequisites_preview_help_and_no_mutating_key(tmp_path):
    app, _ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_prerequisites(pilot)
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PowerShellPreview)
        script = app.screen.script
        for cmdlet in ("Get-ClusterNode", "Get-AzureStackHCI", "Confirm-SecureBootUEFI", "Get-VM",
                       "Get-CauClusterRole", "Get-StorageJob", "Get-Item -LiteralPath"):
            assert cmdlet in script, cmdlet
        assert "AzureLocal-2509-25398.iso" in script
        assert "CHANGES THE CLUSTER" not in script
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.keys)
        assert keys.get("r") == "Refresh" and keys.get("p") == "PowerShell"
        await pilot.press("escape")
        assert isinstance(app.screen, PrereqScreen)


async def test_refresh_and_menu_state(tmp_path):
    app, ctx, _lab = make_app(tmp_path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await open_prerequisites(pilot)
        await pilot.press("r")
        await settle(pilot)
        records = list(ctx.audit.records())
        assert len(records) == 2 * READS
        assert not any(r["mutates"] for r in records) and {r["outcome"] for r in records} == {"ok"}
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MenuScreen)
        items = text_of(app.screen.query_one("#menu-items", Static))
        assert "NOT PASSED: 26 pass, 1 fail, 4 warn at " in items


async def test_refresh_while_running_does_not_overlap(tmp_path):
    app, ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_prerequisites(pilot)
        assert screen.busy is None
        run = asyncio.Event()
        assert screen.start_job("checks", run.wait())  # as while a run is under way
        await pilot.press("r")
        await pilot.pause()
        run.set()  # the run ends; a second one the r had started would now have read too
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(list(ctx.audit.records())) == READS  # no second run was started
        assert screen.busy is None
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(list(ctx.audit.records())) == 2 * READS


async def test_passes_with_warnings_when_the_iso_is_everywhere(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, setup=iso_everywhere)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_prerequisites(pilot)
        table = screen.query_one("#prereq-nodes", NodeTable)
        assert str(table.get_cell("LAB-B2", "iso")) == "PASS"
        assert str(table.get_cell("LAB-B2", "status")) == "1 warning"
        summary = text_of(screen.query_one("#prereq-summary", Static))
        assert "PASSED with 4 warnings" in summary and "NOT" not in summary
        await pilot.press("escape")
        await pilot.pause()
        items = text_of(app.screen.query_one("#menu-items", Static))
        assert "PASSED with 4 warnings at " in items
