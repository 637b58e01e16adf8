"""The command palette (Ctrl+P): hcitui's commands only, in plain ASCII.

It lists two kinds of commands, both as ``check_action`` allows (in read-only mode, no action in
``MUTATING_ACTIONS`` is listed, and running one goes through ``run_action``, which asks again):

- the current screen's keys (:class:`ScreenCommands`), each found by its description, with its key as its
  help ("key r"). Keys bound to Escape (Back, Clear, Close) are left out: Esc closes the palette itself.
- hcitui's own app commands (:func:`app_commands`): Help and Quit, once each. Textual's system commands
  (Theme, Keys, Maximize, Screenshot, its own Quit) are not offered: they mean nothing on an operator's
  console, and a theme would undo NO_COLOR. :func:`allowed_system_command` filters them by check_action too.

:class:`CommandPalette` is Textual's, with an ASCII search mark and placeholder (no emoji: TERM=linux).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from textual.app import ComposeResult, SystemCommand
from textual.command import CommandPalette as TextualCommandPalette
from textual.command import DiscoveryHit, Hit, Hits, Provider, SearchIcon
from textual.screen import Screen

# Textual's own bindings that mean nothing to an operator (as in the help screen), and Escape: in the
# palette, Esc closes the palette (a second Esc then goes back, clears or closes, as the footer says).
_NOISE = {"ctrl+c", "super+c", "shift+tab", "tab", "ctrl+insert", "ctrl+p", "escape"}

SEARCH_MARK = ">"
PLACEHOLDER = "Type a command (Esc closes)"


def screen_commands(screen: Screen) -> Iterator[tuple[str, str, str]]:
    """(name, action, key) for every key binding of ``screen`` that would act now."""
    seen: set[str] = set()
    for bindings in screen._bindings.key_to_bindings.values():
        for binding in bindings:
            if not binding.description or binding.key in _NOISE or binding.action in seen:
                continue
            if binding.action.startswith("app."):
                continue  # the app's own (help, quit) are app commands
            if screen.check_action(binding.action, ()) is False:
                continue  # hidden here, e.g. a change in read-only mode
            seen.add(binding.action)
            yield binding.description, binding.action, binding.key_display or binding.key


def app_commands(help_action: Callable[[], Any], quit_action: Callable[[], Any]) -> list[SystemCommand]:
    """hcitui's commands on every screen: its help and its quit (which asks first while a change runs)."""
    return [
        SystemCommand("Help", "this screen's keys and what it does (key ?)", help_action),
        SystemCommand("Quit", "leave hcitui; asks first while a change runs (key ctrl+q)", quit_action),
    ]


def mutating(screen: Screen, callback: object) -> bool:
    """Is ``callback`` one of the screen's mutating actions (``action_<name>`` bound to the screen)?"""
    name = getattr(callback, "__name__", "")
    actions = getattr(screen, "MUTATING_ACTIONS", frozenset())
    return name.startswith("action_") and name.removeprefix("action_") in actions


def allowed_system_command(screen: Screen, callback: object) -> bool:
    """False for a system command that would run a mutating action where the screen refuses it."""
    if not mutating(screen, callback):
        return True
    return screen.check_action(callback.__name__.removeprefix("action_"), ()) is not False


class ScreenCommands(Provider):
    """The palette's view of the screen's keys."""

    def _commands(self) -> list[tuple[str, str, str]]:
        screen = self.screen
        return list(screen_commands(screen)) if isinstance(screen, Screen) else []

    def _run(self, action: str) -> None:
        screen = self.screen
        self.app.call_later(self.app.run_action, action, screen)

    async def discover(self) -> Hits:
        for name, action, key in self._commands():
            yield DiscoveryHit(name, partial(self._run, action), help=f"key {key}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, key in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self._run, action), help=f"key {key}")


class CommandPalette(TextualCommandPalette):
    """Textual's command palette with ASCII chrome: ``>`` for its search mark (Textual draws an emoji)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("placeholder", PLACEHOLDER)
        super().__init__(**kwargs)

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, SearchIcon):
                widget.icon = SEARCH_MARK
            yield widget
