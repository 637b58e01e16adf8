"""The commands of ``hcitui``, one module per group: reads (verify, prereq, report, ops, config), the
steps that change the cluster, CAU, Storage Replica, the lab, and the console.

:data:`ENTRIES` names them in the order ``hcitui --help`` lists them, with the help line it prints and
whether the command changes the cluster, so that printing the help (or picking a command) imports no
command module: each imports the workflow, and those imports cost more than the help itself.
:func:`load` imports the one command that runs; :data:`COMMANDS` (every command, loaded) and
:data:`CONSOLE` (what runs without a command) are loaded on first use. A test holds ENTRIES to the
commands' own declarations.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hcitui.cli.commands.base import Command

__all__ = ["COMMANDS", "CONSOLE", "ENTRIES", "MUTATING_STEPS", "Command", "Kind", "Entry", "load"]


@dataclass(frozen=True)
class Entry:
    """A command as the grammar knows it before its module is imported."""

    name: str
    module: str  # hcitui.cli.commands.<module>
    attribute: str  # the Command in it
    help: str
    mutates: bool = False


ENTRIES: tuple[Entry, ...] = (
    Entry("prereq", "reads", "PREREQ", "phase 0: check nodes Up on 20349, Azure registration, CAU role, storage "
          "quiet, the ISO (read-only)"),
    Entry("verify", "reads", "VERIFY", "phase 7: check nodes Up on 25398, CSVs online, SR replicating, storage "
          "quiet (read-only)"),
    Entry("readiness", "readiness", "READINESS", "after phase 8: the solution-upgrade readiness checks of the "
          "environment checker, read with plain cmdlets (read-only)"),
    Entry("sr-snapshot", "sr", "SNAPSHOT", "phase 4: snapshot every SR partnership and group into the journal "
          "folder and re-read it (reads the cluster only)"),
    Entry("sr-diff", "sr", "DIFF", "phase 6: compare the SR configuration with the snapshot; exit 0 same, 1 "
          "different (read-only)"),
    Entry("drain", "steps", "DRAIN", "phase 1: drain --node N (roles move off, node Paused); refused unless it "
          "is safe", True),
    Entry("resume", "steps", "RESUME", "phase 1: resume --node N with failback, then wait for storage", True),
    Entry("restart", "steps", "RESTART", "phase 1: restart --node N: drain, restart, wait, resume, wait for "
          "storage", True),
    Entry("manual-upgrade", "steps", "MANUAL_UPGRADE", "phase 5, without CAU: upgrade --node N by hand: drain, "
          "setup from the staged folder, wait for 25398, resume, wait for storage", True),
    Entry("post-upgrade", "steps", "POST_UPGRADE", "phase 8: raise the functional level, upgrade every storage "
          "pool, run Test-Cluster; CANNOT BE UNDONE: refused without --yes", True),
    Entry("features-install", "solution", "FEATURES_INSTALL", "after phase 8: install the Windows and optional "
          "features the solution update requires, node by node, drained; restarts a node only when a feature "
          "needs it; resumes where it stopped", True),
    Entry("bitlocker-suspend", "solution", "BITLOCKER_SUSPEND", "after phase 8: suspend BitLocker on every "
          "protected volume (-RebootCount 0) so a restart during the solution update needs no recovery key", True),
    Entry("bitlocker-resume", "solution", "BITLOCKER_RESUME", "after the solution update: resume BitLocker on "
          "every suspended volume", True),
    Entry("rolling-restart", "steps", "ROLLING_RESTART", "phase 1: restart every node in turn, one at a time; "
          "stops at the first failure; resumes where it stopped", True),
    Entry("registry", "steps", "REGISTRY", "phase 1: set RefsEnableMetadataValidation and "
          "SkipSmallLocalAllocations to 0 on every node (--node N: one); effective after a restart; "
          "--remediate-refs: the ReFS 1-then-0 toggle", True),
    Entry("iso-stage", "steps", "ISO_STAGE", "phase 3: copy the ISO from iso_source to nodes that lack it, "
          "extract it to staging_path on every node (--node N: one), prove setup.exe and equal counts", True),
    Entry("sr-remove", "sr", "REMOVE", "phase 4: remove every SR partnership, one at a time, each proved gone; "
          "refused without a re-read snapshot (sr-snapshot) that still describes them; needs --yes", True),
    Entry("sr-recreate", "sr", "RECREATE", "phase 6: recreate the SR partnerships from the snapshot, one at a "
          "time, each waiting for its initial sync; then the diff against the snapshot", True),
    Entry("cau-preflight", "cau", "PREFLIGHT", "phase 2: enable remoting on every node, then Test-CauSetup, "
          "Test-Cluster and an Invoke-CauScan preview (--tests-only: the checks alone)", True),
    Entry("cau-run", "cau", "RUN", "phase 5: start the CAU rolling upgrade (or --plugin windows-update) and "
          "print each node's status change until it ends; --no-wait returns once it started; reattaches to a "
          "run in progress", True),
    Entry("cau-stop", "cau", "STOP", "phase 5: stop the CAU run; it ends at its next safe point", True),
    Entry("cau-recover", "cau", "RECOVER", "phase 5: clear a stale failed CAU run (Invoke-CauRun "
          "-ForceRecovery)", True),
    Entry("offline-update", "offline", "OFFLINE_UPDATE", "fast offline update: stop the cluster, update every node "
          "at once, start it; ALL WORKLOADS GO DOWN: refused without --yes", True),
    Entry("ops", "reads", "OPS", "list the declared PowerShell operations, or 'ops show NAME' to print one"),
    Entry("config", "reads", "CONFIG", "'config example' prints a commented config; 'config check [PATH]' "
          "validates one"),
    Entry("lab", "lab", "LAB", "'lab serve': serve the lab over WinRM (HTTPS, Basic) on 127.0.0.1 until "
          "interrupted"),
    Entry("monitor", "console", "MONITOR", "open the console on the Monitor, a dashboard that refreshes on its "
          "own (read-only)"),
    Entry("report", "reads", "REPORT", "the run history and last verification as Markdown or JSON, for a change "
          "record; reads the journal and audit log only (the cluster need not be reachable)"),
)
BY_NAME: dict[str, Entry] = {entry.name: entry for entry in ENTRIES}
# The steps that change the cluster: a read-only session refuses each before anything is sent.
MUTATING_STEPS = frozenset(entry.name for entry in ENTRIES if entry.mutates)


def load(name: str) -> Command:
    """The command ``name`` (its module imported now); ``""``: the console, which runs without one."""
    if name == "":
        return importlib.import_module("hcitui.cli.commands.console").CONSOLE
    entry = BY_NAME[name]
    return getattr(importlib.import_module(f"hcitui.cli.commands.{entry.module}"), entry.attribute)


def __getattr__(name: str) -> Any:  # PEP 562: what needs every command module is loaded on first use
    if name == "COMMANDS":
        return {entry.name: load(entry.name) for entry in ENTRIES}
    if name == "CONSOLE":
        return load("")
    if name in ("Command", "Kind"):
        return getattr(importlib.import_module("hcitui.cli.commands.base"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
