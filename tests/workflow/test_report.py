"""Reports for a change record (`hcitui report`) and the command log read back (workflow.history)."""

from __future__ import annotations

import json
from datetime import datetime

from hcitui import ps
from hcitui.cli import context as wiring
from hcitui.cli import main as cli
from hcitui.core.audit import AuditLog
from hcitui.core.journal import Journal, StepStatus
from hcitui.workflow import history, report
from hcitui.workflow.verify import run_verification

NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]


async def lab_run(root, *, read_only=False):
    """A lab with a verification run and one change (restart of LAB-B2) in its journal and audit log."""
    lab = wiring.open_lab(root, 4)
    ctx = wiring.context_for_lab(lab, read_only=read_only, state_root=root)
    await run_verification(ctx)
    ctx.journal.set_step(1, "restart", "LAB-B2", StepStatus.RUNNING)
    await ctx.client.invoke("LAB-B2", ps.get("set_registry_values"),
                            {"RefsEnableMetadataValidation": 0, "SkipSmallLocalAllocations": 0})
    ctx.journal.set_step(1, "restart", "LAB-B2", StepStatus.DONE, "restarted; back Up")
    await ctx.close()
    return lab, ctx


async def test_report_json_has_cluster_nodes_builds_steps_and_changes(state_home):
    lab, ctx = await lab_run(state_home)
    data = report.build(ctx.name, [report.NodeRef(n.name, n.site) for n in ctx.client.nodes],
                        report.read_journal(state_home, ctx.name), report.read_audit(state_home, ctx.name))
    assert data["cluster"] == "LAB-STRETCH"
    assert [n["name"] for n in data["nodes"]] == NODES
    a1 = data["nodes"][0]
    assert a1["site"] == "SiteA" and a1["build_before"].startswith("20349.") and a1["build_after"].startswith("20349.")
    phases = {p["phase"]: p for p in data["phases"]}
    assert phases[7]["name"] == "Verification" and phases[7]["steps"][0]["status"] == "failed"
    assert phases[1]["steps"] == [{"step": "restart", "node": "LAB-B2", "status": "done",
                                   "started": phases[1]["steps"][0]["started"],
                                   "finished": phases[1]["steps"][0]["finished"], "detail": "restarted; back Up"}]
    assert data["verification"]["passed"] is False and data["verification"]["checks"]
    assert data["operations"]["changes"] == 1 and data["operations"]["reads"] == 10
    change = data["changes"][0]
    assert change["operation"] == "set_registry_values" and change["outcome"] == "ok"
    assert change["target"] == "LAB-B2" and change["via"] == "LAB-B2"
    assert "-SkipSmallLocalAllocations 0" in change["powershell"]


async def test_report_markdown_reads_as_a_change_record(state_home):
    lab, ctx = await lab_run(state_home)
    data = report.build(ctx.name, [report.NodeRef(n.name, n.site) for n in ctx.client.nodes],
                        report.read_journal(state_home, ctx.name), report.read_audit(state_home, ctx.name))
    md = report.to_markdown(data)
    assert md.startswith("# hcitui report: LAB-STRETCH")
    for heading in ("## Nodes", "## Steps", "### Phase 1: Registry keys and restarts", "### Phase 7: Verification",
                    "## Last verification", "## Changes sent to the cluster"):
        assert heading in md
    assert "**NOT PASSED**" in md and "| LAB-B2 | LAB-B2 | set_registry_values | ok |" in md.replace("  ", " ")
    assert "| restart | LAB-B2 | DONE |" in md


async def test_report_cli_offline_writes_json_and_md(capsys, state_home, tmp_path, monkeypatch):
    await lab_run(state_home)

    def no_sessions(*args, **kwargs):
        raise AssertionError("a report must not open sessions or serve the lab")

    monkeypatch.setattr(wiring, "context_for_lab", no_sessions)
    monkeypatch.setattr(wiring, "context_for_config", no_sessions)
    monkeypatch.setattr(wiring, "serve_lab", no_sessions)
    journal_before = (state_home / "clusters" / "LAB-STRETCH" / "journal.json").read_bytes()

    assert cli.main(["--lab", "report", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["cluster"] == "LAB-STRETCH" and [n["name"] for n in payload["nodes"]] == NODES

    target = tmp_path / "change-4711.md"
    assert cli.main(["report", "--lab", "--output", str(target)]) == 0
    assert "written to" in capsys.readouterr().err
    assert target.read_text().startswith("# hcitui report: LAB-STRETCH")
    assert (state_home / "clusters" / "LAB-STRETCH" / "journal.json").read_bytes() == journal_before

    assert cli.main(["--lab", "report", "--output", str(tmp_path / "no" / "such" / "x.md")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_report_on_a_cluster_never_run_says_so(capsys, state_home):
    assert cli.main(["--lab", "report"]) == 0
    out = capsys.readouterr().out
    assert "No step has been run yet." in out and "Verification has not been run." in out
    assert not (state_home / "clusters").exists()  # nothing was created by reading


def test_report_with_config_needs_no_reachable_node(capsys, state_home, tmp_path):
    config = tmp_path / "hci.toml"
    config.write_text('[[clusters]]\nname = "HCI-X"\n[[clusters.nodes]]\nname = "HCI-X1"\nsite = "S1"\n'
                      '[clusters.transport]\nauth = "negotiate"\n')
    journal = Journal.open(state_home, "HCI-X")
    journal.set_step(0, "prerequisites", None, StepStatus.DONE, "PASSED")
    assert cli.main(["--config", str(config), "report", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["nodes"][0] == {"name": "HCI-X1", "site": "S1", "build_before": None, "first_seen": None,
                                   "build_after": None, "last_seen": None}
    assert payload["phases"][0]["steps"][0]["detail"] == "PASSED"


# -------------------------------------------------------------------- history


async def test_history_newest_first_filters_and_renders_powershell(state_home):
    lab, ctx = await lab_run(state_home)
    entries, total = history.load(ctx.audit)
    assert total == 11 and entries[0].operation == "set_registry_values"
    assert [e.index for e in entries] == sorted((e.index for e in entries), reverse=True)
    b2, _ = history.load(ctx.audit, node="lab-b2")
    assert {e.node for e in b2} == {"LAB-B2"}
    changes, n = history.load(ctx.audit, changes_only=True)
    assert n == 1 and changes[0].mutates
    script = changes[0].powershell()
    assert script.startswith("# set_registry_values (CHANGES THE CLUSTER) on LAB-B2")
    assert "-RefsEnableMetadataValidation 0" in script
    limited, total = history.load(ctx.audit, limit=3)
    assert len(limited) == 3 and total == 11


def test_history_renders_an_unknown_or_redacted_operation_without_failing(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.append({"time": "2026-01-01T00:00:00+00:00", "node": "N1", "operation": "gone_op", "mutates": True,
                  "parameters": {"X": 1}, "outcome": "ok", "duration_ms": 1.0})
    audit.append({"time": "2026-01-01T00:00:01+00:00", "node": "N1", "operation": "get_path_info", "mutates": False,
                  "parameters": {"Path": "<redacted>"}, "outcome": "ok", "duration_ms": 1.0})
    entries, _ = history.load(audit)
    assert "get_path_info" in entries[0].powershell() and "<redacted>" in entries[0].powershell()
    assert "not an operation this version of hcitui declares" in entries[1].powershell()


def test_history_writes_times_durations_and_cells_the_one_way(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.append({"time": "2026-01-01T10:00:00+00:00", "node": "N1", "operation": "get_path_info", "mutates": False,
                  "parameters": {"Path": "C:\\a|b"}, "outcome": "ok", "duration_ms": 12_345.0,
                  "error": "line one\nline two"})
    audit.append({"time": "not a time", "node": "N1", "operation": "get_path_info", "mutates": False,
                  "parameters": {}, "outcome": "ok", "duration_ms": 840.0})
    unreadable, entry = history.load(audit)[0]
    assert entry.duration_text() == "12.3 s" and unreadable.duration_text() == "840 ms"
    local = datetime.fromisoformat(entry.time).astimezone()
    assert entry.local_time() == local.strftime("%H:%M:%S")
    assert entry.local_time(date=True) == local.strftime("%Y-%m-%d %H:%M:%S")
    assert unreadable.local_time() == "not a time"
    table = history.to_markdown([entry], "C")
    assert "| 12.3 s | line one line two |" in table


async def test_history_export_writes_markdown_and_json(state_home, tmp_path):
    lab, ctx = await lab_run(state_home)
    entries, _ = history.load(ctx.audit)
    md_path, json_path = history.export(entries, tmp_path / "out", ctx.name, stem="audit-test")
    assert md_path.name == "audit-test.md" and "```powershell" in md_path.read_text()
    payload = json.loads(json_path.read_text())
    assert len(payload["operations"]) == 11 and payload["operations"][0]["operation"] == "set_registry_values"


async def test_builds_before_come_from_the_first_read_of_any_step(tmp_path):
    """The change record's 'build before' is the first build any step read, not the first verification."""
    from hcitui.cli import context as wiring
    from hcitui.workflow import prereq, verify

    lab = wiring.open_lab(tmp_path, 4)
    ctx = wiring.context_for_lab(lab, read_only=True, state_root=tmp_path)
    await prereq.run_prerequisites(ctx)  # reads every node's OS on 20349
    for node in lab.state.nodes.values():
        node.build, node.ubr = 25398, 1913
    await verify.run_verification(ctx)
    inventory = ctx.journal.state.inventory
    assert {n: (b.first_build, b.last_build) for n, b in inventory.items()} == {
        n: ("20349.2655", "25398.1913") for n in ("LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2")}


# --------------------------------------------------------------------- targets


async def test_a_drain_of_lab_a1_sent_through_lab_a2_names_lab_a1_as_target(state_home):
    lab = wiring.open_lab(state_home, 4)
    lab.state.timings.drain_step = 0.01
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=state_home)
    lab.state.nodes["LAB-A1"].skip_small_local_allocations = 0  # no live-migration trap: the drain succeeds
    await ctx.client.invoke("LAB-A2", ps.get("suspend_node"), {"Name": "LAB-A1"})
    await ctx.client.invoke("LAB-A2", ps.get("get_os_version"))
    await ctx.close()
    drain, read = list(ctx.audit.records())
    assert (drain["operation"], drain["target"], drain["via"], drain["node"]) == (
        "suspend_node", "LAB-A1", "LAB-A2", "LAB-A2")
    assert (read["target"], read["via"]) == ("LAB-A2", "LAB-A2")  # node-scoped: the node itself
    assert ps.get("get_cluster_nodes").target(None, "LAB-A2") is None  # cluster-wide: the cluster
    entry = history.load(ctx.audit, changes_only=True)[0][0]
    assert (entry.target, entry.via) == ("LAB-A1", "LAB-A2")
    assert [e.operation for e in history.load(ctx.audit, node="LAB-A1")[0]] == ["suspend_node"]
    data = report.build(ctx.name, [], report.read_journal(state_home, ctx.name),
                        report.read_audit(state_home, ctx.name))
    (change,) = data["changes"]
    assert (change["target"], change["via"], change["outcome"]) == ("LAB-A1", "LAB-A2", "ok")
    assert "| LAB-A1 | LAB-A2 | suspend_node | ok |" in report.to_markdown(data)
