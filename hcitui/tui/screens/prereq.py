"""1) Prerequisites: the phase-0 checks, per node and cluster-wide, read-only, with live per-node status."""

from __future__ import annotations

from hcitui.tui.screens.checks import ChecksScreen
from hcitui.tui.widgets.node_table import Column
from hcitui.workflow import prereq


class PrereqScreen(ChecksScreen):
    TITLE_TEXT = "1) Prerequisites"
    ABOUT = ("Phase 0, read-only: every node Up on build 20349 (22H2), registered in Azure and connected, "
             "Cloud Management online, the CAU clustered role present, storage quiet (no storage job, disks "
             "Healthy, SR replicating), the ISO on every node. Secure Boot and running VMs are recommendations: "
             "they warn, they do not block. A check that could not be read is UNKN, never PASS.")
    PREFIX = "prereq"
    INTRO = "Phase 0 checks (read-only). r runs them again, p shows the PowerShell."
    RESULT_COLUMNS = [Column("up", "Up", 4), Column("os", "OS", 4), Column("reg", "Reg", 4), Column("sb", "SB", 4),
                      Column("vms", "VMs", 4), Column("iso", "ISO", 4)]
    # At 80 columns the six results leave no room for the raw build and the timer: the OS result's reason has it.
    DROPPED_COLUMNS = ("build", "elapsed")
    # Node-table column for each per-node check (the Azure connection folds into Reg).
    NODE_CHECK_COLUMNS = {
        prereq.NODE_UP: "up",
        prereq.NODE_BUILD: "os",
        prereq.REGISTERED: "reg",
        prereq.CONNECTED: "reg",
        prereq.SECURE_BOOT: "sb",
        prereq.VMS_STOPPED: "vms",
        prereq.ISO_PRESENT: "iso",
    }
    CHECK_WIDTHS = (19, 8, 4, 37)
    ALL_PASS = "ready"
    RUN = prereq.run_prerequisites
    PLAN = prereq.read_plan
