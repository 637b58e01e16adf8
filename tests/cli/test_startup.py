"""Start-up: what ``hcitui --help`` and the choice of a command import, the command list the grammar
keeps ahead of the command modules, and the console that paints before it serves the lab.

Checked in fresh interpreters (what a module imports shows in ``sys.modules``); nothing asserts a time.
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from pathlib import Path

import pytest

from hcitui import ps
from hcitui.cli import commands
from hcitui.cli import main as cli
from hcitui.cli.parser import build_parser, parse_args

PROJECT = Path(__file__).resolve().parents[2]
HEAVY = ("textual", "pypsrp", "pydantic", "requests", "psrpcore", "cryptography", "hcitui.workflow", "hcitui.remote",
         "hcitui.lab", "hcitui.core.config", "hcitui.core.model", "hcitui.ps")


def modules_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return set(done.stdout.split())


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_imports_only_the_grammar():
    modules = modules_after("from hcitui.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n"
                            "    pass")
    assert heavy(modules) == []
    assert not [m for m in modules if m.startswith("hcitui.cli.commands.")]


def test_help_runs_as_a_script_too():
    done = subprocess.run([sys.executable, "-m", "hcitui", "--help"], cwd=PROJECT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0
    for entry in commands.ENTRIES:
        assert entry.name in done.stdout


def test_a_command_imports_its_own_module_only():
    modules = modules_after("from hcitui.cli.parser import parse_args\n"
                            "parse_args(['--lab', 'verify', '--node', 'LAB-A1'])")
    mine = {m for m in modules if m.startswith("hcitui.cli.commands.") and m != "hcitui.cli.commands.base"}
    assert mine == {"hcitui.cli.commands.reads"}
    assert "textual" not in modules


def test_the_command_list_is_the_commands_own():
    """ENTRIES (what --help lists without importing anything) says what each command declares."""
    loaded = commands.COMMANDS
    assert list(loaded) == [entry.name for entry in commands.ENTRIES]
    for entry in commands.ENTRIES:
        command = loaded[entry.name]
        assert (command.name, command.help, command.mutates) == (entry.name, entry.help, entry.mutates)
    assert commands.MUTATING_STEPS == frozenset(name for name, command in loaded.items() if command.mutates)
    assert cli.MUTATING_STEPS is commands.MUTATING_STEPS
    assert commands.CONSOLE.name == ""


def test_each_command_parses_with_its_own_options():
    full = build_parser()
    choices = full._subparsers._group_actions[0].choices
    assert list(choices) == [entry.name for entry in commands.ENTRIES]
    args = parse_args(["--config", "hci.toml", "monitor", "--interval", "2", "--live"])
    assert (args.step, args.interval, args.live, str(args.config)) == ("monitor", 2.0, True, "hci.toml")
    args = parse_args(["--lab-nodes", "6", "ops", "show", "get_os_version"])
    assert (args.step, args.words, args.lab_nodes) == ("ops", ["show", "get_os_version"], 6)
    args = parse_args(["--read-only"])
    assert args.step is None and args.read_only


@pytest.mark.parametrize(("argv", "code"), [(["--help"], 0), (["verify", "--help"], 0), (["--version"], 0),
                                            (["no-such-step"], 2), (["verify", "--no-such-option"], 2),
                                            (["--lab-nodes", "x"], 2)])
def test_help_version_and_usage_errors_end_as_argparse_would(argv, code, capsys):
    assert cli.main(argv) == code
    out = capsys.readouterr()
    if argv == ["verify", "--help"]:
        assert "--node" in out.out and "phase 7" in out.out
    if code == 2:
        assert "usage:" in out.err


def test_the_garbage_collector_is_given_back(capsys):
    assert gc.isenabled()
    cli.main(["--help"])
    assert gc.isenabled()
    cli.main(["ops"])
    assert gc.isenabled()
    capsys.readouterr()


@pytest.mark.parametrize("argv", [["--lab"], ["--lab", "--lab-sites", "1", "--lab-nodes", "3"]])
async def test_the_console_paints_before_it_serves_the_lab(argv, monkeypatch):
    """``hcitui --lab``: the Context exists (names, sites, journal, connection words) with nothing served;
    the app's call once it has painted serves the lab, and the sessions then answer over WinRM. It is the
    lab every other command opens with the same options."""
    from hcitui.cli import context as wiring
    from hcitui.cli.commands.console import open_console, prepare
    from hcitui.remote.session import DeferredSession

    served = []
    original = wiring.serve_lab
    monkeypatch.setattr(wiring, "serve_lab", lambda *a, **k: served.append(1) or original(*a, **k))
    args = parse_args(argv)
    assert prepare(args) is None
    expected = wiring.lab_cluster_config(wiring.open_lab(wiring.state_root(), args.lab_nodes, sites=args.lab_sites))
    ctx = open_console(args)
    try:
        assert served == []
        assert all(isinstance(s, DeferredSession) for s in ctx.client.sessions.values())
        assert ctx.name == expected.name
        assert ctx.client.node_names == [node.name for node in expected.nodes]
        assert ctx.client.sites == sorted({node.site for node in expected.nodes if node.site})
        note = ctx.transport_note
        assert note.startswith("lab over WinRM, https (per-node ports), basic, CA lab-ca.pem")
        ctx.open_after_paint()  # what the app calls once the menu is on the screen
        version = await asyncio.wait_for(ctx.client.invoke(expected.nodes[0].name, ps.get("get_os_version")), 60)
        assert version.current_build_number == 20349
        assert served == [1]
        assert ctx.transport_note == note  # the words the header showed before were right
        # The CAU coordinator's session was deferred too, and answers now.
        assert ctx.client.coordinator_name == "LAB-MGMT"
        run = await asyncio.wait_for(ctx.client.invoke_cluster(ps.get("get_cau_run")), 60)
        assert run is not None
    finally:
        await ctx.close()
