"""4) ISO staging at 80x24, keyboard only."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import Static

from hcitui.lab.state import ISO_FILE_COUNT, ISO_SIZE
from hcitui.tui.screens.iso import IsoScreen
from hcitui.tui.screens.menu import MenuScreen
from hcitui.tui.widgets.confirm import ConfirmStep
from hcitui.tui.widgets.node_table import NodeTable
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow import eta
from hcitui.workflow.events import ProgressEvent
from tuikit import NODES, SIZE, make_app, mutating_calls, open_screen, row_shown, screen_lines, settle, text_of

TIMINGS = {"stage_iso": 0.2}  # a copy to a node takes a fraction of a second


async def open_iso(pilot) -> IsoScreen:
    return await open_screen(pilot, ("4",), IsoScreen)  # opens at once: no other option starts with 4


def cells(screen: IsoScreen, column: str) -> list[str]:
    table = screen.query_one("#iso-nodes", NodeTable)
    return [str(table.get_cell(node, column)) for node in NODES]


async def test_opens_at_once_and_shows_the_missing_iso(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, poll=0.05, timings=TIMINGS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "4) ISO staging" in text_of(app.screen.query_one("#menu-items", Static))
        screen = await open_iso(pilot)
        assert cells(screen, "iso") == ["8.0 MiB"] * 3 + ["missing"]
        assert cells(screen, "files") == ["-"] * 4 and cells(screen, "verified") == ["-"] * 4
        summary = text_of(screen.query_one("#iso-summary", Static))
        assert "ISO on 3/4 nodes" in summary and "AzureLocal-2509-25398.iso" in summary
        await pilot.press("down", "down", "down")  # LAB-B2
        await pilot.pause()
        detail = text_of(screen.query_one("#iso-detail", Static))
        assert detail.startswith("LAB-B2: ISO C:\\ISO\\AzureLocal-2509-25398.iso missing: c copies it")


async def test_copy_dry_run_then_run_with_a_progress_bar(tmp_path):
    app, ctx, lab = make_app(tmp_path, poll=0.05, timings=TIMINGS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_iso(pilot)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep)
        assert "LAB-B2" in app.screen.title_text and "FromBase64String" in app.screen.preview
        await pilot.press("d")
        await settle(pilot)
        assert "nothing was sent" in text_of(screen.query_one("#iso-outcome", Static))
        assert mutating_calls(ctx) == []

        bars: list[str] = []
        statuses: list[str] = []
        original = screen.show_progress  # what the screen shows of each event, in its message handler

        def watch(event):
            original(event)
            node = event.node
            bars.append(text_of(screen.query_one("#iso-progress", Static)))
            statuses.append(str(screen.query_one("#iso-nodes", NodeTable).get_cell(node, "status")))

        screen.show_progress = watch
        await pilot.press("c", "y")
        await settle(pilot)
        assert {r["node"] for r in mutating_calls(ctx)} == {"LAB-B2"}
        assert lab.state.nodes["LAB-B2"].files[lab.state.iso_path] == ISO_SIZE
        assert any("Copy to LAB-B2: [" in bar and "%" in bar for bar in bars)
        assert cells(screen, "iso") == ["8.0 MiB"] * 4
        assert any(s.startswith("copy ") and s.endswith("]") for s in statuses)
        assert str(screen.query_one("#iso-nodes", NodeTable).get_cell("LAB-B2", "status")) == (
            "copied: 8.0 MiB, length verified")
        assert text_of(screen.query_one("#iso-progress", Static)) == ""  # cleared once done


async def test_stage_all_then_verify(tmp_path):
    app, ctx, lab = make_app(tmp_path, poll=0.05, timings=TIMINGS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_iso(pilot)
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep) and "Mount-DiskImage" in app.screen.preview
        assert app.screen.preview.count("# write_file_chunk") == 1  # the last read: only LAB-B2 lacks it
        await pilot.press("y")
        await settle(pilot)
        assert sorted(r["node"] for r in mutating_calls(ctx) if r["operation"] == "stage_iso") == NODES
        assert cells(screen, "files") == [str(ISO_FILE_COUNT)] * 4
        assert cells(screen, "setup") == ["yes"] * 4 and cells(screen, "verified") == ["yes"] * 4
        assert cells(screen, "status") == [f"verified: {ISO_FILE_COUNT} files"] * 4

        lab.state.nodes["LAB-B1"].staged[lab.state.staging_path].file_count -= 1
        await pilot.press("v")
        await settle(pilot)
        assert cells(screen, "verified") == ["yes", "yes", "DIFFERS", "yes"]
        assert str(screen.query_one("#iso-nodes", NodeTable).get_cell("LAB-B1", "status")) == "FAILED"
        outcome = text_of(screen.query_one("#iso-outcome", Static))
        assert outcome.startswith("verify the staged media failed: LAB-B1:")
        assert f"{ISO_FILE_COUNT - 1} files" in outcome
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MenuScreen)
        assert "3/4 nodes staged, 1 failed" in text_of(app.screen.query_one("#menu-items", Static))


async def test_preview_of_the_reads(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, poll=0.05, timings=TIMINGS)
    async with app.run_test(size=SIZE) as pilot:
        await open_iso(pilot)
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PowerShellPreview)
        assert "Get-Item -LiteralPath $Path" in app.screen.script and "setup.exe" in app.screen.script


async def test_read_only_hides_the_changes_and_sends_nothing(tmp_path):
    app, ctx, _lab = make_app(tmp_path, read_only=True, poll=0.05, timings=TIMINGS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_iso(pilot)
        assert screen.check_action("copy", ()) is False and screen.check_action("stage", ()) is False
        assert screen.check_action("verify", ()) is True
        await pilot.press("c", "s")
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("v")  # a read: allowed; nothing is staged on the fresh lab
        await settle(pilot)
        assert "no node has setup.exe" in text_of(screen.query_one("#iso-outcome", Static))
        assert mutating_calls(ctx) == []
        await pilot.press("question_mark")
        await pilot.pause()
        keys = dict(app.screen.keys)
        assert "c" not in keys and "s" not in keys and keys.get("v") == "Verify"


async def test_16_nodes_at_80x24_every_row_by_the_cursor_and_the_summary_in_view(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, nodes=16)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_iso(pilot)
        lines = screen_lines(app)
        assert len(lines) == SIZE[1]
        assert any(line.startswith(" ISO on 15/16 nodes, staged on 0/16;") for line in lines)
        footer = lines[-1]
        for binding in IsoScreen.BINDINGS:  # every key shown fits in the footer, palette included
            assert not binding.show or f"{binding.key} {binding.description}" in footer
        assert "palette" in footer
        await pilot.press(*["down"] * 15)
        await pilot.pause()
        assert screen.selected == "LAB-B8"
        lines = screen_lines(app)
        assert row_shown(lines, "LAB-B8") and "missing" in next(line for line in lines if line.startswith(" LAB-B8 "))
        assert any(line.startswith(" LAB-B8: ISO C:\\ISO\\AzureLocal-2509-25398.iso missing") for line in lines)
        assert any(line.startswith(" ISO on 15/16 nodes") for line in lines)

        # The copy's progress: which node of the copies, and when they should all be done.
        today = datetime.now().replace(hour=14, minute=35)
        screen.show_progress(ProgressEvent("LAB-A3", "copying", 0.5, done=ISO_SIZE // 2, total=ISO_SIZE,
                                           position=(1, 2), eta=today))
        await pilot.pause()
        lines = screen_lines(app)
        assert any(line.startswith(" Copy to LAB-A3: [###############...............]  50%") for line in lines)
        assert " node 1 of 2 to copy · finish about 14:35 (every copy)" in lines
        assert row_shown(lines, "LAB-B8") and any(line.startswith(" ISO on 15/16 nodes") for line in lines)
        screen.show_progress(ProgressEvent("LAB-B8", "copying", 0.0, done=0, total=ISO_SIZE, position=(1, 1),
                                           eta=eta.UNKNOWN))
        await pilot.pause()
        assert " node 1 of 1 to copy · estimate unknown" in screen_lines(app)
