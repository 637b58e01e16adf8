"""5) CAU run at 80x24, keyboard only: preflight, the options form, the PowerShell, the run watched live in the
table until it ends; read-only hides every change and still watches; the headless CAU steps."""

from __future__ import annotations

import html
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from textual.widgets import Input, Static

from hcitui.cli import context as wiring
from hcitui.cli import main as cli
from hcitui.core.journal import StepStatus
from hcitui.core.units import clock
from hcitui.lab import Lab
from hcitui.lab.state import NEW_BUILD, StagedMedia
from hcitui.tui.app import HciApp
from hcitui.tui.screens.cau import CauOptions, CauScreen
from hcitui.tui.widgets.confirm import ConfirmStep
from hcitui.tui.widgets.node_table import NodeTable
from hcitui.workflow.events import ProgressEvent, Stage
from support import FakeClock, earlier_phases, earlier_phases_headless, lab_in_process
from tuikit import FAST_RESTARTS, NODES, SIZE, apply_timings, make_app, registry_values_set, text_of

STAGES = ["Scanning", "Staging", "Suspending", "Installing", "Restarting", "Resuming", "Succeeded"]
STEP = 0.02  # lab seconds per step: less than the shortest stage (cau_stage)
TIMINGS = {**FAST_RESTARTS, "os_install": 0.2, "test_cluster": 0.2, "cau_stage": 0.05, "cau_orchestrator_move": 0.15}


def ready(lab) -> None:
    """The phases before CAU done: the ISO staged on every node, SkipSmallLocalAllocations set."""
    registry_values_set(lab)
    for node in lab.state.nodes.values():
        node.staged[lab.state.staging_path] = StagedMedia(file_count=1187, total_bytes=6174015488)


async def open_cau(pilot) -> CauScreen:
    await pilot.press("5")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, CauScreen)
    await wait_until(pilot, lambda: screen.busy is None)
    return screen


async def wait_until(pilot, predicate, limit: float = 60.0, each=None) -> None:
    for _ in range(int(limit / 0.05)):
        if each is not None:
            each()
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("the screen did not get there in time")


async def step_lab_until(pilot, screen: CauScreen, clock: FakeClock, done, look) -> None:
    """Move lab time on in steps shorter than any CAU stage, each only after the screen has read the
    run again (or had a blip): every stage is on the screen at least once, however slow the machine."""
    for _ in range(5000):
        look()
        if done():
            return
        watch = screen.run_watch
        before = (watch.read_at, watch.blips) if watch is not None else None
        clock.advance(STEP)
        for _ in range(400):
            await pilot.pause(0.01)
            watch = screen.run_watch
            if not screen.watching or watch is None or (watch.read_at, watch.blips) != before:
                break
    raise AssertionError("the run did not end")


async def test_preflight_then_the_run_watched_live_until_it_ends(tmp_path):
    clock = FakeClock(time.time())
    lab = Lab.create(4, clock=clock)
    apply_timings(lab, TIMINGS)
    ready(lab)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    ctx.poll = 0.02
    await earlier_phases(ctx, lab)  # the upgrade's gates open
    app = HciApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_cau(pilot)
        assert "RunNotInProgress" in text_of(screen.query_one("#cau-run", Static))
        assert "not run yet" in text_of(screen.query_one("#cau-preflight", Static))

        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep)
        assert "Set-WSManQuickConfig" in app.screen.preview and "Enable-PSRemoting" in app.screen.preview
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.busy is None)
        preflight = text_of(screen.query_one("#cau-preflight", Static))
        assert "PASS Remoting      4/4 nodes enabled" in preflight
        assert "PASS Test-CauSetup" in preflight and "PASS Scan" in preflight
        assert "hcitui Validation" in preflight  # where Test-Cluster's report went
        for gate in ("Registry", "Prerequisites", "SR snapshot", "ISO staged"):  # each gate is a row
            assert f"PASS {gate}" in preflight, preflight

        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, CauOptions)
        assert app.screen.query_one("#opt-failed", Input).value == "0"
        await pilot.press("tab")  # to MaxRetriesPerNode
        await pilot.press("backspace", "1")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep)
        preview = app.screen.preview
        assert "Microsoft.RollingUpgradePlugin" in preview and "-MaxRetriesPerNode 1" in preview
        assert "-MaxFailedNodes 0" in preview and "-RequireAllNodesOnline $true" in preview
        await pilot.press("y")

        table = screen.query_one("#cau-nodes", NodeTable)
        seen: dict[str, list[str]] = {n: [] for n in NODES}
        most_out = 0

        def look() -> None:
            nonlocal most_out
            for node in NODES:
                status = str(table.get_cell(node, "status"))
                if not seen[node] or seen[node][-1] != status:
                    seen[node].append(status)
            most_out = max(most_out, sum(1 for n in NODES if str(table.get_cell(n, "state")) not in ("Up", "?")))

        await wait_until(pilot, lambda: screen.watching, each=look)
        await step_lab_until(pilot, screen, clock, lambda: not screen.watching and screen.busy is None, look)
        look()
        for node in NODES:
            stages = [s for s in seen[node] if s in STAGES]
            assert stages == STAGES, (node, seen[node])  # each one on screen, in order, live
            assert str(table.get_cell(node, "result")) == "ok"
            assert str(table.get_cell(node, "build")).startswith(str(NEW_BUILD))
        assert most_out <= 1
        run_line = text_of(screen.query_one("#cau-run", Static))
        # UpdateClusterFunctionalLevel was left off (the default): the level waits for 8) Post-upgrade.
        assert "ended" in run_line and "4/4 nodes succeeded; functional level 11, not raised" in run_line
        assert lab.state.functional_level == 11
        assert ctx.journal.step(5, "cau-run").status is StepStatus.DONE
        assert {n.build for n in lab.state.nodes.values()} == {NEW_BUILD}


async def test_the_options_form_refuses_values_out_of_range(tmp_path):
    app, ctx, lab = make_app(tmp_path, poll=0.05, timings=TIMINGS, setup=ready)
    async with app.run_test(size=SIZE) as pilot:
        await open_cau(pilot)
        await pilot.press("w")  # the monthly Windows Update run: MaxFailedNodes 1 as the update guide
        await pilot.pause()
        form = app.screen
        assert isinstance(form, CauOptions)
        assert form.query_one("#opt-failed", Input).value == "1"
        await pilot.press("backspace", "9", "enter")
        await pilot.pause()
        assert app.screen is form
        assert "MaxFailedNodes 9: choose from 0 to 3" in text_of(form.query_one("#opt-message", Static))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CauScreen)
        assert lab.state.cau.run is None and not any(r["mutates"] for r in ctx.audit.records())


@pytest.mark.parametrize("coordinator", [True, False])
async def test_the_preflight_and_the_form_say_where_the_run_runs(tmp_path, coordinator):
    """With the lab's coordinator: its checks pass on one line. Without: a WARN line, the outcome names the
    risk and the fix, and the options form starts with a WARNING. Either way the form explains
    -ForceSelfUpdate."""
    app, _ctx, _lab = make_app(tmp_path, poll=0.05, timings=TIMINGS, setup=ready, coordinator=coordinator)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_cau(pilot)
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep)
        assert ("WARNING: no CAU coordinator" in app.screen.preview) is not coordinator
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.busy is None)
        preflight = text_of(screen.query_one("#cau-preflight", Static)).splitlines()
        outcome = text_of(screen.query_one("#cau-outcome", Static))
        if coordinator:
            assert preflight[0] == "PASS Coordinator   LAB-MGMT: outside the cluster, CAU module, reaches 4/4 nodes"
            assert "no CAU coordinator" not in outcome
        else:
            assert preflight[0].startswith("WARN Coordinator   none: the run starts on a node as SYSTEM")
            assert "no CAU coordinator, so the run starts on a node as SYSTEM" in outcome
            assert "Fix: [clusters.coordinator]" in outcome
        await pilot.press("g")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, CauOptions)
        where = text_of(form.query_one("#opt-where", Static))
        assert "ForceSelfUpdate" in where
        assert where.startswith("WARNING: no CAU coordinator") is not coordinator
        assert ("LAB-MGMT" in where) is coordinator
        # The form still fits 80x24: its button is on the screen.
        button = form.query_one("#opt-go")
        assert button.region.bottom <= SIZE[1] - 1
        await pilot.press("escape")


async def test_read_only_hides_every_change_and_still_watches_a_run(tmp_path):
    app, ctx, lab = make_app(tmp_path, read_only=True, poll=0.05, timings=TIMINGS, setup=ready)
    lab.execute("LAB-A1", "start_cau_run", {"Plugin": "WindowsUpdate"})  # started elsewhere: it is watched
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_cau(pilot)
        for action in CauScreen.MUTATING_ACTIONS:
            assert screen.check_action(action, ()) is False
        await pilot.press("f", "g", "w", "x", "v")
        await pilot.pause()
        assert isinstance(app.screen, CauScreen)  # no form, no confirmation was offered
        await wait_until(pilot, lambda: screen.watching)
        await wait_until(pilot, lambda: not screen.watching)
        assert all(str(screen.query_one("#cau-nodes", NodeTable).get_cell(n, "status")) == "Succeeded"
                   for n in NODES)
    assert not any(r["mutates"] for r in ctx.audit.records())


async def test_the_screen_shows_events_by_their_fields_never_their_words(tmp_path):
    """A node's CAU status and since when come from ``status`` and ``since``; words that look like a status,
    a time or a failure are only words; a failure is its ``stage``; a long wait ticks from its ``since``."""
    app, ctx, _lab = make_app(tmp_path, poll=0.05, timings=TIMINGS, setup=ready)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_cau(pilot)
        table = screen.query_one("#cau-nodes", NodeTable)
        progress = screen.query_one("#cau-progress", Static)

        async def shown(event: ProgressEvent) -> None:
            screen.progress(event)  # as the workflow calls it: a message, shown on the screen's loop
            await pilot.pause()

        since = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        await shown(ProgressEvent("LAB-A1", "words that are not read", status="Installing", since=since))
        assert str(table.get_cell("LAB-A1", "status")) == "Installing"
        assert str(table.get_cell("LAB-A1", "at")) == clock(since)
        words = "CAU Installing: running since 12:00:01"
        await shown(ProgressEvent("LAB-A2", words))
        assert str(table.get_cell("LAB-A2", "status")) == words and str(table.get_cell("LAB-A2", "at")) == ""
        await shown(ProgressEvent("LAB-B1", "Access is denied.", stage=Stage.FAILED))
        assert str(table.get_cell("LAB-B1", "status")).startswith("FAILED")
        assert text_of(progress) == "LAB-B1: FAILED Access is denied."
        started = datetime.now(UTC) - timedelta(seconds=42)
        await shown(ProgressEvent(ctx.name, "Test-Cluster running", stage=Stage.WAITING, since=started))
        screen._tick()
        line = text_of(progress)
        assert line.startswith(f"{ctx.name}: Test-Cluster running (since {clock(started)}, 4") and line.endswith(" s)")
        await shown(ProgressEvent(ctx.name, "Invoke-CauScan running"))  # the wait is over: no more ticking
        screen._tick()
        assert text_of(progress) == f"{ctx.name}: Invoke-CauScan running"


async def test_watching_is_a_worker_and_the_remedies_are_this_screens_keys(tmp_path):
    """The run is watched by a worker beside the one job (``watching`` reads the workers); while it is,
    no new run is offered and the notice names the stop key. A run that ends RunFailed: the error and,
    read again, the run's line name the recover key (the workflow named only the remedy)."""
    app, _ctx, lab = make_app(tmp_path, poll=0.05, timings=TIMINGS, setup=ready)
    lab.state.faults.cau_fail_node = "LAB-B2"  # the last node: the run is still in progress when opened
    lab.execute("LAB-A1", "start_cau_run", {"Plugin": "WindowsUpdate", "MaxFailedNodes": 0,
                                            "MaxRetriesPerNode": 0})
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_cau(pilot)
        await wait_until(pilot, lambda: screen.watching)
        assert [w.name for w in screen.workers if w.group == CauScreen.WATCH_GROUP] == ["watch the CAU run"]
        assert screen.busy is None  # watching is no job: a stop may run meanwhile
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, CauScreen)  # no options form while a run is watched
        assert any("(stop the CAU run: x)" in str(n.message) for n in app._notifications)
        await wait_until(pilot, lambda: not screen.watching)
        errors = [str(n.message) for n in app._notifications if "RunFailed" in str(n.message)]
        assert errors and "(recover the failed CAU run: v)" in errors[-1]
        assert "(v)" not in errors[-1].split(" (recover")[0]  # the workflow's words carry no key
        await pilot.press("r")
        await pilot.pause()
        await wait_until(pilot, lambda: screen.busy is None)
        assert "locked (recover the failed CAU run: v)" in text_of(screen.query_one("#cau-run", Static))


def screenshot_lines(app) -> list[str]:
    """What the terminal shows now, a line per row of text (from the screenshot: only what is in view)."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', app.export_screenshot()):
        text = html.unescape(m.group(3)).replace("\xa0", " ")
        rows.setdefault(float(m.group(2)), []).append((float(m.group(1)), text))
    out = []
    for y in sorted(rows):
        line = [" "] * 100
        for x, text in rows[y]:
            col = round(x / 12.2)  # Rich's SVG: 20 px characters at an aspect ratio of 0.61
            line[col:col + len(text)] = list(text)
        out.append("".join(line).rstrip())
    return out


async def test_a_failed_run_explains_itself_in_a_panel_that_stays(tmp_path):
    """Per node: the operation, the PowerShell error's text and the key to press; the recover key is in the
    footer while the run is RunFailed (and stop is not); the panel stays after a refresh, comes back when the
    screen is opened again, and after recovery names the fix instead."""
    app, _ctx, lab = make_app(tmp_path, poll=0.05, timings=TIMINGS, setup=ready)
    lab.state.faults.cau_fail_node = "LAB-A2"
    lab.execute("LAB-A1", "start_cau_run", {"Plugin": "WindowsUpdate", "MaxFailedNodes": 0, "MaxRetriesPerNode": 0})
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_cau(pilot)
        await wait_until(pilot, lambda: screen.watching)
        assert not screen.failure.shown and screen.check_action("recover", ()) is False
        await wait_until(pilot, lambda: not screen.watching and screen.failure.shown)
        await pilot.pause()
        panel = screen.failure.text.plain
        assert panel.startswith("FAILED  run ") and "RunFailed" in panel and "Get-CauReport -Detailed" in panel
        assert "\nLAB-A2  install 2024-11 Cumulative Update for Azure Stack HCI, version 22H2 (KB5046616)" in panel
        assert "error: The installation failed on LAB-A2 with error 0x800F0922" in panel
        assert "next:  recover the failed CAU run: v" in panel
        assert "LAB-A1" not in panel.split("\n", 1)[1]  # only the node that failed
        shown = "\n".join(screenshot_lines(app))
        assert "next:  recover the failed CAU run: v" in shown  # on the screen, not only in the widget
        footer = screenshot_lines(app)[-1]
        assert "v Recover" in footer and "x Stop" not in footer and "palette" in footer
        await pilot.press("r")
        await wait_until(pilot, lambda: screen.busy is None)
        assert screen.failure.shown and screen.failure.text.plain == panel  # it stays

        await pilot.press("escape")
        await pilot.pause()
        screen = await open_cau(pilot)  # opened again: the failed run explains itself from the report
        await wait_until(pilot, lambda: screen.failure.shown)
        assert "LAB-A2  install 2024-11 Cumulative Update" in screen.failure.text.plain
        assert "v Recover" in screenshot_lines(app)[-1]

        lab.state.faults.cau_fail_node = None
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep)
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.busy is None)
        assert lab.state.cau.run is None
        assert screen.failure.shown and "next:  recovered: fix what failed, then start the run again" in \
            screen.failure.text.plain
        assert "v Recover" not in screenshot_lines(app)[-1] and screen.check_action("recover", ()) is False


async def test_a_started_run_says_started_and_where_it_is_never_done(tmp_path):
    """Starting hands the run over: the outcome says it started and is watched, not "Done"; the run's
    line says which node of how many is under way and when the run should end."""
    app, _ctx, lab = make_app(tmp_path, poll=0.05, timings=TIMINGS, setup=ready)
    lab.state.timings.cau_stage = 0.3  # nodes slow enough to be seen one at a time
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_cau(pilot)
        await pilot.press("w")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep)
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.watching and screen.busy is None)
        outcome = text_of(screen.query_one("#cau-outcome", Static))
        assert outcome.startswith("Started: run ") and "watching it" in outcome and "Done" not in outcome
        run_line = lambda: text_of(screen.query_one("#cau-run", Static)).splitlines()[-1]  # noqa: E731
        await wait_until(pilot, lambda: run_line().startswith("node 1 of 4 · "))
        assert run_line().startswith("node 1 of 4 · estimate unknown · watching Get-CauRun")  # nothing to go on
        footer = screenshot_lines(app)[-1]
        assert "x Stop" in footer and "v Recover" not in footer
        await wait_until(pilot, lambda: run_line().startswith("node 2 of 4 · finish about "))
        await wait_until(pilot, lambda: not screen.watching)
        assert "ended" in text_of(screen.query_one("#cau-run", Static)) and not screen.failure.shown


async def test_a_run_stopped_here_raises_no_failure_panel(tmp_path):
    app, _ctx, lab = make_app(tmp_path, poll=0.05, timings=TIMINGS, setup=ready)
    lab.state.timings.cau_stage = 0.5
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_cau(pilot)
        assert "x Stop" not in screenshot_lines(app)[-1]  # no run: nothing to stop
        lab.execute("LAB-A1", "start_cau_run", {"Plugin": "WindowsUpdate"})
        await pilot.press("r")
        await wait_until(pilot, lambda: screen.watching)
        await wait_until(pilot, lambda: "x Stop" in screenshot_lines(app)[-1])
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep)
        await pilot.press("y")
        await wait_until(pilot, lambda: not screen.watching and screen.busy is None)

        def settled() -> bool:  # the run line and the footer follow the stop's end a frame or a read later
            return ("stopped before the end" in text_of(screen.query_one("#cau-run", Static))
                    and "x Stop" not in screenshot_lines(app)[-1])

        await wait_until(pilot, settled, limit=20.0)
        assert "stopped before the end" in text_of(screen.query_one("#cau-run", Static))
        assert not screen.failure.shown  # the operator's stop is no failure to explain
        assert "x Stop" not in screenshot_lines(app)[-1] and "v Recover" not in screenshot_lines(app)[-1]


@pytest.mark.parametrize("size", [SIZE, (120, 40)])
async def test_sixteen_nodes_fit_with_the_run_line_and_the_verdict_in_view(tmp_path, size):
    """At 80x24 the table scrolls with the cursor to the last node while the run's line, the preflight's
    verdict and the footer stay in view; at 120x40 every node shows at once (no row cap)."""
    app, _ctx, _lab = make_app(tmp_path, nodes=16, poll=0.05, timings=TIMINGS, setup=ready)
    async with app.run_test(size=size) as pilot:
        screen = await open_cau(pilot)
        table = screen.query_one("#cau-nodes", NodeTable)
        if size != SIZE:
            shown = "\n".join(screenshot_lines(app))
            assert all(name in shown for name in table.node_names())
        await pilot.press("f")
        await pilot.pause()
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.busy is None and screen.preflight is not None)
        for _ in range(15):
            await pilot.press("down")
        await pilot.pause()
        assert table.node_names()[table.cursor_row] == "LAB-B8"
        lines = screenshot_lines(app)
        assert len(lines) <= size[1]
        assert any(line.strip().startswith("LAB-B8") for line in lines), lines
        assert any(line.startswith(" Run: ") for line in lines)
        assert any(line.startswith(" Preflight PASSED; upgrade gates closed") for line in lines), lines
        footer = lines[-1]
        assert all(key in footer for key in ("esc Back", "f Preflight", "g Upgrade", "w Updates", "palette"))
        verdict = screen.query_one("#cau-verdict", Static)
        assert verdict.region.height == 1 and verdict.region.bottom <= size[1] - 1


# ----------------------------------------------------------------- headless


@pytest.fixture
def in_process(monkeypatch, tmp_path, state_home):
    lab_in_process(monkeypatch, TIMINGS, poll=0.05)
    lab = wiring.open_lab(state_home, 4)
    ready(lab)
    lab.save()
    earlier_phases_headless(state_home, lab)  # the upgrade's gates open
    return state_home


def audit(state_home):
    path = state_home / "clusters" / "LAB-STRETCH" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def lab_state(state_home):
    return wiring.open_lab(state_home, 4).state


def test_headless_preflight_tests_only_is_read_only(in_process, capsys):
    assert cli.main(["--lab", "--read-only", "cau-preflight", "--tests-only"]) == 1  # remoting not enabled yet
    out = capsys.readouterr().out
    assert "FAIL  Remoting" in out and "FAIL  Test-CauSetup" in out and "PASS  Scan" in out
    assert not any(r["mutates"] for r in audit(in_process))
    assert cli.main(["--lab", "--read-only", "cau-preflight", "--yes"]) == 1
    assert "read-only" in capsys.readouterr().err
    assert cli.main(["--lab", "cau-preflight", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "Test-Cluster" in out and "cau-preflight: done" in out


def test_headless_run_prints_each_status_change_until_it_ends(in_process, capsys):
    assert cli.main(["--lab", "cau-run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Microsoft.RollingUpgradePlugin" in out and "dry run: nothing was sent" in out
    assert lab_state(in_process).cau.run is None
    assert cli.main(["--lab", "cau-run", "--max-failed-nodes", "4"]) == 2
    assert "MaxFailedNodes 4: choose from 0 to 3" in capsys.readouterr().err

    # Raising the functional level cannot be undone: --yes stands for typing the cluster's name.
    assert cli.main(["--lab", "cau-run", "--update-functional-level"]) == 1
    assert "cannot be undone: add --yes" in capsys.readouterr().err
    assert lab_state(in_process).cau.run is None
    assert cli.main(["--lab", "cau-run", "--yes", "--max-retries-per-node", "2", "--update-functional-level"]) == 0
    out = capsys.readouterr().out
    for node in NODES:  # one line per change of the node's status, the last one its result
        lines = [line for line in out.splitlines() if f" {node} " in line and "CAU " in line]
        assert len(lines) >= 2 and "CAU Waiting" in lines[0] and "CAU Succeeded" in lines[-1], lines
        assert len(lines) == len(set(line.split(" ", 1)[1] for line in lines))  # no repeats
    assert "4/4 nodes succeeded; functional level 12 (UpdateClusterFunctionalLevel ON" in out
    assert "cau-run: done" in out and lab_state(in_process).functional_level == 12
    assert {n.build for n in lab_state(in_process).nodes.values()} == {NEW_BUILD}
    started = next(r for r in audit(in_process) if r["operation"] == "start_cau_run")
    assert started["parameters"]["MaxRetriesPerNode"] == 2


def test_headless_no_wait_then_reattach_stop_and_recover(in_process, capsys):
    assert cli.main(["--lab", "cau-run", "--no-wait", "--yes", "--plugin", "windows-update"]) == 0
    out = capsys.readouterr().out
    assert "started; it goes on without hcitui" in out
    assert lab_state(in_process).cau.run is not None
    # A second cau-run starts nothing: it reattaches (and --no-wait only says so), also read-only.
    assert cli.main(["--lab", "cau-run", "--no-wait", "--yes"]) == 0
    assert "is in progress on LAB-STRETCH; nothing new was started" in capsys.readouterr().out
    assert cli.main(["--lab", "--read-only", "cau-run"]) == 0
    out = capsys.readouterr().out
    assert "watching it; nothing new is started" in out and "4/4 nodes succeeded" in out
    assert lab_state(in_process).cau.run is None

    assert cli.main(["--lab", "cau-run", "--no-wait", "--yes", "--plugin", "windows-update"]) == 0
    capsys.readouterr()
    assert cli.main(["--lab", "cau-stop", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "cau-stop: done" in out and lab_state(in_process).cau.run is None
    assert cli.main(["--lab", "cau-recover", "--yes"]) == 1
    assert "no failed run to recover" in capsys.readouterr().err
    starts = [r for r in audit(in_process) if r["operation"] == "start_cau_run"]
    assert len(starts) == 2
    assert not any(r["mutates"] for r in audit(in_process) if r["operation"] not in ("start_cau_run", "stop_cau_run"))


def test_headless_failed_run_then_recover(in_process, capsys, monkeypatch):
    from hcitui.lab import Lab

    opened = Lab.open

    def with_fault(*args, **kwargs):  # fault knobs belong to one run: set it on every open
        lab = opened(*args, **kwargs)
        lab.state.faults.cau_fail_node = "LAB-A1"
        return lab

    monkeypatch.setattr(Lab, "open", with_fault)
    assert cli.main(["--lab", "cau-run", "--yes", "--max-retries-per-node", "0"]) == 1
    err = capsys.readouterr().err
    assert "RunFailed" in err and "LAB-A1 Failed" in err and "Traceback" not in err
    assert cli.main(["--lab", "cau-run", "--yes"]) == 1
    assert "recover it first" in capsys.readouterr().err
    assert cli.main(["--lab", "cau-recover", "--yes"]) == 0
    assert lab_state(in_process).cau.run is None


def test_headless_failed_run_explains_itself_with_commands(in_process, capsys, monkeypatch):
    from hcitui.lab import Lab

    opened = Lab.open

    def with_fault(*args, **kwargs):  # fault knobs belong to one run: set it on every open
        lab = opened(*args, **kwargs)
        lab.state.faults.cau_fail_node = "LAB-B1"
        return lab

    monkeypatch.setattr(Lab, "open", with_fault)
    assert cli.main(["--lab", "cau-run", "--yes", "--max-retries-per-node", "0"]) == 1
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    why = next(i for i, line in enumerate(err) if line.startswith("why: run "))
    assert "ended RunFailed: the cluster stays locked until it is recovered (Get-CauReport -Detailed):" in err[why]
    assert err[why + 1] == "  LAB-B1: install Azure Stack HCI 23H2 (25398) feature update"
    assert err[why + 2].startswith("    error: The installation failed on LAB-B1 with error 0x800F0922")
    assert err[why + 3] == "    next: to recover the failed CAU run, run: hcitui cau-recover"
    assert "RunFailed" in err[-1] and "hcitui cau-recover" in err[-1]  # the error line, after its explanation
    assert "Traceback" not in captured.err


def test_headless_run_prints_where_it_is_and_no_wait_is_no_done(in_process, capsys):
    assert cli.main(["--lab", "cau-run", "--yes", "--plugin", "windows-update"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "CAU " in line]
    assert any("LAB-A1" in line and "(node 1 of 4" in line and "estimate unknown" in line for line in lines), lines
    assert any("LAB-B2" in line and "(node 4 of 4" in line for line in lines), lines
    assert any("(node 2 of 4" in line and "finish about " in line for line in lines), lines
    assert "cau-run: done" in out

    assert cli.main(["--lab", "cau-run", "--no-wait", "--yes", "--plugin", "windows-update"]) == 0
    out = capsys.readouterr().out
    assert "started; it goes on without hcitui" in out
    assert "cau-run start: done" in out and "cau-run: done" not in out  # the start is done, not the run
