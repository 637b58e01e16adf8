"""Snapshots of every screen at 80x24, with 4 and with 16 nodes, without colour (NO_COLOR): a layout
regression (a verdict pushed off screen, a table cut short, a footer that no longer fits) changes the
picture and fails here. The clock is frozen and the zone is UTC, so times on screen do not move.

After a deliberate change of a screen, look at the new pictures, then accept them:
``pytest tests/tui/test_snapshots.py --snapshot-update``."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest

time_machine = pytest.importorskip("time_machine")
pytest.importorskip("pytest_textual_snapshot")

from hcitui.cli import context as wiring  # noqa: E402
from hcitui.tui.app import HciApp  # noqa: E402

FROZEN = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
SCREENS = {  # what the operator types at the menu -> the picture's name
    "": "menu", "1": "prerequisites", "2": "registry", "3": "maintenance", "4": "iso", "5": "cau",
    "6": "storage-replica", "7": "verification", "8": "post-upgrade", "9": "monitor", "10": "audit",
    "11": "journal", "12": "readiness", "13": "offline-update", "?": "help",
}


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    with time_machine.travel(FROZEN, tick=False):
        yield
    monkeypatch.delenv("TZ")
    time.tzset()


async def _open(pilot, keys: str) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    menu = pilot.app.screen
    if keys == "?":
        await pilot.press("question_mark")
    elif keys:
        await pilot.press(*keys)  # a number opens at once when no other starts with it
        await pilot.pause()
        if pilot.app.screen is menu:
            await pilot.press("enter")
        assert pilot.app.screen is not menu, f"option {keys} did not open"
    for _ in range(3):  # the screen's first read, then what it starts after it
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("nodes", [4, 16])
@pytest.mark.parametrize("keys", list(SCREENS), ids=list(SCREENS.values()))
def test_screen_at_80x24(snap_compare, frozen, tmp_path, nodes, keys):
    lab = wiring.open_lab(tmp_path, nodes)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    app = HciApp(ctx)
    assert os.environ["NO_COLOR"] == "1"
    assert snap_compare(app, terminal_size=(80, 24), run_before=lambda pilot: _open(pilot, keys))
