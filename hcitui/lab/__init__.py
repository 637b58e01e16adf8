"""The lab: a simulated two-site stretched cluster, and what serves it to hcitui."""

from hcitui.lab import cau as _cau  # noqa: F401  (registers Cluster-Aware Updating: remoting, scan, runs)
from hcitui.lab import offline as _offline  # noqa: F401  (registers the fast offline update's handlers)
from hcitui.lab import post as _post  # noqa: F401  (registers the post-upgrade handlers)
from hcitui.lab import readiness as _readiness  # noqa: F401  (registers the solution-upgrade readiness reads and remedies)
from hcitui.lab import sr as _sr  # noqa: F401  (registers Storage Replica removal and recreation)
from hcitui.lab import upgrade as _upgrade  # noqa: F401  (registers the OS upgrade's handlers and timers)
from hcitui.lab.cluster import HANDLERS, Lab, LabError, LabPowerShellError, LabUnreachable
from hcitui.lab.state import LabState, build_lab, node_names

__all__ = ["HANDLERS", "Lab", "LabError", "LabPowerShellError", "LabState", "LabUnreachable", "build_lab", "node_names"]
