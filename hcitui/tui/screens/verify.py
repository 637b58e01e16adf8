"""7) Verification: the phase-7 checks, per node and cluster-wide, with live per-node status."""

from __future__ import annotations

from typing import Any

from hcitui.core import model
from hcitui.remote import RemoteError
from hcitui.tui.screens.checks import ChecksScreen
from hcitui.tui.widgets.node_table import Column
from hcitui.workflow import verify
from hcitui.workflow.verify import ChecksReport


class VerifyScreen(ChecksScreen):
    TITLE_TEXT = "7) Verification"
    ABOUT = ("Phase 7, read-only: every node Up on build 25398, CSVs online from every node, Storage Replica "
             "groups ContinuouslyReplicating, no storage jobs, virtual disks Healthy, Cloud Management online. "
             "A check that could not be read is UNKN, never PASS. The node table's columns: Up, Upgraded (on "
             "25398), CSVs (online from the node); Tab moves to every check with its reason.")
    PREFIX = "verify"
    INTRO = "Phase 7 checks, read-only. Tab: each check with its reason and its fix."
    # Each result column is named after its check: Up (Node Up), Upgraded (OS build 25398), CSVs (CSVs online).
    RESULT_COLUMNS = [Column("up", "Up", 4), Column("os", "Upgraded", 8), Column("csv", "CSVs", 4)]
    NODE_CHECK_COLUMNS = {verify.NODE_UP: "up", verify.NODE_BUILD: "os", verify.NODE_CSV: "csv"}
    CHECK_WIDTH = 23
    ALL_PASS = "verified"
    RUN = verify.run_verification
    PLAN = verify.read_plan

    def node_cells(self, report: ChecksReport, node: str) -> dict[str, Any]:
        version = report.observed.node_part(node, "os")
        build = version.build if isinstance(version, model.OsVersion) else (
            "unreachable" if isinstance(version, RemoteError) else "?")
        return {**super().node_cells(report, node), "build": build}
