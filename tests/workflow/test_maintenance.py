"""Node drain and restart: interlocks, the workflow on the lab with its traps, resume after a kill."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from hcitui.cli import context as wiring
from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import Journal, NodeLock, StepRecord, StepRun, StepStatus
from hcitui.remote import Unreachable
from hcitui.workflow import eta, interlocks, maintenance
from hcitui.workflow.events import Stage
from hcitui.workflow.observe import ClusterState
from hcitui.workflow.steps import Refused, StepFailed

NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
GUARD = 60


# ------------------------------------------------------------------ interlocks


def quiet_state(**changes) -> ClusterState:
    state = ClusterState(
        nodes=[model.ClusterNode(name=n, state="Up") for n in NODES],
        groups=[model.ClusterGroup(name="VM-1", owner_node="LAB-A1", state="Online")],
        jobs=[],
        disks=[model.VirtualDisk(friendly_name="D1", health_status="Healthy", operational_status=["OK"])],
        sr_groups=[model.SRGroup(name="RG", replicas=[model.SRReplica(
            data_volume="V", replication_status="ContinuouslyReplicating")])],
        cau_run=model.CauRun(state="RunNotInProgress"),
    )
    for key, value in changes.items():
        setattr(state, key, value)
    return state


def test_quiet_cluster_lets_a_node_out():
    assert interlocks.take_out_blockers("LAB-A1", quiet_state(), None) == []


def test_one_node_at_a_time():
    lock = NodeLock(node="LAB-B1", reason="restart", since="04:00", was_paused=False)
    reasons = interlocks.take_out_blockers("LAB-A1", quiet_state(), lock)
    assert any("LAB-B1 is out of service" in r and "one node at a time" in r for r in reasons)
    # The node that holds the lock may go on (resuming its own cycle).
    assert interlocks.take_out_blockers("LAB-B1", quiet_state(), lock) == []


@pytest.mark.parametrize("change, words", [
    ({"nodes": [model.ClusterNode(name=n, state="Paused" if n == "LAB-B2" else "Up") for n in NODES]},
     "LAB-B2 is Paused: every other node must be Up"),
    ({"jobs": [model.StorageJob(name="Repair", job_state="Running", bytes_processed=1, bytes_total=4)]},
     "storage job Repair is Running 25%"),
    ({"disks": [model.VirtualDisk(friendly_name="D1", health_status="Warning", operational_status=["InService"])]},
     "virtual disk D1 is Warning/InService"),
    ({"sr_groups": [model.SRGroup(name="RG", replicas=[model.SRReplica(
        data_volume="V", replication_status="InitialBlockCopy", num_of_bytes_remaining=2 * 1024**3)])]},
     "Storage Replica group RG is in InitialBlockCopy, 2.0 GiB left"),
    ({"jobs": Unreachable("C", "get_storage_jobs", "host unreachable")}, "storage jobs: could not read"),
    ({"nodes": None}, "cluster nodes: not read"),
    ({"cau_run": model.CauRun(state="RunInProgress")}, "a CAU run is in progress"),
    ({"cau_run": model.CauRun(state="RunFailed")}, "recover it first"),
    ({"cau_run": None}, "CAU run: not read"),
])
def test_each_interlock_refuses(change, words):
    reasons = interlocks.take_out_blockers("LAB-A1", quiet_state(**change), None)
    assert any(words in r for r in reasons), reasons


@pytest.mark.parametrize("run, action", [
    ("RunInProgress", Action.CAU_STOP), ("RunFailed", Action.CAU_RECOVER), ("RunNotInProgress", None)])
def test_a_cau_blocker_names_its_remedy_not_a_key(run, action):
    state = quiet_state(cau_run=model.CauRun(state=run))
    remedy = interlocks.cau_remedy(state)
    assert (remedy.action if remedy else None) is action
    assert not any("5)" in r or "(x)" in r for r in interlocks.take_out_blockers("LAB-A1", state, None))
    assert interlocks.cau_remedy(quiet_state(cau_run=None)) is None


def test_resume_needs_a_paused_member():
    assert interlocks.resume_blockers("LAB-A1", quiet_state()) == ["LAB-A1 is Up, not Paused"]
    assert interlocks.resume_blockers("NOPE", quiet_state()) == ["NOPE is not a member of the cluster"]


def test_drained_means_paused_completed_and_nothing_online():
    state = quiet_state(nodes=[model.ClusterNode(name="LAB-A1", state="Paused", drain_status="Completed")])
    assert interlocks.drained("LAB-A1", state) == ["still Online on LAB-A1: VM-1"]
    state.groups = []
    assert interlocks.drained("LAB-A1", state) == []


# --------------------------------------------------------------------- the lab


@pytest.fixture
def lab_ctx(tmp_path):
    lab = wiring.open_lab(tmp_path, 4)
    t = lab.state.timings
    t.reboot, t.cluster_join, t.repair, t.drain_step = 0.3, 0.2, 0.3, 0.02
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path)
    ctx.poll = 0.05
    return lab, ctx


def fix_registry(lab):
    for node in lab.state.nodes.values():
        node.vid_parameters_key = True
        node.skip_small_local_allocations = 0


def restarts(ctx) -> list[str]:
    return [r["node"] for r in ctx.audit.records() if r["operation"] == "restart_node" and r["outcome"] == "ok"]


async def test_drain_then_resume(lab_ctx):
    lab, ctx = lab_ctx
    events = []
    await asyncio.wait_for(maintenance.drain(ctx, "LAB-A2", events.append), GUARD)
    assert events[-1].stage is Stage.DONE and events[-1].status == "Completed"
    assert all(e.stage is Stage.WORKING for e in events[:-1])
    node = lab.state.nodes["LAB-A2"]
    assert node.cluster_state == "Paused" and node.drain_status == "Completed"
    assert not [g for g in lab.state.groups if g.owner == "LAB-A2"]
    assert ctx.journal.state.lock.node == "LAB-A2" and ctx.journal.state.lock.was_paused is False
    assert ctx.journal.step(1, "drain", "LAB-A2").status is StepStatus.DONE
    events.clear()
    await asyncio.wait_for(maintenance.resume(ctx, "LAB-A2", events.append), GUARD)
    assert events[-1].stage is Stage.DONE and [e for e in events if e.stage is Stage.DONE] == events[-1:]
    assert lab.state.nodes["LAB-A2"].cluster_state == "Up"
    assert [g.name for g in lab.state.groups if g.owner == "LAB-A2"] == ["VM-A02"]  # failed back
    assert ctx.journal.state.lock is None


async def test_second_node_refused_while_one_is_out(lab_ctx):
    lab, ctx = lab_ctx
    await asyncio.wait_for(maintenance.drain(ctx, "LAB-A2"), GUARD)
    before = lab.state.nodes["LAB-B1"].model_dump()
    with pytest.raises(Refused) as caught:
        await maintenance.drain(ctx, "LAB-B1")
    assert any("LAB-A2 is out of service" in r for r in caught.value.reasons)
    assert any("LAB-A2 is Paused" in r for r in caught.value.reasons)
    assert lab.state.nodes["LAB-B1"].model_dump() == before


async def test_drain_refused_during_a_repair_job(lab_ctx):
    lab, ctx = lab_ctx
    lab.state.timings.repair = 600
    fix_registry(lab)
    with lab._lock:
        lab.restart(lab.state.nodes["LAB-B2"])
    await asyncio.sleep(0.8)  # rebooted and joined: the repair job runs now
    lab.tick()
    assert lab.state.storage_jobs
    with pytest.raises(Refused) as caught:
        await maintenance.drain(ctx, "LAB-A2")
    assert any("storage job Repair" in r for r in caught.value.reasons)
    assert lab.state.nodes["LAB-A2"].cluster_state == "Up"


async def test_failed_drain_leaves_the_node_as_it_was(lab_ctx):
    lab, ctx = lab_ctx  # SkipSmallLocalAllocations unset: the live-migration trap
    events = []
    with pytest.raises(StepFailed) as caught:
        await asyncio.wait_for(maintenance.drain(ctx, "LAB-A1", events.append), GUARD)
    assert "live migration" in caught.value.sentence and "SkipSmallLocalAllocations" in caught.value.sentence
    assert caught.value.remedy == Remedy(action=Action.REGISTRY_SET) and "2)" not in caught.value.sentence
    assert events[-1].stage is Stage.FAILED and not events[-1].text.startswith("FAILED")
    assert "resumed as it was before" in caught.value.sentence
    assert lab.state.nodes["LAB-A1"].cluster_state == "Up"
    assert {g.name for g in lab.state.groups if g.owner == "LAB-A1" and g.group_type == "VirtualMachine"} == {
        "VM-A01", "VM-A03"}
    assert ctx.journal.state.lock is None
    assert ctx.journal.step(1, "drain", "LAB-A1").status is StepStatus.FAILED


async def test_restart_cycle(lab_ctx):
    lab, ctx = lab_ctx
    fix_registry(lab)
    boot = lab.state.nodes["LAB-B2"].last_boot
    seen, events = [], []
    await asyncio.wait_for(maintenance.restart(ctx, "LAB-B2", lambda e: (seen.append(e.text), events.append(e))),
                           GUARD)
    node = lab.state.nodes["LAB-B2"]
    assert node.last_boot != boot and node.cluster_state == "Up" and node.power == "on"
    assert node.skip_effective == 0  # the registry value is now in force
    assert not lab.state.storage_jobs
    assert ctx.journal.state.lock is None
    assert ctx.journal.step(1, "restart", "LAB-B2").status is StepStatus.DONE
    assert restarts(ctx) == ["LAB-B2"]
    text = " ".join(seen)
    assert "waiting for WinRM" in text and "waiting for storage" in text
    # The stage is typed: the waits are WAITING (the restart's with when it was sent), the end DONE, once.
    winrm = [e for e in events if "waiting for WinRM" in e.text]
    assert winrm and all(e.stage is Stage.WAITING and e.since is not None for e in winrm)
    assert all(e.stage is Stage.WAITING for e in events if e.text.startswith("waiting for storage"))
    assert events[-1].stage is Stage.DONE and sum(e.stage is Stage.DONE for e in events) == 1


async def test_a_node_paused_by_the_operator_stays_paused(lab_ctx):
    lab, ctx = lab_ctx
    fix_registry(lab)
    lab.state.nodes["LAB-B1"].cluster_state = "Paused"  # the operator paused it before
    lab.state.nodes["LAB-B1"].drain_status = "Completed"
    for group in lab.state.groups:
        if group.owner == "LAB-B1":
            group.owner = "LAB-B2"
    await asyncio.wait_for(maintenance.restart(ctx, "LAB-B1"), GUARD)
    assert lab.state.nodes["LAB-B1"].cluster_state == "Paused"
    assert restarts(ctx) == ["LAB-B1"]
    assert ctx.journal.state.lock is None


async def test_rolling_restart_every_node_once(lab_ctx):
    lab, ctx = lab_ctx
    fix_registry(lab)
    boots = {n: node.last_boot for n, node in lab.state.nodes.items()}
    events = []
    await asyncio.wait_for(maintenance.rolling_restart(ctx, progress=events.append), GUARD * 2)
    assert restarts(ctx) == NODES
    # Every event says which node of the run it is about: node i of 4, in order.
    assert {e.node: e.position for e in events} == {n: (i, 4) for i, n in enumerate(NODES, 1)}
    assert [e.node for e in events if e.stage is Stage.DONE] == NODES
    assert all(lab.state.nodes[n].last_boot != boots[n] for n in NODES)
    assert all(lab.state.nodes[n].cluster_state == "Up" for n in NODES)
    assert ctx.journal.step(1, "rolling-restart").status is StepStatus.DONE


async def test_rolling_restart_estimates_its_finish(lab_ctx):
    # A fresh journal: nothing to go on for the first node ("estimate unknown"); from the second on, the
    # median of the restarts done in this run; the last node's end leaves nothing to estimate.
    lab, ctx = lab_ctx
    fix_registry(lab)
    began = datetime.now(UTC)
    events = []
    await asyncio.wait_for(maintenance.rolling_restart(ctx, progress=events.append), GUARD * 2)
    first = [e for e in events if e.node == "LAB-A1" and e.stage is not Stage.DONE]
    assert first and all(eta.is_unknown(e.eta) for e in first)
    later = [e for e in events if e.position[0] > 1 and not (e.node == "LAB-B2" and e.stage is Stage.DONE)]
    assert later and all(e.eta is not None and not eta.is_unknown(e.eta) and e.eta >= began for e in later)
    assert next(e for e in events if e.node == "LAB-A1" and e.stage is Stage.DONE).eta >= began  # 3 to go
    assert [e.eta for e in events if e.node == "LAB-B2" and e.stage is Stage.DONE] == [None]


async def test_rolling_restart_estimates_from_the_journals_history_before_its_first_node(lab_ctx):
    # A restart the journal remembers took 10 minutes: before this run's first node is done, its two nodes
    # are estimated at 20 minutes (the first from when it began); then this run's own (quick) restart counts.
    lab, ctx = lab_ctx
    fix_registry(lab)
    ctx.journal.state.steps["1/restart/LAB-OLD"] = StepRecord(phase=1, step="restart", node="LAB-OLD", runs=[
        StepRun(status=StepStatus.DONE, started="2026-01-01T10:00:00+00:00", finished="2026-01-01T10:10:00+00:00")])
    began = datetime.now(UTC)
    events = []
    await asyncio.wait_for(maintenance.rolling_restart(ctx, ["LAB-A1", "LAB-A2"], events.append), GUARD * 2)
    first = [e for e in events if e.node == "LAB-A1" and e.stage is not Stage.DONE]
    assert first and all(e.eta >= began + timedelta(minutes=20) - timedelta(seconds=5) for e in first)
    second = [e for e in events if e.node == "LAB-A2" and e.stage is not Stage.DONE]
    assert second and all(e.eta < began + timedelta(minutes=10) for e in second)


async def test_rolling_restart_stops_at_the_first_failure(lab_ctx):
    lab, ctx = lab_ctx  # registry not fixed: LAB-A1 (dynamic-memory VMs) cannot drain
    with pytest.raises(StepFailed):
        await asyncio.wait_for(maintenance.rolling_restart(ctx), GUARD)
    record = ctx.journal.step(1, "rolling-restart")
    assert record.status is StepStatus.FAILED
    assert "stopped at LAB-A1" in record.detail and "pending: LAB-A1, LAB-A2, LAB-B1, LAB-B2" in record.detail
    assert restarts(ctx) == []  # nothing went on to the next node


async def test_killed_mid_rolling_restart_resumes_at_the_right_node(lab_ctx, tmp_path):
    lab, ctx = lab_ctx
    fix_registry(lab)
    task = asyncio.ensure_future(maintenance.rolling_restart(ctx))
    # Let LAB-A1 finish and LAB-A2 get as far as its restart, then kill the run.
    for _ in range(400):
        await asyncio.sleep(0.05)
        if restarts(ctx) == ["LAB-A1", "LAB-A2"]:
            break
    assert restarts(ctx) == ["LAB-A1", "LAB-A2"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # A new process: the journal shows the run interrupted, and the lock on LAB-A2.
    ctx.journal = Journal.open(tmp_path, ctx.name)
    assert ctx.journal.state.lock.node == "LAB-A2"
    await asyncio.wait_for(maintenance.rolling_restart(ctx), GUARD * 2)
    # LAB-A2 was not restarted twice, LAB-A1 not again; the rest once each.
    assert restarts(ctx) == NODES
    assert ctx.journal.step(1, "rolling-restart").status is StepStatus.DONE
    assert all(lab.state.nodes[n].cluster_state == "Up" for n in NODES)
    assert ctx.journal.state.lock is None


async def test_an_interrupted_restart_is_reverified_not_assumed(lab_ctx, tmp_path):
    from hcitui.workflow import resume

    lab, ctx = lab_ctx
    fix_registry(lab)
    task = asyncio.ensure_future(maintenance.restart(ctx, "LAB-B1"))
    for _ in range(400):
        await asyncio.sleep(0.05)
        if restarts(ctx) == ["LAB-B1"]:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    ctx.journal = Journal.open(tmp_path, ctx.name)  # the next start
    record = ctx.journal.step(1, "restart", "LAB-B1")
    assert record.status is StepStatus.UNKNOWN and record in ctx.journal.recovered
    found = await resume.reverify(ctx, record)
    assert found.status is None and "stopped part-way" in found.sentence
    assert found.remedy == Remedy(action=Action.NODE_RESTART, node="LAB-B1") and "press" not in found.sentence
    await asyncio.wait_for(maintenance.restart(ctx, "LAB-B1"), GUARD)  # resumed, not started over
    assert restarts(ctx) == ["LAB-B1"]
    record = ctx.journal.step(1, "restart", "LAB-B1")
    assert (await resume.reverify(ctx, record)).status is StepStatus.DONE


def test_menu_line_from_the_journal(tmp_path):
    journal = Journal.open(tmp_path, "C")
    assert maintenance.journal_summary(journal, NODES) == "0/4 nodes restarted"
    journal.set_step(1, "restart", "LAB-A1", StepStatus.DONE, "restarted, resumed, storage quiet")
    assert maintenance.journal_summary(journal, NODES) == "1/4 nodes restarted"
    journal.acquire_lock("LAB-A2", "restart", was_paused=False)
    assert maintenance.journal_summary(journal, NODES) == "LAB-A2 out of service (restart)"


async def test_an_interrupted_drain_and_rolling_restart_name_their_remedies(lab_ctx):
    from hcitui.workflow import resume

    lab, ctx = lab_ctx
    lab.state.nodes["LAB-A2"].cluster_state = "Paused"  # paused, but its roles still on it: not drained
    ctx.journal.set_step(1, "drain", "LAB-A2", StepStatus.RUNNING, "draining")
    found = await resume.reverify(ctx, ctx.journal.step(1, "drain", "LAB-A2"))
    assert found.status is None and "did not finish" in found.sentence and "(n)" not in found.sentence
    assert found.remedy == Remedy(action=Action.NODE_DRAIN, node="LAB-A2")
    ctx.journal.set_step(1, "rolling-restart", None, StepStatus.RUNNING, "1 of 4", data={"order": NODES})
    found = await resume.reverify(ctx, ctx.journal.step(1, "rolling-restart"))
    assert found.status is None and "LAB-A1, LAB-A2, LAB-B1, LAB-B2 pending" in found.sentence
    assert found.remedy == Remedy(action=Action.ROLLING_RESTART) and "3)" not in found.sentence
