"""One error type for everything the operator is told: :class:`HciError` reads as a sentence, and may
carry a :class:`Remedy`, the next thing to do, which each front end renders in its own terms (a key
on the console, a command on the command line). Nothing below this layer speaks of keys or commands.

The exit codes of the console script live here too, because both front ends end with one."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class ExitCode(IntEnum):
    """What ``hcitui`` exits with, headless or from the console."""

    OK = 0
    FAILED = 1  # a step or a check did not pass, or a node could not be reached
    USAGE = 2  # the command line or the configuration was wrong; nothing was sent
    LEFT_MID_STEP = 3  # the console: the operator left while a change ran (q, Ctrl+Q, Esc, then y)


class Action(StrEnum):
    """A next step the operator can take, named by what it does. Each front end maps it to a key on a
    screen or to a headless command; the workflow never does."""

    CAU_PREFLIGHT = "run the CAU preflight"
    CAU_OPEN = "open the CAU run to reattach"
    CAU_STOP = "stop the CAU run"
    CAU_RECOVER = "recover the failed CAU run"
    NODE_DRAIN = "drain the node again"
    NODE_RESUME = "resume the node"
    ISO_STAGE = "stage the ISO"
    REGISTRY_SET = "set the registry keys"
    NODE_RESTART = "restart the node"
    NODE_UPGRADE = "upgrade the node"
    ROLLING_RESTART = "restart every node in turn"
    SR_SNAPSHOT = "take a new Storage Replica snapshot"
    SR_REREAD = "re-read the Storage Replica snapshot"
    FEATURES_INSTALL = "install the required Windows features"
    BITLOCKER_SUSPEND = "suspend BitLocker"
    OFFLINE_UPDATE = "run the fast offline update again (it goes on where it stopped)"


@dataclass(frozen=True)
class Remedy:
    """What fixes it: an :class:`Action` hcitui can take, or only words when the fix is outside hcitui."""

    text: str = ""
    action: Action | None = None
    node: str | None = None

    def words(self) -> str:
        return self.text or (self.action.value if self.action else "")


class HciError(Exception):
    """Everything the operator is told about a failure: ``sentence`` (one line, no traceback) and,
    where hcitui knows one, ``remedy``. Every error family of hcitui derives from it."""

    remedy: Remedy | None = None

    @property
    def sentence(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__
