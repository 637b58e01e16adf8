"""Read-only mode, screen by screen: no key, palette command or action can change the lab.

Every entry of the menu (whatever the menu holds when the test runs) is opened in a read-only app,
every key the screen binds is pressed, every action it declares mutating is invoked directly, and
the palette's commands are listed. Then the audit log must hold no record of a mutating operation
at all (not even a refused one: the screens must not try), and the lab must be as it was.
Headless, every mutating step is refused in read-only mode with exit status 1 and the lab unchanged.
"""

from __future__ import annotations

import json

import pytest
from textual.screen import ModalScreen
from textual.system_commands import SystemCommandsProvider

from hcitui.cli import main as cli
from hcitui.tui.screens.base import HciScreen
from hcitui.tui.screens.menu import MenuScreen, menu_entries
from hcitui.tui.widgets.palette import ScreenCommands, screen_commands
from support import lab_in_process as in_process
from tuikit import SIZE, make_app, settle

LEAVING = {"app.quit", "quit", "back", "app.back"}  # keys that leave the screen (tested elsewhere)


def lab_snapshot(lab) -> dict:
    return json.loads(lab.state.model_dump_json())


def binding_keys(screen) -> list[tuple[str, str]]:
    """(key, action) of every binding the screen class declares, its own and inherited."""
    out = []
    for bindings in screen._bindings.key_to_bindings.values():
        for binding in bindings:
            out.append((binding.key, binding.action))
    return out


async def back_to(pilot, app, screen) -> None:
    """Close whatever a key opened over ``screen`` (help, preview, confirm...)."""
    for _ in range(5):
        if app.screen is screen:
            return
        if isinstance(app.screen, ModalScreen) or app.screen is not screen:
            await pilot.press("escape")
            await settle(pilot)
    assert app.screen is screen, f"could not return to {type(screen).__name__} from {type(app.screen).__name__}"


@pytest.mark.parametrize("number", [e.number for e in menu_entries()])
async def test_every_screen_read_only_sends_no_change(tmp_path, number):
    app, ctx, lab = make_app(tmp_path, read_only=True)
    before = lab_snapshot(lab)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        menu = app.screen
        assert isinstance(menu, MenuScreen)
        entry = next(e for e in menu.entries if e.number == number)
        app.push_screen(entry.screen())
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, HciScreen) and not isinstance(screen, MenuScreen)
        header = screen.query_one("#status-header").content
        assert "READ-ONLY" in str(getattr(header, "plain", header))

        # Every key the screen binds, one after the other.
        keys = binding_keys(screen)
        assert keys, "a screen without keys?"
        for key, action in keys:
            if action in LEAVING:
                continue
            await pilot.press(key)
            await settle(pilot)
            await back_to(pilot, app, screen)

        # Every mutating action, invoked as a binding or a palette command would.
        for action in sorted(type(screen).MUTATING_ACTIONS):
            assert screen.check_action(action, ()) is False
            assert await app.run_action(action, screen) is False
            await settle(pilot)
            await back_to(pilot, app, screen)

        # The palette lists none of them.
        listed = {action for _, action, _ in screen_commands(screen)}
        assert not listed & type(screen).MUTATING_ACTIONS
        for command in app.get_system_commands(screen):
            name = getattr(command.callback, "__name__", "")
            assert name.removeprefix("action_") not in type(screen).MUTATING_ACTIONS

        # The help lists none of them either.
        await pilot.press("question_mark")
        await settle(pilot)
        described = dict(app.screen.keys)
        for key, action in keys:
            if action in type(screen).MUTATING_ACTIONS:
                assert key not in described
        await back_to(pilot, app, screen)

    records = list(ctx.audit.records())
    assert not [r for r in records if r.get("mutates")], "a mutating operation was attempted in read-only mode"
    assert lab_snapshot(lab) == before


async def test_palette_hides_mutating_commands_only_in_read_only(tmp_path):
    """The filter is real: a screen with mutating actions lists them live, and not read-only."""
    screens_with_changes = [e for e in menu_entries() if getattr(e.screen, "MUTATING_ACTIONS", None)]
    if not screens_with_changes:
        pytest.skip("no screen declares a mutating action yet")
    entry = screens_with_changes[0]
    for read_only in (False, True):
        app, _ctx, _lab = make_app(tmp_path / str(read_only), read_only=read_only)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.push_screen(entry.screen())
            await settle(pilot)
            screen = app.screen
            listed = {action for _, action, _ in screen_commands(screen)}
            mutating = type(screen).MUTATING_ACTIONS & {a for _, a in binding_keys(screen)}
            if read_only:
                assert not listed & mutating
            else:
                assert mutating and mutating <= listed


async def test_palette_opens_with_screen_commands_in_read_only(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("9")
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        palette = app.screen
        assert type(palette).__name__ == "CommandPalette"
        # Read-only: only the app's filtering providers, never a screen's own.
        assert {type(p) for p in palette._providers} == {SystemCommandsProvider, ScreenCommands}
        await pilot.press("escape")


def test_every_mutating_step_is_registered_and_refused_read_only(capsys, tmp_path, monkeypatch, state_home):
    """`hcitui --lab --read-only STEP --yes` exits 1, says read-only, and leaves the lab as it was."""
    steps = cli.MUTATING_STEPS
    assert isinstance(steps, frozenset)
    parser_steps = set(cli.build_parser()._subparsers._group_actions[0].choices)
    assert steps <= parser_steps, "every mutating step is a command"
    # The read-only steps are not in the set (a typo would make the test below vacuous).
    assert not steps & {"verify", "prereq", "monitor", "report", "ops", "config", "lab"}

    in_process(monkeypatch)
    lab_file = state_home / "lab" / "LAB-STRETCH.json"
    cli.main(["--lab", "report"])  # creates nothing; then make the lab exist
    assert cli.main(["--lab", "--read-only", "verify"]) in (0, 1)
    capsys.readouterr()
    before = lab_file.read_text()
    audit = state_home / "clusters" / "LAB-STRETCH" / "audit.jsonl"
    lines_before = audit.read_text().count("\n") if audit.exists() else 0  # the change log (reads have their own)
    for step in sorted(steps):
        argv = ["--lab", "--read-only", step, "--yes", "--node", "LAB-A1"]
        code = cli.main(argv)
        err = capsys.readouterr().err
        assert code == 1, (step, err)
        assert "read-only" in err, (step, err)
        assert "Traceback" not in err
    assert json.loads(lab_file.read_text()) == json.loads(before)
    new = (audit.read_text() if audit.exists() else "").splitlines()[lines_before:]
    assert not [line for line in new if '"mutates":true' in line]


async def test_palette_runs_a_screen_command(tmp_path):
    from hcitui.tui.screens.monitor import MonitorScreen

    # No refresh comes by itself in this test.
    app, _ctx, _lab = make_app(tmp_path, read_only=True, start=lambda: MonitorScreen(interval=3600))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        monitor = app.screen
        assert isinstance(monitor, MonitorScreen)
        for _ in range(100):
            if monitor.refreshes >= 1 and not monitor.busy:
                break
            await pilot.pause(0.05)
        done = monitor.refreshes
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"refresh now")
        await pilot.pause(0.3)
        await pilot.press("enter")
        for _ in range(100):
            if monitor.refreshes > done:
                break
            await pilot.pause(0.05)
        assert app.screen is monitor and monitor.refreshes > done
