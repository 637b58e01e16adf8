"""What the fast offline update's parts share: its journal names, its stages, the packages, the reads."""

from __future__ import annotations

import ntpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hcitui.core import model
from hcitui.core.config import update_kb
from hcitui.core.journal import StepRecord
from hcitui.ps import offline as offline_ops
from hcitui.ps import reads
from hcitui.remote import NodeEvent, RemoteError
from hcitui.workflow import eta
from hcitui.workflow.context import Context
from hcitui.workflow.observe import problem

PHASE = 10  # the journal's "Fast offline update" (workflow/resume.py PHASES)
STEP = "offline-update"  # the whole run, cluster-wide: its data says which stage it reached
NODE_STEP = "offline-node"  # each node's part: packages installed, its boot time before the restart
COPY_STEP = "update-copy"  # "update-copy KB5048654" per node: the package's chunked copy (workflow/staging.py)


@dataclass(frozen=True)
class Stage:
    name: str  # the journal's and the events' word
    title: str  # what the operator reads
    seed: int | None  # the step of seed 004 it carries out (None: hcitui's own)


STAGES: tuple[Stage, ...] = (
    Stage("stage", "stage the update packages on every node (copy, SHA256 proof)", None),
    Stage("plan", "plan the window: every node reachable, storage quiet, no CAU run", 1),
    Stage("disks-offline", "take the virtual disks (CSVs) offline", 2),
    Stage("stop-cluster", "stop the cluster (Stop-Cluster): the pool goes offline", 3),
    Stage("disable-service", "set the cluster service to Disabled on every node", 4),
    Stage("install", "install the updates on every node at once", 5),
    Stage("restart", "restart every node at once and check each", 6),
    Stage("enable-service", "set the cluster service back to Automatic on every node", 7),
    Stage("start-cluster", "start the cluster; wait for every node Up and the pool Healthy", 8),
    Stage("disks-online", "bring the virtual disks (CSVs) back online", 9),
    Stage("monitor", "watch Get-VirtualDisk and Get-Volume until healthy; the closing checks", 10),
)
STAGE_NAMES = [s.name for s in STAGES]
WINDOW_STAGES = STAGE_NAMES[STAGE_NAMES.index("disks-offline"):]  # from here on the workloads are down


def stage_index(name: str | None) -> int:
    return STAGE_NAMES.index(name) if name in STAGE_NAMES else -1


def stage_title(name: str) -> str:
    return next((s.title for s in STAGES if s.name == name), name)


# ------------------------------------------------------------------ packages


@dataclass(frozen=True)
class Package:
    """One update package: on this machine, its KB, and where it is staged on every node."""

    source: Path
    kb: str
    dest: str

    @property
    def name(self) -> str:
        return self.source.name


def packages(ctx: Context) -> list[Package]:
    """The config's update packages, in install order, each with its staged path on the nodes."""
    folder = ctx.cluster.update_staging_path
    return [Package(Path(path), update_kb(Path(path).name) or "", ntpath.join(folder, Path(path).name))
            for path in ctx.cluster.update_packages]


def kbs(ctx: Context) -> list[str]:
    return [p.kb for p in packages(ctx)]


# ------------------------------------------------------------------ reads


@dataclass
class OfflineState:
    """What the update decides on: every node's own read (its cluster service, revision, boot, updates) and the
    cluster-wide reads, each a value or the RemoteError that prevented it (those fail while the cluster is down)."""

    nodes: dict[str, Any] = field(default_factory=dict)  # node -> OfflineNode | RemoteError
    members: Any = None  # list[ClusterNode] | RemoteError
    csvs: Any = None  # list[CsvResource] | RemoteError
    pools: Any = None
    disks: Any = None
    jobs: Any = None
    volumes: Any = None
    sr_groups: Any = None
    cau_run: Any = None
    groups: Any = None

    def node(self, name: str) -> model.OfflineNode | None:
        value = self.nodes.get(name)
        return value if isinstance(value, model.OfflineNode) else None

    def unreachable(self) -> dict[str, str]:
        return {n: problem(v) or "not read" for n, v in self.nodes.items() if not isinstance(v, model.OfflineNode)}

    def services(self, *, running: bool) -> list[str]:
        """The nodes whose cluster service is (not) running, as read."""
        return [n for n, v in self.nodes.items() if isinstance(v, model.OfflineNode) and v.service.running == running]

    def start_type(self, name: str) -> str | None:
        node = self.node(name)
        return node.service.start_type if node is not None else None


CLUSTER_READS = {"members": reads.get_cluster_nodes, "csvs": offline_ops.get_csv_resources,
                 "pools": reads.get_storage_pools, "disks": reads.get_virtual_disks, "jobs": reads.get_storage_jobs,
                 "volumes": offline_ops.get_volumes, "sr_groups": reads.get_sr_groups, "cau_run": reads.get_cau_run,
                 "groups": reads.get_cluster_groups}


async def read_state(ctx: Context, parts: Iterable[str] = (), *, nodes: Iterable[str] | None = None,
                     on_event: Callable[[NodeEvent], None] | None = None) -> OfflineState:
    """Every node's own read (always) and the cluster-wide ``parts`` (of :data:`CLUSTER_READS`). Never raises."""
    import asyncio

    state = OfflineState()
    timeout = ctx.cluster.timeouts.operation

    async def cluster_read(part: str) -> None:
        op = CLUSTER_READS[part]
        if part == "sr_groups" and not ctx.stretched:
            setattr(state, part, [])
            return
        try:
            setattr(state, part, await ctx.client.invoke_cluster(op, timeout=timeout))
        except RemoteError as exc:
            setattr(state, part, exc)

    async def node_reads() -> None:
        outcomes = await ctx.client.fan_out(offline_ops.get_offline_node, {"hot_fixes": kbs(ctx)}, nodes=nodes,
                                            on_event=on_event, timeout=timeout)
        for name, outcome in outcomes.items():
            state.nodes[name] = outcome.value if outcome.ok else outcome.error

    await asyncio.gather(node_reads(), *(cluster_read(p) for p in parts))
    return state


def members_up(state: OfflineState, nodes: list[str]) -> list[str]:
    """The nodes the cluster does not show Up (all of them when the cluster cannot be read)."""
    if problem(state.members):
        return list(nodes)
    up = {n.name.lower() for n in state.members if n.state == model.NodeState.UP}
    return [n for n in nodes if n.lower() not in up]


def unhealthy_pools(state: OfflineState) -> list[str] | None:
    if problem(state.pools):
        return None
    return [f"{p.friendly_name} {p.health_status}" for p in state.pools
            if str(p.health_status).lower() != "healthy"]


def disks_not_ok(state: OfflineState) -> list[str] | None:
    """Virtual disks not Healthy with an OK operational status; None when they could not be read."""
    if problem(state.disks):
        return None
    out = []
    for disk in state.disks:
        statuses = [str(s) for s in (disk.operational_status or [])]
        if str(disk.health_status).lower() != "healthy" or any(s.lower() != "ok" for s in statuses):
            out.append(f"{disk.friendly_name} {disk.health_status}/{', '.join(statuses) or '?'}")
    return out


def csvs_not(state: OfflineState, online: bool) -> list[str] | None:
    if problem(state.csvs):
        return None
    return [f"{c.name} {c.state}" for c in state.csvs if c.online != online]


# ------------------------------------------------------------------ the window, in words


def downtime_estimate(records: Iterable[StepRecord]) -> str:
    """How long the window took before (the journal's earlier runs of this update), or that it is unknown."""
    durations = eta.run_durations(records)
    if not durations:
        return "unknown (no earlier run of the fast offline update in the journal)"
    minutes = max(1, round(sorted(durations)[len(durations) // 2] / 60))
    return f"about {minutes} min (the median of {len(durations)} earlier run{'s' if len(durations) > 1 else ''})"


def downtime_sentence(ctx: Context, running_vms: int | None = None) -> str:
    vms = f" ({running_vms} running now)" if running_vms is not None else ""
    return (f"Every VM{vms} and every volume of {ctx.name} goes offline for the whole window: the virtual disks "
            f"are taken offline and the cluster is stopped on all {len(ctx.client.node_names)} nodes until every "
            f"node is updated and restarted. Downtime: "
            + downtime_estimate([r for r in [ctx.journal.step(PHASE, STEP)] if r is not None]) + ".")


SR_CONSEQUENCES = (
    "This cluster is stretched and Storage Replica replicates between its sites: BOTH SITES GO DOWN at once, "
    "so nothing replicates and nothing is served from either site during the window. Replication resumes when "
    "the cluster and its disks are back; a resynchronization may follow before the groups replicate "
    "continuously again (UNCONFIRMED: nothing public says whether a cluster-wide stop costs a block copy).")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
