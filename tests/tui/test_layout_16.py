"""The read-only and checking screens at 80x24 with 16 nodes, as the operator sees them: the verdict or
status line on screen, every row reachable with the cursor (the tables scroll), nothing wrapped off the
screen, footers that fit; and a wider terminal that uses the room.

What is on screen is read from the rendered lines (the compositor's strips), not from the widgets."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text
from textual.widgets import DataTable, Static

from hcitui.core.journal import StepStatus
from hcitui.tui.screens.audit_view import AuditScreen
from hcitui.tui.screens.checks import clamp
from hcitui.tui.screens.journal_view import JournalScreen
from hcitui.tui.screens.monitor import MonitorScreen
from hcitui.tui.screens.post import PostUpgradeScreen
from hcitui.tui.screens.prereq import PrereqScreen
from hcitui.tui.screens.registry import RegistryScreen
from hcitui.tui.screens.verify import VerifyScreen
from hcitui.tui.widgets.node_table import NodeTable
from hcitui.workflow import registry
from tuikit import SIZE, make_app, open_screen, screen_lines, settle, text_of

NODES = 16
LAST = "LAB-B8"


def shows(app, text: str) -> bool:
    return any(text in line for line in screen_lines(app))


def row_of(app, node: str) -> str:
    """The rendered line of a node table's row (the line that starts with the node's name)."""
    return next((line for line in screen_lines(app) if line.strip().startswith(node)), "")


async def walk_nodes(pilot, table: NodeTable, *lines_kept: str) -> None:
    """Down through every node: the highlighted node's row is on screen each time, and so are ``lines_kept``."""
    app = pilot.app
    table.focus()
    await pilot.pause()
    for index, node in enumerate(table.node_names()):
        if index:
            await pilot.press("down")
            await pilot.pause()
        assert table.selected_node == node
        assert row_of(app, node), f"{node} is highlighted but not on screen:\n" + "\n".join(screen_lines(app))
        for text in lines_kept:
            assert shows(app, text), f"{text!r} went off screen at {node}"


def footer_fits(app, *labels: str) -> None:
    footer = screen_lines(app)[-1]
    for label in labels:
        assert label in footer, f"{label!r} is not in the footer {footer!r}"


# ------------------------------------------------------------------ the helpers


def test_clamp_cuts_at_a_word_with_an_ellipsis():
    console = Console(width=200)
    text = Text("LAB-B8: FAIL ISO present: not found on the node. Fix: stage the ISO: s on 4) ISO staging")
    out = clamp(text, 30, 2, console).plain.split("\n")
    assert len(out) == 2 and all(len(line) <= 30 for line in out)
    assert out[0] == "LAB-B8: FAIL ISO present: not"
    assert out[1].endswith("\u2026") and not out[1].startswith(" ")
    assert clamp(Text("short"), 30, 2, console).plain == "short"  # what fits is left as it is


# ------------------------------------------------------------------ 1) and 7)


async def test_prerequisites_verdict_and_every_node_and_check_on_screen(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, nodes=NODES, poll=0.05)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, ("1", "enter"), PrereqScreen)
        verdict = text_of(screen.query_one("#prereq-summary", Static))
        assert verdict.startswith("NOT PASSED: 109 pass, 1 fail, 5 warn")
        assert shows(app, "NOT PASSED: 109 pass, 1 fail, 5 warn")
        assert not row_of(app, LAST)  # 16 nodes do not fit beside the checks: the table scrolls
        lines = screen_lines(app)
        header = next(line for line in lines if line.strip().startswith("Check "))
        assert "Result" in header and "Res." not in header and "Reason" in header
        node_header = next(line for line in lines if line.strip().startswith("Node "))
        for label in ("Up", "Build", "Azure", "SecBoot", "VMs", "ISO", "Status"):
            assert label in node_header, label
        assert sum(1 for line in lines if line.strip().startswith(("Node Up ", "OS build", "Registered"))) >= 3
        await walk_nodes(pilot, screen.query_one("#prereq-nodes", NodeTable), "NOT PASSED: 109 pass")
        assert "1 blocking" in row_of(app, LAST) and "FAIL" in row_of(app, LAST)
        assert shows(app, "LAB-B8: FAIL ISO present")  # the detail of the highlighted node, on screen
        # The checks table: its last check (cluster-wide) is reachable too, the verdict still on screen.
        await pilot.press("tab")
        checks = screen.query_one("#prereq-checks", DataTable)
        assert screen.focused is checks
        for _ in range(checks.row_count - 1):
            await pilot.press("down")
        await pilot.pause()
        assert checks.cursor_row == checks.row_count - 1 == 16 * 7 + 3 - 1
        assert row_of(app, "Storage quiet") and shows(app, "NOT PASSED: 109 pass")
        footer_fits(app, "Back", "Help", "r Refresh", "p PowerShell")


async def test_verification_verdict_and_the_last_node_on_screen(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, nodes=NODES, poll=0.05)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, ("7",), VerifyScreen)
        assert text_of(screen.query_one("#verify-summary", Static)).startswith("NOT PASSED: 36 pass, 16 fail")
        assert shows(app, "NOT PASSED: 36 pass, 16 fail") and not row_of(app, LAST)
        header = next(line for line in screen_lines(app) if line.strip().startswith("Node "))
        assert "Upgraded" in header and "CSVs" in header
        await walk_nodes(pilot, screen.query_one("#verify-nodes", NodeTable), "NOT PASSED: 36 pass, 16 fail")
        assert "20349." in row_of(app, LAST) and "1 blocking" in row_of(app, LAST)


async def test_a_wider_terminal_shows_more_of_each_reason(tmp_path):
    iso_reason = "8.0 MiB: C:\\ISO\\AzureLocal-2509-25398.iso"
    app, _ctx, _lab = make_app(tmp_path / "narrow", nodes=NODES, poll=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot, ("1", "enter"), PrereqScreen)
        line = row_of(app, "ISO present")
        assert line.rstrip().endswith("\u2026") and iso_reason not in line  # cut with an ellipsis at 80
    app, _ctx, _lab = make_app(tmp_path / "wide", nodes=NODES, poll=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_screen(pilot, ("1", "enter"), PrereqScreen)
        assert iso_reason in row_of(app, "ISO present")
        assert row_of(app, LAST)  # and the taller screen shows every node at once


# ------------------------------------------------------------------ 2) and 8)


async def test_registry_summary_and_the_last_node_on_screen_with_a_footer_that_fits(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, nodes=NODES, poll=0.05)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, ("2",), RegistryScreen)
        assert shows(app, "0/16 nodes set: 16 not set")
        assert not row_of(app, LAST)  # the table scrolls: no cap on its rows
        header = next(line for line in screen_lines(app) if line.strip().startswith("Node "))
        assert "In force" in header and "Vid key" in header and "Status" in header
        await walk_nodes(pilot, screen.table, "0/16 nodes set: 16 not set")
        assert row_of(app, LAST).rstrip().endswith("not set")
        assert shows(app, "LAB-B8: RefsEnableMetadataValidation -")
        footer_fits(app, "a Set all", "s Set node", "x ReFS fix", "o Restarts")


async def test_registry_status_words_on_screen(tmp_path):
    app, ctx, _lab = make_app(tmp_path, nodes=4, poll=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot, ("2",), RegistryScreen)
        await registry.set_values(ctx, ["LAB-A2"])
        await pilot.press("r")
        await settle(pilot)
        assert row_of(app, "LAB-A1").rstrip().endswith("no        not set")
        assert row_of(app, "LAB-A2").rstrip().endswith("pending   set, restart pending")
        assert not any(line.rstrip().endswith(" ok") for line in screen_lines(app))


async def test_post_upgrade_lines_states_and_the_last_node_on_screen(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, nodes=NODES, poll=0.05)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, ("8",), PostUpgradeScreen)
        level = "Functional level 11; 16 nodes are not on 25398 yet"
        pools = "Storage pools: Pool-SiteA, Pool-SiteB (Windows Server 2022)"
        assert shows(app, level) and shows(app, pools)
        header = next(line for line in screen_lines(app) if line.strip().startswith("Node "))
        assert "VMs to update" in header and "State" in header
        await walk_nodes(pilot, screen.table, level, pools)
        row = row_of(app, LAST)
        assert " Up " in row and "?" not in row and "not on 25398" in row
        footer_fits(app, "l Level", "s Pools", "m VMs", "t Test-Cluster")


# ------------------------------------------------------------------ 9), 10) and 11)


async def test_monitor_status_line_every_node_and_the_sections(tmp_path):
    app, _ctx, _lab = make_app(tmp_path, nodes=NODES, read_only=True, poll=0.05,
                               start=lambda: MonitorScreen(interval=3600))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        monitor = app.screen
        assert isinstance(monitor, MonitorScreen)
        for _ in range(200):
            if monitor.refreshes >= 1 and not monitor.busy:
                break
            await pilot.pause(0.05)
        await pilot.pause()
        assert screen_lines(app)[1].strip().startswith("refreshed ")
        assert not row_of(app, LAST)
        table = monitor.query_one("#monitor-nodes", DataTable)
        table.focus()
        await pilot.pause()
        for index, row in enumerate(table.ordered_rows):
            if index:
                await pilot.press("down")
                await pilot.pause()
            node = str(row.key.value)
            assert row_of(app, node), f"{node} not on screen"
            assert screen_lines(app)[1].strip().startswith("refreshed ")
        assert "20349." in row_of(app, LAST)
        # The sections under the table: Tab, then the end of them, the last section is on screen.
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is monitor.query_one("#monitor-sections")
        await pilot.press("end")
        await pilot.pause()
        assert row_of(app, "CAU run") and screen_lines(app)[1].strip().startswith("refreshed ")


async def test_journal_every_step_of_16_nodes_reachable(tmp_path):
    app, ctx, _lab = make_app(tmp_path, nodes=NODES, poll=0.05)
    names = list(ctx.client.node_names)
    for node in names:
        ctx.journal.set_step(1, "registry", node, StepStatus.DONE, "set, pending reboot")
        ctx.journal.set_step(1, "restart", node, StepStatus.DONE, "back Up")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, ("1", "1"), JournalScreen)
        assert shows(app, "One-node-out lock: free")
        table = screen.query_one("#journal-steps", DataTable)
        assert table.row_count == 2 * NODES
        last = f"1/restart/{LAST}"
        assert str(table.ordered_rows[-1].key.value) == last
        assert not any("restart" in line and LAST in line for line in screen_lines(app))
        for _ in range(table.row_count - 1):
            await pilot.press("down")
        await pilot.pause()
        assert any("restart" in line and LAST in line for line in screen_lines(app))
        assert shows(app, "One-node-out lock: free") and shows(app, f"restart ({LAST}): back Up.")


async def test_audit_every_operation_on_16_nodes_reachable(tmp_path):
    app, ctx, _lab = make_app(tmp_path, nodes=NODES, poll=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await registry.read_registry(ctx)  # two reads on each of the 16 nodes
        screen = await open_screen(pilot, ("1", "0"), AuditScreen)
        for _ in range(100):
            if screen.loads:
                break
            await pilot.pause(0.05)
        await pilot.pause()
        table = screen.query_one("#audit-table", DataTable)
        assert table.row_count == 2 * NODES
        assert shows(app, f"Showing: node all, every operation; {2 * NODES} newest first")
        seen = set()
        for index in range(table.row_count):
            if index:
                await pilot.press("down")
                await pilot.pause()
            entry = screen.selected()
            assert entry is not None
            seen.add(entry.target_text)
            line = next((line for line in screen_lines(app)
                         if entry.target_text in line and entry.operation in line), "")
            assert line, f"row {index} ({entry.operation} on {entry.target_text}) is not on screen"
            assert shows(app, "Showing: node all")
        assert LAST in seen and table.cursor_row == table.row_count - 1
