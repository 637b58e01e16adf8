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
}


def command_for(remedy: Remedy | None) -> str | None:
    """The command line that carries the remedy out, or None when hcitui has none for it."""
    if remedy is None or remedy.action is None:
        return None
    command = COMMANDS[remedy.action]
    return command.format(node=remedy.node or "NODE")


def sentence(error: HciError) -> str:
    """The error's sentence with its remedy as a command: ``...; run: hcitui cau-stop``."""
    command = command_for(getattr(error, "remedy", None))
    words = getattr(error, "remedy", None) and error.remedy.words()
    if command:
        return f"{error.sentence} (to {words}, run: {command})"
    return f"{error.sentence} ({words})" if words else error.sentence
