"""Phase 8, post-upgrade: functional level, storage pools, VM configuration versions, Test-Cluster.

The three updates cannot be undone. Each needs its precondition (every node on 25398; the
functional level raised before the pools) and is done only when a read shows the new value.
Each update's last progress event says what that read showed: DONE with what changed, SKIPPED when
there was nothing to change ("nothing to update: 6 VMs already at version 12.0"), FAILED when not
everything changed. The screens and the command line show that event as the step's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hcitui.core import model
from hcitui.core.journal import StepStatus
from hcitui.ps import post as post_ops
from hcitui.ps import reads
from hcitui.remote import RemoteError
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.observe import observe, problem
from hcitui.workflow.steps import Plan, Refused, StepFailed

PHASE = 8
LEVEL, POOLS, VMS, VALIDATION = "functional-level", "storage-pools", "vm-versions", "test-cluster"


@dataclass
class PostState:
    """What phase 8 looks at: builds, the level, the pools, the VMs (each value or the error)."""

    builds: dict[str, Any] = field(default_factory=dict)  # node -> OsVersion | RemoteError
    nodes: Any = None  # list[ClusterNode] | RemoteError: each node's state in the cluster
    level: Any = None  # FunctionalLevel | RemoteError
    pools: Any = None  # list[StoragePool] | RemoteError
    vms: dict[str, Any] = field(default_factory=dict)  # node -> list[VmVersion] | RemoteError

    def behind(self) -> list[str]:
        """Nodes not (provably) on 25398."""
        return [n for n, v in self.builds.items()
                if not isinstance(v, model.OsVersion) or v.current_build_number != model.UPGRADE_TO_BUILD]

    def outdated_vms(self) -> list[model.VmVersion]:
        return [vm for vm in self.all_vms() if outdated(vm)]

    def current_vms(self) -> list[model.VmVersion]:
        """The VMs read that are already at their host's highest configuration version."""
        return [vm for vm in self.all_vms() if not outdated(vm)]

    def all_vms(self) -> list[model.VmVersion]:
        return [vm for rows in self.vms.values() if isinstance(rows, list) for vm in rows]

    def node_state(self, node: str) -> str:
        """The node's state in the cluster (Up, Paused, Down...), or "?" when it was not read."""
        if problem(self.nodes):
            return "?"
        found = next((n for n in self.nodes if n.name.lower() == node.lower()), None)
        return str(found.state) if found is not None else "not a member"


def outdated(vm: model.VmVersion) -> bool:
    return bool(vm.highest_supported) and vm.version != vm.highest_supported


def versions(vms: list[model.VmVersion]) -> str:
    """The configuration versions of ``vms``: "12.0", or "10.0, 12.0"."""
    return ", ".join(sorted({vm.version or "?" for vm in vms})) or "?"


async def read(ctx: Context, on_event: Any = None) -> PostState:
    async def extra(call: Any) -> Any:
        try:
            return await call.invoke(post_ops.get_vm_versions, timeout=ctx.cluster.timeouts.operation)
        except RemoteError as exc:
            return exc

    state = await observe(ctx, ("nodes", "pools"), ("os",), on_event=on_event, node_extra=extra)
    out = PostState(pools=state.pools, nodes=state.nodes)
    for node in ctx.client.node_names:
        out.builds[node] = state.node_part(node, "os")
        out.vms[node] = state.node_part(node, "extra")
    try:
        out.level = await ctx.client.invoke_cluster(post_ops.get_cluster_functional_level)
    except RemoteError as exc:
        out.level = exc
    return out


def level_blockers(state: PostState) -> list[str]:
    reasons = [f"{node} is not on {model.UPGRADE_TO_BUILD} "
               f"({v.build if isinstance(v, model.OsVersion) else problem(v) or 'not read'})"
               for node, v in state.builds.items() if node in state.behind()]
    if problem(state.level):
        reasons.append(f"functional level: {problem(state.level)}")
    return reasons


def pool_blockers(state: PostState) -> list[str]:
    reasons = []
    if problem(state.level):
        reasons.append(f"functional level: {problem(state.level)}")
    elif state.level.upgrade_version and state.level.cluster_functional_level < state.level.upgrade_version:
        reasons.append(f"the functional level is still {state.level.cluster_functional_level}: raise it first")
    if problem(state.pools):
        reasons.append(f"storage pools: {problem(state.pools)}")
    return reasons


def plan_level(ctx: Context) -> Plan:
    plan = Plan(f"Raise the cluster functional level of {ctx.name}: THIS CANNOT BE UNDONE")
    plan.notes.append("Refused unless every node is on build 25398.")
    plan.add(post_ops.update_cluster_functional_level, None, f"any node of {ctx.name}")
    return plan


def plan_pools(ctx: Context, pools: list[str]) -> Plan:
    plan = Plan(f"Upgrade the storage pools of {ctx.name} ({', '.join(pools) or 'none'}): THIS CANNOT BE UNDONE")
    plan.notes.append("Refused until the functional level is raised. One pool at a time, each verified.")
    for pool in pools:
        plan.add(post_ops.update_storage_pool, {"friendly_name": pool}, f"any node of {ctx.name}")
    return plan


def plan_vms(ctx: Context, vms: list[model.VmVersion]) -> Plan:
    plan = Plan(f"Update the configuration version of {len(vms)} VMs: THIS CANNOT BE UNDONE")
    plan.notes.append("Each VM must be shut down; a running VM is refused by the node and left as it is.")
    for vm in vms:
        plan.add(post_ops.update_vm_version, {"name": vm.name}, vm.host or "its host")
    return plan


def plan_all(ctx: Context, pools: list[str]) -> Plan:
    plan = Plan(f"Post-upgrade of {ctx.name}: functional level, storage pools, Test-Cluster")
    plan.notes += plan_level(ctx).notes + plan_pools(ctx, pools).notes
    plan.calls += plan_level(ctx).calls + plan_pools(ctx, pools).calls
    plan.add(post_ops.test_cluster, None, f"any node of {ctx.name}", "final validation (read-only)")
    return plan


def pool_names(state: PostState) -> list[str]:
    return [] if problem(state.pools) else [p.friendly_name for p in state.pools if not p.is_primordial]


async def update_level(ctx: Context, progress: Progress = no_progress) -> model.FunctionalLevel:
    state = await read(ctx)
    reasons = level_blockers(state)
    if reasons:
        raise Refused("functional level", reasons)
    if state.level.upgrade_version and state.level.cluster_functional_level >= state.level.upgrade_version:
        words = f"nothing to raise: the functional level is already {state.level.cluster_functional_level}"
        ctx.journal.set_step(PHASE, LEVEL, None, StepStatus.DONE, words, fresh=True)
        progress(ProgressEvent(ctx.name, words, 1.0, stage=Stage.SKIPPED))
        return state.level
    ctx.journal.set_step(PHASE, LEVEL, None, StepStatus.RUNNING, "Update-ClusterFunctionalLevel", fresh=True)
    progress(ProgressEvent(ctx.name, "raising the cluster functional level"))
    try:
        await ctx.client.invoke_cluster(post_ops.update_cluster_functional_level, timeout=600)
        after = await ctx.client.invoke_cluster(post_ops.get_cluster_functional_level)
    except RemoteError as exc:
        ctx.journal.set_step(PHASE, LEVEL, None, StepStatus.FAILED, exc.message)
        raise StepFailed("functional level", exc.message) from None
    before = state.level.cluster_functional_level
    if after.cluster_functional_level <= before:
        message = f"still {after.cluster_functional_level} after the update"
        ctx.journal.set_step(PHASE, LEVEL, None, StepStatus.FAILED, message)
        raise StepFailed("functional level", message)
    ctx.journal.set_step(PHASE, LEVEL, None, StepStatus.DONE, f"{before} -> {after.cluster_functional_level}")
    progress(ProgressEvent(ctx.name, f"functional level {after.cluster_functional_level} (was {before}), read back",
                           1.0, stage=Stage.DONE))
    return after


async def update_pools(ctx: Context, progress: Progress = no_progress) -> None:
    state = await read(ctx)
    reasons = pool_blockers(state)
    if reasons:
        raise Refused("storage pools", reasons)
    pools = pool_names(state)
    if not pools:
        words = "nothing to upgrade: the cluster has no storage pool besides the primordial ones"
        ctx.journal.set_step(PHASE, POOLS, None, StepStatus.DONE, words, fresh=True)
        progress(ProgressEvent(ctx.name, words, 1.0, stage=Stage.SKIPPED, done=0, total=0))
        return
    before = {p.friendly_name: p.version for p in state.pools}
    after: dict[str, str] = {}
    ctx.journal.set_step(PHASE, POOLS, None, StepStatus.RUNNING, f"0 of {len(pools)}", fresh=True)
    for index, pool in enumerate(pools, start=1):
        progress(ProgressEvent(ctx.name, f"Update-StoragePool {pool}", (index - 1) / max(1, len(pools)),
                               done=index - 1, total=len(pools)))
        try:
            await ctx.client.invoke_cluster(post_ops.update_storage_pool, {"friendly_name": pool}, timeout=600)
            check = await ctx.client.invoke_cluster(reads.get_storage_pools)
        except RemoteError as exc:
            ctx.journal.set_step(PHASE, POOLS, None, StepStatus.FAILED, f"{pool}: {exc.message}")
            raise StepFailed("storage pools", f"{pool}: {exc.message}") from None
        now = next((p.version for p in check if p.friendly_name == pool), None)
        if now is None or now == before.get(pool):
            message = f"{pool} still reports version {now}"
            ctx.journal.set_step(PHASE, POOLS, None, StepStatus.FAILED, message)
            raise StepFailed("storage pools", message)
        after[pool] = now
        ctx.journal.set_step(PHASE, POOLS, None, StepStatus.RUNNING, f"{index} of {len(pools)}",
                             data={pool: now})
    words = f"{len(pools)} pools upgraded to {', '.join(sorted(set(after.values())))}, each read back"
    ctx.journal.set_step(PHASE, POOLS, None, StepStatus.DONE, words)
    progress(ProgressEvent(ctx.name, words, 1.0, stage=Stage.DONE, done=len(pools), total=len(pools)))


async def update_vms(ctx: Context, progress: Progress = no_progress) -> list[str]:
    """Every VM whose version is below the host's highest; running ones are reported, not forced.
    Returns what was not updated, each with why ([] when every VM to update was updated)."""
    state = await read(ctx)
    if state.behind():
        raise Refused("VM versions", [f"{n} is not on {model.UPGRADE_TO_BUILD}" for n in state.behind()])
    unread = [f"{node}: {problem(rows)}" for node, rows in state.vms.items() if problem(rows)]
    current, todo = state.current_vms(), state.outdated_vms()
    if not todo and not unread:
        words = (f"nothing to update: {len(current)} VMs already at version {versions(current)}" if current
                 else "nothing to update: no VM on the nodes")
        ctx.journal.set_step(PHASE, VMS, None, StepStatus.DONE, words, fresh=True)
        progress(ProgressEvent(ctx.name, words, 1.0, stage=Stage.SKIPPED))
        return []
    skipped: list[str] = []
    updated: list[model.VmVersion] = []
    ctx.journal.set_step(PHASE, VMS, None, StepStatus.RUNNING, "updating", fresh=True)
    for vm in todo:
        if (vm.state or "").lower() != "off":
            skipped.append(f"{vm.name} is {vm.state}")
            continue
        try:
            after = await ctx.client.invoke(vm.host, post_ops.update_vm_version, {"name": vm.name})
        except RemoteError as exc:
            skipped.append(f"{vm.name}: {exc.message}")
            continue
        if after.version == vm.version:
            skipped.append(f"{vm.name} still at {after.version}")
            continue
        updated.append(after)
        progress(ProgressEvent(vm.host or ctx.name, f"{vm.name} {vm.version} -> {after.version}"))
    parts = [f"{len(updated)} of {len(todo)} VMs updated" + (f" to {versions(updated)}, each read back"
                                                            if updated else "")]
    if current:
        parts.append(f"{len(current)} already at version {versions(current)}")
    if skipped:
        parts.append(f"not updated: {'; '.join(skipped)}")
    if unread:
        parts.append(f"not read: {'; '.join(unread)}")
        skipped += [f"the VMs of {item}" for item in unread]
    words = "; ".join(parts)
    ctx.journal.set_step(PHASE, VMS, None, StepStatus.DONE if not skipped else StepStatus.FAILED, words)
    progress(ProgressEvent(ctx.name, words, 1.0, stage=Stage.FAILED if skipped else Stage.DONE))
    return skipped


async def validate(ctx: Context, progress: Progress = no_progress) -> model.ClusterValidation:
    progress(ProgressEvent(ctx.name, "Test-Cluster running (this takes a while)", stage=Stage.WAITING,
                           since=datetime.now(UTC)))
    ctx.journal.set_step(PHASE, VALIDATION, None, StepStatus.RUNNING, "Test-Cluster", fresh=True)
    try:
        report = await ctx.client.invoke_cluster(post_ops.test_cluster, timeout=post_ops.test_cluster.timeout)
    except RemoteError as exc:
        ctx.journal.set_step(PHASE, VALIDATION, None, StepStatus.FAILED, exc.message)
        raise StepFailed("Test-Cluster", exc.message) from None
    detail = f"{report.passed} passed, {report.warnings} warnings, {report.failed} failed; report {report.report_path}"
    ctx.journal.set_step(PHASE, VALIDATION, None, StepStatus.DONE if not report.failed else StepStatus.FAILED,
                         detail)
    progress(ProgressEvent(ctx.name, f"Test-Cluster: {detail}", 1.0,
                           stage=Stage.FAILED if report.failed else Stage.DONE))
    return report


async def run_all(ctx: Context, progress: Progress = no_progress) -> model.ClusterValidation:
    """The headless post-upgrade: level, pools, then the final validation."""
    await update_level(ctx, progress)
    await update_pools(ctx, progress)
    report = await validate(ctx, progress)
    if report.failed:
        raise StepFailed("Test-Cluster", f"{report.failed} tests failed; see {report.report_path} on the node")
    return report
