"""The window's stages (seed 004 steps 2 to 10), each driven by what it reads: a stage whose result is already
there is skipped, so a run cut short anywhere (a lost session, a reboot of the machine running hcitui) goes on
where it stood. Each stage ends with the read that proves it, or raises StepFailed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from hcitui.core import model
from hcitui.core.journal import StepStatus
from hcitui.ps import nodes as node_ops
from hcitui.ps import offline as offline_ops
from hcitui.remote import RemoteError, Unreachable
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage
from hcitui.workflow.observe import problem
from hcitui.workflow.offline.common import (
    NODE_STEP,
    PHASE,
    STAGE_NAMES,
    STAGES,
    OfflineState,
    csvs_not,
    disks_not_ok,
    kbs,
    members_up,
    now_iso,
    packages,
    read_state,
    stage_title,
    unhealthy_pools,
)
from hcitui.workflow.steps import StepFailed

StageFn = Callable[[Context, list[str], Progress], Awaitable[str]]


_LAST: dict[int, str] = {}  # per context: the last cluster-wide line said (a wait repeats none)


def _say(ctx: Context, progress: Progress, stage: str, text: str, *, kind: Stage = Stage.WORKING,
         done: int | None = None, total: int | None = None, since: datetime | None = None) -> None:
    number = STAGE_NAMES.index(stage)
    if _LAST.get(id(ctx)) == f"{stage}{text}":
        return
    _LAST[id(ctx)] = f"{stage}{text}"
    progress(ProgressEvent(ctx.name, f"{number}/{len(STAGES) - 1} {stage_title(stage)}: {text}", stage=kind,
                           status=stage, done=done, total=total, since=since))


def _node(progress: Progress, node: str, stage: str, text: str, kind: Stage = Stage.WORKING,
          since: datetime | None = None) -> None:
    progress(ProgressEvent(node, text, stage=kind, status=stage, since=since))


def _fail(stage: str, message: str) -> StepFailed:
    return StepFailed(f"stage {STAGE_NAMES.index(stage)} ({stage})", message)


def _unreachable(state: OfflineState, stage: str) -> None:
    missing = state.unreachable()
    if missing:
        raise _fail(stage, "; ".join(f"{n} does not answer: {why}" for n, why in missing.items()))


async def _wait(ctx: Context, limit: float, stage: str, what: str, check: Callable[[], Awaitable[str | None]]) -> None:
    """Poll ``check`` (None: done; else what is still awaited, in words) until done or ``limit`` seconds pass."""
    deadline = time.monotonic() + limit
    while True:
        waiting = await check()
        if waiting is None:
            return
        if time.monotonic() > deadline:
            raise _fail(stage, f"{what} within {limit:g} s: {waiting}")
        await asyncio.sleep(ctx.poll)


# ------------------------------------------------------------------ 2 and 9: the virtual disks


async def disks_offline(ctx: Context, nodes: list[str], progress: Progress) -> str:
    stage = "disks-offline"
    state = await read_state(ctx, ("csvs",))
    if nodes and len(state.services(running=False)) == len(nodes):
        return "the cluster is already stopped (the disks with it)"
    if (left := csvs_not(state, online=False)) is None:
        raise _fail(stage, f"cannot read the CSVs: {problem(state.csvs)}")
    if not left:
        return "every CSV is already offline"
    _say(ctx, progress, stage, f"Stop-ClusterResource on {len(left)} CSVs")
    try:
        rows = await ctx.client.invoke_cluster(offline_ops.stop_csv_resources,
                                               timeout=offline_ops.stop_csv_resources.timeout)
    except RemoteError as exc:
        raise _fail(stage, exc.message) from None
    still = [f"{r.name} {r.state}" for r in rows if (r.state or "").lower() != "offline"]
    if still:
        raise _fail(stage, f"still not offline after Stop-ClusterResource: {', '.join(still)}")
    return f"{len(rows)} CSVs offline, read back"


async def disks_online(ctx: Context, nodes: list[str], progress: Progress) -> str:
    stage = "disks-online"
    state = await read_state(ctx, ("csvs",))
    if (left := csvs_not(state, online=True)) is None:
        raise _fail(stage, f"cannot read the CSVs: {problem(state.csvs)}")
    if not left:
        return "every CSV is online"
    _say(ctx, progress, stage, f"Start-ClusterResource on {len(left)} CSVs")
    try:
        rows = await ctx.client.invoke_cluster(offline_ops.start_csv_resources,
                                               timeout=offline_ops.start_csv_resources.timeout)
    except RemoteError as exc:
        raise _fail(stage, exc.message) from None
    still = [f"{r.name} {r.state}" for r in rows if not r.online]
    if still:
        raise _fail(stage, f"still not online after Start-ClusterResource: {', '.join(still)}")
    return f"{len(rows)} CSVs online, read back"


# ------------------------------------------------------------------ 3: stop the cluster


async def stop_cluster(ctx: Context, nodes: list[str], progress: Progress) -> str:
    stage = "stop-cluster"
    state = await read_state(ctx)
    _unreachable(state, stage)
    if not state.services(running=True):
        return f"the cluster service is stopped on all {len(nodes)} nodes"
    _say(ctx, progress, stage, "Stop-Cluster -Force")
    try:
        await ctx.client.invoke_cluster(offline_ops.stop_cluster, timeout=offline_ops.stop_cluster.timeout)
    except RemoteError as exc:
        raise _fail(stage, exc.message) from None
    state = await read_state(ctx)
    _unreachable(state, stage)
    running = state.services(running=True)
    if running:
        raise _fail(stage, f"the cluster service still runs on {', '.join(running)} after Stop-Cluster")
    for node in nodes:
        _node(progress, node, stage, "cluster service stopped", Stage.DONE)
    return f"cluster stopped: the cluster service is stopped on all {len(nodes)} nodes, read back"


# ------------------------------------------------------------------ 4 and 7: the service's start type


async def _startup(ctx: Context, nodes: list[str], progress: Progress, stage: str, wanted: str) -> str:
    state = await read_state(ctx)
    _unreachable(state, stage)
    todo = [n for n in nodes if (state.start_type(n) or "").lower() != wanted.lower()]
    if not todo:
        return f"already {wanted} on all {len(nodes)} nodes"
    _say(ctx, progress, stage, f"Set-Service -Name ClusSvc -StartupType {wanted} on {len(todo)} nodes",
         done=len(nodes) - len(todo), total=len(nodes))
    outcomes = await ctx.client.fan_out(offline_ops.set_cluster_service_startup,
                                        {"startup_type": wanted, "hot_fixes": kbs(ctx)}, nodes=todo)
    failures = []
    for node, outcome in outcomes.items():
        got = outcome.value.service.start_type if outcome.ok else None
        if not outcome.ok or (got or "").lower() != wanted.lower():
            failures.append(f"{node}: {outcome.error.message if not outcome.ok else f'start type {got}'}")
            _node(progress, node, stage, failures[-1], Stage.FAILED)
        else:
            _node(progress, node, stage, f"cluster service {wanted}, read back", Stage.DONE)
    if failures:
        raise _fail(stage, "; ".join(failures))
    return f"cluster service {wanted} on all {len(nodes)} nodes, read back"


async def disable_service(ctx: Context, nodes: list[str], progress: Progress) -> str:
    return await _startup(ctx, nodes, progress, "disable-service", model.SERVICE_DISABLED)


async def enable_service(ctx: Context, nodes: list[str], progress: Progress) -> str:
    return await _startup(ctx, nodes, progress, "enable-service", model.SERVICE_AUTOMATIC)


# ------------------------------------------------------------------ 5: install, every node at once


def _node_data(ctx: Context, node: str) -> dict[str, Any]:
    record = ctx.journal.step(PHASE, NODE_STEP, node)
    return dict(record.data) if record is not None else {}


def _save(ctx: Context, node: str, detail: str, status: StepStatus = StepStatus.RUNNING, **data: Any) -> None:
    ctx.journal.set_step(PHASE, NODE_STEP, node, status, detail, data=data or None)


async def install(ctx: Context, nodes: list[str], progress: Progress) -> str:
    stage = "install"
    state = await read_state(ctx)
    _unreachable(state, stage)
    wanted = packages(ctx)
    todo = []
    for node in nodes:
        seen = state.node(node)
        done = set(_node_data(ctx, node).get("installed", [])) | set(seen.hot_fixes if seen else [])
        if all(p.kb in done for p in wanted):
            _node(progress, node, stage, "updates already installed", Stage.SKIPPED)
        else:
            todo.append(node)
    if not todo:
        return f"the updates are installed on all {len(nodes)} nodes"
    _say(ctx, progress, stage, f"Add-WindowsPackage on {len(todo)} nodes at once", done=len(nodes) - len(todo),
         total=len(nodes))
    failures: dict[str, str] = {}

    async def one(node: str) -> None:
        installed = list(_node_data(ctx, node).get("installed", []))
        seen = state.node(node)
        for package in wanted:
            if package.kb in installed or (seen and package.kb in seen.hot_fixes):
                continue
            _node(progress, node, stage, f"installing {package.kb} ({package.name})",
                  since=datetime.now(UTC))
            _save(ctx, node, f"installing {package.kb}")
            try:
                result = await ctx.client.invoke(node, offline_ops.install_update_package,
                                                 {"package_path": package.dest, "hot_fix_id": package.kb},
                                                 timeout=offline_ops.install_update_package.timeout)
            except RemoteError as exc:
                failures[node] = f"{package.kb}: {exc.message}"
                _save(ctx, node, failures[node], StepStatus.FAILED)
                _node(progress, node, stage, failures[node], Stage.FAILED)
                return
            installed.append(package.kb)
            words = "restart needed" if result.restart_needed else "no restart needed"
            _save(ctx, node, f"{package.kb} installed ({words}, {result.pending_packages} pending)",
                  installed=installed)
            _node(progress, node, stage, f"{package.kb} installed: {words}", Stage.DONE)

    await asyncio.gather(*(one(node) for node in todo))
    if failures:
        raise _fail(stage, "; ".join(f"{n}: {why}" for n, why in failures.items()))
    return f"the updates are installed on all {len(nodes)} nodes (each install read back)"


# ------------------------------------------------------------------ 6: restart, every node at once


def _boot(value: Any) -> str | None:
    if isinstance(value, model.OfflineNode) and value.last_boot_up_time is not None:
        return value.last_boot_up_time.isoformat()
    return None


def _in_force(ctx: Context, node: model.OfflineNode) -> bool:
    return all(k in node.hot_fixes for k in kbs(ctx)) and not node.pending_packages


async def restart(ctx: Context, nodes: list[str], progress: Progress) -> str:
    stage = "restart"
    state = await read_state(ctx)
    # A node that does not answer once hcitui noted its boot time to restart it is restarting (a run resumed
    # mid-restart: the restart may have gone out just before the interruption, unrecorded).
    gone = state.unreachable()
    restarting = {n for n in gone if _node_data(ctx, n).get("boot_before")}
    lost = {n: why for n, why in gone.items() if n not in restarting}
    if lost:
        raise _fail(stage, "; ".join(f"{n} does not answer: {why}" for n, why in lost.items()))
    todo = []
    for node in nodes:
        data, seen = _node_data(ctx, node), state.node(node)
        if node in restarting:
            todo.append(node)
            continue
        under_way = bool(data.get("boot_before")) and _boot(seen) == data["boot_before"]  # not back yet
        if seen is not None and _in_force(ctx, seen) and not under_way:
            _node(progress, node, stage, f"restarted: build {seen.build}, updates in force", Stage.SKIPPED)
        else:
            todo.append(node)
    if not todo:
        return "every node restarted on its updates"

    async def take_down(node: str) -> None:
        data = _node_data(ctx, node)
        if not data.get("boot_before"):
            _save(ctx, node, "restart: starting", boot_before=_boot(state.node(node)), restart_sent=False)
        if not _node_data(ctx, node).get("restart_sent"):
            try:
                await ctx.client.invoke(node, node_ops.restart_node, timeout=ctx.cluster.timeouts.operation)
            except Unreachable:
                pass  # the restart dropped the connection as it began: the boot time will tell
            except RemoteError as exc:
                if "already been scheduled" not in exc.message.lower():
                    raise _fail(stage, f"{node}: {exc.message}") from None
            _save(ctx, node, "restart sent; waiting for WinRM", restart_sent=True, sent_at=now_iso())
        _node(progress, node, stage, "restarting: waiting for WinRM", Stage.WAITING, since=datetime.now(UTC))

    _say(ctx, progress, stage, f"restarting {len(todo)} nodes at once", done=0, total=len(todo))
    await asyncio.gather(*(take_down(node) for node in todo))
    back: dict[str, model.OfflineNode] = {}

    async def all_back() -> str | None:
        now = await read_state(ctx, nodes=[n for n in todo if n not in back])
        for node, value in now.nodes.items():
            if isinstance(value, model.OfflineNode) and _boot(value) != _node_data(ctx, node).get("boot_before"):
                back[node] = value
                _node(progress, node, stage, f"back on WinRM: build {value.build}", Stage.WORKING)
        _say(ctx, progress, stage, f"{len(back)} of {len(todo)} nodes back", kind=Stage.WAITING, done=len(back),
             total=len(todo))
        left = [n for n in todo if n not in back]
        return f"{', '.join(left)} not back" if left else None

    await _wait(ctx, ctx.cluster.timeouts.reboot, stage, "the nodes did not come back", all_back)
    failures = []
    for node in todo:
        value = back[node]
        missing = [k for k in kbs(ctx) if k not in value.hot_fixes]
        if missing or value.pending_packages:
            why = (f"{', '.join(missing)} not listed by Get-HotFix" if missing else "") + \
                  (f"{'; ' if missing else ''}{value.pending_packages} packages still pending"
                   if value.pending_packages else "")
            failures.append(f"{node}: after its restart, {why}")
            _save(ctx, node, failures[-1], StepStatus.FAILED)
            _node(progress, node, stage, failures[-1], Stage.FAILED)
            continue
        _save(ctx, node, f"restarted on build {value.build}; updates in force", StepStatus.DONE)
        _node(progress, node, stage, f"restarted: build {value.build}, updates in force", Stage.DONE)
    if failures:
        raise _fail(stage, "; ".join(failures))
    return f"{len(todo)} nodes restarted, each on its updates"


# ------------------------------------------------------------------ 8: start the cluster


async def start_cluster(ctx: Context, nodes: list[str], progress: Progress) -> str:
    stage = "start-cluster"
    state = await read_state(ctx, ("members",))
    _unreachable(state, stage)
    todo = state.services(running=False)
    if todo:
        _say(ctx, progress, stage, f"starting the cluster service on {len(todo)} nodes", done=0, total=len(nodes))
        outcomes = await ctx.client.fan_out(offline_ops.start_cluster_service, {"hot_fixes": kbs(ctx)}, nodes=todo)
        failed = [f"{n}: {o.error.message}" for n, o in outcomes.items() if not o.ok]
        if failed:
            raise _fail(stage, "; ".join(failed))

    async def members() -> str | None:
        now = await read_state(ctx, ("members",))
        out = members_up(now, nodes)
        _say(ctx, progress, stage, f"{len(nodes) - len(out)} of {len(nodes)} nodes Up", kind=Stage.WAITING,
             done=len(nodes) - len(out), total=len(nodes))
        return f"not Up: {', '.join(out)}" if out else None

    await _wait(ctx, ctx.cluster.timeouts.reboot, stage, "the nodes did not all join the cluster", members)

    async def pool() -> str | None:
        now = await read_state(ctx, ("pools",))
        bad = unhealthy_pools(now)
        if bad is None:
            return f"storage pools: {problem(now.pools)}"
        if bad:
            _say(ctx, progress, stage, f"waiting for the pool: {', '.join(bad)}", kind=Stage.WAITING)
        return ", ".join(bad) or None

    await _wait(ctx, ctx.cluster.timeouts.storage_sync, stage, "the storage pool did not become Healthy", pool)
    return f"cluster started: all {len(nodes)} nodes Up, the pool Healthy"


# ------------------------------------------------------------------ 10: watch the disks and volumes


async def monitor(ctx: Context, nodes: list[str], progress: Progress) -> str:
    stage = "monitor"

    async def healthy() -> str | None:
        now = await read_state(ctx, ("disks", "volumes", "jobs"))
        disks = disks_not_ok(now)
        volumes = None if problem(now.volumes) else [v.file_system_label or "?" for v in now.volumes if not v.healthy]
        jobs = None if problem(now.jobs) else len(now.jobs)
        parts = []
        if disks is None or disks:
            parts.append(f"virtual disks: {problem(now.disks) or ', '.join(disks or [])}")
        if volumes is None or volumes:
            parts.append(f"volumes: {problem(now.volumes) or ', '.join(volumes or [])}")
        if jobs is None or jobs:
            parts.append(f"storage jobs: {problem(now.jobs) or jobs}")
        if parts:
            _say(ctx, progress, stage, "; ".join(parts), kind=Stage.WAITING)
        return "; ".join(parts) or None

    await _wait(ctx, ctx.cluster.timeouts.storage_sync, stage, "storage did not settle", healthy)
    return "every virtual disk Healthy/OK, every volume Healthy, no storage job"


STAGE_FUNCS: dict[str, StageFn] = {
    "disks-offline": disks_offline, "stop-cluster": stop_cluster, "disable-service": disable_service,
    "install": install, "restart": restart, "enable-service": enable_service, "start-cluster": start_cluster,
    "disks-online": disks_online, "monitor": monitor,
}
