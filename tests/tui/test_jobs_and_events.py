"""The screens' shared mechanisms: one job at a time (JobGuard), workflow events as messages, typed
events in words, and remedies rendered as keys."""

from __future__ import annotations

import asyncio
import inspect
from datetime import datetime
from types import SimpleNamespace

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from hcitui.core.errors import Action, HciError, Remedy
from hcitui.remote import EventKind, NodeEvent
from hcitui.tui import remedies
from hcitui.tui.messages import handled
from hcitui.tui.screens.base import HciScreen
from hcitui.tui.screens.checks import fix_text
from hcitui.tui.screens.jobs import JobGuard
from hcitui.tui.screens.maintenance import MaintenanceScreen
from hcitui.tui.screens.stepping import event_words, status_text
from hcitui.workflow.events import ProgressEvent, Stage


class JobScreen(JobGuard, Screen):
    def __init__(self) -> None:
        super().__init__()
        self.notes: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("")

    def notify(self, message: str, **kwargs) -> None:  # type: ignore[override]
        self.notes.append(message)


class EventScreen(HciScreen):
    """An HciScreen without the header (it needs no cluster): records what its handlers were shown."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[str] = []
        self.seen_before_wait: list[str] | None = None
        self.seen_after_wait: list[str] | None = None

    def compose(self) -> ComposeResult:
        yield Static("")

    def show_progress(self, event: ProgressEvent) -> None:
        self.shown.append(event.text)

    def show_node_event(self, event: NodeEvent) -> None:
        self.shown.append(f"{event.node} {event.kind.value}")

    async def job(self) -> None:
        for index in range(30):
            self.progress(ProgressEvent("N1", f"step {index}"))
        self.node_event(NodeEvent("N1", EventKind.OK))
        self.seen_before_wait = list(self.shown)
        await self.events_shown()
        self.seen_after_wait = list(self.shown)


class Host(App):
    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.first = screen

    def on_mount(self) -> None:
        self.push_screen(self.first)


# ------------------------------------------------------------------ one job at a time


async def test_one_job_at_a_time_and_busy_follows_the_worker():
    screen = JobScreen()
    async with Host(screen).run_test() as pilot:
        await pilot.pause()
        assert screen.busy is None
        step = asyncio.Event()
        assert screen.start_job("drain LAB-A1", step.wait())
        assert screen.busy == "drain LAB-A1"  # pending counts: nothing can slip in before it starts
        await pilot.pause()
        assert screen.busy == "drain LAB-A1"

        refused = asyncio.sleep(0)
        assert not screen.start_job("refresh", refused)
        assert inspect.getcoroutinestate(refused) == inspect.CORO_CLOSED  # closed, never "never awaited"
        assert screen.notes == ["Busy: drain LAB-A1 is running; one thing at a time."]
        assert screen.is_busy() and len(screen.notes) == 2

        step.set()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.busy is None and not screen.is_busy()
        assert len(screen.notes) == 2

        async def fails() -> None:
            raise RuntimeError("boom")

        assert screen.start_job("failing", fails())
        for _ in range(20):
            await pilot.pause()
        assert screen.busy is None  # a job that failed is not running: the next one may start
        assert screen.start_job("next", asyncio.sleep(0))


async def test_other_groups_do_not_make_the_screen_busy():
    screen = JobScreen()
    async with Host(screen).run_test() as pilot:
        await pilot.pause()
        step = asyncio.Event()
        screen.run_worker(step.wait(), group="live", exit_on_error=False)
        assert screen.busy is None and screen.running_in("live") is not None
        step.set()
        await pilot.app.workers.wait_for_complete()
        assert screen.running_in("live") is None


# ------------------------------------------------------------------ events as messages


async def test_callbacks_post_messages_and_events_shown_waits_for_them_in_order():
    screen = EventScreen()
    async with Host(screen).run_test() as pilot:
        await pilot.pause()
        assert screen.start_job("step", screen.job())
        await pilot.app.workers.wait_for_complete()
        assert screen.seen_before_wait == []  # the callbacks only posted: no widget changed in the worker
        assert screen.seen_after_wait == [f"step {i}" for i in range(30)] + ["N1 ok"]


async def test_handled_returns_at_once_when_the_screen_has_closed():
    first, second = EventScreen(), EventScreen()
    async with Host(first).run_test() as pilot:
        await pilot.pause()
        await pilot.app.push_screen(second)
        await pilot.pause()
        await pilot.app.pop_screen()
        await pilot.pause()
        await asyncio.wait_for(handled(second), 2)


# ------------------------------------------------------------------ typed events in words


def test_events_in_words_come_from_their_fields():
    failed = ProgressEvent("LAB-A1", "setup exited 0xC1900101", stage=Stage.FAILED)
    assert event_words(failed) == "FAILED: setup exited 0xC1900101"
    assert event_words(ProgressEvent("LAB-A1", "", stage=Stage.FAILED)) == "FAILED"
    since = datetime(2026, 11, 24, 12, 0, 1)
    waiting = ProgressEvent("LAB-A1", "restarting", stage=Stage.WAITING, since=since)
    assert event_words(waiting) == "restarting (since 12:00:01)"
    assert "bold" in str(status_text(failed).style) and status_text(failed).no_wrap
    assert "dim" in str(status_text(ProgressEvent("LAB-A1", "already there", stage=Stage.SKIPPED)).style)


def test_maintenance_status_word_uses_the_stage_and_the_reported_status():
    word = MaintenanceScreen.status_word
    assert word(ProgressEvent("N", "drained: Paused", stage=Stage.DONE)) == "done"
    assert word(ProgressEvent("N", "the drain failed", stage=Stage.FAILED)) == "FAILED"
    assert word(ProgressEvent("N", "nothing to do", stage=Stage.SKIPPED)) == "skipped"
    assert word(ProgressEvent("N", "storage quiet", 1.0)) == "done"
    assert word(ProgressEvent("N", "draining: 3 roles left", status="InProgress")) == "draining"
    assert word(ProgressEvent("N", "restarting, waiting for WinRM", stage=Stage.WAITING)) == (
        "restarting, waiting for WinRM")


# ------------------------------------------------------------------ remedies as keys


def test_remedies_render_as_keys_here_and_with_the_screen_elsewhere():
    stop = Remedy(action=Action.CAU_STOP)
    assert remedies.where(stop, here="5) CAU run") == "x"
    assert remedies.where(stop, here="3) Node drain and restart") == "x on 5) CAU run"
    assert remedies.render(stop, here="5) CAU run") == "stop the CAU run: x"
    assert remedies.render(Remedy(action=Action.CAU_OPEN)) == "open the CAU run to reattach: 5) CAU run"
    assert remedies.where(Remedy(action=Action.CAU_OPEN), here="5) CAU run") == ""
    assert remedies.render(Remedy(text="ask the storage team")) == "ask the storage team"
    assert remedies.where(None) == "" and remedies.render(None) == ""

    class Refusal(HciError):
        pass

    error = Refusal("drain LAB-A1 refused: LAB-B1 is out of service")
    error.remedy = Remedy(action=Action.NODE_RESUME, node="LAB-B1")
    assert remedies.sentence(error, here="3) Node drain and restart") == (
        "drain LAB-A1 refused: LAB-B1 is out of service (resume the node: u)")
    assert remedies.sentence(Refusal("plain")) == "plain"


def test_a_checks_fix_names_its_key_and_screen_when_it_carries_a_remedy():
    words_only = SimpleNamespace(remediation="shut down VMs before the OS upgrade", remedy=None)
    assert fix_text(words_only, here="1) Prerequisites") == "shut down VMs before the OS upgrade"
    staged = SimpleNamespace(remediation="stage the ISO", remedy=Remedy(action=Action.ISO_STAGE, node="LAB-B2"))
    assert fix_text(staged, here="1) Prerequisites") == "stage the ISO: s on 4) ISO staging"
    assert fix_text(staged, here="4) ISO staging") == "stage the ISO: s"
    no_words = SimpleNamespace(remediation=None, remedy=Remedy(action=Action.ISO_STAGE))
    assert fix_text(no_words, here="1) Prerequisites") == "stage the ISO: s on 4) ISO staging"
    assert fix_text(SimpleNamespace(remediation=None), here="1) Prerequisites") == ""
