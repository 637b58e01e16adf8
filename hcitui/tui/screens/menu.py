"""The SConfig-style main menu: numbered items with their state, a number prompt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from hcitui.core.journal import StepStatus, local_time
from hcitui.tui.screens.base import HciScreen
from hcitui.workflow.context import Context


@dataclass(frozen=True)
class MenuEntry:
    number: int
    title: str
    screen: Callable[[], Screen]
    state: Callable[[Context], str]


def _at(stamp: str | None) -> str:
    """`` at 04:12`` for a journal time, in local time; "" when there is none or it is not a time."""
    when = local_time(stamp, fmt="%H:%M")
    return f" at {when}" if when and when != stamp else ""


def _verification_state(ctx: Context) -> str:
    record = ctx.journal.step(7, "verification")
    if record is None:
        return "not run yet"
    when = _at(record.finished or record.started)
    if record.status is StepStatus.UNKNOWN:
        return "interrupted; run again"
    if record.status is StepStatus.RUNNING:
        return "running"
    return f"{record.detail or record.status.value}{when}"


def _prerequisites_state(ctx: Context) -> str:
    """Phase 0's journal record: "not run yet", "PASSED with 3 warnings at 04:12", "NOT PASSED: ..."."""
    record = ctx.journal.step(0, "prerequisites")
    if record is None:
        return "not run yet"
    if record.status is StepStatus.UNKNOWN:
        return "interrupted; run again"
    if record.status is StepStatus.RUNNING:
        return "running"
    when = _at(record.finished or record.started)
    return f"{record.detail or record.status.value}{when}"


def _post_state(ctx: Context) -> str:
    done = {r.step for r in ctx.journal.steps(8) if r.status is StepStatus.DONE}
    parts = [name for step, name in (("functional-level", "level raised"), ("storage-pools", "pools upgraded"),
                                     ("test-cluster", "validated")) if step in done]
    return ", ".join(parts) if parts else "not started (cannot be undone)"


def _maintenance_state(ctx: Context) -> str:
    lock = ctx.journal.state.lock
    if lock is not None:
        return f"{lock.node} out of service ({lock.reason})"
    done = {r.node for r in ctx.journal.steps(1) if r.step == "restart" and r.status is StepStatus.DONE}
    count = len(ctx.client.node_names)
    return f"{len(done & set(ctx.client.node_names))}/{count} nodes restarted"


def menu_entries() -> list[MenuEntry]:
    """Only the screens that work. Numbers are fixed so an operator's runbook stays right."""
    from hcitui.tui.screens.audit_view import AuditScreen, audit_state
    from hcitui.tui.screens.cau import CauScreen, cau_menu_state
    from hcitui.tui.screens.iso import IsoScreen, iso_menu_state
    from hcitui.tui.screens.journal_view import JournalScreen, journal_state
    from hcitui.tui.screens.maintenance import MaintenanceScreen
    from hcitui.tui.screens.monitor import MonitorScreen, monitor_state
    from hcitui.tui.screens.post import PostUpgradeScreen
    from hcitui.tui.screens.prereq import PrereqScreen
    from hcitui.tui.screens.registry import RegistryScreen, registry_menu_state
    from hcitui.tui.screens.sr import SRScreen, sr_menu_state
    from hcitui.tui.screens.verify import VerifyScreen

    return [
        MenuEntry(1, "Prerequisites", PrereqScreen, _prerequisites_state),
        MenuEntry(2, "Registry keys", RegistryScreen, registry_menu_state),
        MenuEntry(3, "Node drain and restart", MaintenanceScreen, _maintenance_state),
        MenuEntry(4, "ISO staging", IsoScreen, iso_menu_state),
        MenuEntry(5, "CAU run", CauScreen, cau_menu_state),
        MenuEntry(6, "Storage Replica", SRScreen, sr_menu_state),
        MenuEntry(7, "Verification", VerifyScreen, _verification_state),
        MenuEntry(8, "Post-upgrade", PostUpgradeScreen, _post_state),
        MenuEntry(9, "Monitor", MonitorScreen, monitor_state),
        MenuEntry(10, "Audit log", AuditScreen, audit_state),
        MenuEntry(11, "Journal", JournalScreen, journal_state),
    ]


EXIT_NUMBER = 0
LEADER = 30  # column where an item's state starts


class MenuScreen(HciScreen):
    TITLE_TEXT = "Main menu"
    ABOUT = ("Type an option's number. A number no other option starts with opens at once; "
             "otherwise press Enter. Backspace corrects, Esc clears.")
    BINDINGS = [
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
        Binding("escape", "clear", "Clear", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries = menu_entries()
        self.typed = ""

    def compose_body(self) -> ComposeResult:
        with Vertical(id="menu-body"):
            yield Static(id="menu-title")
            yield Static(id="menu-items")
            yield Static(id="menu-prompt")
            yield Static(id="menu-message")

    def on_mount(self) -> None:
        ctx = self.ctx
        title = Text()
        title.append("Azure Stack HCI upgrade: 22H2 (20349) to 23H2 (25398)\n", style="bold")
        sites = ", ".join(ctx.client.sites) or "no sites"
        mode = "READ-ONLY" if ctx.read_only else "LIVE"
        title.append(f"Cluster {ctx.name}: {len(ctx.client.nodes)} nodes in {sites}. Mode: {mode}\n")
        title.append(f"Connection: {ctx.transport_note}")
        self.query_one("#menu-title", Static).update(title)
        self.refresh_items()
        self.refresh_prompt()

    def on_screen_resume(self) -> None:
        self.refresh_items()

    def refresh_items(self) -> None:
        lines = Text()
        for entry in self.entries:
            label = f"{entry.number:>2}) {entry.title} "
            lines.append(label, style="bold")
            lines.append("." * max(2, LEADER - len(label)) + " ", style="dim")
            lines.append(entry.state(self.ctx) + "\n")
        lines.append("\n")
        lines.append(f"{EXIT_NUMBER:>2}) Exit\n", style="bold")
        self.query_one("#menu-items", Static).update(lines)

    def refresh_prompt(self) -> None:
        prompt = Text("Enter number to select an option: ", style="bold")
        prompt.append(self.typed + "_")
        self.query_one("#menu-prompt", Static).update(prompt)

    def say(self, message: str) -> None:
        self.query_one("#menu-message", Static).update(message)

    def numbers(self) -> list[int]:
        return [e.number for e in self.entries] + [EXIT_NUMBER]

    def on_key(self, event: events.Key) -> None:
        if event.character and event.character.isdigit():
            event.stop()
            self.typed = (self.typed + event.character)[-3:]
            self.say("")
            self.refresh_prompt()
            # Open at once when no longer option number starts with what was typed.
            matches = [n for n in self.numbers() if str(n).startswith(self.typed)]
            if matches == [int(self.typed)]:
                self.choose()
            elif not matches:
                self.say(f"There is no option {self.typed}.")
                self.typed = ""
                self.refresh_prompt()
        elif event.key == "backspace":
            event.stop()
            self.typed = self.typed[:-1]
            self.refresh_prompt()
        elif event.key == "enter":
            event.stop()
            self.choose()

    def action_clear(self) -> None:
        self.typed = ""
        self.say("")
        self.refresh_prompt()

    def choose(self) -> None:
        typed, self.typed = self.typed, ""
        self.refresh_prompt()
        if not typed:
            return
        number = int(typed)
        if number == EXIT_NUMBER:
            self.app.exit()
            return
        for entry in self.entries:
            if entry.number == number:
                self.app.push_screen(entry.screen())
                return
        self.say(f"There is no option {typed}.")
