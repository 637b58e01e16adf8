"""What each maintenance step will send, as PowerShell, before anything runs (preview and dry run)."""

from __future__ import annotations

from hcitui.ps import nodes as node_ops
from hcitui.ps import reads
from hcitui.ps import upgrade as upgrade_ops
from hcitui.workflow.context import Context
from hcitui.workflow.maintenance.common import other
from hcitui.workflow.steps import Plan


def plan_drain(ctx: Context, node: str) -> Plan:
    plan = Plan(f"Drain {node}: move its roles off and pause it")
    plan.notes.append("Refused unless every other node is Up, storage is quiet and no other node is out.")
    plan.add(node_ops.suspend_node, {"name": node}, other(ctx, node), "drain (waits until the roles have moved)")
    return plan


def plan_resume(ctx: Context, node: str) -> Plan:
    plan = Plan(f"Resume {node} and fail its roles back")
    plan.add(node_ops.resume_node, {"name": node}, other(ctx, node), "resume with failback")
    plan.notes.append("Then waits for repair storage jobs to finish and every virtual disk to be Healthy.")
    return plan


def plan_restart(ctx: Context, node: str) -> Plan:
    plan = Plan(f"Restart {node}: drain, restart, wait, resume, wait for storage")
    plan.notes += [
        "Refused unless every other node is Up, storage is quiet and no other node is out.",
        "After the restart: waits for WinRM, then for the cluster to show the node Paused; resumes it",
        "(unless you had paused it yourself), then waits for repair jobs to end and disks to be Healthy.",
    ]
    plan.add(node_ops.suspend_node, {"name": node}, other(ctx, node), "1. drain")
    plan.add(reads.get_os_version, None, node, "2. boot time before the restart (to prove it restarted)")
    plan.add(node_ops.restart_node, None, node, "3. restart in 5 seconds")
    plan.add(node_ops.resume_node, {"name": node}, other(ctx, node), "4. resume with failback, once Paused")
    return plan


def plan_upgrade(ctx: Context, node: str) -> Plan:
    plan = Plan(f"Upgrade {node} to 23H2 by hand: drain, setup from {ctx.cluster.staging_path}, wait, resume")
    plan.notes += [
        "Refused unless every other node is Up, storage is quiet, no other node is out, and setup.exe",
        "is staged on the node. Gated as the CAU upgrade: both registry values in force on every node (or an",
        "override with its reason, journalled), prerequisites passed recently, a re-read SR snapshot",
        "describing every live partnership (stretched), the ISO staged and verified on every node.",
        "A self-updating CAU role is disabled first so it cannot pause nodes.",
        "Setup runs in a scheduled task (SYSTEM) that outlives this session; while it installs, its",
        "task and recorded exit code are read: a setup that fails stops here, the node left drained.",
        "After setup restarts the node: waits for WinRM and build 25398, then for the cluster to show",
        "it Paused; resumes it (unless you had paused it), then waits for repair jobs and Healthy disks.",
    ]
    plan.add(upgrade_ops.disable_cau_self_updating, None, other(ctx, node), "0. only if the role self-updates")
    plan.add(node_ops.suspend_node, {"name": node}, other(ctx, node), "1. drain")
    plan.add(reads.get_os_version, None, node, "2. boot time and build before the upgrade")
    plan.add(upgrade_ops.start_os_upgrade, {"media_path": ctx.cluster.staging_path}, node,
             "3. setup in a scheduled task: upgrade in place, keep files; it restarts the node when installed")
    plan.add(upgrade_ops.get_os_upgrade_status, None, node, "   while it installs: is setup running, or did it fail")
    plan.add(node_ops.resume_node, {"name": node}, other(ctx, node), "4. resume with failback, once Paused")
    return plan


def plan_rolling(ctx: Context, nodes: list[str]) -> Plan:
    plan = Plan(f"Rolling restart of {len(nodes)} nodes, one at a time: {', '.join(nodes)}")
    plan.notes.append("Each node: drain, restart, wait, resume, wait for storage; stops at the first failure.")
    for node in nodes:
        plan.calls += plan_restart(ctx, node).calls
    return plan
