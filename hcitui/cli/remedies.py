"""A remedy on the command line: the headless command that carries out a workflow's :class:`Remedy`."""

from __future__ import annotations

from hcitui.core.errors import Action, HciError, Remedy

COMMANDS: dict[Action, str] = {
    Action.CAU_PREFLIGHT: "hcitui cau-preflight",
    Action.CAU_OPEN: "hcitui cau-run",  # reattaches to the run in progress and watches it
    Action.CAU_STOP: "hcitui cau-stop",
    Action.CAU_RECOVER: "hcitui cau-recover",
    Action.NODE_DRAIN: "hcitui drain --node {node}",
    Action.NODE_RESUME: "hcitui resume --node {node}",
    Action.ISO_STAGE: "hcitui iso-stage",
    Action.REGISTRY_SET: "hcitui registry",
    Action.NODE_RESTART: "hcitui restart --node {node}",
    Action.NODE_UPGRADE: "hcitui manual-upgrade --node {node}",
    Action.ROLLING_RESTART: "hcitui rolling-restart",  # goes on where it stopped
    Action.SR_SNAPSHOT: "hcitui sr-snapshot",
    Action.SR_REREAD: "hcitui sr-snapshot --reread",
    Action.FEATURES_INSTALL: "hcitui features-install",
    Action.BITLOCKER_SUSPEND: "hcitui bitlocker-suspend",
    Action.OFFLINE_UPDATE: "hcitui offline-update --yes",
}


def command_for(remedy: Remedy | None) -> str | None:
    """The command line that carries the remedy out, or None when hcitui has none for it."""
    if remedy is None or remedy.action is None or remedy.action not in COMMANDS:
        return None
    return COMMANDS[remedy.action].format(node=remedy.node or "NODE")


def advice(remedy: Remedy | None) -> str:
    """The remedy in words, with its command when hcitui has one: ``to stop the CAU run, run: hcitui
    cau-stop``; only the words when the fix is outside hcitui; "" without a remedy."""
    if remedy is None:
        return ""
    words, command = remedy.words(), command_for(remedy)
    if command:
        return f"to {words}, run: {command}" if words else f"run: {command}"
    return words


def sentence(error: HciError) -> str:
    """The error's sentence with its remedy as a command: ``... (to stop the CAU run, run: hcitui cau-stop)``."""
    said = advice(getattr(error, "remedy", None))
    return f"{error.sentence} ({said})" if said else error.sentence
