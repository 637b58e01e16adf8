"""What the console's Pilot tests share: the terminal's size, an app on a fresh lab, the waits, and the
screen read back as text.

The tests in this folder import it as ``tuikit`` (pytest puts a test's folder on sys.path); a test
elsewhere under tests/ imports it as ``tui.tuikit`` (tests/ is on sys.path: pyproject's pythonpath)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from textual.screen import Screen
from textual.widgets import Static

from hcitui.cli import context as wiring
from hcitui.lab import Lab
from hcitui.tui.app import HciApp
from hcitui.workflow.context import Context

SIZE = (80, 24)  # the terminal every screen must fit
NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]  # the 4-node lab's nodes, in the tables' order
# Lab timings (hcitui.lab.state.Timings) for restarts that take a fraction of a second.
FAST_RESTARTS = {"reboot": 0.3, "cluster_join": 0.2, "repair": 0.3, "drain_step": 0.02}


# ------------------------------------------------------------------ the lab and the app


def apply_timings(lab: Lab, timings: Mapping[str, float]) -> None:
    """Set the lab's timing fields named in ``timings`` (seconds), e.g. ``FAST_RESTARTS``."""
    for name, seconds in timings.items():
        assert hasattr(lab.state.timings, name), f"the lab has no timing {name!r}"
        setattr(lab.state.timings, name, seconds)


def registry_values_set(lab: Lab) -> None:
    """The VID key and SkipSmallLocalAllocations set on every node: a restart's VMs can move."""
    for node in lab.state.nodes.values():
        node.vid_parameters_key, node.skip_small_local_allocations = True, 0


def make_app(tmp_path: Path, *, nodes: int = 4, read_only: bool = False, poll: float | None = None,
             timings: Mapping[str, float] | None = None, unreachable: Iterable[str] | None = None,
             setup: Callable[[Lab], None] | None = None, coordinator: bool = True,
             start: Callable[[], Screen] | None = None) -> tuple[HciApp, Context, Lab]:
    """The console (not running yet) on a lab of ``nodes`` nodes kept under ``tmp_path``, in-process.

    ``timings``: lab timing fields to set; ``unreachable``: nodes that do not answer; ``setup(lab)``: any
    other change to the lab, made before the context is built; ``coordinator``: the CAU run goes through
    the lab's coordinator; ``poll``: the context's polling interval (seconds); ``start``: a screen to open
    over the menu at once."""
    lab = wiring.open_lab(tmp_path, nodes)
    if timings:
        apply_timings(lab, timings)
    if unreachable:
        lab.state.faults.unreachable = list(unreachable)
    if setup is not None:
        setup(lab)
    ctx = wiring.context_for_lab(lab, read_only=read_only, state_root=tmp_path, coordinator=coordinator)
    if poll is not None:
        ctx.poll = poll
    return HciApp(ctx, start=start), ctx, lab


def mutating_calls(ctx: Context) -> list[dict]:
    """The audit log's records of operations that change the cluster (refused ones included)."""
    return [r for r in ctx.audit.records() if r["mutates"]]


# ------------------------------------------------------------------ waits


async def settle(pilot) -> None:
    """Let the app handle what is pending and every worker finish."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def open_screen(pilot, keys: tuple[str, ...], kind: type[Screen]):
    """Type ``keys`` at the menu and return the screen they open (of type ``kind``), its first reads done."""
    await settle(pilot)
    await pilot.press(*keys)
    await settle(pilot)
    assert isinstance(pilot.app.screen, kind), type(pilot.app.screen).__name__
    return pilot.app.screen


async def wait_idle(pilot, screen, limit: float = 60.0, watch: Callable[[], None] | None = None) -> None:
    """Wait (at most ``limit`` seconds) until ``screen`` is not busy with a job, calling ``watch()`` every
    0.05 s meanwhile; then let the workers finish."""
    for _ in range(int(limit / 0.05)):
        await pilot.pause(0.05)
        if watch is not None:
            watch()
        if screen.busy is None:
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            return
    raise AssertionError(f"still busy with {screen.busy}")


async def wait_for(pilot, condition: Callable[[], bool], *, limit: int = 200) -> bool:
    """Whether ``condition()`` holds within ``limit`` pauses of 0.05 s."""
    for _ in range(limit):
        if condition():
            return True
        await pilot.pause(0.05)
    return condition()


# ------------------------------------------------------------------ the screen as text


def text_of(widget: Static) -> str:
    """A widget's text, without its styles."""
    content = widget.content
    return content.plain if hasattr(content, "plain") else str(content)


def screen_text(screen: Screen) -> str:
    """The text of every Static on ``screen``, a widget a line."""
    return "\n".join(text_of(w) for w in screen.query(Static))


def screen_lines(app) -> list[str]:
    """What the terminal shows, line by line, as the operator sees it (modal screens over what is under
    them), without trailing blanks."""
    return [strip.text.rstrip() for strip in app.screen._compositor.render_strips()]


def row_shown(lines: list[str], node: str) -> bool:
    """Whether the row of ``node`` in a node table is among ``lines`` (from ``screen_lines``)."""
    return any(line.startswith(f" {node} ") for line in lines)
