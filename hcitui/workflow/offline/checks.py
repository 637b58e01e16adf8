"""The fast offline update's closing checks: what must hold once the window has ended (one CheckResult each)."""

from __future__ import annotations

from datetime import UTC, datetime

from hcitui.core import model
from hcitui.workflow.checks import CheckResult, ChecksReport, Status
from hcitui.workflow.context import Context
from hcitui.workflow.observe import problem
from hcitui.workflow.offline.common import (
    OfflineState,
    csvs_not,
    disks_not_ok,
    kbs,
    members_up,
    read_state,
    unhealthy_pools,
)

PARTS = ("members", "csvs", "pools", "disks", "jobs", "volumes", "groups")


def _check(name: str, node: str | None, ok: bool | None, reason: str, *, warn: bool = False) -> CheckResult:
    status = Status.UNKNOWN if ok is None else Status.PASS if ok else (Status.WARN if warn else Status.FAIL)
    return CheckResult(name, node, status, reason)


def judge(ctx: Context, state: OfflineState, vms_before: list[str]) -> list[CheckResult]:
    nodes = ctx.client.node_names
    wanted = kbs(ctx)
    out: list[CheckResult] = []
    down = members_up(state, nodes)
    cluster_problem = problem(state.members)
    out.append(_check("Cluster running", None, None if cluster_problem else True,
                      f"the cluster cannot be read: {cluster_problem}" if cluster_problem
                      else "Get-ClusterNode answers: the cluster runs"))
    for node in nodes:
        read = state.node(node)
        out.append(_check("Node Up", node, None if cluster_problem else node not in down,
                          "not read" if cluster_problem else ("Up" if node not in down else "not Up in the cluster")))
        if read is None:
            why = problem(state.nodes.get(node)) or "not read"
            out += [_check(name, node, None, why) for name in ("Cluster service", "Updates installed")]
            continue
        service_ok = read.service.running and (read.service.start_type or "").lower() == "automatic"
        out.append(_check("Cluster service", node, service_ok,
                          f"ClusSvc {read.service.status}, start type {read.service.start_type}"))
        missing = [k for k in wanted if k not in read.hot_fixes]
        words = (f"{', '.join(wanted)} listed by Get-HotFix" if not missing else f"{', '.join(missing)} not listed")
        if read.pending_packages:
            words += f"; {read.pending_packages} packages still InstallPending"
        out.append(_check("Updates installed", node, not missing and not read.pending_packages,
                          f"{words}; build {read.build}"))
    builds = {n: v.build for n in nodes if (v := state.node(n)) is not None}
    same = len(set(builds.values())) == 1 and len(builds) == len(nodes)
    out.append(_check("Same revision", None, same if len(builds) == len(nodes) else None,
                      f"every node on {next(iter(builds.values()))}" if same
                      else ", ".join(f"{n} {b}" for n, b in builds.items()) or "not read"))
    pools = unhealthy_pools(state)
    out.append(_check("Pool healthy", None, None if pools is None else not pools,
                      problem(state.pools) or (", ".join(pools) if pools else "every storage pool Healthy")))
    disks = disks_not_ok(state)
    out.append(_check("Virtual disks", None, None if disks is None else not disks,
                      problem(state.disks) or (", ".join(disks) if disks else "every virtual disk Healthy, OK")))
    csvs = csvs_not(state, online=True)
    out.append(_check("CSVs online", None, None if csvs is None else not csvs,
                      problem(state.csvs) or (", ".join(csvs) if csvs else "every CSV resource Online")))
    jobs = None if problem(state.jobs) else len(state.jobs)
    out.append(_check("Storage jobs", None, None if jobs is None else not jobs,
                      problem(state.jobs) or (f"{jobs} storage jobs run" if jobs else "no storage job")))
    volumes = None if problem(state.volumes) else [v.file_system_label or "?" for v in state.volumes if not v.healthy]
    out.append(_check("Volumes healthy", None, None if volumes is None else not volumes,
                      problem(state.volumes) or (f"not Healthy: {', '.join(volumes)}" if volumes
                                                 else "every volume Healthy (Get-Volume)")))
    if vms_before:
        if problem(state.groups):
            out.append(_check("VMs running again", None, None, problem(state.groups) or "not read"))
        else:
            online = {g.name for g in state.groups if g.state == model.GroupState.ONLINE}
            stopped = [vm for vm in vms_before if vm not in online]
            out.append(_check("VMs running again", None, not stopped, (
                f"{len(vms_before)} VMs that ran before the window run again" if not stopped else
                f"ran before the window, not Online now: {', '.join(stopped)}; start them (Failover Cluster "
                "Manager, or Start-ClusterResource on each VM's resources as MSLab does after such a window)"),
                warn=True))
    return out


async def closing_checks(ctx: Context, vms_before: list[str]) -> ChecksReport:
    started = datetime.now(UTC)
    state = await read_state(ctx, PARTS)
    return ChecksReport(ctx.name, judge(ctx, state, vms_before), started, datetime.now(UTC))
