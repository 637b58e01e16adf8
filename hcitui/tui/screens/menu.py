"""The SConfig-style main menu: numbered items with the runbook phases each serves and their state, the next
step recommended (marked, with its phase and why), a number prompt. Every line comes from
:mod:`hcitui.workflow.summaries`; each is cut with an ellipsis at the screen's width, never wrapped."""

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

from hcitui.tui.screens.base import HciScreen
from hcitui.workflow import summaries
from hcitui.workflow.summaries import Entry, Overview, Recommendation, State


@dataclass(frozen=True)
class MenuEntry:
    number: int
    title: str
    screen: Callable[[], Screen]
    entry: Entry  # what workflow.summaries knows it by: its line and whether it is next

    @property
    def phases(self) -> str:
        """The runbook phases it serves ("2,5"), "" for a view."""
        return ",".join(str(p) for p in summaries.PHASES.get(self.entry, ()))


def menu_entries() -> list[MenuEntry]:
    """Only the screens that work. Numbers are fixed so an operator's runbook stays right."""
    from hcitui.tui.screens.audit_view import AuditScreen
    from hcitui.tui.screens.cau import CauScreen
    from hcitui.tui.screens.iso import IsoScreen
    from hcitui.tui.screens.journal_view import JournalScreen
    from hcitui.tui.screens.maintenance import MaintenanceScreen
    from hcitui.tui.screens.monitor import MonitorScreen
    from hcitui.tui.screens.offline import OfflineUpdateScreen
    from hcitui.tui.screens.post import PostUpgradeScreen
    from hcitui.tui.screens.prereq import PrereqScreen
    from hcitui.tui.screens.readiness import ReadinessScreen
    from hcitui.tui.screens.registry import RegistryScreen
    from hcitui.tui.screens.sr import SRScreen
    from hcitui.tui.screens.verify import VerifyScreen

    return [
        MenuEntry(1, "Prerequisites", PrereqScreen, Entry.PREREQUISITES),
        MenuEntry(2, "Registry keys", RegistryScreen, Entry.REGISTRY),
        MenuEntry(3, "Node drain and restart", MaintenanceScreen, Entry.MAINTENANCE),
        MenuEntry(4, "ISO staging", IsoScreen, Entry.ISO),
        MenuEntry(5, "CAU run", CauScreen, Entry.CAU),
        MenuEntry(6, "Storage Replica", SRScreen, Entry.SR),
        MenuEntry(7, "Verification", VerifyScreen, Entry.VERIFICATION),
        MenuEntry(8, "Post-upgrade", PostUpgradeScreen, Entry.POST),
        MenuEntry(9, "Monitor", MonitorScreen, Entry.MONITOR),
        MenuEntry(10, "Audit log", AuditScreen, Entry.AUDIT),
        MenuEntry(11, "Journal", JournalScreen, Entry.JOURNAL),
        MenuEntry(12, "Readiness", ReadinessScreen, Entry.READINESS),
        MenuEntry(13, "Offline update", OfflineUpdateScreen, Entry.OFFLINE),
    ]


EXIT_NUMBER = 0
NEXT_MARK = ">"  # in the first column of the recommended entry's row
PHASE_END = 31  # the phase column ends here (right-aligned); the state starts 2 after: 45 columns of it at 80
# States that need the operator's eye: bold (meaning in words first; the style only adds to it).
LOUD = {State.FAILED, State.STALE, State.INTERRUPTED}


def item_line(entry: MenuEntry, summary: summaries.Summary, *, marked: bool = False) -> Text:
    """``> 2) Registry keys .......... 1  not set yet``: one line (the screen cuts it, never wraps it)."""
    line = Text()
    line.append(NEXT_MARK if marked else " ", style="bold")
    label = f"{entry.number:>2}) {entry.title} "
    line.append(label, style="bold")
    phases = entry.phases
    if phases:  # dots, a space, the phases right-aligned to PHASE_END
        line.append("." * max(0, PHASE_END - 2 - len(label) - len(phases)), style="dim")
        line.append(" " + phases)
    else:  # a view: dots to PHASE_END
        line.append("." * max(0, PHASE_END - 1 - len(label)), style="dim")
    line.append("  ")
    line.append(summary.text, style="bold" if summary.state in LOUD else "")
    return line


def columns_line() -> Text:
    """The items' column heads: the menu numbers are not the runbook's phase numbers."""
    head = " Option".ljust(PHASE_END - len("Phase")) + "Phase  State"
    return Text(head, style="dim")


def next_line(entries: list[MenuEntry], recommendation: Recommendation | None) -> Text:
    """``Next: 2) Registry keys, phase 1: prerequisites passed; the keys are not set``."""
    line = Text("Next: ", style="bold")
    if recommendation is None:
        line.append("nothing left: every phase is done and the last verification still holds")
        return line
    entry = next((e for e in entries if e.entry is recommendation.entry), None)
    where = f"{entry.number}) {entry.title}" if entry is not None else recommendation.entry.value
    line.append(where, style="bold")
    line.append(f", phase {recommendation.phase}: {recommendation.why}")
    return line


class MenuScreen(HciScreen):
    TITLE_TEXT = "Main menu"
    # 80x24 holds the header, the heading (3), the column heads, every item (13) and Exit, a blank line, the next
    # step, the prompt, a message and the footer: 24 lines, so no margin under the heading, no blank before Exit;
    # each line is cut with an ellipsis at the screen's width, never wrapped, so the prompt never moves off.
    DEFAULT_CSS = """
    MenuScreen #menu-page { height: 1fr; padding: 0 1; }
    MenuScreen #menu-heading { margin: 0 0 0 1; }
    MenuScreen #menu-page > Static { text-wrap: nowrap; text-overflow: ellipsis; }
    MenuScreen #menu-next, MenuScreen #menu-prompt, MenuScreen #menu-message { margin-left: 1; }
    """
    ABOUT = ("Type an option's number. A number no other option starts with opens at once; "
             "otherwise press Enter (1 needs Enter: 10 and up start with it). Backspace corrects, Esc "
             "clears. Phase: the runbook phase(s) an option serves (0 prerequisites, 1 registry keys and restarts, "
             "2 CAU preflight, 3 ISO staging, 4 SR snapshot, 5 OS upgrade, 6 SR recreate, 7 verification, "
             "8 post-upgrade; 9 after them, preparing the solution update on a cluster that is not stretched: "
             "12) Readiness checks it, installs the missing features and suspends BitLocker; 10 the fast offline "
             "update, 13), outside the upgrade: every node updated at once in a maintenance window, with "
             "downtime). '>' and the Next "
             "line: the step recommended next, from the journal, and why. 'stale': the cluster changed after that "
             "result was taken; run it again.")
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
        with Vertical(id="menu-page"):
            yield Static(id="menu-heading")
            yield Static(columns_line(), id="menu-columns")
            yield Static(id="menu-items")
            yield Static(id="menu-next")
            yield Static(id="menu-prompt")
            yield Static(id="menu-message")

    def on_mount(self) -> None:
        ctx = self.ctx
        title = Text()
        title.append("Azure Stack HCI upgrade: 22H2 (20349) to 23H2 (25398)\n", style="bold")
        sites = (", ".join(ctx.client.sites) or "two sites") if ctx.stretched else "one site (not stretched)"
        mode = "READ-ONLY" if ctx.read_only else "LIVE"
        title.append(f"Cluster {ctx.name}: {len(ctx.client.nodes)} nodes in {sites}. Mode: {mode}\n")
        title.append(f"Connection: {ctx.transport_note}")
        self.query_one("#menu-heading", Static).update(title)
        self.refresh_items()
        self.refresh_prompt()

    def on_screen_resume(self) -> None:
        self.refresh_items()

    def overview(self) -> Overview:
        return summaries.summarize(self.ctx)

    def refresh_items(self) -> None:
        overview = self.overview()
        marked = overview.next.entry if overview.next is not None else None
        lines = Text()
        for entry in self.entries:
            lines.append_text(item_line(entry, overview.lines[entry.entry], marked=entry.entry is marked))
            lines.append("\n")
        lines.append(f" {EXIT_NUMBER:>2}) Exit", style="bold")
        self.query_one("#menu-items", Static).update(lines)
        self.query_one("#menu-next", Static).update(next_line(self.entries, overview.next))

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
