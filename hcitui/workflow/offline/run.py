"""The fast offline update as one journaled, resumable step: stage 0 and the plan before the window, then the
window's stages in order (workflow/offline/stages.py), then the closing checks.

The journal's record (phase 9, ``offline-update``) says which stage was reached and whether the window is open
(the virtual disks were taken offline). A run that finds the window open resumes: no precondition that needs the
cluster running is read again (it is stopped), and every stage reads where it stands before doing anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepRecord, StepStatus
from hcitui.ps import nodes as node_ops
from hcitui.ps import offline as offline_ops
from hcitui.ps import reads
from hcitui.remote import RemoteError
from hcitui.workflow.checks import ChecksReport
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.observe import problem
from hcitui.workflow.offline.checks import closing_checks
from hcitui.workflow.offline.common import (
    NODE_STEP,
    PHASE,
    SR_CONSEQUENCES,
    STAGES,
    STEP,
    WINDOW_STAGES,
    OfflineState,
    disks_not_ok,
    downtime_sentence,
    kbs,
    members_up,
    packages,
    read_state,
    stage_index,
    stage_title,
    unhealthy_pools,
)
from hcitui.workflow.offline.staged import plan_staging, stage_packages
from hcitui.workflow.offline.stages import STAGE_FUNCS
from hcitui.workflow.steps import Plan, Refused, StepFailed, target_nodes

STEP_WORDS = "fast offline update"
AGAIN = Remedy(action=Action.OFFLINE_UPDATE)


def record(ctx: Context) -> StepRecord | None:
    return ctx.journal.step(PHASE, STEP)


def window_open(ctx: Context) -> bool:
    """The window was opened (the disks taken offline) and the run did not end: a new run resumes it."""
    found = record(ctx)
    return (found is not None and found.status in (StepStatus.RUNNING, StepStatus.UNKNOWN, StepStatus.FAILED)
            and bool(found.data.get("window_open")))


def reached(ctx: Context) -> str | None:
    found = record(ctx)
    return found.data.get("stage") if found is not None else None


# ------------------------------------------------------------------ before the window


@dataclass
class Preflight:
    """What the plan stage read and judged: the refusal reasons (none: the window may open)."""

    state: OfflineState
    reasons: list[str]
    remedy: Remedy | None = None
    replicating: list[str] | None = None  # SR groups on a stretched cluster (the consequences apply)
    running_vms: list[str] | None = None


async def preflight(ctx: Context, *, accept_sr_downtime: bool = False) -> Preflight:
    """Seed 004 step 1, "plan your maintenance window": every node reachable and Up, storage quiet, no CAU run,
    no node out of service, and on a stretched cluster the replication consequences accepted. Reads only."""
    state = await read_state(ctx, ("members", "pools", "disks", "jobs", "sr_groups", "cau_run", "groups"))
    reasons: list[str] = []
    remedy = None
    for node, why in state.unreachable().items():
        reasons.append(f"{node} does not answer ({why}): every node must be reachable to be updated")
    if not problem(state.members):
        down = members_up(state, ctx.client.node_names)
        if down:
            reasons.append(f"not Up in the cluster: {', '.join(down)}; resume or repair them first")
    else:
        reasons.append(f"the cluster's nodes cannot be read: {problem(state.members)}")
    lock = ctx.journal.state.lock
    if lock is not None:
        reasons.append(f"{lock.node} is out of service ({lock.reason}); finish that first")
        remedy = Remedy(action=Action.NODE_RESUME, node=lock.node)
    if problem(state.jobs):
        reasons.append(f"storage jobs cannot be read: {problem(state.jobs)}")
    elif state.jobs:
        reasons.append(f"{len(state.jobs)} storage jobs run (" + ", ".join(
            f"{j.name} {j.percent_complete}%" for j in state.jobs) + "): wait until they end")
    disks = disks_not_ok(state)
    if disks is None:
        reasons.append(f"virtual disks cannot be read: {problem(state.disks)}")
    elif disks:
        reasons.append(f"virtual disks not Healthy: {', '.join(disks)}")
    pools = unhealthy_pools(state)
    if pools is None:
        reasons.append(f"storage pools cannot be read: {problem(state.pools)}")
    elif pools:
        reasons.append(f"storage pools not Healthy: {', '.join(pools)}")
    if problem(state.cau_run):
        reasons.append(f"the CAU run state cannot be read: {problem(state.cau_run)}")
    elif state.cau_run.state == model.CauRunState.RUN_IN_PROGRESS:
        reasons.append("a CAU run is in progress: let it end or stop it")
        remedy = remedy or Remedy(action=Action.CAU_STOP)
    replicating = None
    if ctx.stretched:
        if problem(state.sr_groups):
            reasons.append(f"Storage Replica groups cannot be read: {problem(state.sr_groups)}")
        else:
            replicating = [g.name for g in state.sr_groups]
            if replicating and not accept_sr_downtime:
                reasons.append(f"Storage Replica replicates {len(replicating)} groups between the sites and the "
                               "update stops both sites: accept it (--accept-sr-downtime, or the second typed "
                               "confirmation): " + SR_CONSEQUENCES)
    vms = None if problem(state.groups) else [g.name for g in state.groups if g.group_type == "VirtualMachine"
                                               and g.state == model.GroupState.ONLINE]
    return Preflight(state, reasons, remedy, replicating, vms)


def plan(ctx: Context) -> Plan:
    """Every call the update makes, in order, for the preview and the dry run."""
    nodes = list(ctx.client.node_names)
    every, anyone = f"each node: {', '.join(nodes)}", f"any node of {ctx.name}"
    result = Plan(f"Fast offline update of {ctx.name}: ALL WORKLOADS GO DOWN for the whole window")
    result.notes += [downtime_sentence(ctx)]
    wanted = packages(ctx)
    if not wanted:
        result.notes.append("No update_packages in the config: nothing to install; the update is refused.")
    else:
        result.notes.append("Packages, installed in this order: " + ", ".join(f"{p.kb} ({p.name})" for p in wanted)
                            + f"; staged to {ctx.cluster.update_staging_path} on every node.")
    if ctx.stretched:
        result.notes.append(SR_CONSEQUENCES)
    result.notes += ["Resumable: every stage reads where it stands first; run it again after an interruption.",
                     "UNCONFIRMED: the PackageState value InstallPending, Get-HotFix listing a package before the",
                     "restart, and whether VMs restart by themselves when the cluster starts (a closing check",
                     "warns about any VM that ran before and does not now)."]
    plan_staging(ctx, result, nodes)
    names = {"hot_fixes": kbs(ctx)}
    for read in (reads.get_cluster_nodes, reads.get_storage_jobs, reads.get_virtual_disks, reads.get_storage_pools,
                 reads.get_cau_run):
        result.add(read, None, anyone, "plan the window: " + read.summary)
    result.add(offline_ops.get_offline_node, names, every, "plan the window: each node reachable")
    result.add(offline_ops.stop_csv_resources, None, anyone, stage_title("disks-offline"))
    result.add(offline_ops.stop_cluster, None, anyone, stage_title("stop-cluster"))
    result.add(offline_ops.set_cluster_service_startup, {"startup_type": "Disabled", **names}, every,
               stage_title("disable-service"))
    for package in wanted:
        result.add(offline_ops.install_update_package, {"package_path": package.dest, "hot_fix_id": package.kb},
                   every, f"{stage_title('install')}: {package.kb}")
    result.add(node_ops.restart_node, None, every, stage_title("restart") + "; then each node read back")
    result.add(offline_ops.set_cluster_service_startup, {"startup_type": "Automatic", **names}, every,
               stage_title("enable-service"))
    result.add(offline_ops.start_cluster_service, names, every, stage_title("start-cluster"))
    result.add(offline_ops.start_csv_resources, None, anyone, stage_title("disks-online"))
    result.add(offline_ops.get_volumes, None, anyone, stage_title("monitor"))
    return result


# ------------------------------------------------------------------ the run


async def offline_update(ctx: Context, progress: Progress = no_progress, *,
                         accept_sr_downtime: bool = False) -> ChecksReport:
    """The ten steps of seed 004 (after stage 0, the packages staged) as one step; resumes an open window.
    Returns the closing checks (the step is done only when they pass; warnings allowed)."""
    nodes = target_nodes(ctx, None, STEP_WORDS)  # refused in a read-only session before anything is sent
    if window_open(ctx):
        stage = reached(ctx)
        progress(ProgressEvent(ctx.name, f"resuming the fast offline update after stage {stage}: reading where "
                                         "it stands", status=stage))
        ctx.journal.set_step(PHASE, STEP, None, StepStatus.RUNNING, f"resumed after {stage}")
    else:
        if not packages(ctx):
            raise Refused(STEP_WORDS, ["no update_packages in the config: name the cumulative update (and any "
                                       "servicing stack update) on this machine"])
        # The preconditions first, so a refusal leaves every node as it was (not even a package copied); then
        # again once the packages are staged, right before the window opens: staging takes time.
        checked = await preflight(ctx, accept_sr_downtime=accept_sr_downtime)
        if checked.reasons:
            raise Refused(STEP_WORDS, checked.reasons, remedy=checked.remedy)
        progress(ProgressEvent(ctx.name, f"0/{len(STAGES) - 1} {stage_title('stage')}", status="stage"))
        await stage_packages(ctx, nodes, progress)
        progress(ProgressEvent(ctx.name, f"1/{len(STAGES) - 1} {stage_title('plan')}", status="plan"))
        checked = await preflight(ctx, accept_sr_downtime=accept_sr_downtime)
        if checked.reasons:
            raise Refused(STEP_WORDS, [*checked.reasons, "the packages stay staged on the nodes; the cluster is as "
                                       "it was"], remedy=checked.remedy)
        ctx.journal.set_step(PHASE, STEP, None, StepStatus.RUNNING, "planned: preconditions passed", fresh=True,
                             data={"stage": "plan", "window_open": False, "kbs": kbs(ctx),
                                   "vms_before": checked.running_vms or [], "nodes": len(nodes),
                                   "sr_accepted": bool(checked.replicating)})
        for node in nodes:
            ctx.journal.set_step(PHASE, NODE_STEP, node, StepStatus.PENDING, "waiting for the window", fresh=True)
    try:
        for stage in WINDOW_STAGES:
            if stage_index(stage) <= stage_index(reached(ctx)):
                continue  # ended in an earlier run; its result is read again by the stages after it
            ctx.journal.set_step(PHASE, STEP, None, StepStatus.RUNNING, f"stage {stage}",
                                 data={"stage_running": stage, "window_open": True})
            outcome = await STAGE_FUNCS[stage](ctx, nodes, progress)
            ctx.journal.set_step(PHASE, STEP, None, StepStatus.RUNNING, f"{stage}: {outcome}", data={"stage": stage})
            progress(ProgressEvent(ctx.name, f"{stage_index(stage)}/{len(STAGES) - 1} {stage_title(stage)}: "
                                             f"{outcome}", stage=Stage.DONE, status=stage))
        data = record(ctx).data if record(ctx) is not None else {}
        report = await closing_checks(ctx, list(data.get("vms_before", [])))
    except (StepFailed, Refused, RemoteError) as exc:
        message = exc.sentence
        ctx.journal.set_step(PHASE, STEP, None, StepStatus.FAILED, message)
        raise StepFailed(STEP_WORDS, f"{message}; the cluster is left as it is (the window stays open: run the "
                                     "update again to go on from here)", remedy=AGAIN) from None
    words = report.summary()
    ctx.journal.set_step(PHASE, STEP, None, StepStatus.DONE if report.passed else StepStatus.FAILED,
                         f"closing checks {words}", data={"window_open": False, "stage": "monitor",
                                                           "checks": report.as_json()["checks"]})
    progress(ProgressEvent(ctx.name, f"closing checks {words}", 1.0,
                           stage=Stage.DONE if report.passed else Stage.FAILED, status="monitor"))
    return report


def journal_summary(ctx: Context) -> str:
    """The menu's line, from the journal alone."""
    found = record(ctx)
    if found is None:
        return "not run yet" + ("" if packages(ctx) else " (no update_packages in the config)")
    stage = found.data.get("stage")
    if found.status is StepStatus.RUNNING:
        return f"RUNNING: window open, at {found.data.get('stage_running') or stage}"
    if found.status is StepStatus.UNKNOWN:
        return f"interrupted at {found.data.get('stage_running') or stage}; re-verify or run again"
    if found.status is StepStatus.FAILED and found.data.get("window_open"):
        return f"FAILED at {found.data.get('stage_running') or stage}: WINDOW OPEN, run again to go on"
    return found.detail or found.status.value

