"""12) Readiness: the solution update's readiness at 80x24 (16 nodes: the verdict stays in view), its remedy keys
(f features, b BitLocker off, B on: preview, y, progress per node), read-only and a stretched cluster."""

from __future__ import annotations

from hcitui.cli import context as wiring
from hcitui.tui.app import HciApp
from hcitui.tui.screens.readiness import READ_ONLY_NOTE, ReadinessScreen
from tuikit import FAST_RESTARTS, SIZE, apply_timings, mutating_calls, screen_lines, settle, wait_idle


def single_app(tmp_path, nodes: int = 4, *, read_only: bool = False):
    lab = wiring.open_lab(tmp_path, nodes, sites=1)
    apply_timings(lab, FAST_RESTARTS)
    ctx = wiring.context_for_lab(lab, read_only=read_only, state_root=tmp_path)
    ctx.poll = 0.05
    return HciApp(ctx), ctx, lab


async def open_readiness(pilot) -> ReadinessScreen:
    await settle(pilot)
    await pilot.press("1", "2", "enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ReadinessScreen)
    await wait_idle(pilot, screen)
    return screen


async def test_sixteen_nodes_fit_with_the_verdict_in_view(tmp_path):
    app, _ctx, _lab = single_app(tmp_path, 16)
    async with app.run_test(size=SIZE) as pilot:
        await open_readiness(pilot)
        lines = screen_lines(app)
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        assert lines[0].strip().endswith("12) Readiness")
        assert "OS    Feat  BitL  WDAC  Lang  AKS   TPM   Status" in lines[2]
        verdict = [line for line in lines if line.strip().startswith("NOT PASSED")]
        assert verdict and "fail" in verdict[0]
        row = next(line for line in lines if line.startswith(" LAB-N2 "))
        assert row.split()[2:6] == ["FAIL", "FAIL", "FAIL", "PASS"]  # OS, features, BitLocker; WDAC passes


async def test_f_installs_the_features_node_by_node_then_b_and_B(tmp_path):
    app, ctx, lab = single_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_readiness(pilot)
        await pilot.press("f")
        await settle(pilot)
        preview = "\n".join(screen_lines(app))
        assert "Install the required Windows and optional features" in preview and "y run it" in preview
        await pilot.press("y")
        await wait_idle(pilot, screen)
        node = lab.state.nodes["LAB-N2"]
        assert node.features["NetworkATC"] == "Installed" and node.optional_features["Windows-Defender"] == "Enabled"
        assert "features installed on 1 of 4 nodes (LAB-N2)" in "\n".join(screen_lines(app))
        row = next(line for line in screen_lines(app) if line.startswith(" LAB-N2 "))
        assert row.split()[3] == "PASS"  # the checks ran again after it: the features pass now
        assert ctx.journal.state.lock is None

        await pilot.press("b")
        await settle(pilot)
        await pilot.press("y")
        await wait_idle(pilot, screen)
        assert {n.bitlocker["C:"].protection_status for n in lab.state.nodes.values()} == {"Off"}
        assert "BitLocker suspended on 4 of 4 nodes." in "\n".join(screen_lines(app))

        await pilot.press("B")
        await settle(pilot)
        await pilot.press("d")  # a dry run sends nothing
        await settle(pilot)
        assert {n.bitlocker["C:"].protection_status for n in lab.state.nodes.values()} == {"Off"}
        await pilot.press("B")
        await settle(pilot)
        await pilot.press("y")
        await wait_idle(pilot, screen)
        assert {n.bitlocker["C:"].protection_status for n in lab.state.nodes.values()} == {"On"}


async def test_read_only_keys_say_why_and_send_nothing(tmp_path):
    app, ctx, lab = single_app(tmp_path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_readiness(pilot)
        for key in ("f", "b", "B"):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is screen  # no preview opened
            assert READ_ONLY_NOTE in "\n".join(screen_lines(app))
        assert mutating_calls(ctx) == []
        assert lab.state.nodes["LAB-N2"].features["NetworkATC"] == "Available"


async def test_a_stretched_cluster_says_first_that_it_does_not_apply(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    app = HciApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_readiness(pilot)
        lines = screen_lines(app)
        assert lines[1].strip().startswith("Does not apply: stretched cluster.")
        assert any(line.strip().startswith("DOES NOT APPLY") for line in lines)
        for key in ("f", "b"):  # refused at once: no preview to confirm, nothing sent
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is screen
            assert f"{key} refused, nothing sent: no solution upgrade on a stretched cluster." in \
                " ".join(line.strip() for line in screen_lines(app))
        assert mutating_calls(ctx) == []


async def test_the_menu_fits_with_readiness_the_next_line_and_the_prompt(tmp_path):
    app, _ctx, _lab = single_app(tmp_path, 16)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        lines = screen_lines(app)
        assert len(lines) == 24
        assert any(line.strip().startswith("12) Readiness") and line.rstrip().endswith("not run yet")
                   for line in lines)
        assert any(line.strip().startswith("Next: ") for line in lines)
        assert any(line.strip().startswith("Enter number to select an option:") for line in lines)
        assert lines[-3].strip().startswith("Enter number") and lines[-2] == ""  # the message line, then the footer
