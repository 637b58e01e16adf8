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
             "they warn, they do not block. A check that could not be read is UNKN, never PASS. The node table's "
             "columns: Up, Build (on 20349), Azure (registered and connected), SecBoot (Secure Boot), VMs (shut "
             "down), ISO (present); Tab moves to every check with its reason, and the line below gives the fix.")
    PREFIX = "prereq"
    INTRO = "Phase 0 checks, read-only. Tab: each check with its reason and its fix."
    # Each result column is named after its check: Up (Node Up), Build (OS build 20349), Azure (registered
    # and connected), SecBoot (Secure Boot), VMs (VMs shut down), ISO (ISO present).
    RESULT_COLUMNS = [Column("up", "Up", 4), Column("os", "Build", 5), Column("reg", "Azure", 5),
                      Column("sb", "SecBoot", 7), Column("vms", "VMs", 4), Column("iso", "ISO", 4)]
    # At 80 columns the six results leave no room for the raw build and the timer: the Build result's reason
    # has the build.
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
    CHECK_WIDTH = 19
    ALL_PASS = "ready"
    RUN = prereq.run_prerequisites
    PLAN = prereq.read_plan
