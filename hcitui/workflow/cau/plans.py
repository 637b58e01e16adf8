"""The plans of the CAU steps: the exact PowerShell each sends, where, and what it waits for, shown
before anything runs (the preview, and the headless dry run)."""

from __future__ import annotations

from typing import Any

from hcitui.ps import cau as cau_ops
from hcitui.ps import post as post_ops
from hcitui.ps import reads
from hcitui.workflow.cau.options import (
    PLUGIN_TITLE,
    ROLLING_UPGRADE,
    RunOptions,
    coordinator_notes,
    force_self_update_note,
)
from hcitui.workflow.context import Context
from hcitui.workflow.steps import Plan


def anywhere(ctx: Context) -> str:
    return f"any node of {ctx.name}"


def add_call(plan: Plan, ctx: Context, op: Any, params: Any, why: str) -> None:
    """A cluster-wide call, shown where it will run (the CAU coordinator or any node) and with the
    parameters it will be sent with (``ClusterName`` on the coordinator)."""
    plan.add(op, ctx.client.cluster_params(op, params), ctx.client.where(op), why)


def plan_preflight(ctx: Context, *, remoting: bool = True) -> Plan:
    nodes = ctx.client.node_names
    plan = Plan("CAU preflight: remoting on every node, Test-CauSetup, Test-Cluster, Invoke-CauScan"
                if remoting else "CAU preflight checks (read-only): Test-CauSetup, Test-Cluster, Invoke-CauScan")
    if remoting:
        plan.notes.append("Enabling remoting can restart WinRM on a node: hcitui reconnects and reads the node's "
                          "remoting state to prove it.")
        for node in nodes:
            plan.add(cau_ops.enable_remoting, None, node, "enable WinRM and PowerShell remoting")
    plan.notes.append("Test-Cluster takes a while: it is shown running, then where its report went.")
    for node in nodes:
        plan.add(cau_ops.get_remoting_state, None, node, "prove remoting (read-only)")
    coordinator = ctx.client.coordinator_name
    if coordinator is not None:
        plan.add(cau_ops.get_coordinator_state, {"node_names": nodes}, f"{coordinator} (CAU coordinator)",
                 "the coordinator: the ClusterAwareUpdating module, and WinRM to every node (read-only)")
    else:
        plan.notes += coordinator_notes(ctx)
    add_call(plan, ctx, cau_ops.test_cau_setup, None, "Test-CauSetup (read-only)")
    plan.add(post_ops.test_cluster, None, anywhere(ctx), "Test-Cluster (read-only, long)")
    plan.add(cau_ops.get_cau_scan, {"plugin": ROLLING_UPGRADE, "media_path": ctx.cluster.staging_path},
             anywhere(ctx), "Invoke-CauScan preview: every node must be offered the same update (read-only)")
    return plan


def plan_start(ctx: Context, options: RunOptions) -> Plan:
    plan = Plan(f"Start the CAU {PLUGIN_TITLE.get(options.plugin, options.plugin)} on {ctx.name}: "
                + options.describe())
    where = ctx.client.coordinator_name or "the node"
    plan.notes += coordinator_notes(ctx)
    plan.notes += [
        "Refused unless every node is Up, storage is quiet, no node is out of service, no run is in progress or",
        "left failed" + (", and the staged ISO is proved on every node." if options.plugin == ROLLING_UPGRADE
                         else "."),
    ]
    if options.plugin == ROLLING_UPGRADE:
        plan.notes += [
            "Gated too: both registry values in force on every node (or an override with its reason, journalled),",
            f"prerequisites passed within {ctx.cluster.prereq_max_age_hours:g} h, a re-read SR snapshot describing "
            "every live partnership",
            "(stretched clusters), and the ISO staged and verified by hcitui on every node.",
            options.level_sentence() + ".",
        ]
    plan.notes += [
        f"The run does not depend on hcitui: a scheduled task on {where} runs Invoke-CauRun, so closing hcitui",
        "or losing the SSH session does not stop it. hcitui watches it with Get-CauRun and reattaches when",
        "opened again. Nodes go one at a time: drain, install, restart, resume, wait for the repair jobs.",
        force_self_update_note(ctx),
    ]
    if options.plugin == ROLLING_UPGRADE:
        plan.notes.append(f"Setup runs from {ctx.cluster.staging_path} on each node (PathToSetupMedia).")
    add_call(plan, ctx, cau_ops.start_cau_run, options.params(ctx), "start the run (returns at once)")
    add_call(plan, ctx, reads.get_cau_run, None, f"then every {ctx.poll:g} s until the run ends: watch it")
    return plan


def plan_stop(ctx: Context) -> Plan:
    plan = Plan(f"Stop the CAU run on {ctx.name}")
    plan.notes.append("The run ends at its next safe point: a node being updated is finished and resumed first.")
    add_call(plan, ctx, cau_ops.stop_cau_run, None, "ask the run to stop (CancelPending)")
    add_call(plan, ctx, reads.get_cau_run, None, "then until the run has ended")
    return plan


def plan_recover(ctx: Context) -> Plan:
    plan = Plan(f"Recover the failed CAU run on {ctx.name} (-ForceRecovery)")
    plan.notes.append("Only for a run that failed and left the cluster locked (Get-CauRun says RunFailed); the "
                      "cluster's nodes are left as they are.")
    add_call(plan, ctx, cau_ops.recover_cau_run, None, "clear the stale failed run")
    return plan

