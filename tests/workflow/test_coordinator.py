"""The CAU coordinator (issue 9, item 5): where Invoke-CauRun runs.

The update guide runs the CAU run from a management server outside the cluster. With a coordinator in the
config, the run's operations go to its session (ClusterName filled in), and the CAU preflight proves the
coordinator (the ClusterAwareUpdating module, WinRM to every node); without one the run starts on a node,
and the preflight and the run's preview say what that risks. The lab serves the coordinator (LAB-MGMT).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hcitui.cli import context as wiring
from hcitui.cli import main as cli
from hcitui.core import model
from hcitui.lab.state import COORDINATOR, StagedMedia
from hcitui.ps import OPERATIONS, Operation, reads, script_parameter_names
from hcitui.ps import cau as cau_ops
from hcitui.remote import ClusterClient, NodeInfo, OperationFailed, RemoteError, Unreachable
from hcitui.workflow import cau
from hcitui.workflow.checks import CheckResult
from support import lab_in_process

GUARD = 90
NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
RUN_OPS = {"start_cau_run", "stop_cau_run", "recover_cau_run", "get_cau_run", "test_cau_setup", "get_cau_scan",
           "get_cau_report"}


def fast(lab) -> None:
    t = lab.state.timings
    t.reboot, t.cluster_join, t.repair, t.drain_step = 0.3, 0.2, 0.3, 0.02
    t.os_install, t.test_cluster, t.cau_stage, t.cau_orchestrator_move = 0.2, 0.2, 0.05, 0.15


def ready(lab) -> None:
    for node in lab.state.nodes.values():
        node.vid_parameters_key, node.skip_small_local_allocations = True, 0
        node.staged[lab.state.staging_path] = StagedMedia(file_count=1187, total_bytes=6174015488)


def lab_ctx(tmp_path, *, coordinator: bool):
    lab = wiring.open_lab(tmp_path, 4)
    fast(lab)
    ready(lab)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=tmp_path, coordinator=coordinator)
    ctx.poll = 0.05
    return lab, ctx


def where_ran(ctx, operation: str) -> set[str]:
    return {r["node"] for r in ctx.audit.records() if r["operation"] == operation}


# -------------------------------------------------------------------- declarations


def test_the_run_operations_are_the_coordinator_operations_and_take_cluster_name():
    assert {name for name, op in OPERATIONS.items() if op.coordinator} == RUN_OPS
    for name in RUN_OPS:
        op = OPERATIONS[name]
        assert "ClusterName" in script_parameter_names(op.script), name
        named = op.make_params(_required(op) | {"ClusterName": "HCI-STRETCH01"})
        assert named.to_ps()["ClusterName"] == "HCI-STRETCH01"
        # Empty on a node: the script falls back to Get-Cluster, as it always did.
        assert "if (-not $ClusterName) { $ClusterName = (Get-Cluster).Name }" in op.script, name
        with pytest.raises(ValueError):
            op.make_params(_required(op) | {"ClusterName": "C1; Remove-Item C:\\ -Recurse"})
    # The coordinator's own read: the CAU module and WinRM to every node, documented cmdlets only.
    script = cau_ops.get_coordinator_state.script
    assert "Get-Module -ListAvailable -Name 'ClusterAwareUpdating'" in script
    assert "Test-WSMan -ComputerName $name -Authentication Default" in script
    assert "foreach ($name in $NodeNames)" in script
    with pytest.raises(ValueError, match="not a host name"):
        cau_ops.get_coordinator_state.make_params({"NodeNames": ["LAB-A1", "x'; Stop-Computer"]})


def _required(op: Operation) -> dict[str, Any]:
    return {"Plugin": "WindowsUpdate"} if op in (cau_ops.start_cau_run, cau_ops.get_cau_scan) else {}


def test_force_self_update_is_explained_where_it_is_set():
    script = cau_ops.start_cau_run.script
    comment = script[script.index("# -ForceSelfUpdate"):script.index("$run.ForceSelfUpdate = $true")]
    assert "update the CAU plugin on the local computer" in comment
    assert "ClusterAwareUpdating/Invoke-CauRun.md" in comment and "not on the nodes" in comment


# ------------------------------------------------------------------------ routing


class FakeSession:
    def __init__(self, node: str, *, fail: RemoteError | None = None) -> None:
        self.node = node
        self.read_only = False
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    async def invoke(self, op, params=None, *, timeout=None):
        bound = op.make_params(params)
        self.calls.append((op.name, bound.to_ps()))
        if self.fail is not None:
            raise self.fail
        if op is reads.get_cau_run:
            return model.CauRun(state="RunNotInProgress")
        return []

    async def close(self) -> None:
        return None


def client(*, coordinator: bool) -> tuple[ClusterClient, dict[str, FakeSession], FakeSession | None]:
    sessions = {n: FakeSession(n) for n in NODES}
    mgmt = FakeSession("HCI-MGMT01") if coordinator else None
    return ClusterClient("HCI-STRETCH01", [NodeInfo(n) for n in NODES], sessions, read_only=False,
                         coordinator=mgmt), sessions, mgmt


async def test_run_operations_go_to_the_coordinator_with_the_cluster_name():
    c, sessions, mgmt = client(coordinator=True)
    await c.invoke_cluster(reads.get_cau_run)
    await c.invoke_cluster(cau_ops.start_cau_run, {"plugin": "WindowsUpdate"})
    await c.invoke_cluster(reads.get_cluster_nodes)  # not a CAU run operation: a node answers
    assert mgmt.calls == [("get_cau_run", {"ClusterName": "HCI-STRETCH01"}),
                          ("start_cau_run", {"Plugin": "WindowsUpdate", "RequireAllNodesOnline": False,
                                             "UpdateFunctionalLevel": False, "ClusterName": "HCI-STRETCH01"})]
    assert [name for name, _ in sessions["LAB-A1"].calls] == ["get_cluster_nodes"]
    assert c.where(reads.get_cau_run).startswith("HCI-MGMT01 (CAU coordinator of HCI-STRETCH01")
    assert c.where(reads.get_cluster_nodes) == "any node of HCI-STRETCH01"


async def test_without_a_coordinator_they_go_to_a_node_without_a_cluster_name():
    c, sessions, _ = client(coordinator=False)
    await c.invoke_cluster(reads.get_cau_run)
    await c.invoke_cluster(cau_ops.stop_cau_run)
    assert sessions["LAB-A1"].calls == [("get_cau_run", {}), ("stop_cau_run", {})]
    assert c.where(cau_ops.stop_cau_run) == "any node of HCI-STRETCH01"
    with pytest.raises(Unreachable, match="no CAU coordinator"):
        await c.invoke_coordinator(cau_ops.get_coordinator_state, {"node_names": NODES})


async def test_a_coordinator_that_does_not_answer_is_not_replaced_by_a_node():
    c, sessions, mgmt = client(coordinator=True)
    mgmt.fail = Unreachable("HCI-MGMT01", "stop_cau_run", "host unreachable")
    with pytest.raises(Unreachable):
        await c.invoke_cluster(cau_ops.stop_cau_run)
    assert all(not s.calls for s in sessions.values())  # never started or stopped from a node instead


async def test_the_lab_run_goes_through_its_coordinator(tmp_path):
    lab, ctx = lab_ctx(tmp_path, coordinator=True)
    run = await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults(cau.WINDOWS_UPDATE)), GUARD)
    assert run.current_orchestrator == COORDINATOR and lab.state.cau.run.coordinator == COORDINATOR
    ended = await asyncio.wait_for(cau.stop(ctx), GUARD)
    assert ended.state == model.CauRunState.RUN_NOT_IN_PROGRESS
    for operation in ("start_cau_run", "get_cau_run", "stop_cau_run"):
        assert where_ran(ctx, operation) == {COORDINATOR}, operation
    started = next(r for r in ctx.audit.records() if r["operation"] == "start_cau_run")
    assert started["parameters"]["ClusterName"] == "LAB-STRETCH"
    assert where_ran(ctx, "get_cluster_nodes") <= set(NODES)  # the cluster's own reads stay on the nodes
    await ctx.close()


async def test_without_a_coordinator_the_lab_run_starts_on_a_node(tmp_path):
    lab, ctx = lab_ctx(tmp_path, coordinator=False)
    await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults(cau.WINDOWS_UPDATE)), GUARD)
    assert lab.state.cau.run.coordinator is None and lab.state.cau.run.orchestrator in NODES
    assert where_ran(ctx, "start_cau_run") <= set(NODES)
    await asyncio.wait_for(cau.stop(ctx), GUARD)
    await ctx.close()


def test_the_previews_say_where_the_run_runs(tmp_path):
    _, with_coordinator = lab_ctx(tmp_path / "a", coordinator=True)
    preview = cau.plan_start(with_coordinator, cau.RunOptions.defaults()).preview()
    assert "# start_cau_run (CHANGES THE CLUSTER) on LAB-MGMT (CAU coordinator of LAB-STRETCH" in preview
    assert preview.count("-ClusterName 'LAB-STRETCH'") == 2  # the start and the watch
    assert "WARNING" not in preview
    assert "-ForceSelfUpdate refreshes the CAU plug-in on the computer running Invoke-CauRun (LAB-MGMT)" in preview
    _, on_a_node = lab_ctx(tmp_path / "b", coordinator=False)
    preview = cau.plan_start(on_a_node, cau.RunOptions.defaults()).preview()
    assert "# WARNING: no CAU coordinator is configured." in preview
    assert "computer account" in preview and "double hop" in preview and "[clusters.coordinator]" in preview
    assert "-ClusterName" not in preview.split("& {")[-1].splitlines()[-1]
    assert "WARNING: no CAU coordinator" in cau.form_note(on_a_node)
    assert "ForceSelfUpdate" in cau.form_note(on_a_node) and "LAB-MGMT" in cau.form_note(with_coordinator)


# ---------------------------------------------------------------------- preflight


def by_name(report: cau.PreflightReport, name: str) -> list[CheckResult]:
    return [c for c in report.checks if c.name == name]


async def test_without_a_coordinator_the_preflight_warns_with_the_risk_and_the_remedy(tmp_path):
    lab, ctx = lab_ctx(tmp_path, coordinator=False)
    report = await asyncio.wait_for(cau.preflight(ctx), GUARD)
    [row] = by_name(report, cau.COORDINATOR_CHECK)
    assert row.status == "warn" and report.checks[0] is row  # the first thing the report says
    assert "starts on a cluster node" in row.reason and "computer account" in row.reason
    assert "double hop" in row.reason
    assert row.remediation.startswith("configure a coordinator") and "[clusters.coordinator]" in row.remediation
    assert report.passed and report.summary() == "PASSED with 1 warning"  # a warning does not block
    assert not by_name(report, cau.REACH_CHECK)


async def test_the_coordinator_checks_pass_in_the_lab(tmp_path):
    lab, ctx = lab_ctx(tmp_path, coordinator=True)
    report = await asyncio.wait_for(cau.preflight(ctx), GUARD)
    assert report.passed, report.summary()
    [row] = by_name(report, cau.COORDINATOR_CHECK)
    assert row.status == "pass" and "LAB-MGMT, outside the cluster" in row.reason
    reach = by_name(report, cau.REACH_CHECK)
    assert [(c.node, c.status) for c in reach] == [(n, "pass") for n in NODES]
    assert where_ran(ctx, "get_coordinator_state") == where_ran(ctx, "test_cau_setup") == {COORDINATOR}
    assert isinstance(report.coordinator, model.CoordinatorState) and report.coordinator.cau_module


async def test_an_unreachable_coordinator_fails_the_preflight_with_a_sentence(tmp_path):
    lab, ctx = lab_ctx(tmp_path, coordinator=True)
    lab.state.faults.unreachable = [COORDINATOR]
    report = await asyncio.wait_for(cau.preflight(ctx, remoting=False), GUARD)
    [row] = by_name(report, cau.COORDINATOR_CHECK)
    assert row.status == "fail"
    assert row.reason.startswith("LAB-MGMT could not be read: host unreachable")
    assert "[clusters.coordinator]" in row.remediation
    assert not report.passed and report.summary().startswith("NOT PASSED: Coordinator: LAB-MGMT could not be read")
    setup = by_name(report, "Test-CauSetup")[0]  # routed to the coordinator too: it fails, never passes
    assert setup.status == "fail" and "host unreachable" in setup.reason
    assert where_ran(ctx, "test_cau_setup") == {COORDINATOR}


async def test_a_node_the_coordinator_cannot_reach_fails_by_name(tmp_path):
    lab, ctx = lab_ctx(tmp_path, coordinator=True)
    lab.state.faults.unreachable = ["LAB-B2"]
    report = await asyncio.wait_for(cau.preflight(ctx, remoting=False), GUARD)
    failing = [c for c in by_name(report, cau.REACH_CHECK) if not c.ok]
    assert [c.node for c in failing] == ["LAB-B2"]
    assert "LAB-MGMT cannot reach it over WinRM: WinRM cannot complete the operation" in failing[0].reason
    assert "delegat" in failing[0].remediation


def test_judge_coordinator_module_missing_and_a_member():
    state = model.CoordinatorState(computer_name="HCI-A1", cau_module=False,
                                   nodes=[model.CoordinatorReach(node=n, reachable=True) for n in NODES])
    checks = cau.judge_coordinator("HCI-A1.contoso.com", state, ["HCI-A1", "HCI-A2"])
    own = [c for c in checks if c.name == cau.COORDINATOR_CHECK]
    assert [c.status for c in own] == ["fail", "fail"]
    assert "a node of the cluster" in own[0].reason
    assert "ClusterAwareUpdating module is not installed" in own[1].reason
    assert "RSAT-Clustering-PowerShell" in own[1].remediation
    missing = [c for c in checks if c.name == cau.REACH_CHECK]
    assert [(c.node, c.status, c.reason.endswith("not tested")) for c in missing] == [
        ("HCI-A1", "fail", True), ("HCI-A2", "fail", True)]


# -------------------------------------------------------------- over WinRM


async def test_the_coordinator_over_the_winrm_endpoint(tmp_path):
    """The lab's coordinator endpoint, through pypsrp and hcitui's sessions: its preflight read, a run
    started, watched and stopped there; cluster reads refused there; unreachable with the node knob."""
    from hcitui.lab import Lab

    lab = Lab.create(4)
    fast(lab)
    ready(lab)
    served = wiring.serve_lab(lab, tmp_path)
    assert COORDINATOR in served.server.endpoints
    assert any(line.startswith(f"coordinator {COORDINATOR} https://127.0.0.1:") for line in served.lines())
    ctx = wiring._psrp_context(served.cluster, tmp_path, read_only=False, password=served.password, lab=True)
    ctx.poll = 0.05
    try:
        assert ctx.client.coordinator_name == COORDINATOR
        state = await ctx.client.invoke_coordinator(cau_ops.get_coordinator_state, {"node_names": NODES})
        assert state.computer_name == COORDINATOR and state.cau_module
        assert all(r.reachable for r in state.nodes)
        with pytest.raises(OperationFailed, match="LAB-MGMT is not a node of a failover cluster"):
            await ctx.client.coordinator.invoke(reads.get_cluster_nodes)
        run = await asyncio.wait_for(cau.start(ctx, cau.RunOptions.defaults(cau.WINDOWS_UPDATE)), GUARD)
        assert run.current_orchestrator == COORDINATOR
        ended = await asyncio.wait_for(cau.stop(ctx), GUARD)
        assert ended.state == model.CauRunState.RUN_NOT_IN_PROGRESS
        assert where_ran(ctx, "start_cau_run") == where_ran(ctx, "stop_cau_run") == {COORDINATOR}

        lab.state.faults.unreachable = [COORDINATOR]
        report = await asyncio.wait_for(cau.preflight(ctx, remoting=False), GUARD)
        row = by_name(report, cau.COORDINATOR_CHECK)[0]
        assert row.status == "fail" and row.reason.startswith("LAB-MGMT could not be read: ")
    finally:
        await ctx.close()
        served.stop()


def test_the_served_config_names_the_coordinator_and_parses(tmp_path):
    from hcitui.core.config import parse_config
    from hcitui.lab import Lab

    lab = Lab.create(4)
    served = wiring.serve_lab(lab, tmp_path)
    try:
        text = wiring.served_config_text(served)
        assert "[clusters.coordinator]" in text and f"host = '{COORDINATOR}'" in text
        cluster = parse_config(text).cluster(None)
        port = served.server.endpoints[COORDINATOR].port
        assert cluster.coordinator.endpoint(cluster.coordinator_transport()) == ("127.0.0.1", port)
    finally:
        served.stop()
    bare = wiring.serve_lab(lab, tmp_path, coordinator=False)
    try:
        assert COORDINATOR not in bare.server.endpoints
        assert "[clusters.coordinator]" not in wiring.served_config_text(bare)
    finally:
        bare.stop()


# ------------------------------------------------------------------ headless


@pytest.fixture
def in_process(monkeypatch, state_home):
    lab_in_process(monkeypatch, poll=0.05, prepare=fast)
    lab = wiring.open_lab(state_home, 4)
    ready(lab)
    lab.save()
    return state_home


def test_headless_preflight_with_and_without_the_lab_coordinator(in_process, capsys):
    cli.main(["--lab", "cau-preflight", "--tests-only"])
    out = capsys.readouterr().out
    assert "PASS  Coordinator   (cluster)        LAB-MGMT, outside the cluster" in out
    assert "PASS  Coord. reach  LAB-B2" in out
    cli.main(["--lab", "--lab-no-coordinator", "cau-preflight", "--tests-only"])
    out = capsys.readouterr().out
    assert "WARN  Coordinator   (cluster)        no CAU coordinator is configured" in out
    assert "fix: configure a coordinator" in out
    from hcitui.core.audit import AuditLog

    records = list(AuditLog(in_process / "clusters" / "LAB-STRETCH" / "audit.jsonl").records())  # changes and reads
    setups = [r["node"] for r in records if r["operation"] == "test_cau_setup"]
    assert setups[0] == COORDINATOR and setups[-1] in NODES
