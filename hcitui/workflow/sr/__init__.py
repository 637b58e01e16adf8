"""Storage Replica, phases 4 and 6: snapshot, removal, recreation one at a time, and the diff.

One concern per module; this package re-exports what the rest of hcitui uses
(``from hcitui.workflow import sr; sr.take_snapshot(...)``):

- :mod:`.snapshot`: the snapshot's model (per partnership everything ``New-SRPartnership`` needs)
  and :func:`build_snapshot`, which refuses to describe a partnership incompletely.
- :mod:`.store`: taking it, writing it atomically into the journal directory
  (``sr-snapshots/<time>.json`` and ``latest.json``) and *re-reading* it: parsed back from disk and
  checked against the hash recorded when it was written. Removal and recreation need that.
- :mod:`.diff`: the pure comparison of what must match (computers, group names, volumes, log
  volumes, mode, log size, RPO when asynchronous, encryption, consistency groups), ignoring what
  legitimately changes (ids, status, LSNs, LastInSyncTime, bytes remaining, partition ids).
- :mod:`.interlocks`: removal and recreation refused unless every node is Up (fail closed); removal
  also while the snapshot is out of date or a partnership is not ContinuouslyReplicating.
- :mod:`.remove` and :mod:`.recreate`: one partnership at a time, each proved (gone; or replicating
  after its initial sync and the same as the snapshot); a run killed half way resumes.
- :mod:`.commands`: the cmdlets' parameters, the equivalent command lines and the plans.
- :mod:`.menu` and :mod:`.reverify`: the menu's phrase and the re-verification after a restart.

Progress is typed (:class:`~hcitui.workflow.events.ProgressEvent`): a partnership's label as the
event's node, its stage, the initial sync's bytes as done/total, its position in the run.
"""

from __future__ import annotations

from hcitui.workflow.sr import reverify as _reverify  # noqa: F401  (registers the re-verifiers)
from hcitui.workflow.sr.commands import (
    new_command,
    plan_recreate,
    plan_remove,
    recreate_params,
    remove_params,
    view_text,
)
from hcitui.workflow.sr.diff import Difference, diff
from hcitui.workflow.sr.interlocks import recreate_blockers, removal_blockers
from hcitui.workflow.sr.menu import menu_state
from hcitui.workflow.sr.recreate import compare, record_diff, recreate, sites_of
from hcitui.workflow.sr.remove import remove_partnerships
from hcitui.workflow.sr.snapshot import (
    DIFF,
    PHASE_RECREATE,
    PHASE_SNAPSHOT,
    RECREATE,
    REMOVE,
    REPLICATING,
    SNAPSHOT,
    SR_PARTS,
    PartnershipSnapshot,
    SnapshotError,
    SRSnapshot,
    build_snapshot,
    live_key,
    pair_key,
    replicating,
)
from hcitui.workflow.sr.store import (
    SnapshotInfo,
    load_snapshot,
    reread_snapshot,
    snapshot_dir,
    snapshot_info,
    take_snapshot,
    write_snapshot,
)

__all__ = [
    "DIFF", "PHASE_RECREATE", "PHASE_SNAPSHOT", "RECREATE", "REMOVE", "REPLICATING", "SNAPSHOT", "SR_PARTS",
    "Difference", "PartnershipSnapshot", "SRSnapshot", "SnapshotError", "SnapshotInfo",
    "build_snapshot", "compare", "diff", "live_key", "load_snapshot", "menu_state", "new_command", "pair_key",
    "plan_recreate", "plan_remove", "recreate", "recreate_blockers", "recreate_params", "record_diff",
    "removal_blockers", "remove_params", "remove_partnerships", "replicating", "reread_snapshot", "sites_of",
    "snapshot_dir", "snapshot_info", "take_snapshot", "view_text", "write_snapshot",
]
