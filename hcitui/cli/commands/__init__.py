"""The commands of ``hcitui``, one module per group: reads (verify, prereq, report, ops, config), the
steps that change the cluster, CAU, Storage Replica, the lab, and the console.

:data:`COMMANDS` holds them in the order ``hcitui --help`` lists them; :data:`CONSOLE` is what runs
without a command.
"""

from __future__ import annotations

from hcitui.cli.commands import cau, console, lab, reads, sr, steps
from hcitui.cli.commands.base import Command, Kind

__all__ = ["COMMANDS", "CONSOLE", "MUTATING_STEPS", "Command", "Kind"]

_ORDER: list[Command] = [
    reads.PREREQ, reads.VERIFY, sr.SNAPSHOT, sr.DIFF,
    steps.DRAIN, steps.RESUME, steps.RESTART, steps.MANUAL_UPGRADE, steps.POST_UPGRADE, steps.ROLLING_RESTART,
    steps.REGISTRY, steps.ISO_STAGE, sr.REMOVE, sr.RECREATE, cau.PREFLIGHT, cau.RUN, cau.STOP, cau.RECOVER,
    reads.OPS, reads.CONFIG, lab.LAB, console.MONITOR, reads.REPORT,
]
COMMANDS: dict[str, Command] = {command.name: command for command in _ORDER}
CONSOLE = console.CONSOLE
# The steps that change the cluster: a read-only session refuses each before anything is sent.
MUTATING_STEPS = frozenset(name for name, command in COMMANDS.items() if command.mutates)
