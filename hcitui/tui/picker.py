"""The cluster picker: the config holds several clusters and none was named with --cluster.

A tiny app of its own, run before any session is opened: a numbered list, a digit (and Enter
when the number is ambiguous) or the arrows and Enter choose; Esc or q leaves without choosing.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from hcitui.core.config import ClusterConfig
from hcitui.tui.theme import use_terminal_palette, wants_ansi_theme


class ClusterPicker(App[str | None]):
    TITLE = "hcitui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "cancel", "Quit"),
        Binding("escape", "cancel", "Quit", show=False),
        Binding("ctrl+q", "cancel", "Quit", show=False, priority=True),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
    ]
    CSS = """
    #picker-body { padding: 1 2; }
    #picker-title { text-style: bold; margin-bottom: 1; }
    #picker-items { margin-bottom: 1; }
    """

    def __init__(self, clusters: list[ClusterConfig], *, read_only: bool = False) -> None:
        super().__init__()
        self.clusters = clusters
        self.read_only = read_only
        self.cursor = 0
        self.typed = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-body"):
            yield Static("hcitui: the config has several clusters. Choose one:", id="picker-title", markup=False)
            yield Static(id="picker-items")
            yield Static(id="picker-prompt")
            yield Static("Digits or Up/Down and Enter choose; q or Esc quits. (--cluster NAME skips this.)",
                         id="picker-help", markup=False)

    def on_mount(self) -> None:
        if wants_ansi_theme():
            use_terminal_palette(self)
        self._render_items()

    def _render_items(self) -> None:
        text = Text()
        for index, cluster in enumerate(self.clusters, start=1):
            mark = ">" if index - 1 == self.cursor else " "
            sites = ", ".join(cluster.sites) or "no sites"
            mode = "READ-ONLY" if (cluster.read_only or self.read_only) else "live"
            line = f"{mark} {index:>2}) {cluster.name:<16} {len(cluster.nodes)} nodes, {sites}; {mode}\n"
            text.append(line, style="bold reverse" if index - 1 == self.cursor else "")
        self.query_one("#picker-items", Static).update(text)
        prompt = Text("Enter number to select a cluster: ", style="bold")
        prompt.append(self.typed + "_")
        self.query_one("#picker-prompt", Static).update(prompt)

    def on_key(self, event: events.Key) -> None:
        if event.character and event.character.isdigit():
            event.stop()
            self.typed = (self.typed + event.character)[-2:]
            numbers = [str(i) for i in range(1, len(self.clusters) + 1)]
            matches = [n for n in numbers if n.startswith(self.typed)]
            if matches == [self.typed]:
                self.exit(self.clusters[int(self.typed) - 1].name)
                return
            if not matches:
                self.typed = ""
            else:
                self.cursor = int(matches[0]) - 1 if self.typed in numbers else self.cursor
            self._render_items()
        elif event.key == "backspace":
            event.stop()
            self.typed = self.typed[:-1]
            self._render_items()
        elif event.key == "enter":
            event.stop()
            if self.typed and self.typed.isdigit() and 1 <= int(self.typed) <= len(self.clusters):
                self.exit(self.clusters[int(self.typed) - 1].name)
            else:
                self.exit(self.clusters[self.cursor].name)

    def action_move(self, step: int) -> None:
        self.typed = ""
        self.cursor = (self.cursor + step) % len(self.clusters)
        self._render_items()

    def action_cancel(self) -> None:
        self.exit(None)


def pick_cluster(clusters: list[ClusterConfig], *, read_only: bool = False) -> str | None:
    """Run the picker; the chosen cluster's name, or None when the operator left."""
    return ClusterPicker(clusters, read_only=read_only).run()
