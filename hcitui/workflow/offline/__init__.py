"""The fast offline update (seed 004, "Perform a fast, offline update of all servers in a cluster"): take the
virtual disks offline, stop the cluster, disable the cluster service, install the updates on every node at once,
restart every node at once, put the service back to Automatic, start the cluster, wait for the pool, bring the
disks back online and watch them settle. ALL WORKLOADS GO DOWN for the whole window.

    common    journal names, the stages, the packages, the reads, the window in words
    staged    stage 0: the packages copied to every node with the one copier (workflow/staging.py), SHA256-proved
    stages    the window's stages, each reading where it stands first (resumable anywhere)
    checks    the closing checks
    run       the preconditions, the plan (preview, dry run), the run itself, the menu's line
    reverify  where an interrupted update stands (registered with workflow/resume.py)
"""

from hcitui.workflow.offline import reverify as _reverify  # noqa: F401  (registers the re-verifier)
from hcitui.workflow.offline.checks import closing_checks
from hcitui.workflow.offline.common import (
    NODE_STEP,
    PHASE,
    SR_CONSEQUENCES,
    STAGE_NAMES,
    STAGES,
    STEP,
    downtime_sentence,
    packages,
    read_state,
    stage_title,
)
from hcitui.workflow.offline.run import (
    Preflight,
    journal_summary,
    offline_update,
    plan,
    preflight,
    reached,
    record,
    window_open,
)

__all__ = [
    "NODE_STEP", "PHASE", "SR_CONSEQUENCES", "STAGES", "STAGE_NAMES", "STEP", "Preflight", "closing_checks",
    "downtime_sentence", "journal_summary", "offline_update", "packages", "plan", "preflight", "reached",
    "read_state", "record", "stage_title", "window_open",
]
