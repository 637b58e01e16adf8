"""Phase 7: verification. Reads everything, changes nothing, judges each check per node.

:func:`evaluate` is pure: observed state in, check results out. :func:`run_verification`
gathers the observations (per-node reads fanned out with live events, cluster-wide reads on
whichever node answers) and records the outcome in the journal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from hcitui.core import model
from hcitui.core.journal import StepRecord, StepStatus
from hcitui.core.units import human_bytes
from hcitui.ps import Operation
from hcitui.remote import NodeEvent
from hcitui.workflow import observe as observe_mod
from hcitui.workflow.checks import CheckResult, ChecksReport, Status
from hcitui.workflow.context import Context
from hcitui.workflow.observe import ClusterState, problem
from hcitui.workflow.resume import register
from hcitui.workflow.steps import Plan

PHASE = 7


# Check names, in the order the screen and the report show them.
NODE_UP = "Node Up"
NODE_BUILD = "OS build 25398"
NODE_CSV = "CSVs online"
SR_REPLICATING = "SR replicating"
NO_STORAGE_JOBS = "No storage jobs"
DISKS_HEALTHY = "Virtual disks Healthy"
CLOUD_MANAGEMENT = "Cloud Management online"
NODE_CHECKS = (NODE_UP, NODE_BUILD, NODE_CSV)
CLUSTER_CHECKS = (SR_REPLICATING, NO_STORAGE_JOBS, DISKS_HEALTHY, CLOUD_MANAGEMENT)

def _shorten(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def evaluate(observed: ClusterState, node_names: list[str], *, stretched: bool = True) -> list[CheckResult]:
    """Judge every phase-7 check. Anything that could not be read is ``unknown``, never ``pass``.
    A cluster that is not stretched (``ctx.stretched``) has no SR check: its SR groups are not read
    (:func:`observe_checks`), and a part not read is no check. SR groups read on such a cluster anyway are
    judged, an empty list a warning."""
    results: list[CheckResult] = []

    # ---- per node
    nodes_err = problem(observed.nodes)
    by_name = {} if nodes_err else {n.name.lower(): n for n in observed.nodes}
    csv_err = problem(observed.csv)
    for name in node_names:
        # Node Up
        if nodes_err:
            results.append(CheckResult(NODE_UP, name, Status.UNKNOWN, nodes_err))
        else:
            node = by_name.get(name.lower())
            if node is None:
                results.append(CheckResult(NODE_UP, name, Status.FAIL, "not a member of the cluster"))
            elif node.state == model.NodeState.UP:
                results.append(CheckResult(NODE_UP, name, Status.PASS, "Up"))
            elif node.state == model.NodeState.PAUSED:
                results.append(CheckResult(NODE_UP, name, Status.FAIL,
                                           "Paused: resume it (Resume-ClusterNode -Failback Immediate)"))
            else:
                results.append(CheckResult(NODE_UP, name, Status.FAIL, f"state {node.state}"))

        # OS build
        version = observed.node_part(name, "os")
        err = problem(version)
        if err:
            results.append(CheckResult(NODE_BUILD, name, Status.UNKNOWN, err))
        elif version.current_build_number == model.UPGRADE_TO_BUILD:
            results.append(CheckResult(NODE_BUILD, name, Status.PASS,
                                       f"{version.build} ({version.display_version or '23H2'})"))
        else:
            results.append(CheckResult(NODE_BUILD, name, Status.FAIL,
                                       f"{version.build} ({version.display_version or '?'}); "
                                       f"expected {model.UPGRADE_TO_BUILD}.x"))

        # CSVs online from this node
        if csv_err:
            results.append(CheckResult(NODE_CSV, name, Status.UNKNOWN, csv_err))
        else:
            rows = [r for r in observed.csv if r.node.lower() == name.lower()]
            down = [r.volume_friendly_name or r.name for r in rows if not r.is_available]
            if not rows:
                results.append(CheckResult(NODE_CSV, name, Status.FAIL,
                                           "no CSV state reported for this node (not in the cluster?)"))
            elif down:
                states = sorted({str(r.state_info) for r in rows if not r.is_available})
                results.append(CheckResult(NODE_CSV, name, Status.FAIL,
                                           f"{len(down)} of {len(rows)} {'/'.join(states)}: {_shorten(down)}"))
            else:
                results.append(CheckResult(NODE_CSV, name, Status.PASS, f"{len(rows)} volumes available"))

    # ---- cluster-wide
    err = problem(observed.sr_groups)
    if not stretched and observed.sr_groups is None:
        pass  # not stretched: Storage Replica does not apply
    elif err:
        results.append(CheckResult(SR_REPLICATING, None, Status.UNKNOWN, err))
    elif not observed.sr_groups:
        status = Status.FAIL if stretched else Status.WARN
        results.append(CheckResult(SR_REPLICATING, None, status, "no Storage Replica groups found"))
    else:
        bad = []
        for group in observed.sr_groups:
            for replica in group.replicas or [None]:
                state = replica.replication_status if replica else None
                if state not in model.REPLICATING_STATES:
                    remaining = f", {human_bytes(group.bytes_remaining)} left" if group.bytes_remaining else ""
                    bad.append(f"{group.name} {state or 'no replicas'}{remaining}")
        if bad:
            results.append(CheckResult(SR_REPLICATING, None, Status.FAIL, _shorten(bad, 2)))
        else:
            results.append(CheckResult(SR_REPLICATING, None, Status.PASS,
                                       f"{len(observed.sr_groups)} groups ContinuouslyReplicating"))

    err = problem(observed.jobs)
    if err:
        results.append(CheckResult(NO_STORAGE_JOBS, None, Status.UNKNOWN, err))
    else:
        active = [j for j in observed.jobs if j.job_state != model.StorageJobState.COMPLETED]
        if active:
            parts = [f"{j.name} {j.job_state} {int((j.progress or 0) * 100)}%" for j in active]
            results.append(CheckResult(NO_STORAGE_JOBS, None, Status.FAIL, _shorten(parts, 2)))
        else:
            results.append(CheckResult(NO_STORAGE_JOBS, None, Status.PASS, "none running"))

    err = problem(observed.disks)
    if err:
        results.append(CheckResult(DISKS_HEALTHY, None, Status.UNKNOWN, err))
    else:
        bad = [f"{d.friendly_name} {d.health_status}/{','.join(str(s) for s in d.operational_status) or '?'}"
               for d in observed.disks if d.health_status != model.HealthStatus.HEALTHY]
        if bad:
            results.append(CheckResult(DISKS_HEALTHY, None, Status.FAIL, _shorten(bad, 2)))
        elif not observed.disks:
            results.append(CheckResult(DISKS_HEALTHY, None, Status.FAIL, "no virtual disks reported"))
        else:
            results.append(CheckResult(DISKS_HEALTHY, None, Status.PASS, f"{len(observed.disks)} Healthy"))

    err = problem(observed.groups)
    if err:
        results.append(CheckResult(CLOUD_MANAGEMENT, None, Status.UNKNOWN, err))
    else:
        group = next((g for g in observed.groups if g.name.lower() == "cloud management"), None)
        if group is None:
            results.append(CheckResult(CLOUD_MANAGEMENT, None, Status.FAIL,
                                       "group missing: see Register-AzStackHCI -RepairRegistration"))
        elif group.state == model.GroupState.ONLINE:
            results.append(CheckResult(CLOUD_MANAGEMENT, None, Status.PASS, f"Online on {group.owner_node}"))
        else:
            results.append(CheckResult(CLOUD_MANAGEMENT, None, Status.FAIL, f"{group.state} on {group.owner_node}"))
    return results


CLUSTER_PARTS = ("nodes", "groups", "csv", "jobs", "disks", "sr_groups")
NODE_PARTS = ("os",)
CLUSTER_READS = {part: observe_mod.CLUSTER_PARTS[part] for part in CLUSTER_PARTS}
NODE_READS = [observe_mod.NODE_PARTS[part] for part in NODE_PARTS]
OPERATIONS = [*CLUSTER_READS.values(), *NODE_READS]


SR_PARTS = ("sr_groups", "sr_partnerships")


def cluster_parts(ctx: Context, parts: Iterable[str]) -> tuple[str, ...]:
    """``parts`` without the Storage Replica reads when the cluster is not stretched (``ctx.stretched``)."""
    return tuple(p for p in parts if ctx.stretched or p not in SR_PARTS)


async def observe_checks(ctx: Context, parts: Iterable[str], node_parts: Iterable[str], **kwargs: Any) -> ClusterState:
    """observe() for a checks step: the SR parts only on a stretched cluster. When this read shows the cluster
    stretched although the config maps no two sites (``ctx.note_read``), the SR parts are read after all."""
    wanted = tuple(parts)
    observed = await observe_mod.observe(ctx, cluster_parts(ctx, wanted), node_parts, **kwargs)
    missing = [p for p in wanted if p in SR_PARTS and getattr(observed, p) is None]
    if ctx.note_read(observed) and missing:
        more = await observe_mod.observe(ctx, missing)
        for part in missing:
            setattr(observed, part, getattr(more, part))
    return observed


def read_plan(ctx: Context, nodes: list[str] | None = None) -> Plan:
    """What verification reads, as PowerShell: per node in ``nodes``, or once for every node."""
    reads = [CLUSTER_READS[p] for p in cluster_parts(ctx, CLUSTER_PARTS)]
    return checks_plan(ctx, "Verification", reads, NODE_READS, nodes)


def checks_plan(ctx: Context, title: str, cluster_reads: Iterable[Operation], node_reads: Iterable[Operation],
                nodes: list[str] | None, extra: Iterable[tuple[Operation, dict[str, str]]] = ()) -> Plan:
    """A read-only plan: cluster-wide reads on any node, node reads (and ``extra`` (op, params)) per node."""
    plan = Plan(f"{title} reads on {ctx.name}: read-only, nothing is changed")
    for op in cluster_reads:
        if ctx.client.on_coordinator(op):  # a CAU read goes to the CAU coordinator (ClusterClient routes it)
            plan.add(op, ctx.client.cluster_params(op), ctx.client.where(op))
            continue
        plan.add(op, None, "any node (the first that answers)")
    where = nodes if nodes is not None else ["each node: " + ", ".join(ctx.client.node_names)]
    for node in where:
        for op, params in [*((op, None) for op in node_reads), *extra]:
            plan.add(op, params, node)
    return plan


async def run_verification(ctx: Context, on_event: Callable[[NodeEvent], None] | None = None) -> ChecksReport:
    """Read, judge, journal. Never raises for a node's or a read's failure: those become ``unknown``."""
    started = datetime.now(UTC)
    ctx.journal.set_step(PHASE, "verification", None, StepStatus.RUNNING)
    try:
        observed = await observe_checks(ctx, CLUSTER_PARTS, NODE_PARTS, on_event=on_event)
        checks = evaluate(observed, ctx.client.node_names, stretched=ctx.stretched)
    except BaseException:
        ctx.journal.set_step(PHASE, "verification", None, StepStatus.UNKNOWN, "interrupted")
        raise
    report = ChecksReport(ctx.name, checks, started, datetime.now(UTC), observed)
    ctx.journal.set_step(PHASE, "verification", None, StepStatus.DONE if report.passed else StepStatus.FAILED,
                         report.summary())
    ctx.journal.record_verification(report.as_json())
    return report


@register("verification")
async def _reverify_verification(ctx: Context, record: StepRecord) -> StepStatus:
    """Verification only reads: checking it again is running it again."""
    report = await run_verification(ctx)
    return StepStatus.DONE if report.passed else StepStatus.FAILED
