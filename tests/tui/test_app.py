"""Pilot tests of the console at 80x24: the menu and the verification screen, keyboard only."""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable, Static

from hcitui.tui.screens.menu import MenuScreen
from hcitui.tui.screens.verify import VerifyScreen
from hcitui.tui.widgets.help import HelpScreen
from hcitui.tui.widgets.node_table import NodeTable
from hcitui.tui.widgets.preview import PowerShellPreview
from tuikit import SIZE, make_app, open_screen, settle, text_of


def audit_lines(ctx) -> list[dict]:
    return list(ctx.audit.records())


async def open_verification(pilot) -> VerifyScreen:
    return await open_screen(pilot, ("7",), VerifyScreen)


async def test_menu_shows_header_items_and_prompt(tmp_path):
    app, _ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, MenuScreen)
        header = text_of(app.screen.query_one("#status-header", Static))
        assert "LAB-STRETCH" in header and "LIVE" in header and "READ-ONLY" not in header
        assert "4 nodes, 2 sites" in header
        items = text_of(app.screen.query_one("#menu-items", Static))
        assert "7) Verification" in items and "not run yet" in items
        assert "0) Exit" in items
        prompt = text_of(app.screen.query_one("#menu-prompt", Static))
        assert "Enter number to select an option:" in prompt


async def test_menu_read_only_badge(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        header = text_of(app.screen.query_one("#status-header", Static))
        assert "READ-ONLY" in header and " LIVE " not in header


async def test_menu_rejects_unknown_number_and_accepts_enter(tmp_path):
    app, _ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1", "4")  # "1" waits (1, 10 to 13 exist); there is no 14
        await pilot.pause()
        assert isinstance(app.screen, MenuScreen)
        assert "There is no option 14" in text_of(app.screen.query_one("#menu-message", Static))
        await pilot.press("backspace", "enter")  # nothing typed: stays
        assert isinstance(app.screen, MenuScreen)


async def test_verification_screen_shows_every_node_with_results(tmp_path):
    app, ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_verification(pilot)
        table = screen.query_one("#verify-nodes", NodeTable)
        assert [str(k.value) for k in table.rows] == ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
        for node in ("LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"):
            assert str(table.get_cell(node, "os")) == "FAIL"  # the fresh lab is on 20349
            assert str(table.get_cell(node, "up")) == "PASS"
            assert str(table.get_cell(node, "csv")) == "PASS"
            assert str(table.get_cell(node, "build")).startswith("20349.")
            assert str(table.get_cell(node, "state")) == "Up"
        checks = screen.query_one("#verify-checks", DataTable)
        assert checks.row_count == 4 * 3 + 4
        summary = text_of(screen.query_one("#verify-summary", Static))
        assert "NOT PASSED" in summary and "4 fail" in summary
        # One audit line per remote operation: 6 cluster-wide reads and one per node.
        assert len(audit_lines(ctx)) == 6 + 4


async def test_verification_refresh_back_and_menu_state(tmp_path):
    app, ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_verification(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert len(audit_lines(ctx)) == 2 * (6 + 4)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MenuScreen)
        items = text_of(app.screen.query_one("#menu-items", Static))
        assert "NOT PASSED: 12 pass, 4 fail" in items


async def test_verification_preview_and_help(tmp_path):
    app, _ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_verification(pilot)
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PowerShellPreview)
        assert "Get-ClusterNode" in app.screen.script and "Get-SRGroup" in app.screen.script
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.keys)
        assert keys.get("r") == "Refresh" and keys.get("p") == "PowerShell"
        await pilot.press("escape")
        assert isinstance(app.screen, VerifyScreen)


async def test_verification_unreachable_node_is_unknown_not_pass(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, unreachable=["LAB-B2"])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_verification(pilot)
        table = screen.query_one("#verify-nodes", NodeTable)
        assert str(table.get_cell("LAB-B2", "os")) == "UNKN"
        assert str(table.get_cell("LAB-B2", "build")) == "unreachable"
        assert str(table.get_cell("LAB-A1", "os")) == "FAIL"
        report = screen.report
        b2 = [c for c in report.checks if c.node == "LAB-B2" and c.name == "OS build 25398"]
        assert b2 and b2[0].status.value == "unknown" and "could not read" in b2[0].reason


async def test_read_only_verification_sends_no_change(tmp_path):
    app, ctx, _lab = make_app(tmp_path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await open_verification(pilot)
        records = audit_lines(ctx)
        assert records and not any(r["mutates"] for r in records)
        assert {r["outcome"] for r in records} == {"ok"}


async def test_exit_option_quits(tmp_path):
    app, _ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("0")
        await pilot.pause()
    assert app.return_code in (0, None)
    assert not app.is_running


@pytest.mark.parametrize("nodes", [2, 16])
async def test_verification_fits_other_lab_sizes(tmp_path, nodes):
    app, _ctx, _lab = make_app(tmp_path, nodes=nodes)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_verification(pilot)
        table = screen.query_one("#verify-nodes", NodeTable)
        assert table.row_count == nodes
        report = json.dumps(screen.report.as_json())
        assert f"LAB-B{nodes // 2}" in report
