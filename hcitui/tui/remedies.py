"""A remedy on the console: the screen and the key that carry out a workflow's :class:`Remedy`."""

from __future__ import annotations

from hcitui.core.errors import Action, HciError, Remedy

# Action -> (the menu entry that offers it, the key on that screen; "" when opening the screen is it).
KEYS: dict[Action, tuple[str, str]] = {
    Action.CAU_PREFLIGHT: ("5) CAU run", "f"),
    Action.CAU_OPEN: ("5) CAU run", ""),
    Action.CAU_STOP: ("5) CAU run", "x"),
    Action.CAU_RECOVER: ("5) CAU run", "v"),
    Action.NODE_DRAIN: ("3) Node drain and restart", "n"),
    Action.NODE_RESUME: ("3) Node drain and restart", "u"),
    Action.ISO_STAGE: ("4) ISO staging", "s"),
    Action.REGISTRY_SET: ("2) Registry keys", "a"),
    Action.NODE_RESTART: ("3) Node drain and restart", "s"),
    Action.NODE_UPGRADE: ("3) Node drain and restart", "g"),
    Action.ROLLING_RESTART: ("3) Node drain and restart", "o"),
    Action.SR_SNAPSHOT: ("6) Storage Replica", "s"),
    Action.SR_REREAD: ("6) Storage Replica", "v"),
    Action.FEATURES_INSTALL: ("12) Readiness", "f"),
    Action.BITLOCKER_SUSPEND: ("12) Readiness", "b"),
    Action.OFFLINE_UPDATE: ("13) Offline update", "g"),
}


def key_for(remedy: Remedy | None) -> str | None:
    """The key that carries the remedy out on its screen, or None when it has none."""
    if remedy is None or remedy.action is None:
        return None
    return KEYS[remedy.action][1] or None


def where(remedy: Remedy | None, *, here: str = "") -> str:
    """Where the remedy is carried out: ``x`` on the screen that offers it (``here`` is that screen's
    menu entry), ``x on 5) CAU run`` elsewhere, ``5) CAU run`` when opening it is the remedy; "" when
    hcitui has no key for it."""
    if remedy is None or remedy.action is None:
        return ""
    screen, key = KEYS[remedy.action]
    if not key:
        return screen if screen != here else ""
    return key + ("" if screen == here else f" on {screen}")


def render(remedy: Remedy | None, *, here: str = "") -> str:
    """``stop the CAU run: x`` on the screen that offers it (``here`` is that screen's menu entry),
    ``stop the CAU run: x on 5) CAU run`` elsewhere; the words alone when hcitui has no key for it."""
    if remedy is None:
        return ""
    words, place = remedy.words(), where(remedy, here=here)
    return f"{words}: {place}" if place else words


def sentence(error: HciError, *, here: str = "") -> str:
    """The error's sentence with its remedy rendered for the console."""
    remedy = render(getattr(error, "remedy", None), here=here)
    return f"{error.sentence} ({remedy})" if remedy else error.sentence
