"""The command palette's commands: the current screen's keys, minus what read-only mode hides.

Every command a screen offers by key is also in the palette (Ctrl+P), found by its description.
A command whose action the screen refuses (``check_action`` false: in read-only mode, every action
in ``MUTATING_ACTIONS``) is not listed at all, and running one goes through ``run_action``, which
asks ``check_action`` again. :func:`allowed_system_command` filters the app's system commands the
same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

# Textual's own bindings that mean nothing to an operator (as in the help screen).
_NOISE = {"ctrl+c", "super+c", "shift+tab", "tab", "ctrl+insert", "ctrl+p"}


def screen_commands(screen: Screen) -> Iterator[tuple[str, str, str]]:
    """(name, action, key) for every key binding of ``screen`` that would act now."""
    seen: set[str] = set()
    for bindings in screen._bindings.key_to_bindings.values():
        for binding in bindings:
            if not binding.description or binding.key in _NOISE or binding.action in seen:
                continue
            if binding.action.startswith("app."):
                continue  # the app's own (help, quit) are system commands
            if screen.check_action(binding.action, ()) is False:
                continue  # hidden here, e.g. a change in read-only mode
            seen.add(binding.action)
            yield binding.description, binding.action, binding.key_display or binding.key


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
