"""Preparing the solution update (seed 001, "Step 2: prepare for the solution update"): the remedies of the
readiness checks that change the nodes.

    common    journal names, the node read the remedies decide on, what a node lacks, node i of n and the ETA
    features  install the required Windows features and enable the optional ones, node by node, drained
    bitlocker suspend BitLocker before the solution update (-RebootCount 0), resume it after
    reverify  where an interrupted remedy stands (registered with workflow/resume.py)
"""

from hcitui.workflow.solution import reverify as _reverify  # noqa: F401  (registers the re-verifiers)
from hcitui.workflow.solution.bitlocker import RESUME, SUSPEND, Direction, plan_bitlocker, read_volumes, resume, suspend
from hcitui.workflow.solution.common import (
    BITLOCKER_RESUME,
    BITLOCKER_SUSPEND,
    FEATURES,
    FEATURES_RUN,
    PHASE,
    STRETCHED,
    Missing,
    missing_of,
)
from hcitui.workflow.solution.features import install_features, install_node, plan_features, read_missing, run_record

__all__ = [
    "BITLOCKER_RESUME", "BITLOCKER_SUSPEND", "FEATURES", "FEATURES_RUN", "PHASE", "STRETCHED",
    "RESUME", "SUSPEND", "Direction", "Missing",
    "install_features", "install_node", "missing_of", "plan_bitlocker", "plan_features", "read_missing",
    "read_volumes", "resume", "run_record", "suspend",
]
