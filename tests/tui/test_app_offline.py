"""13) Offline update at 80x24, keyboard only: the node table, the typed confirmation naming the downtime (and the
second one on a stretched cluster with Storage Replica), the run to its closing checks, read-only refusal."""

from __future__ import annotations

from textual.widgets import Input, Static

from hcitui.cli import context as wiring
from hcitui.tui.app import HciApp
from hcitui.tui.screens.offline import SR_TYPED, OfflineUpdateScreen
from hcitui.tui.widgets.confirm import ConfirmStep
from hcitui.tui.widgets.node_table import NodeTable
from hcitui.workflow import offline
from tuikit import FAST_RESTARTS, SIZE, apply_timings, make_app, mutating_calls, open_screen, settle, text_of, wait_idle


async def open_offline(pilot) -> OfflineUpdateScreen:
    return await open_screen(pilot, ("1", "3"), OfflineUpdateScreen)


def single_site_app(tmp_path, nodes: int = 4, *, read_only: bool = False):
    lab = wiring.open_lab(tmp_path, nodes, sites=1)
    apply_timings(lab, FAST_RESTARTS)
    for node in lab.state.nodes.values():
        node.build, node.ubr = 25398, 1913
    lab.save()
    ctx = wiring.context_for_lab(lab, read_only=read_only, state_root=tmp_path)
    ctx.poll = 0.05
    return HciApp(ctx), ctx, lab


async def test_the_screen_fits_80x24_with_16_nodes_and_shows_each_node(tmp_path):
    app, _ctx, _lab = single_site_app(tmp_path, 16)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_offline(pilot)
        table = screen.query_one("#offline-nodes", NodeTable)
        assert table.row_count == 16
        assert str(table.get_cell("LAB-N16", "service")) == "Running Automatic"
        assert str(table.get_cell("LAB-N1", "updates")) == "0/1"
        assert str(table.get_cell("LAB-N1", "build")) == "25398.1913"
        assert text_of(screen.query_one("#offline-stages", Static)).startswith("Stages: 0 1 2")
        assert screen.query_one("#offline-summary", Static).region.bottom <= SIZE[1] - 1


async def test_g_asks_for_the_cluster_name_naming_the_downtime_and_esc_sends_nothing(tmp_path):
    app, ctx, _lab = single_site_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_offline(pilot)
        await pilot.press("g")
        await settle(pilot)
        confirm = app.screen
        assert isinstance(confirm, ConfirmStep) and confirm.typed == ctx.name
        assert "Every VM" in confirm.preview and "goes offline for the whole window" in confirm.preview
        await pilot.press("y")  # not typed yet: y does not count
        await settle(pilot)
        assert isinstance(app.screen, ConfirmStep)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and mutating_calls(ctx) == []


async def test_typed_confirmation_runs_the_update_to_its_closing_checks(tmp_path):
    app, ctx, lab = single_site_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_offline(pilot)
        await pilot.press("g")
        await settle(pilot)
        app.screen.query_one(Input).value = ctx.name.lower()  # Windows names: any case
        await pilot.press("enter", "y")
        await wait_idle(pilot, screen, limit=120)
        assert "closing checks PASSED" in text_of(screen.query_one("#offline-summary", Static))
        assert all(n.updates for n in lab.state.nodes.values())
        table = screen.query_one("#offline-nodes", NodeTable)
        assert str(table.get_cell("LAB-N1", "updates")) == "1/1"
        assert offline.journal_summary(ctx).startswith("closing checks PASSED")


async def test_a_stretched_cluster_asks_a_second_typed_confirmation_for_storage_replica(tmp_path):
    app, ctx, _lab = make_app(tmp_path, poll=0.05, timings=FAST_RESTARTS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_offline(pilot)
        await pilot.press("g")
        await settle(pilot)
        app.screen.query_one(Input).value = ctx.name
        await pilot.press("enter", "y")
        await settle(pilot)
        second = app.screen
        assert isinstance(second, ConfirmStep) and second.typed == SR_TYPED
        assert "BOTH SITES GO DOWN" in second.preview
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and mutating_calls(ctx) == []
        assert "Cancelled" in text_of(screen.query_one("#offline-summary", Static))


async def test_read_only_hides_g_and_refuses_a_direct_call(tmp_path):
    app, ctx, _lab = single_site_app(tmp_path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_offline(pilot)
        await pilot.press("g")
        await settle(pilot)
        assert app.screen is screen
        screen.action_run()
        await settle(pilot)
        assert "Read-only" in text_of(screen.query_one("#offline-summary", Static))
        assert mutating_calls(ctx) == []
