"""What every hcitui screen shares: header, footer, back and help keys, read-only hiding."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from hcitui.widgets.header import StatusHeader

if TYPE_CHECKING:
    from hcitui.workflow.context import Context


class HciScreen(Screen):
    """Base screen. Subclasses compose their body in :meth:`compose_body`."""

    TITLE_TEXT: ClassVar[str] = ""
    ABOUT: ClassVar[str] = ""
    # Actions that change the cluster: hidden from keys, footer and palette in read-only mode.
    MUTATING_ACTIONS: ClassVar[frozenset[str]] = frozenset()

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
    ]

    @property
    def ctx(self) -> Context:
        return self.app.ctx  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        ctx = self.ctx
        yield StatusHeader(cluster=ctx.name, read_only=ctx.read_only, nodes=len(ctx.client.nodes),
                           sites=len(ctx.client.sites), transport=ctx.transport_note, title=self.TITLE_TEXT)
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        return iter(())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MUTATING_ACTIONS and self.ctx.read_only:
            return False
        return True

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
