"""Phase 1 node maintenance: drain, resume, the restart cycle (and the manual upgrade, the same cycle
with setup as its restart), the rolling restart, and their re-verification after an interruption.

    common    journal names, the reads decisions are made on, the one-node-out lock
    plans     the PowerShell each step will send (preview, dry run)
    drain     drain and resume a node, each proved; the wait for storage to settle
    setup     the manual upgrade's own checks, reading setup while it installs, its failure sentences
    cycle     the restart/upgrade cycle of one node, driven by what the cluster shows
    rolling   every node's restart in turn
    reverify  where an interrupted step stands (registered with workflow/resume.py)
    summary   the menu's line, from the journal
"""

from hcitui.workflow.maintenance import reverify as _reverify  # noqa: F401,E402  (registers the re-verifiers)
from hcitui.workflow.maintenance.common import DRAIN, PHASE, RESTART, RESUME, ROLLING, STATE_PARTS, read_state
from hcitui.workflow.maintenance.cycle import (
    RESTART_KIND,
    UPGRADE_KIND,
    CycleKind,
    manual_upgrade,
    restart,
    run_cycle,
)
from hcitui.workflow.maintenance.drain import drain, resume, wait_for_storage
from hcitui.workflow.maintenance.plans import plan_drain, plan_restart, plan_resume, plan_rolling, plan_upgrade
from hcitui.workflow.maintenance.rolling import rolling_record, rolling_restart
from hcitui.workflow.maintenance.summary import journal_summary

__all__ = [
    "DRAIN", "PHASE", "RESTART", "RESUME", "ROLLING", "STATE_PARTS",
    "CycleKind", "RESTART_KIND", "UPGRADE_KIND",
    "drain", "resume", "wait_for_storage", "restart", "manual_upgrade", "run_cycle",
    "rolling_record", "rolling_restart", "read_state", "journal_summary",
    "plan_drain", "plan_resume", "plan_restart", "plan_upgrade", "plan_rolling",
]
