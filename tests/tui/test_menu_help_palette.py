"""The main menu at 80x24 with 16 nodes (one line per item, the next step), the help box that scrolls,
and a palette of hcitui's own commands in plain ASCII. Keyboard only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textual.command import CommandList, SearchIcon
from textual.widgets import Input, Static

from hcitui.core.journal import StepStatus, local_time
from hcitui.tui.screens.menu import MenuScreen, menu_entries
from hcitui.tui.widgets.help import HelpScreen
from hcitui.tui.widgets.palette import CommandPalette
from hcitui.workflow import summaries
from tuikit import SIZE, make_app, screen_lines, text_of

PROMPT = "Enter number to select an option:"
LONG = "NOT PASSED: " + ", ".join(f"check {i} on LAB-A{i} could not be read" for i in range(1, 9))


def set_times(ctx, phase: int, step: str, node: str | None, minutes_ago: float) -> None:
    record = ctx.journal.step(phase, step, node)
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    record.runs[-1].started = at.isoformat(timespec="seconds")
    record.runs[-1].finished = (at + timedelta(seconds=20)).isoformat(timespec="seconds")


# ------------------------------------------------------------------ the menu's lines


async def test_long_states_are_cut_to_one_line_and_the_prompt_stays(tmp_path):
    app, ctx, _lab = make_app(tmp_path, nodes=16)
    ctx.transport_note = "https:5986 basic, CA " + "/very/long/path" * 10  # the heading never wraps either
    ctx.journal.set_step(0, "prerequisites", None, StepStatus.FAILED, LONG)
    ctx.journal.set_step(7, "verification", None, StepStatus.FAILED, LONG)
    ctx.journal.set_step(5, "cau-run", None, StepStatus.FAILED, LONG)
    ctx.journal.set_step(8, "functional-level", None, StepStatus.FAILED, LONG)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, MenuScreen)
        lines = screen_lines(app)
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        assert any(PROMPT in line for line in lines[:-1]), "\n".join(lines)
        assert any(line.strip() == "0) Exit" for line in lines)
        for entry in menu_entries():
            assert sum(f"{entry.number:>2}) {entry.title} " in line for line in lines) == 1, entry.title
        prereq = next(line for line in lines if " 1) Prerequisites " in line)
        assert prereq.endswith("\u2026") and "NOT PASSED: check 1 on LAB-A1" in prereq
        connection = next(line for line in lines if "Connection:" in line)
        assert connection.endswith("\u2026")
        # The widget keeps the whole text: only the screen cuts it.
        assert LONG in text_of(app.screen.query_one("#menu-items", Static))

    wide = (160, 30)
    app, ctx, _lab = make_app(tmp_path / "wide", nodes=16)
    ctx.journal.set_step(0, "prerequisites", None, StepStatus.FAILED, LONG)
    async with app.run_test(size=wide) as pilot:
        await pilot.pause()
        lines = screen_lines(app)
        prereq = next(line for line in lines if " 1) Prerequisites " in line)
        assert len(prereq) > 120 and "check 3 on LAB-A3" in prereq  # a wider terminal uses the room
        assert any(PROMPT in line for line in lines)


async def test_the_next_step_is_marked_with_its_phase_and_why(tmp_path):
    app, ctx, _lab = make_app(tmp_path, nodes=16)
    ctx.journal.set_step(0, "prerequisites", None, StepStatus.DONE, "PASSED with 4 warnings")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        lines = screen_lines(app)
        marked = [line for line in lines if line.startswith(" >")]
        assert len(marked) == 1 and "> 2) Registry keys" in marked[0]
        assert "  Next: 2) Registry keys, phase 1: prerequisites passed; the keys are not set" in lines
        header = next(line for line in lines if "Option" in line)
        assert "Phase" in header and "State" in header
        registry = next(line for line in lines if " 2) Registry keys " in line)
        cau = next(line for line in lines if " 5) CAU run " in line)
        assert " 1  not set yet" in registry and " 2,5  not run yet" in cau  # phases, not menu numbers
        next_line = text_of(app.screen.query_one("#menu-next", Static))
        assert next_line.startswith("Next: 2) Registry keys, phase 1:")


async def test_a_result_taken_before_the_cluster_changed_shows_stale(tmp_path):
    app, ctx, _lab = make_app(tmp_path, nodes=16)
    ctx.journal.set_step(0, "prerequisites", None, StepStatus.DONE, "PASSED")
    set_times(ctx, 0, "prerequisites", None, 30)
    ctx.journal.set_step(1, "registry", "LAB-A1", StepStatus.DONE, "set, pending reboot")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        items = text_of(app.screen.query_one("#menu-items", Static))
        when = local_time(ctx.journal.step(0, "prerequisites").finished, fmt="%H:%M")
        assert f"PASSED at {when} (stale: the cluster changed since; run again)" in items
        assert summaries.summarize(ctx).lines[summaries.Entry.PREREQUISITES].state is summaries.State.STALE
        # The menu shows it again when the operator comes back: a step run meanwhile updates it.
        ctx.journal.set_step(0, "prerequisites", None, StepStatus.DONE, "PASSED")
        await pilot.press("7")
        await app.workers.wait_for_complete()
        await pilot.press("escape")
        await pilot.pause()
        items = text_of(app.screen.query_one("#menu-items", Static))
        assert "stale" not in items.splitlines()[0] and "PASSED at " in items.splitlines()[0]


# ------------------------------------------------------------------ help


async def test_help_scrolls_to_its_last_line_at_80x24(tmp_path):
    app, _ctx, _lab = make_app(tmp_path)
    keys = [(f"k{i}", f"the key number {i}") for i in range(40)]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.push_screen(HelpScreen("Big", keys, about="What this screen does, at length. " * 12))
        await pilot.pause()
        await pilot.pause()
        lines = screen_lines(app)
        assert any("Help: Big" in line for line in lines)
        assert not any("the key number 39" in line for line in lines)
        assert any("more below" in line for line in lines)
        body = app.screen.query_one("#help-body")
        for _ in range(12):
            if any("the key number 39" in line for line in screen_lines(app)):
                break
            await pilot.press("pagedown")
            await pilot.pause()
        lines = screen_lines(app)
        assert any("the key number 39" in line for line in lines), "\n".join(lines)
        assert any("Help: Big" in line for line in lines) and any("(the end)" in line for line in lines)
        bottom = body.scroll_y
        await pilot.press("up")
        await pilot.pause()
        assert body.scroll_y == bottom - 1
        await pilot.press("pageup", "home")
        await pilot.pause()
        assert body.scroll_y == 0 and any("What this screen does" in line for line in screen_lines(app))
        await pilot.press("down")
        await pilot.pause()
        assert body.scroll_y == 1
        await pilot.press("end")
        await pilot.pause()
        assert body.scroll_y == body.max_scroll_y
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MenuScreen)


async def test_a_screens_help_reaches_its_last_key(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, nodes=16)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await app.workers.wait_for_complete()
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        last_key, last_text = help_screen.keys[-1]
        await pilot.press("end")
        await pilot.pause()
        lines = screen_lines(app)
        assert any(last_key in line and last_text in line for line in lines), "\n".join(lines)
        assert any("Help: 2) Registry keys" in line for line in lines)


# ------------------------------------------------------------------ palette

TEXTUAL_ENTRIES = {"Theme", "Keys", "Maximize", "Minimize", "Screenshot", "Change theme"}


async def palette_entries(pilot) -> list[tuple[str, str]]:
    """(name, help) of every entry the open palette lists, once its providers have answered."""
    palette = pilot.app.screen
    assert isinstance(palette, CommandPalette)
    listing = palette.query_one(CommandList)
    count = -1
    for _ in range(50):
        await pilot.pause(0.05)
        if listing.option_count and listing.option_count == count:
            break
        count = listing.option_count
    options = [listing.get_option_at_index(i) for i in range(listing.option_count)]
    return [(str(o.hit.text), str(o.hit.help or "")) for o in options]


def assert_plain(text: str) -> None:
    assert text.isascii(), f"non-ASCII in the palette: {text!r}"


async def test_the_palette_lists_hcituis_commands_only_in_ascii(tmp_path):
    app, _ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for number in (None, 7, 2, 9):
            if number is not None:
                await pilot.press(str(number))
                await app.workers.wait_for_complete()
                await pilot.pause()
            calling = app.screen
            await pilot.press("ctrl+p")
            entries = await palette_entries(pilot)
            names = [name for name, _ in entries]
            assert "Help" in names and names.count("Quit") == 1, names
            assert not set(names) & TEXTUAL_ENTRIES, names
            assert not any(help_text == "key escape" for _, help_text in entries), entries
            for name, help_text in entries:
                assert_plain(name)
                assert_plain(help_text)
            palette = app.screen
            assert_plain(palette.query_one(SearchIcon).icon)
            assert_plain(palette.query_one(Input).placeholder)
            for line in screen_lines(app):
                assert not any(ord(c) >= 0x1F000 or 0x2600 <= ord(c) <= 0x27BF for c in line), line
            if number == 7:
                assert {"Refresh", "PowerShell"} <= set(names)
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is calling
            if number is not None:
                await pilot.press("escape")
                await pilot.pause()


async def test_the_palettes_help_opens_the_calling_screens_help(tmp_path):
    app, _ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await app.workers.wait_for_complete()
        await pilot.press("ctrl+p")
        await palette_entries(pilot)
        await pilot.press(*"help")
        await palette_entries(pilot)
        await pilot.press("enter")
        for _ in range(40):
            if isinstance(app.screen, HelpScreen):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.title_text == "7) Verification"
