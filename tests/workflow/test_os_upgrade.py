"""The manual upgrade's setup.exe: run in a scheduled task, read back, and a failing setup stops the node's step.

Issue 9, item 6: setup started inside the WinRM shell died with the shell, without the switches for an
unattended upgrade, and nobody read its exit code. Now setup runs in the "hcitui OS upgrade" task, its
runner records the exit code, ``get_os_upgrade_status`` reads it, and the manual-upgrade cycle fails the
node's step with the code, its meaning and the remedy instead of waiting for a restart that never comes.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from hcitui.cli import context as wiring
from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import Journal, StepStatus
from hcitui.lab.inprocess import InProcessSession
from hcitui.ps import upgrade as upgrade_ops
from hcitui.remote import ReadOnlyRefused
from hcitui.workflow import maintenance, resume
from hcitui.workflow.events import Stage
from hcitui.workflow.steps import StepFailed
from support import earlier_phases

GUARD = 60
NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
COMPAT_BLOCK = 0xC1900208  # MOSETUP_E_COMPAT_INSTALLREQ_BLOCK


def fast(lab):
    t = lab.state.timings
    t.reboot, t.cluster_join, t.repair, t.drain_step, t.os_install, t.stage_iso = 0.3, 0.2, 0.3, 0.02, 0.2, 0.05
    for node in lab.state.nodes.values():
        node.vid_parameters_key, node.skip_small_local_allocations = True, 0
        node.refs_metadata_validation = node.refs_effective = 0


def stage(lab, node="LAB-A2"):
    lab.execute(node, "stage_iso", {"IsoPath": lab.state.iso_path, "Destination": lab.state.staging_path})


@pytest.fixture
async def lab_ctx(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    fast(lab)
    stage(lab)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    ctx.poll = 0.05
    await earlier_phases(ctx, lab)  # the upgrade's gates open (hcitui/workflow/gates.py)
    return lab, ctx


def ops(ctx, *, mutating: bool | None = None) -> list[str]:
    return [r["operation"] for r in ctx.audit.records()
            if r["outcome"] == "ok" and (mutating is None or r["mutates"] is mutating)]


# ------------------------------------------------------------------ the declarations


def test_setup_is_started_by_a_scheduled_task_not_in_the_shell():
    script = upgrade_ops.start_os_upgrade.script
    # The only Start-Process is the runner's, a quoted line the task runs: none runs in this session.
    outside_runner = re.sub(r"(?m)^(    '.*'|\s*#.*)$", "", script)
    assert "Start-Process" not in outside_runner
    assert "Start-Process -FilePath $record.SetupPath -ArgumentList @($spec.Arguments) -Wait -PassThru" \
        in upgrade_ops.RUNNER
    assert "$process.ExitCode" in upgrade_ops.RUNNER and "exit $code" in upgrade_ops.RUNNER
    assert "New-ScheduledTaskPrincipal -UserId 'NT AUTHORITY\\SYSTEM'" in script
    assert "Register-ScheduledTask -TaskName 'hcitui OS upgrade'" in script and "-Force" in script
    assert "Start-ScheduledTask -TaskName 'hcitui OS upgrade'" in script
    # Values reach the task as data: the runner names no path or switch of its own.
    assert "$MediaPath" not in upgrade_ops.RUNNER and "/auto" not in upgrade_ops.RUNNER


def test_the_switches_are_the_documented_unattended_upgrade_and_cited():
    script = upgrade_ops.start_os_upgrade.script
    assert ("@('/auto', 'upgrade', '/quiet', '/compat', 'ignorewarning', '/dynamicupdate', 'disable',\n"
            "    '/showoobe', 'none', '/eula', 'accept', '/copylogs'") in script
    switches = script[script.index("$arguments = @("):
                      script.index("ConvertTo-Json -InputObject ([pscustomobject]@{ SetupPath")]
    assert "/noreboot" not in switches.lower()  # setup's own restart is what the cycle waits for
    assert "windows-setup-command-line-options" in script
    assert re.search(r"/EULA Accept\s+UNCONFIRMED", script)


def test_the_status_read_is_read_only_and_names_the_error_log():
    op = upgrade_ops.get_os_upgrade_status
    assert op.mutates is False and op.name.startswith("get_")
    assert "Get-ScheduledTaskInfo -TaskName 'hcitui OS upgrade'" in op.script
    assert "'$WINDOWS.~BT\\Sources\\Panther\\setuperr.log'" in op.script
    assert "log-files.md" in op.script  # where that location is documented


@pytest.mark.parametrize("code, words", [
    (COMPAT_BLOCK, "MOSETUP_E_COMPAT_INSTALLREQ_BLOCK"),
    (COMPAT_BLOCK - 0x100000000, "MOSETUP_E_COMPAT_INSTALLREQ_BLOCK"),  # .NET's ExitCode is a signed Int32
    (0xC190020E, "not have enough free space"),
    (0x5, "compatibility check found issues"),
    (0x1234, "does not list"),
])
def test_exit_code_meanings(code, words):
    meaning, remedy = model.setup_exit_meaning(code)
    assert words in meaning
    assert remedy


def test_status_model_tells_failed_from_running_from_vanished():
    def status(**values):
        return model.OsUpgradeStatus.model_validate({"TaskName": "hcitui OS upgrade", **values})

    running = status(TaskPresent=True, TaskState="Running", LastTaskResult=0x41301)
    assert running.running and not running.failed and not running.ended_unrecorded
    failed = status(TaskPresent=True, TaskState="Ready", ExitRecorded=True, ExitCode=COMPAT_BLOCK - 0x100000000)
    assert failed.failed and failed.exit_hex == "0xC1900208"
    succeeded = status(TaskPresent=True, TaskState="Ready", ExitRecorded=True, ExitCode=3)
    assert not succeeded.failed and not succeeded.ended_unrecorded
    assert status(TaskPresent=False).ended_unrecorded
    assert status(TaskPresent=True, TaskState="Ready", LastTaskResult=0x41306).ended_unrecorded
    assert status(TaskPresent=True, TaskState="Ready", RunnerError="Access is denied").failed
    # A log line with commas stays one line.
    assert status(ErrorLogTail="2025-01-01, Error, MOUPG").error_log_tail == ["2025-01-01, Error, MOUPG"]


# ------------------------------------------------------------------------- the lab


def _after(lab, clock, seconds):
    """Lab time moves on by ``seconds``, a second at a time (each timer may arm the next)."""
    for _ in range(int(seconds) + 1):
        clock.advance(1.0)
        lab.tick()


def test_lab_setup_in_the_task_upgrades_the_node(lab, clock):
    stage(lab, "LAB-A1")
    answer = lab.execute("LAB-A1", "start_os_upgrade", {"MediaPath": lab.state.staging_path})
    assert '"TaskName":"hcitui OS upgrade"' in answer and '"AlreadyRunning":false' in answer
    status = upgrade_ops.get_os_upgrade_status.parse_result(lab.execute("LAB-A1", "get_os_upgrade_status", {}))
    assert status.running and not status.exit_recorded
    again = lab.execute("LAB-A1", "start_os_upgrade", {"MediaPath": lab.state.staging_path})
    assert '"AlreadyRunning":true' in again  # sent twice: one setup
    t = lab.state.timings
    _after(lab, clock, t.os_install + t.reboot + t.cluster_join + 1)
    node = lab.state.nodes["LAB-A1"]
    assert node.build == 25398 and node.power == "on"
    status = upgrade_ops.get_os_upgrade_status.parse_result(lab.execute("LAB-A1", "get_os_upgrade_status", {}))
    assert status.exit_recorded and status.exit_code == 3 and not status.failed


def test_lab_setup_started_in_the_shell_dies_with_it(lab, clock):
    """The old start: setup is a process of the WinRM shell, and the shell closes when the call returns."""
    stage(lab, "LAB-A1")
    lab.execute("LAB-A1", "start_os_upgrade_in_shell", {"MediaPath": lab.state.staging_path})
    t = lab.state.timings
    _after(lab, clock, t.os_install + t.reboot + t.cluster_join + 1)
    node = lab.state.nodes["LAB-A1"]
    assert node.build == 20349 and node.power == "on" and not node.upgrading  # it never upgrades
    status = upgrade_ops.get_os_upgrade_status.parse_result(lab.execute("LAB-A1", "get_os_upgrade_status", {}))
    assert not status.task_present and status.ended_unrecorded


def test_lab_fault_knob_makes_setup_exit_with_a_failure_code(lab, clock):
    stage(lab, "LAB-A1")
    lab.state.faults.setup_fail_node = "LAB-A1"
    lab.execute("LAB-A1", "start_os_upgrade", {"MediaPath": lab.state.staging_path})
    t = lab.state.timings
    _after(lab, clock, t.os_install + t.reboot + t.cluster_join + 1)
    node = lab.state.nodes["LAB-A1"]
    assert node.build == 20349 and node.power == "on"
    status = upgrade_ops.get_os_upgrade_status.parse_result(lab.execute("LAB-A1", "get_os_upgrade_status", {}))
    assert status.failed and status.exit_hex == "0xC1900208" and status.task_state == "Ready"
    assert status.last_task_result == COMPAT_BLOCK and "0xC1900208" in status.error_log_tail[-1]


# ------------------------------------------------------------------------- read-only


async def test_status_reads_read_only_and_the_start_is_refused(lab):
    stage(lab, "LAB-A1")
    audit: list[dict] = []
    session = InProcessSession(lab, "LAB-A1", read_only=True, audit=audit.append)
    status = await session.invoke(upgrade_ops.get_os_upgrade_status)
    assert status.task_name == "hcitui OS upgrade" and not status.task_present
    before = lab.state.model_dump()
    with pytest.raises(ReadOnlyRefused):
        await session.invoke(upgrade_ops.start_os_upgrade, {"media_path": lab.state.staging_path})
    assert lab.state.model_dump() == before and lab.state.nodes["LAB-A1"].setup_task is None
    assert [(r["operation"], r["outcome"]) for r in audit] == [("get_os_upgrade_status", "ok"),
                                                               ("start_os_upgrade", "refused")]


# --------------------------------------------------------------------- the workflow


async def test_manual_upgrade_reads_setup_back_while_it_installs(lab_ctx):
    lab, ctx = lab_ctx
    events = []
    await asyncio.wait_for(maintenance.manual_upgrade(ctx, "LAB-A2", events.append), GUARD)
    installing = [e for e in events if e.text.startswith("setup installing")]
    assert installing and all(e.stage is Stage.WAITING and e.since is not None for e in installing)
    assert not any(" since " in e.text for e in events)  # the time is a field, not words
    assert events[-1].stage is Stage.DONE
    node = lab.state.nodes["LAB-A2"]
    assert node.build == 25398 and node.cluster_state == "Up"
    assert node.setup_task is not None and node.setup_task.exit_code == 3
    read = ops(ctx, mutating=False)
    assert "get_os_upgrade_status" in read
    assert ctx.journal.step(5, "manual-upgrade", "LAB-A2").status is StepStatus.DONE
    assert ctx.journal.state.lock is None


async def test_failing_setup_fails_the_step_with_its_exit_code_and_leaves_the_node_drained(lab_ctx):
    lab, ctx = lab_ctx
    lab.state.faults.setup_fail_node = "LAB-A2"
    with pytest.raises(StepFailed) as caught:
        await asyncio.wait_for(maintenance.manual_upgrade(ctx, "LAB-A2"), GUARD)
    sentence = caught.value.message
    assert "setup.exe on LAB-A2 exited with 0xC1900208" in sentence
    assert "MOSETUP_E_COMPAT_INSTALLREQ_BLOCK" in sentence and "incompatible app" in sentence  # its meaning
    assert "CompatData" in sentence and "run the upgrade again" in sentence  # the remedy
    assert caught.value.remedy == Remedy(action=Action.NODE_UPGRADE, node="LAB-A2") and "(u)" not in sentence
    assert "setuperr.log" in sentence
    # RUNBOOK 4.8: the run stops on that node, and the cluster is left as it is.
    node = lab.state.nodes["LAB-A2"]
    assert node.build == 20349 and node.cluster_state == "Paused" and node.power == "on"
    assert all(n.cluster_state == "Up" for n in lab.state.nodes.values() if n.name != "LAB-A2")
    record = ctx.journal.step(5, "manual-upgrade", "LAB-A2")
    assert record.status is StepStatus.FAILED and "0xC1900208" in record.detail
    assert ctx.journal.state.lock is not None and ctx.journal.state.lock.node == "LAB-A2"
    mutating = ops(ctx, mutating=True)
    assert mutating[-1] == "start_os_upgrade" and "resume_node" not in mutating
    assert "restart_node" not in mutating

    # Fixed, it runs again: setup installs, the node restarts into 23H2 and is resumed (it was Up before).
    lab.state.faults.setup_fail_node = None
    await asyncio.wait_for(maintenance.manual_upgrade(ctx, "LAB-A2"), GUARD)
    assert node.build == 25398 and node.cluster_state == "Up"
    assert ctx.journal.step(5, "manual-upgrade", "LAB-A2").status is StepStatus.DONE
    assert ctx.journal.state.lock is None


async def test_setup_that_dies_without_a_word_fails_the_step(lab_ctx, monkeypatch):
    lab, ctx = lab_ctx
    lab.state.faults.setup_dies = ["LAB-A2"]
    monkeypatch.setattr(maintenance.setup, "SETUP_ENDED_GRACE", 0.0)  # the second sighting decides
    with pytest.raises(StepFailed) as caught:
        await asyncio.wait_for(maintenance.manual_upgrade(ctx, "LAB-A2"), GUARD)
    sentence = caught.value.message
    assert "recorded no exit code" in sentence and "did not restart" in sentence
    assert "last result 0x41306" in sentence
    assert ctx.journal.step(5, "manual-upgrade", "LAB-A2").data.get("setup_ended_seen") is not None
    node = lab.state.nodes["LAB-A2"]
    assert node.build == 20349 and node.cluster_state == "Paused"


async def test_setup_ended_but_not_yet_restarted_is_given_its_grace(lab_ctx, monkeypatch):
    """Within the grace a task with nothing recorded is not a failure: the node may be going down."""
    lab, ctx = lab_ctx
    lab.state.faults.setup_dies = ["LAB-A2"]
    monkeypatch.setattr(maintenance.setup, "SETUP_ENDED_GRACE", 3600.0)
    task = asyncio.ensure_future(maintenance.manual_upgrade(ctx, "LAB-A2"))
    try:
        for _ in range(400):
            await asyncio.sleep(0.05)
            record = ctx.journal.step(5, "manual-upgrade", "LAB-A2")
            if record is not None and record.data.get("setup_ended_seen") is not None:
                break
        for _ in range(10):  # several more passes: still waiting, not failed
            await asyncio.sleep(0.05)
        assert not task.done()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_failure_while_hcitui_was_away_is_found_when_it_resumes(lab_ctx, tmp_path):
    """Drive-by observation: hcitui stopped while setup installed; setup failed meanwhile; the resumed cycle
    reads the recorded exit code and fails the step, it does not wait for a restart."""
    lab, ctx = lab_ctx
    lab.state.faults.setup_fail_node = "LAB-A2"
    lab.state.timings.os_install = 5.0  # long enough to stop hcitui while setup installs
    task = asyncio.ensure_future(maintenance.manual_upgrade(ctx, "LAB-A2"))
    for _ in range(400):
        await asyncio.sleep(0.05)
        record = ctx.journal.step(5, "manual-upgrade", "LAB-A2")
        if record is not None and record.data.get("restart_sent"):
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lab.state.nodes["LAB-A2"].setup_task.state == "Running"
    for timer in lab.state.timers:  # setup finishes (and fails) while hcitui is away
        if timer.kind == "setup_task_done":
            timer.at = lab.now
    lab.state.timers.sort(key=lambda t: t.at)
    lab.tick()
    assert lab.state.nodes["LAB-A2"].setup_task.exit_code is not None
    ctx.journal = Journal.open(tmp_path, ctx.name)  # the next start of hcitui
    record = ctx.journal.step(5, "manual-upgrade", "LAB-A2")
    assert record.status is StepStatus.UNKNOWN
    found = await resume.reverify(ctx, record)
    assert found.status is None and found.remedy == Remedy(action=Action.NODE_UPGRADE, node="LAB-A2")
    with pytest.raises(StepFailed) as caught:
        await asyncio.wait_for(maintenance.manual_upgrade(ctx, "LAB-A2"), GUARD)
    assert "exited with 0xC1900208" in caught.value.message
    assert ops(ctx, mutating=True).count("start_os_upgrade") == 1  # resumed, not started again


async def test_manual_upgrade_over_winrm(tmp_path):
    """Through pypsrp and the lab's WinRM endpoint: setup in its task, read back, the node restarts on 25398;
    then a failing setup on another node fails its step with the exit code."""
    lab = wiring.open_lab(tmp_path, 4)
    fast(lab)
    stage(lab, "LAB-A2")
    stage(lab, "LAB-B1")
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path, transport="winrm")
    ctx.poll = 0.05
    try:
        await earlier_phases(ctx, lab)
        await asyncio.wait_for(maintenance.manual_upgrade(ctx, "LAB-A2"), GUARD)
        assert lab.state.nodes["LAB-A2"].build == 25398 and lab.state.nodes["LAB-A2"].cluster_state == "Up"
        assert "get_os_upgrade_status" in ops(ctx, mutating=False)
        lab.state.faults.setup_fail_node = "LAB-B1"
        with pytest.raises(StepFailed) as caught:
            await asyncio.wait_for(maintenance.manual_upgrade(ctx, "LAB-B1"), GUARD)
        assert "exited with 0xC1900208" in caught.value.message
        assert lab.state.nodes["LAB-B1"].cluster_state == "Paused" and lab.state.nodes["LAB-B1"].build == 20349
    finally:
        await ctx.close()
