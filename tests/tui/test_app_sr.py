"""6) Storage Replica at 80x24: snapshot, view, typed confirmation, removal, recreation, diff, read-only."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.widgets import DataTable, Input, Static

from hcitui.tui.screens.menu import MenuScreen
from hcitui.tui.screens.sr import SRScreen
from hcitui.tui.widgets.confirm import ConfirmStep
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow import eta
from hcitui.workflow.events import ProgressEvent, Stage
from tuikit import SIZE, make_app, screen_lines, text_of, wait_idle

TIMINGS = {"sr_initial_sync": 1.0}  # a partnership's initial sync takes a second


async def open_sr(pilot) -> SRScreen:
    await pilot.press("6")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, SRScreen)
    await wait_idle(pilot, screen)
    return screen


def outcome(screen) -> str:
    return text_of(screen.query_one("#sr-outcome", Static))


async def test_snapshot_view_remove_with_typed_name_recreate_and_diff(tmp_path):
    app, ctx, lab = make_app(tmp_path, poll=0.05, timings=TIMINGS)
    async with app.run_test(size=SIZE) as pilot:
        assert "6) Storage Replica" in text_of(app.screen.query_one("#menu-items", Static))
        screen = await open_sr(pilot)
        table = screen.query_one("#sr-table", DataTable)
        assert table.row_count == 2
        assert "none yet" in text_of(screen.query_one("#sr-snapshot", Static))

        await pilot.press("s")
        await wait_idle(pilot, screen)
        assert "re-read OK" in text_of(screen.query_one("#sr-snapshot", Static))
        assert "written and re-read" in outcome(screen)

        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, PowerShellPreview)
        assert app.screen.script.count("New-SRPartnership `") == 2 and "-Force" in app.screen.script
        await pilot.press("escape")
        await pilot.pause()

        await pilot.press("x")
        await pilot.pause()
        confirm = app.screen
        assert isinstance(confirm, ConfirmStep) and confirm.typed == "LAB-STRETCH"
        assert "Remove-SRPartnership @remove -Force" in confirm.preview
        await pilot.press(*"LAB-STRETCHED", "enter")  # not the cluster's name
        await pilot.pause()
        assert app.screen is confirm
        assert "That is not LAB-STRETCH" in text_of(confirm.query_one("#confirm-message", Static))
        assert len(lab.state.partnerships) == 2
        assert not any(r["mutates"] for r in ctx.audit.records())
        confirm.query_one("#confirm-typed", Input).value = ""
        await pilot.press(*"LAB-STRETCH", "enter")
        await wait_idle(pilot, screen)
        assert lab.state.partnerships == []
        assert "2 partnerships removed" in outcome(screen)
        assert str(table.get_cell(screen.snapshot.partnerships[0].key, "status")) == "not present"

        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep) and app.screen.typed is None
        assert "New-SRPartnership @new -Force" in app.screen.preview
        bars: list[str] = []
        await pilot.press("y")
        await wait_idle(pilot, screen, watch=lambda: bars.append(text_of(screen.query_one("#sr-progress", Static))))
        assert any("initial sync:" in b and "[" in b and "%" in b for b in bars), bars
        assert len(lab.state.partnerships) == 2
        assert "same as the snapshot" in outcome(screen)
        assert {str(table.get_cell(sp.key, "sync")) for sp in screen.snapshot.partnerships} == {"in sync"}

        await pilot.press("f")
        await wait_idle(pilot, screen)
        assert "the same as the snapshot (2 partnerships)" in outcome(screen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MenuScreen)
        assert "2/2 recreated, diff same" in text_of(app.screen.query_one("#menu-items", Static))


async def test_a_wrong_configuration_shows_in_the_diff(tmp_path):
    app, _ctx, lab = make_app(tmp_path, poll=0.05, timings=TIMINGS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sr(pilot)
        await pilot.press("s")
        await wait_idle(pilot, screen)
        lab.state.sr_groups[0].log_size_in_bytes = 4 * 1024**3
        await pilot.press("f")
        await wait_idle(pilot, screen)
        assert isinstance(app.screen, PowerShellPreview)
        assert "source log size: snapshot 8.0 GiB, now 4.0 GiB" in app.screen.script
        await pilot.press("escape")
        await pilot.pause()
        assert "Diff: DIFFERENT, 1 difference: " in outcome(screen)


async def test_dry_run_and_refusal_send_nothing(tmp_path):
    app, ctx, lab = make_app(tmp_path, poll=0.05, timings=TIMINGS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sr(pilot)
        await pilot.press("c")  # no snapshot yet
        await pilot.pause()
        await pilot.press("y")
        await wait_idle(pilot, screen)
        assert "recreate SR partnerships refused" in outcome(screen)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("tab", "d")  # off the typed box, then the dry run
        await pilot.pause()
        assert "Dry run of remove SR partnerships: nothing was sent" in outcome(screen)
        assert not any(r["mutates"] for r in ctx.audit.records())
        assert len(lab.state.partnerships) == 2


async def test_read_only_hides_remove_and_recreate_and_sends_nothing(tmp_path):
    app, ctx, lab = make_app(tmp_path, read_only=True, poll=0.05, timings=TIMINGS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sr(pilot)
        for action in SRScreen.MUTATING_ACTIONS:
            assert screen.check_action(action, ()) is False
        await pilot.press("x", "c")
        await pilot.pause()
        assert isinstance(app.screen, SRScreen)  # no confirmation was even offered
        await pilot.press("s")  # the snapshot only reads the cluster: allowed
        await wait_idle(pilot, screen)
        assert "re-read OK" in text_of(screen.query_one("#sr-snapshot", Static))
        assert not any(r["mutates"] for r in ctx.audit.records())
        assert len(lab.state.partnerships) == 2


async def test_progress_shows_the_events_fields_not_their_words(tmp_path):
    """The progress line and the row's cells come from stage, status, bytes, since and position."""
    app, _ctx, _lab = make_app(tmp_path, poll=0.05, timings=TIMINGS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sr(pilot)
        table = screen.query_one("#sr-table", DataTable)
        label = "SiteA-Data01-RG -> SiteB-Replica01-RG"
        key = screen.keys_by_label[label]
        gib = 1024**3
        since = datetime(2026, 1, 2, 12, 0, 1, tzinfo=UTC)
        screen.show_progress(ProgressEvent(label, "words: that are never read", 0.25, stage=Stage.WAITING,
                                           status="InitialBlockCopy", since=since, done=2 * gib, total=8 * gib,
                                           position=(1, 2)))
        line = text_of(screen.query_one("#sr-progress", Static))
        assert line.startswith(f"{label} (1 of 2): words: that are never read\n")
        assert "[" + "#" * 7 + "." * 23 + "]  25%" in line
        assert "2.0 GiB of 8.0 GiB" in line and "since " in line
        assert str(table.get_cell(key, "status")) == "copying 25%"
        assert str(table.get_cell(key, "sync")) == "[##......]"
        screen.show_progress(ProgressEvent(label, "New-SRPartnership: sent", status="InitialBlockCopy"))
        assert str(table.get_cell(key, "status")) == "block copy"  # the status field, not the words' head
        screen.show_progress(ProgressEvent(label, "the destination group is Failed", stage=Stage.FAILED))
        assert str(table.get_cell(key, "status")) == "FAILED"
        assert "FAILED: the destination group is Failed" in text_of(screen.query_one("#sr-progress", Static))
        screen.show_progress(ProgressEvent(label, "replicating, same as the snapshot", 1.0, stage=Stage.DONE))
        assert str(table.get_cell(key, "status")) == "done"


async def test_16_nodes_at_80x24_every_partnership_the_progress_and_the_keys_in_view(tmp_path):
    # The rows here are partnerships (the lab's two), not nodes: the last one is reached with the cursor,
    # and the snapshot line, the detail, three lines of progress and the keys' line all stay in view.
    app, _ctx, _lab = make_app(tmp_path, nodes=16, timings=TIMINGS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sr(pilot)
        lines = screen_lines(app)
        assert len(lines) == SIZE[1] and lines[1].startswith(" Snapshot: none yet")
        footer = lines[-1]
        for binding in SRScreen.BINDINGS:  # every key shown fits in the footer, palette included
            assert not binding.show or f"{binding.key} {binding.description}" in footer
        assert "palette" in footer
        assert any(line.startswith(" s snapshot  v view  x remove  c recreate  f diff") for line in lines[-4:-1])
        await pilot.press("down")
        await pilot.pause()
        lines = screen_lines(app)
        second = "SiteA-Data02-RG -> SiteB-Replica02-RG"
        assert any(line.startswith(f" {second}  LAB-A1>LAB-B1") for line in lines)
        assert any(line.startswith(f" {second} (NOT in the snapshot)") for line in lines)  # the detail: of it

        today = datetime.now().replace(hour=14, minute=35)
        since = datetime.now().replace(hour=14, minute=1, second=2)
        screen.show_progress(ProgressEvent(second, "initial sync: 1.5 TiB left (InitialBlockCopy)", 0.25,
                                           stage=Stage.WAITING, status="InitialBlockCopy", since=since,
                                           done=512 * 1024**3, total=2 * 1024**4, position=(2, 2), eta=today))
        await pilot.pause()
        lines = screen_lines(app)
        at = lines.index(" [#######.......................]  25%  512.0 GiB of 2.0 TiB")
        assert lines[at - 1].startswith(f" {second} (2 of 2): initial sync")
        assert lines[at + 1] == " since 14:01:02 · finish about 14:35"
        assert any(line.startswith(f" {second}  LAB-A1>LAB-B1") for line in lines)
        assert any(line.startswith(" s snapshot  v view") for line in lines[-4:-1])
        screen.show_progress(ProgressEvent(second, "initial sync: 2.0 TiB left (InitialBlockCopy)", 0.0,
                                           stage=Stage.WAITING, since=since, done=0, total=2 * 1024**4,
                                           position=(2, 2), eta=eta.UNKNOWN))
        await pilot.pause()
        assert " since 14:01:02 · estimate unknown" in screen_lines(app)
