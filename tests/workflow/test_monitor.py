"""The monitor: headless digest (changes, unreachable time, backoff) and the screen at 80x24 on the lab."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import DataTable, Static

from hcitui.cli import context as wiring
from hcitui.core.journal import Journal
from hcitui.core.units import bar, duration
from hcitui.lab.state import LabStorageJob
from hcitui.tui.screens import monitor as screen_mod
from hcitui.tui.screens.monitor import MonitorScreen, status_line
from hcitui.workflow import monitor as monitor_mod
from hcitui.workflow import observe as observe_mod
from hcitui.workflow.monitor import Monitor
from tui.tuikit import NODES, SIZE, make_app, text_of, wait_for


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def lab_context(tmp_path, *, read_only=True, nodes=4):
    lab = wiring.open_lab(tmp_path, nodes)
    ctx = wiring.context_for_lab(lab, read_only=read_only, state_root=tmp_path)
    return lab, ctx


# ------------------------------------------------------------------ headless


def test_helpers_read_without_colour():
    assert bar(0.4, 10) == "[####......]  40%"  # the monitor's bars: core.units, ten wide
    assert bar(None).endswith("?%")
    assert duration(42) == "0:42" and duration(725) == "12:05" and duration(3725) == "1:02:05"


async def test_first_refresh_reads_every_part_and_records_builds(tmp_path):
    lab, ctx = lab_context(tmp_path)
    mon = Monitor(ctx)
    assert mon.interval == 5  # the config's default
    snap = await mon.refresh()
    assert not snap.failed and not snap.problems
    assert list(snap.rows) == NODES
    a1 = snap.rows["LAB-A1"]
    assert a1["state"] == "Up" and a1["build"].startswith("20349.") and a1["site"] == "SiteA"
    assert a1["drain"] == "-" and a1["csv"].endswith("ok") and int(a1["roles"]) >= 1
    assert snap.changed == {}  # nothing to compare with yet
    assert [line.text for line in snap.jobs] == ["none running"]
    assert len(snap.sr_groups) == 4 and all("ContinuouslyReplicating" in line.text for line in snap.sr_groups)
    assert snap.cau[0].text.startswith("RunNotInProgress")
    ops = {r["operation"] for r in ctx.audit.records()}
    assert ops == {op.name for op in monitor_mod.OPERATIONS}
    assert not any(r["mutates"] for r in ctx.audit.records())
    inventory = Journal.open(tmp_path, ctx.name).state.inventory
    assert set(inventory) == set(NODES) and inventory["LAB-A1"].first_build.startswith("20349.")


async def test_changes_are_marked_and_clear_on_the_next_refresh(tmp_path):
    lab, ctx = lab_context(tmp_path)
    mon = Monitor(ctx)
    await mon.refresh()
    lab.state.nodes["LAB-A2"].cluster_state = "Paused"
    lab.state.nodes["LAB-A2"].drain_status = "Completed"
    lab.state.storage_jobs.append(LabStorageJob(name="Repair", site="SiteA", started=lab.now, duration=600,
                                                bytes_total=96 * 1024**3))
    snap = await mon.refresh()
    assert snap.changed == {"LAB-A2": {"state", "drain"}}
    assert snap.rows["LAB-A2"]["state"] == "Paused" and snap.rows["LAB-A2"]["drain"] == "Completed"
    assert len(snap.jobs) == 1 and snap.jobs[0].changed and "Repair" in snap.jobs[0].text and "%" in snap.jobs[0].text
    again = await mon.refresh()
    assert again.changed == {}
    assert not again.jobs[0].changed


async def test_unreachable_node_counts_time_and_recovers(tmp_path):
    lab, ctx = lab_context(tmp_path)
    clock = Clock()
    mon = Monitor(ctx, interval=5, clock=clock)
    lab.state.faults.unreachable = ["LAB-B2"]
    snap = await mon.refresh()
    assert snap.rows["LAB-B2"]["build"] == "unreachable"
    assert "LAB-B2" in snap.unreachable and not snap.failed
    assert mon.failures == 0 and mon.next_delay() == 5  # one node gone is news, not a failed refresh
    clock.t += 42
    await mon.refresh()
    assert mon.unreachable_for("LAB-B2") == 42  # since first seen, not since the last refresh
    lab.state.faults.unreachable = []
    snap = await mon.refresh()
    assert "LAB-B2" not in snap.unreachable and mon.unreachable_for("LAB-B2") is None
    assert snap.rows["LAB-B2"]["build"].startswith("20349.") and "build" in snap.changed["LAB-B2"]


async def test_backoff_after_failed_refreshes_and_reset_after_a_good_one(tmp_path):
    lab, ctx = lab_context(tmp_path)
    mon = Monitor(ctx, interval=5)
    lab.state.faults.unreachable = list(NODES)
    delays = []
    for _ in range(6):
        snap = await mon.refresh()
        assert snap.failed
        delays.append(mon.next_delay())
    assert delays == [10, 20, 40, 80, 120, 120]
    assert "refresh failed" in status_line(mon, snap, 120) and "retrying in 120 s" in status_line(mon, snap, 120)
    lab.state.faults.unreachable = []
    await mon.refresh()
    assert mon.failures == 0 and mon.next_delay() == 5


async def test_refresh_never_overlaps(tmp_path, monkeypatch):
    lab, ctx = lab_context(tmp_path)
    mon = Monitor(ctx)
    gate = asyncio.Event()
    real = observe_mod.observe

    async def slow(*args, **kwargs):
        await gate.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(observe_mod, "observe", slow)
    first = asyncio.create_task(mon.refresh())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="already running"):
        await mon.refresh()
    gate.set()
    await first
    assert not mon.running


# ------------------------------------------------------------------- screen


async def open_monitor(pilot, app) -> MonitorScreen:
    await pilot.press("9")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, MonitorScreen)
    assert await wait_for(pilot, lambda: screen.refreshes >= 1)
    await pilot.pause()
    return screen


async def test_screen_shows_every_node_and_section_at_80x24(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_monitor(pilot, app)
        table = screen.query_one("#monitor-nodes", DataTable)
        assert [str(k.value) for k in table.rows] == NODES
        assert [str(c.value) for c in table.columns] == [key for key, _, _ in screen_mod.COLUMNS]
        assert str(table.get_cell("LAB-A1", "state")) == "Up"
        detail = text_of(screen.query_one("#monitor-detail", Static))
        for title in ("Storage jobs", "SR groups", "CAU run"):
            assert title in detail
        status = text_of(screen.query_one("#monitor-status", Static))
        assert status.startswith("refreshed ") and "next in" in status
        header = text_of(screen.query_one("#status-header", Static))
        assert "READ-ONLY" in header and "Monitor" in header


async def test_screen_refreshes_on_its_own_and_marks_changes(tmp_path):
    app, _ctx, lab = make_app(tmp_path, read_only=True, start=lambda: MonitorScreen(interval=1))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MonitorScreen)
        assert await wait_for(pilot, lambda: screen.refreshes >= 1)
        lab.state.nodes["LAB-B1"].cluster_state = "Paused"
        seen = screen.refreshes
        # No key is pressed: the next refresh comes by itself.
        assert await wait_for(pilot, lambda: screen.refreshes > seen)
        await pilot.pause()
        cell = screen.query_one("#monitor-nodes", DataTable).get_cell("LAB-B1", "state")
        assert cell.plain == "*Paused" and "reverse" in str(cell.style)
        assert screen.query_one("#monitor-nodes", DataTable).get_cell("LAB-A1", "state").plain == "Up"


async def test_refresh_key_does_not_overlap_a_refresh_in_flight(tmp_path, monkeypatch):
    app, _ctx, _lab = make_app(tmp_path, read_only=True)
    gate = asyncio.Event()
    calls = {"now": 0, "max": 0, "total": 0}
    real = observe_mod.observe

    async def counted(*args, **kwargs):
        calls["now"] += 1
        calls["total"] += 1
        calls["max"] = max(calls["max"], calls["now"])
        try:
            await gate.wait()
            return await real(*args, **kwargs)
        finally:
            calls["now"] -= 1

    monkeypatch.setattr(observe_mod, "observe", counted)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("9")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MonitorScreen) and screen.busy
        await pilot.press("r", "r", "r")
        await pilot.pause()
        assert calls["total"] == 1
        gate.set()
        assert await wait_for(pilot, lambda: screen.refreshes >= 1)
        await pilot.press("r")
        assert await wait_for(pilot, lambda: screen.refreshes >= 2)
        assert calls["max"] == 1 and calls["total"] == 2


async def test_screen_shows_unreachable_node_with_time(tmp_path):
    app, _ctx, lab = make_app(tmp_path, nodes=2, read_only=True)
    lab.state.faults.unreachable = ["LAB-B1"]
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_monitor(pilot, app)
        cell = screen.query_one("#monitor-nodes", DataTable).get_cell("LAB-B1", "build")
        assert cell.plain.startswith("unreachable 0:0")


async def test_screen_says_refresh_failed_and_backs_off(tmp_path):
    app, _ctx, lab = make_app(tmp_path, nodes=2, read_only=True)
    lab.state.faults.unreachable = ["LAB-A1", "LAB-B1"]
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_monitor(pilot, app)
        status = text_of(screen.query_one("#monitor-status", Static))
        assert status.startswith("refresh failed:") and "retrying in 10 s" in status
        assert screen.monitor.next_delay() == 10


async def test_wide_terminal_shows_more_columns(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, read_only=True)
    async with app.run_test(size=(132, 30)) as pilot:
        screen = await open_monitor(pilot, app)
        table = screen.query_one("#monitor-nodes", DataTable)
        keys = [str(c.value) for c in table.columns]
        assert keys[-3:] == ["version", "boot", "cau"]
        assert str(table.get_cell("LAB-A1", "version")) == "22H2"
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert [str(c.value) for c in table.columns] == [key for key, _, _ in screen_mod.COLUMNS]


async def test_monitor_preview_lists_only_reads(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await open_monitor(pilot, app)
        await pilot.press("p")
        await pilot.pause()
        script = app.screen.script
        assert "Get-ClusterNode" in script and "Get-CauRun" in script
        assert "CHANGES THE CLUSTER" not in script
