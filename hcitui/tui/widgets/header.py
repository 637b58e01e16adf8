"""The one-line header every screen shows: cluster, LIVE/READ-ONLY badge, nodes and sites."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class StatusHeader(Static):
    DEFAULT_CSS = """
    StatusHeader { dock: top; height: 1; background: $primary-background; color: $text; }
    """

    def __init__(self, *, cluster: str, read_only: bool, nodes: int, sites: int, transport: str,
                 title: str = "") -> None:
        super().__init__(id="status-header")
        self.cluster = cluster
        self.read_only = read_only
        self.nodes = nodes
        self.sites = sites
        self.transport = transport
        self.title = title

    def on_mount(self) -> None:
        self.refresh_text()

    def set_title(self, title: str) -> None:
        self.title = title
        self.refresh_text()

    def refresh_text(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" hcitui ", style="bold")
        text.append("| ")
        text.append(self.cluster, style="bold")
        text.append(" ")
        # The badge reads right without colour: the word itself carries the meaning.
        if self.read_only:
            text.append(" READ-ONLY ", style="bold reverse")
        else:
            text.append(" LIVE ", style="bold reverse")
        # A cluster whose config names no sites is one site: not stretched (workflow Context.stretched).
        text.append(f" {self.nodes} nodes, {self.sites} sites" if self.sites > 1 else f" {self.nodes} nodes, one site")
        if "INSECURE" in self.transport:
            text.append(" | ")
            text.append(" TLS NOT VERIFIED ", style="bold reverse")
        if self.title:
            text.append(f" | {self.title}")
        self.update(text)
