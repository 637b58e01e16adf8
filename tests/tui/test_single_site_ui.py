"""The console on a cluster that is not stretched (the one-site lab) at 80x24: the menu's 6) Storage Replica
line and the SR screen say Storage Replica does not apply, as a fact and not a failure; the screen reads
nothing and offers none of its keys."""

from __future__ import annotations

from textual.widgets import Static

from hcitui.cli import context as wiring
from hcitui.tui.app import HciApp
from hcitui.tui.screens.sr import SRScreen
from hcitui.workflow.sr.menu import NOT_APPLICABLE
from tuikit import SIZE, open_screen, screen_lines, settle, text_of


def single_app(tmp_path, nodes: int = 16):
    lab = wiring.open_lab(tmp_path, nodes, sites=1)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    return HciApp(ctx), ctx


async def test_menu_line_says_not_applicable(tmp_path):
    app, _ctx = single_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        lines = screen_lines(app)
        sr_line = next(line for line in lines if " 6) Storage Replica " in line)
        assert sr_line.endswith("4,6  " + NOT_APPLICABLE)  # whole at 80 columns
        assert len(sr_line) <= SIZE[0]
        assert not sr_line.startswith(">")  # never the next step
        assert any("16 nodes in one site (not stretched)" in line for line in lines)
        assert not any(line.startswith("  Next: 6)") for line in lines)


async def test_sr_screen_says_not_applicable_and_offers_no_sr_key(tmp_path):
    app, ctx = single_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, ("6",), SRScreen)
        await settle(pilot)
        head = text_of(screen.query_one("#sr-snapshot", Static))
        assert "Storage Replica: " + NOT_APPLICABLE in head
        shown = "\n".join(screen_lines(app))
        assert NOT_APPLICABLE in shown and "FAILED" not in shown and "Cannot read" not in shown
        footer = screen_lines(app)[-1]
        for word in ("Snapshot", "Remove", "Recreate", "Diff"):
            assert word not in footer
        await pilot.press("s", "x", "c", "f")
        await settle(pilot)
        assert isinstance(app.screen, SRScreen)  # no confirmation opened, nothing started
        assert not [r for r in ctx.audit.records() if r["operation"].startswith(("get_sr", "new_sr", "remove_sr"))]
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, SRScreen)
