"""The lab: a simulated two-site stretched cluster, and what serves it to hcitui."""

from hcitui.lab.cluster import HANDLERS, Lab, LabError, LabPowerShellError, LabUnreachable
from hcitui.lab.state import LabState, build_lab, node_names

__all__ = ["HANDLERS", "Lab", "LabError", "LabPowerShellError", "LabState", "LabUnreachable", "build_lab", "node_names"]
