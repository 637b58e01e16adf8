"""The gates on the OS upgrade (hcitui/workflow/gates.py): both upgrade paths refused on a fresh lab, each
gate named with its remedy; accepted once the earlier phases ran; the registry override journalled; the
gates as preflight rows; the pure judgments (fail closed, the prerequisites' age, the SR comparison); and
typed confirmations of Windows names in any case."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from textual.app import App
from textual.widgets import Checkbox, Input, Static

from hcitui.cli import context as wiring
from hcitui.cli import main as cli
from hcitui.core import model
from hcitui.core.config import ClusterConfig, ConfigError
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepRecord, StepStatus
from hcitui.lab.state import NEW_BUILD
from hcitui.remote import Unreachable
from hcitui.tui.app import HciApp
from hcitui.tui.screens.cau import CauOptions, CauScreen
from hcitui.tui.widgets.confirm import RUN, ConfirmStep, typed_matches
from hcitui.workflow import cau, gates, maintenance, prereq, registry, sr, staging
from hcitui.workflow.steps import Refused
from support import earlier_phases

GUARD = 120
NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
REMEDIES = {  # each gate's reason names its remedy in words and the headless command (the key is the TUI's)
    gates.REGISTRY: "hcitui registry",
    gates.PREREQ: "hcitui prereq",
    gates.SR_SNAPSHOT: "hcitui sr-snapshot",
    gates.ISO: "hcitui iso-stage",
}


def fast(lab) -> None:
    t = lab.state.timings
    t.reboot, t.cluster_join, t.repair, t.drain_step = 0.3, 0.2, 0.3, 0.02
    t.os_install, t.test_cluster, t.cau_stage, t.cau_orchestrator_move, t.stage_iso = 0.2, 0.2, 0.05, 0.15, 0.05


def fresh(tmp_path, **kwargs):
    lab = wiring.open_lab(tmp_path, 4)
    fast(lab)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path, **kwargs)
    ctx.poll = 0.05
    return lab, ctx


def mutations(ctx) -> list[str]:
    return [r["operation"] for r in ctx.audit.records() if r["mutates"]]


# --------------------------------------------------------------- refused, then accepted


async def test_a_fresh_lab_refuses_both_upgrade_paths_with_each_gate_and_its_remedy(tmp_path):
    lab, ctx = fresh(tmp_path)
    with pytest.raises(Refused) as run:
        await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults()), GUARD)
    with pytest.raises(Refused) as manual:
        await asyncio.wait_for(maintenance.manual_upgrade(ctx, "LAB-A2"), GUARD)
    for refused in (run.value, manual.value):
        text = "\n".join(refused.reasons)
        for remedy in REMEDIES.values():
            assert remedy in text, (remedy, text)
        for node in NODES:  # the registry and the ISO gates name every node, each with what to do
            assert any(r.startswith(f"{node}: the registry values") and f"hcitui restart --node {node}" in r
                       for r in refused.reasons), node
            assert any(r.startswith(f"{node}: the ISO is not staged") for r in refused.reasons), node
        assert any("prerequisites have not been run" in r for r in refused.reasons)
        assert any("no Storage Replica snapshot" in r for r in refused.reasons)
        assert not any(re.search(r"\b[1-9]\) [A-Z]|\([a-z]\)|, [a-z][;)]", r) for r in refused.reasons), text
    # The first closed gate's remedy, which each front end offers as a key or a command.
    assert run.value.remedy == Remedy(action=Action.REGISTRY_SET)
    assert mutations(ctx) == [] and ctx.journal.state.lock is None
    assert lab.state.cau.run is None and ctx.journal.step(5, cau.RUN) is None
    assert ctx.journal.step(5, "manual-upgrade", "LAB-A2") is None


async def test_the_monthly_updates_are_not_gated(tmp_path):
    lab, ctx = fresh(tmp_path)
    for node in lab.state.nodes.values():  # the live-migration fix only: no other phase ran
        node.vid_parameters_key, node.skip_small_local_allocations = True, 0
    run = await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults(cau.WINDOWS_UPDATE)), GUARD)
    assert run.state == model.CauRunState.RUN_IN_PROGRESS
    assert ctx.journal.step(5, gates.OVERRIDE_STEP) is None
    await asyncio.wait_for(cau.stop(ctx), GUARD)


async def test_accepted_after_the_earlier_phases_ran_for_real(tmp_path):
    """Registry values set, every node restarted, the ISO staged, prerequisites passed, the SR snapshot taken
    and re-read: then the manual upgrade of one node and the CAU run of the rest are accepted."""
    lab, ctx = fresh(tmp_path)
    await asyncio.wait_for(registry.set_values(ctx), GUARD)
    state = gates.judge(await gates.read(ctx))[0]
    assert state.name == gates.REGISTRY and len(state.reasons) == 4  # set, but not in force before a restart
    assert all("has not restarted since" in r for r in state.reasons)
    await asyncio.wait_for(maintenance.rolling_restart(ctx), GUARD)
    await asyncio.wait_for(staging.stage(ctx), GUARD)
    report = await asyncio.wait_for(prereq.run_prerequisites(ctx), GUARD)
    assert report.passed, report.summary()
    await asyncio.wait_for(sr.take_snapshot(ctx), GUARD)
    judged = gates.judge(await gates.read(ctx))
    assert [g.name for g in judged] == list(gates.GATE_NAMES) and all(g.ok and not g.reasons for g in judged)

    await asyncio.wait_for(maintenance.manual_upgrade(ctx, "LAB-A2"), GUARD)
    assert lab.state.nodes["LAB-A2"].build == NEW_BUILD
    run = await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults()), GUARD)
    assert run.state == model.CauRunState.RUN_IN_PROGRESS
    outcome = await asyncio.wait_for(cau.monitor(ctx), GUARD)
    assert outcome.succeeded, outcome.sentence
    assert {n.build for n in lab.state.nodes.values()} == {NEW_BUILD}
    assert lab.state.functional_level == 11  # not asked for: 8) Post-upgrade raises it
    assert not any(c.unavailable for c in lab.state.csvs)  # the ReFS fix was in force
    assert ctx.journal.step(5, gates.OVERRIDE_STEP) is None  # nothing was overridden


async def test_the_registry_override_is_journalled_with_the_typed_reason(tmp_path):
    lab, ctx = fresh(tmp_path)
    await earlier_phases(ctx, lab, registry_values=False)
    for node in lab.state.nodes.values():  # SkipSmallLocalAllocations in force, the ReFS value not
        node.vid_parameters_key, node.skip_small_local_allocations, node.skip_effective = True, 0, 0
    with pytest.raises(Refused) as refused:
        await cau.start(ctx, cau.RunOptions.defaults(), override_registry="   ")  # blank is no reason
    assert len(refused.value.reasons) == 4 and all("registry values" in r for r in refused.value.reasons)
    assert ctx.journal.step(5, gates.OVERRIDE_STEP) is None
    await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults(), override_registry="CHG-4711: values "
                                     "checked by hand on every node"), GUARD)
    record = ctx.journal.step(5, gates.OVERRIDE_STEP)
    assert record.status is StepStatus.DONE and "CHG-4711" in record.detail
    assert record.data["for"] == cau.RUN and record.data["operator"]
    assert len(record.data["waived"]) == 4 and all("registry values" in r for r in record.data["waived"])
    run_record = ctx.journal.step(5, cau.RUN)
    assert run_record.data["registry_override"]["reason"].startswith("CHG-4711")
    assert "registry gate OVERRIDDEN" in run_record.detail or run_record.data["registry_override"]
    await asyncio.wait_for(cau.stop(ctx), GUARD)


# ------------------------------------------------------------------- the preflight's rows


async def test_the_preflight_shows_each_gate_as_a_row_with_its_remedy(tmp_path):
    lab, ctx = fresh(tmp_path)
    report = await asyncio.wait_for(cau.preflight(ctx, remoting=False), GUARD)
    rows = {c.name: c for c in report.checks if c.gate}
    assert list(rows) == list(gates.GATE_NAMES)
    for name, remedy in REMEDIES.items():
        assert rows[name].status == "fail" and remedy in rows[name].reason and rows[name].remediation
    assert "upgrade gates closed" in report.gates_summary()

    await earlier_phases(ctx, lab)
    report = await asyncio.wait_for(cau.preflight(ctx, remoting=False), GUARD)
    rows = {c.name: c for c in report.checks if c.gate}
    assert all(c.status == "pass" for c in rows.values()), rows
    assert "in force on all 4 nodes" in rows[gates.REGISTRY].reason
    assert report.gates_open and report.gates_summary().startswith("upgrade gates open")
    assert not report.passed  # its own checks decide the preflight: remoting is not enabled yet


def test_headless_refusals_and_the_preflight_rows(capsys):
    assert cli.main(["--lab", "cau-run", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "refused; nothing was changed" in err and "Traceback" not in err
    for remedy in REMEDIES.values():
        assert remedy in err
    assert cli.main(["--lab", "manual-upgrade", "--node", "lab-a2", "--yes", "--override-registry", " "]) == 2
    assert "needs the reason" in capsys.readouterr().err
    assert cli.main(["--lab", "cau-run", "--plugin", "windows-update", "--update-functional-level"]) == 2
    capsys.readouterr()
    assert cli.main(["--lab", "--read-only", "cau-preflight", "--tests-only"]) == 1
    out = capsys.readouterr().out
    for name in gates.GATE_NAMES:
        assert f"FAIL  {name}" in out
    assert "fix: set both values" in out and "upgrade gates closed" in out


# ------------------------------------------------------------------------ pure gates


def _record(status=StepStatus.DONE, finished=None, detail="PASSED") -> StepRecord:
    return StepRecord(phase=0, step="prerequisites", status=status, detail=detail,
                      finished=(finished or datetime.now(UTC)).isoformat(timespec="seconds"))


def test_prerequisites_must_have_passed_recently():
    now = datetime.now(UTC)
    assert gates.prereq_reasons(_record(finished=now - timedelta(hours=3)), now, 24) == []
    old = gates.prereq_reasons(_record(finished=now - timedelta(hours=30)), now, 24)
    assert len(old) == 1 and "30.0 h ago" in old[0] and "prereq_max_age_hours (24 h)" in old[0]
    assert gates.prereq_reasons(_record(finished=now - timedelta(hours=30)), now, 48) == []
    failed = gates.prereq_reasons(_record(StepStatus.FAILED, detail="NOT PASSED: ISO present"), now, 24)
    assert "did not pass (NOT PASSED: ISO present)" in failed[0] and "hcitui prereq" in failed[0]
    assert "have not been run" in gates.prereq_reasons(None, now, 24)[0]
    assert "running" in gates.prereq_reasons(_record(StepStatus.RUNNING), now, 24)[0]


def test_the_age_is_a_config_field_with_a_default_and_a_named_error(tmp_path):
    base = {"name": "HCI-STRETCH01", "nodes": [{"name": "HCI-A1"}]}
    assert ClusterConfig.model_validate(base).prereq_max_age_hours == 24
    assert ClusterConfig.model_validate({**base, "prereq_max_age_hours": 6}).prereq_max_age_hours == 6
    from hcitui.core.config import EXAMPLE, load_config

    assert "prereq_max_age_hours = 24" in EXAMPLE
    path = tmp_path / "hci.toml"
    path.write_text('[[clusters]]\nname = "HCI"\nprereq_max_age_hours = 0\n[[clusters.nodes]]\nname = "HCI-A1"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any("prereq_max_age_hours" in line for line in caught.value.problems), caught.value.problems


def test_every_gate_fails_closed_when_its_read_failed():
    down = Unreachable("LAB-A1", "get_registry_values", "host unreachable")
    assert "could not be read" in gates.registry_reasons(down, NODES)[0]
    assert "could not be read" in gates.registry_reasons(registry.RegistryReport(), ["LAB-A1"])[0]
    snapshot = sr.SRSnapshot(cluster="LAB-STRETCH", taken_at=datetime.now(UTC), partnerships=[])
    reasons = gates.sr_reasons(True, snapshot, down, [])
    assert len(reasons) == 1 and "could not be read" in reasons[0]
    assert gates.sr_reasons(False, None, down, down) == []  # not stretched: no snapshot needed
    assert "no Storage Replica snapshot" in gates.sr_reasons(True, None, [], [])[0]
    reasons = gates.iso_reasons({"LAB-A1": down}, {"LAB-A1": None}, ["LAB-A1", "LAB-A2"], r"C:\S")
    assert len(reasons) == 2 and "could not be read" in reasons[0] and "not read" in reasons[1]


def test_staging_must_still_hold_what_was_verified():
    info = model.StagingInfo(path=r"C:\S", exists=True, has_setup=True, file_count=1187, total_bytes=100)
    done = StepRecord(phase=3, step="iso-stage", node="LAB-A1", status=StepStatus.DONE,
                      data={"file_count": 1187, "total_bytes": 100})
    assert gates.iso_reasons({"LAB-A1": info}, {"LAB-A1": done}, ["LAB-A1"], r"C:\S") == []
    changed = done.model_copy(update={"data": {"file_count": 1187, "total_bytes": 99}})
    assert "verify it again" in gates.iso_reasons({"LAB-A1": info}, {"LAB-A1": changed}, ["LAB-A1"], r"C:\S")[0]
    assert "not staged" in gates.iso_reasons({"LAB-A1": info}, {}, ["LAB-A1"], r"C:\S")[0]


async def test_the_sr_gate_compares_with_a_fresh_read(tmp_path):
    lab, ctx = fresh(tmp_path)
    await sr.take_snapshot(ctx)
    state = await gates.read(ctx)
    assert state.stretched and gates.sr_reasons(True, state.snapshot, state.sr_groups, state.sr_partnerships) == []
    # A partnership the snapshot does not hold: the snapshot no longer describes the cluster.
    extra = state.sr_partnerships[0].model_copy(update={"source_rg_name": "SiteA-New-RG"})
    reasons = gates.sr_reasons(True, state.snapshot, state.sr_groups, [*state.sr_partnerships, extra])
    assert len(reasons) == 1 and "SiteA-New-RG" in reasons[0] and "hcitui sr-snapshot" in reasons[0]
    # One removed since (the volume-issue path) is fine: the snapshot recreates it.
    assert gates.sr_reasons(True, state.snapshot, state.sr_groups, state.sr_partnerships[1:]) == []


# ------------------------------------------------------------------ the form, the confirmation


async def test_the_run_form_shows_the_functional_level_off_and_on_needs_the_typed_name(tmp_path):
    lab, ctx = fresh(tmp_path)
    await earlier_phases(ctx, lab)
    app = HciApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CauScreen)
        for _ in range(200):
            if screen.busy is None:
                break
            await pilot.pause(0.05)
        await pilot.press("g")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, CauOptions)
        level = form.query_one("#opt-level", Checkbox)
        assert level.value is False  # off by default
        why = str(form.query_one("#opt-level-why", Static).render())
        assert "8) Post-upgrade raises it after verification; it cannot be undone" in why
        for widget in (level, form.query_one("#opt-level-why"), form.query_one("#opt-go")):  # all of it fits
            assert 0 <= widget.region.y and widget.region.bottom <= 24 and widget.region.height >= 1, widget
        # Enter with the default: the preview says the level is left; no typed name is asked for.
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep) and app.screen.typed is None
        assert "UpdateClusterFunctionalLevel off" in app.screen.preview
        assert "-UpdateFunctionalLevel $false" in app.screen.preview
        await pilot.press("escape")
        await pilot.pause()
        # ON: the confirmation needs the cluster's name typed (any case: it is a Windows name).
        await pilot.press("g")
        await pilot.pause()
        form = app.screen
        form.query_one("#opt-level", Checkbox).value = True
        form.query_one("#opt-failed", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        confirm = app.screen
        assert isinstance(confirm, ConfirmStep) and confirm.typed == ctx.name
        assert ("UpdateClusterFunctionalLevel ON" in confirm.preview
                and "-UpdateFunctionalLevel $true" in confirm.preview)
        await pilot.press("y")  # a letter in the box, not "run"
        await pilot.pause()
        assert app.screen is confirm and lab.state.cau.run is None
        await pilot.press("escape")
        await pilot.pause()
        assert lab.state.cau.run is None


def test_typed_windows_names_match_in_any_case_other_text_exactly():
    assert typed_matches("lab-stretch", "LAB-STRETCH") and typed_matches("  Lab-Stretch ", "LAB-STRETCH")
    assert not typed_matches("LAB-STRETC", "LAB-STRETCH") and not typed_matches("", "LAB-STRETCH")
    assert typed_matches("Yes-Delete", "Yes-Delete", windows_name=False)
    assert not typed_matches("yes-delete", "Yes-Delete", windows_name=False)


class _Host(App):
    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.kwargs = kwargs
        self.result: object = "unset"

    def on_mount(self) -> None:
        self.push_screen(ConfirmStep("t", "preview", **self.kwargs), callback=self._done)

    def _done(self, value: object) -> None:
        self.result = value


@pytest.mark.parametrize("typed, windows_name, runs", [
    ("lab-stretch", True, True), ("LAB-STRETCH", True, True), ("lab-stretch", False, False),
])
async def test_the_confirm_dialog_compares_a_windows_name_in_any_case(typed, windows_name, runs):
    app = _Host(typed="LAB-STRETCH", windows_name=windows_name)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        box = app.screen.query_one("#confirm-typed", Input)
        box.value = typed
        await pilot.press("enter")
        await pilot.pause()
        if runs:
            assert app.result == RUN
        else:
            assert app.result == "unset" and "That is not LAB-STRETCH" in str(
                app.screen.query_one("#confirm-message", Static).render())
