"""The journal view, the audit view and the resume offer at start, at 80x24, keyboard only."""

from __future__ import annotations

import json

from textual.widgets import DataTable, Static

from hcitui.cli import context as wiring
from hcitui.core.journal import Journal, StepStatus
from hcitui.tui.screens.audit_view import AuditScreen
from hcitui.tui.screens.journal_view import JournalScreen
from hcitui.tui.screens.menu import MenuScreen
from hcitui.tui.screens.resume import ResumeModal
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow import resume
from tuikit import SIZE, make_app, text_of, wait_for

# ------------------------------------------------------------------ journal


def interrupted_run(root):
    journal = Journal.open(root, "LAB-STRETCH")
    journal.set_step(0, "prerequisites", None, StepStatus.DONE, "PASSED")
    journal.set_step(1, "restart", "LAB-A1", StepStatus.DONE, "back Up")
    journal.set_step(1, "restart", "LAB-A2", StepStatus.FAILED, "drain failed: live migration")
    journal.set_step(5, "os_upgrade", "LAB-B1", StepStatus.RUNNING)
    journal.set_step(7, "verification", None, StepStatus.RUNNING)
    journal.acquire_lock("LAB-B1", "OS upgrade", was_paused=False, operator="alice")
    # The process "died" here: its pid is our own, which counts as gone when the journal is opened again.


async def test_journal_view_groups_by_phase_with_lock_and_detail(tmp_path):
    interrupted_run(tmp_path)
    app, _ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ResumeModal)
        await pilot.press("escape")
        await pilot.press("1", "1")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, JournalScreen)
        table = screen.query_one("#journal-steps", DataTable)
        rows = [str(row.key.value) for row in table.ordered_rows]
        assert rows == ["0/prerequisites/*", "1/restart/LAB-A1", "1/restart/LAB-A2", "5/os_upgrade/LAB-B1",
                        "7/verification/*"]
        assert str(table.get_cell("1/restart/LAB-A1", "phase")) == "1 Registry keys and restarts"
        assert str(table.get_cell("1/restart/LAB-A2", "phase")) == "1"  # the phase's name once, on its first row
        assert str(table.get_cell("1/restart/LAB-A2", "status")) == "FAILED"
        assert str(table.get_cell("5/os_upgrade/LAB-B1", "status")) == "UNKNOWN"
        lock = text_of(screen.query_one("#journal-lock", Static))
        assert "LAB-B1" in lock and "OS upgrade" in lock and "was not paused" in lock and "alice" in lock
        await pilot.press("down", "down")
        await pilot.pause()
        detail = text_of(screen.query_one("#journal-detail", Static))
        assert "drain failed: live migration" in detail


async def test_journal_view_shows_what_another_process_writes(tmp_path):
    app, _ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1", "1")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, JournalScreen)
        assert "No step" in text_of(screen.query_one("#journal-detail", Static))
        other = Journal.open(tmp_path, "LAB-STRETCH")  # another hcitui on the same cluster
        other.set_step(1, "drain", "LAB-B2", StepStatus.RUNNING, "draining")
        table = screen.query_one("#journal-steps", DataTable)
        assert await wait_for(pilot, lambda: "1/drain/LAB-B2" in table.rows)  # re-read on its own
        assert str(table.get_cell("1/drain/LAB-B2", "status")) == "RUNNING"


async def test_start_offers_resume_and_reverifies_what_it_can(tmp_path):
    interrupted_run(tmp_path)
    app, ctx, _lab = make_app(tmp_path, read_only=True)
    assert {r.key for r in ctx.journal.recovered} == {"5/os_upgrade/LAB-B1", "7/verification/*"}
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, ResumeModal)
        listing = text_of(modal.query_one("#resume-list", Static))
        assert "os_upgrade on LAB-B1" in listing and "run it again from its screen" in listing
        assert "verification" in listing and "v re-verifies it" in listing
        await pilot.press("v")
        assert await wait_for(pilot, lambda: modal.results and not modal.busy)
        await app.workers.wait_for_complete()
        listing = text_of(modal.query_one("#resume-list", Static))
        assert "re-verified: failed" in listing  # the fresh lab is on 20349: verification fails, as it is
        assert ctx.journal.step(7, "verification").status is StepStatus.FAILED
        assert ctx.journal.step(5, "os_upgrade", "LAB-B1").status is StepStatus.UNKNOWN  # never assumed done
        await pilot.press("j")
        await pilot.pause()
        assert isinstance(app.screen, JournalScreen)
    assert not [r for r in ctx.audit.records() if r["mutates"]]


async def test_no_resume_offer_on_a_clean_journal(tmp_path):
    app, _ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, MenuScreen)


async def test_reverify_registry_is_keyed_by_step_and_reports_failures(tmp_path):
    interrupted_run(tmp_path)
    _app, ctx, _lab = make_app(tmp_path)
    assert "verification" in resume.reverifiers()
    record = ctx.journal.step(5, "os_upgrade", "LAB-B1")
    outcome = await resume.reverify(ctx, record)
    assert outcome.status is None and "run it again from its screen" in outcome.sentence

    async def broken(_ctx, _record):
        raise RuntimeError("node did not answer")

    resume.REVERIFIERS["os_upgrade"] = broken
    try:
        outcome = await resume.reverify(ctx, record)
    finally:
        del resume.REVERIFIERS["os_upgrade"]
    assert outcome.status is None and "could not be re-verified" in outcome.sentence
    assert ctx.journal.step(5, "os_upgrade", "LAB-B1").status is StepStatus.UNKNOWN
    await ctx.close()


# -------------------------------------------------------------------- audit


async def audit_screen(pilot, app) -> AuditScreen:
    await pilot.press("1", "0")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, AuditScreen)
    assert await wait_for(pilot, lambda: screen.loads >= 1)
    await pilot.pause()
    return screen


async def test_audit_view_newest_first_with_powershell_and_filters(tmp_path):
    app, ctx, _lab = make_app(tmp_path)
    from hcitui.workflow.verify import run_verification

    await run_verification(ctx)
    from hcitui import ps

    await ctx.client.invoke("LAB-A2", ps.get("set_registry_values"), {"SkipSmallLocalAllocations": 0})
    async with app.run_test(size=SIZE) as pilot:
        screen = await audit_screen(pilot, app)
        table = screen.query_one("#audit-table", DataTable)
        assert table.row_count == 11
        first = table.ordered_rows[0].key.value
        assert str(table.get_cell(first, "operation")).strip() == "! set_registry_values"
        assert str(table.get_cell(first, "node")) == "LAB-A2"
        assert "CHANGES THE CLUSTER" in text_of(screen.query_one("#audit-detail", Static))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PowerShellPreview)
        assert "-SkipSmallLocalAllocations 0" in app.screen.script and "on LAB-A2" in app.screen.script
        await pilot.press("escape")
        await pilot.press("c")
        assert await wait_for(pilot, lambda: screen.loads >= 2)
        await pilot.pause()
        assert table.row_count == 1
        await pilot.press("c")  # every operation again
        assert await wait_for(pilot, lambda: screen.loads >= 3)
        await pilot.press("n")  # the first node: LAB-A1
        assert await wait_for(pilot, lambda: screen.loads >= 4)
        await pilot.pause()
        assert screen.node == "LAB-A1"
        # What acted on LAB-A1, or went through it (a cluster-wide read it answered).
        cells = [(str(table.get_cell(row.key, "node")), str(table.get_cell(row.key, "via")))
                 for row in table.ordered_rows]
        assert cells and all(node == "LAB-A1" or (node == "cluster" and via == "LAB-A1") for node, via in cells)
        assert "node LAB-A1" in text_of(screen.query_one("#audit-filter", Static))


async def test_audit_export_says_where(tmp_path):
    app, ctx, _lab = make_app(tmp_path)
    from hcitui.workflow.verify import run_verification

    await run_verification(ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await audit_screen(pilot, app)
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        folder = tmp_path / "clusters" / "LAB-STRETCH" / "exports"
        written = sorted(p.name for p in folder.iterdir())
        assert len(written) == 2 and written[0].endswith(".json") and written[1].endswith(".md")
        assert len(json.loads((folder / written[0]).read_text())["operations"]) == 10
        messages = [n.message for n in app._notifications]
        assert any(str(folder) in m and "Exported 10 operations" in m for m in messages)
        assert screen is app.screen


async def test_audit_view_changes_only_among_a_monitors_reads_with_target_and_via(tmp_path):
    """A drain of LAB-A1 sent through LAB-A2, between many reads: c (in the footer at 80x24) shows it alone."""
    from textual.widgets._footer import FooterKey

    from hcitui import ps

    app, ctx, lab = make_app(tmp_path)
    lab.state.timings.drain_step = 0.01
    lab.state.nodes["LAB-A1"].skip_small_local_allocations = 0
    for _ in range(5):
        await ctx.client.fan_out(ps.get("get_os_version"))  # what a monitor's polling adds
    await ctx.client.invoke("LAB-A2", ps.get("suspend_node"), {"Name": "LAB-A1"})
    for _ in range(5):
        await ctx.client.fan_out(ps.get("get_os_version"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await audit_screen(pilot, app)
        table = screen.query_one("#audit-table", DataTable)
        assert table.row_count == 41
        keys = {key.key: key for key in screen.query(FooterKey)}
        assert keys["c"].description == "Changes only" and keys["c"].region.width > 0
        assert keys["c"].region.right <= SIZE[0] and keys["c"].region.y == SIZE[1] - 1
        await pilot.press("c")
        assert await wait_for(pilot, lambda: screen.loads >= 2)
        await pilot.pause()
        assert table.row_count == 1
        row = table.ordered_rows[0].key
        assert str(table.get_cell(row, "operation")).strip() == "! suspend_node"
        assert (str(table.get_cell(row, "node")), str(table.get_cell(row, "via"))) == ("LAB-A1", "LAB-A2")
        assert "suspend_node on LAB-A1 via LAB-A2" in text_of(screen.query_one("#audit-detail", Static))
        assert "changes only; 1 newest first" in text_of(screen.query_one("#audit-filter", Static))
        await pilot.press("c")
        assert await wait_for(pilot, lambda: screen.loads >= 3)
        await pilot.pause()
        assert table.row_count == 41
    await ctx.close()


async def test_audit_view_and_export_read_across_rotated_files(tmp_path, monkeypatch):
    """With a small configured rotation, the log spans several files; the view and the export show all of them."""
    from hcitui import ps
    from hcitui.workflow.verify import run_verification

    original = wiring.lab_cluster_config
    monkeypatch.setattr(wiring, "lab_cluster_config",
                        lambda lab, *a, **kw: original(lab, *a, **kw).model_copy(update={"audit_max_mb": 0.01}))
    app, ctx, lab = make_app(tmp_path)
    assert ctx.audit.max_bytes == 10485
    await ctx.client.invoke("LAB-A2", ps.get("set_registry_values"), {"SkipSmallLocalAllocations": 0})
    for _ in range(6):
        await run_verification(ctx)
    folder = tmp_path / "clusters" / "LAB-STRETCH"
    assert (folder / "audit-reads.jsonl.1").exists() and (folder / "audit-reads.jsonl").exists()
    logged = sum(len(p.read_text().splitlines()) for p in ctx.audit.files())
    assert logged == 61 and len(ctx.audit.files()) >= 3
    async with app.run_test(size=SIZE) as pilot:
        screen = await audit_screen(pilot, app)
        table = screen.query_one("#audit-table", DataTable)
        assert table.row_count == logged
        last = table.ordered_rows[-1].key  # the oldest: the change, before every read
        assert str(table.get_cell(last, "operation")).strip() == "! set_registry_values"
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        exported = sorted((folder / "exports").glob("*.json"))
        operations = json.loads(exported[0].read_text())["operations"]
        assert len(operations) == logged and operations[-1]["operation"] == "set_registry_values"
        assert [o["time"] for o in operations] == sorted((o["time"] for o in operations), reverse=True)
    await ctx.close()


async def test_menu_shows_the_new_items_with_their_state(tmp_path):
    interrupted_run(tmp_path)
    app, _ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        items = text_of(app.screen.query_one("#menu-items", Static))
        assert " 9) Monitor" in items and "every 5 s" in items
        assert "10) Audit log" in items and "11) Journal" in items
        assert "2 interrupted" in items and "1 failed" in items


# ------------------------------------------------------------------- hang-up


async def test_hangup_exits_and_journals_the_cut_step_as_interrupted(tmp_path, monkeypatch):
    import asyncio

    from hcitui.workflow import observe as observe_mod

    started = asyncio.Event()

    async def never_ends(*args, **kwargs):
        started.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(observe_mod, "observe", never_ends)
    app, ctx, _lab = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        assert await wait_for(pilot, started.is_set)
        assert ctx.journal.step(7, "verification").status is StepStatus.RUNNING
        app._hang_up(1)  # what the SIGHUP handler calls
        await pilot.pause()
    assert app.return_code == 129
    record = Journal.open(tmp_path, "LAB-STRETCH").step(7, "verification")
    assert record.status is StepStatus.UNKNOWN and record.detail == "interrupted"
