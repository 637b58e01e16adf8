"""The gates on the OS upgrade: what the earlier phases must have left before a node is upgraded.

Both ways of upgrading (the CAU rolling upgrade, and the manual upgrade of a node) are refused unless:

- Registry: RefsEnableMetadataValidation = 0 and SkipSmallLocalAllocations = 0 are *effective* on every
  node (set, and the node restarted since: the ReFS and live-migration traps), or the operator overrides
  this gate with a typed reason, which the journal keeps;
- Prerequisites: the phase 0 checks ran and passed (warnings allowed) within ``prereq_max_age_hours``;
- SR snapshot, on a stretched cluster only (``ctx.stretched``; no such gate otherwise): a re-read snapshot
  exists and describes every partnership a fresh Get-SRPartnership read shows (partnerships removed since
  are allowed: the snapshot recreates them);
- ISO staged: every node's staging was verified by hcitui, and a fresh read of its folder still shows
  setup.exe with the counts recorded.

Each gate is a pure function (interlock style): what was read and what the journal says in, the reasons
to refuse out, each a sentence naming what to do in words (and the headless command). Each gate has its
:class:`~hcitui.core.errors.Remedy`, which each front end renders (a screen and a key on the console); no
key or menu number is written here. A read that failed refuses (fails closed). The monthly Windows Update
run is no OS upgrade and is not gated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepRecord, StepStatus, current_operator, local_time
from hcitui.ps import iso as iso_ops
from hcitui.remote import RemoteError
from hcitui.workflow import prereq, registry, sr, staging
from hcitui.workflow.context import Context
from hcitui.workflow.observe import observe, problem

REGISTRY, PREREQ, SR_SNAPSHOT, ISO = "Registry", "Prerequisites", "SR snapshot", "ISO staged"
GATE_NAMES = (REGISTRY, PREREQ, SR_SNAPSHOT, ISO)
OVERRIDE_PHASE, OVERRIDE_STEP = 5, "registry-override"

# Each gate's remedy in words (with the headless command), for its check row.
REMEDY = {
    REGISTRY: ("set both values (hcitui registry), then restart each node (hcitui rolling-restart); or override "
               "this gate with a typed reason when the upgrade is refused by it alone (headless "
               "--override-registry \"REASON\")"),
    PREREQ: "run the prerequisites (hcitui prereq) and fix what fails",
    SR_SNAPSHOT: "take the SR snapshot (hcitui sr-snapshot), which re-reads it",
    ISO: "stage and verify the ISO on every node (hcitui iso-stage)",
}
# What a front end offers for a closed gate (a key on its screen, a headless command); a gate without one
# is offered in words.
ACTION = {REGISTRY: Action.REGISTRY_SET, SR_SNAPSHOT: Action.SR_SNAPSHOT, ISO: Action.ISO_STAGE}


@dataclass
class GateState:
    """What the gates judge: the reads (a RemoteError where one failed) and the journal's records."""

    nodes: list[str]
    registry: registry.RegistryReport | RemoteError | None = None
    prereq: StepRecord | None = None
    max_age_hours: float = 24.0
    stretched: bool = False
    snapshot: sr.SRSnapshot | sr.SnapshotError | None = None
    sr_groups: list[model.SRGroup] | RemoteError | None = None
    sr_partnerships: list[model.SRPartnership] | RemoteError | None = None
    staging: dict[str, model.StagingInfo | RemoteError] = field(default_factory=dict)
    stage_records: dict[str, StepRecord | None] = field(default_factory=dict)
    staging_path: str = ""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Gate:
    """One gate judged: its reasons to refuse (empty: open), its remedy, and an override if one applies."""

    name: str
    reasons: list[str]
    remedy: str
    overridden: str | None = None  # the operator's typed reason, when the gate was overridden

    @property
    def ok(self) -> bool:
        return not self.reasons or self.overridden is not None

    @property
    def next_step(self) -> Remedy:
        """The gate's remedy for a refusal to carry: its action when hcitui has one, else its words."""
        action = ACTION.get(self.name)
        return Remedy(action=action) if action is not None else Remedy(self.remedy)

    def sentence(self) -> str:
        if not self.reasons:
            return "open"
        if self.overridden is not None:
            return f"OVERRIDDEN ({self.overridden}): " + "; ".join(self.reasons)
        return "; ".join(self.reasons)


# ----------------------------------------------------------------------- pure


def registry_reasons(report: registry.RegistryReport | RemoteError | None, nodes: list[str]) -> list[str]:
    """Both values effective (set, and the node restarted since) on every node. Fails closed."""
    if report is None or isinstance(report, RemoteError):
        return [f"the registry values could not be read ({problem(report) or 'not read'}): read them again "
                "and try again"]

    def restart(node: str) -> str:
        return f"restart {node} (hcitui restart --node {node})"

    out = []
    for node in nodes:
        row = report.rows.get(node)
        effect = row.effect if row is not None else registry.Effect.UNREADABLE
        if effect is registry.Effect.EFFECTIVE:
            continue
        if effect is registry.Effect.NOT_SET:
            out.append(f"{node}: the registry values RefsEnableMetadataValidation and SkipSmallLocalAllocations are "
                       "not both 0: set them (hcitui registry), then " + restart(node))
        elif effect is registry.Effect.PENDING:
            out.append(f"{node}: the registry values are set but {node} has not restarted since, so they are not "
                       "in force: " + restart(node))
        elif effect is registry.Effect.UNKNOWN:
            out.append(f"{node}: the registry values are set but hcitui did not record when, so it cannot tell "
                       "whether they are in force: set them with hcitui (hcitui registry), which records it, "
                       "then " + restart(node))
        else:
            why = row.error if row is not None and row.error else "not read"
            out.append(f"{node}: the registry values could not be read ({why}): make it answer and read them "
                       "again")
    return out


def prereq_reasons(record: StepRecord | None, now: datetime, max_age_hours: float) -> list[str]:
    """The prerequisites ran, passed (warnings allowed) and are no older than ``max_age_hours``."""
    run = "run them (hcitui prereq)"
    if record is None:
        return [f"the prerequisites have not been run: {run}"]
    if record.status is StepStatus.RUNNING:
        return [f"the prerequisites are running: wait for them, or {run}"]
    if record.status is not StepStatus.DONE:
        return [f"the prerequisites did not pass ({record.detail or record.status.value}): fix what fails and "
                f"{run}"]
    try:
        finished = datetime.fromisoformat(record.finished or "")
    except ValueError:
        return [f"the prerequisites' time is not recorded: {run}"]
    if finished.tzinfo is None:
        finished = finished.replace(tzinfo=UTC)
    age = now - finished
    if age > timedelta(hours=max_age_hours):
        hours = age.total_seconds() / 3600
        return [f"the prerequisites passed {hours:.1f} h ago, more than prereq_max_age_hours ({max_age_hours:g} h): "
                f"{run} again"]
    return []


def sr_reasons(stretched: bool, snapshot: sr.SRSnapshot | sr.SnapshotError | None,
               groups: list[model.SRGroup] | RemoteError | None,
               partnerships: list[model.SRPartnership] | RemoteError | None) -> list[str]:
    """On a stretched cluster: a re-read snapshot describing every live partnership (fresh read). Fails closed."""
    if not stretched:
        return []
    take = "take a new snapshot (hcitui sr-snapshot)"
    if snapshot is None:
        return [f"no Storage Replica snapshot has been taken: {take}"]
    if isinstance(snapshot, sr.SnapshotError):
        return [f"{snapshot.sentence}" + ("" if "hcitui sr-snapshot" in snapshot.sentence else f" ({take})")]
    reasons = []
    for label, value in (("Storage Replica groups", groups), ("Storage Replica partnerships", partnerships)):
        if value is None or isinstance(value, RemoteError):
            reasons.append(f"{label} could not be read ({problem(value) or 'not read'}), so the snapshot cannot "
                           "be compared with the cluster: make the nodes answer and try again")
    if reasons:
        return reasons
    assert isinstance(groups, list) and isinstance(partnerships, list)
    taken = snapshot.taken_at.astimezone().strftime("%Y-%m-%d %H:%M")
    for difference in sr.diff(snapshot, groups, partnerships):
        if difference.kind == "missing":
            continue  # removed since the snapshot (the volume-issue path): the snapshot recreates it
        if difference.kind == "extra":
            reasons.append(f"partnership {difference.partnership} is not in the snapshot taken {taken}: {take}")
        else:
            reasons.append(f"{difference.sentence}: the snapshot taken {taken} is out of date: {take}")
    return reasons


def iso_reasons(staging_now: dict[str, model.StagingInfo | RemoteError],
                records: dict[str, StepRecord | None], nodes: list[str], path: str) -> list[str]:
    """Every node staged and verified by hcitui, and a fresh read still agrees. Fails closed."""
    stage = "stage and verify it (hcitui iso-stage)"
    out = []
    for node in nodes:
        record = records.get(node)
        info = staging_now.get(node)
        if isinstance(info, RemoteError) or info is None:
            why = info.message if isinstance(info, RemoteError) else "not read"
            out.append(f"{node}: the staging folder {path} could not be read ({why}): make it answer and try again")
            continue
        if record is None or record.status is not StepStatus.DONE:
            state = "not staged" if record is None else f"staging {record.status.value}"
            out.append(f"{node}: the ISO is {state} in {path} (not verified by hcitui): {stage}")
            continue
        if not info.exists or not info.has_setup:
            out.append(f"{node}: setup.exe is no longer in {path}: {stage} again")
            continue
        files, size = record.data.get("file_count"), record.data.get("total_bytes")
        if (files, size) != (info.file_count, info.total_bytes):
            out.append(f"{node}: {path} now holds {info.file_count} files, {info.total_bytes} bytes, not the "
                       f"{files} files, {size} bytes verified: verify it again, or {stage}")
    return out


def judge(state: GateState, override_registry: str | None = None) -> list[Gate]:
    """Every gate, in the runbook's order; the SR snapshot gate only on a stretched cluster.
    ``override_registry``: the operator's typed reason, if any."""
    override = (override_registry or "").strip() or None
    reg = registry_reasons(state.registry, state.nodes)
    return [
        Gate(REGISTRY, reg, REMEDY[REGISTRY], override if reg else None),
        Gate(PREREQ, prereq_reasons(state.prereq, state.now, state.max_age_hours), REMEDY[PREREQ]),
        *([Gate(SR_SNAPSHOT, sr_reasons(state.stretched, state.snapshot, state.sr_groups, state.sr_partnerships),
                REMEDY[SR_SNAPSHOT])] if state.stretched else []),  # not stretched: no SR, no SR gate
        Gate(ISO, iso_reasons(state.staging, state.stage_records, state.nodes, state.staging_path), REMEDY[ISO]),
    ]


def reasons(gates: list[Gate]) -> list[str]:
    """The reasons to refuse: every reason of every gate that is closed (an overridden gate is open)."""
    return [reason for gate in gates if not gate.ok for reason in gate.reasons]


def only_registry(gates: list[Gate]) -> bool:
    """Is the registry gate the only one closed (not overridden)? Only then may a typed reason open the way."""
    closed = [gate.name for gate in gates if not gate.ok]
    return closed == [REGISTRY]


def pass_sentence(gate: Gate, state: GateState) -> str:
    """What an open gate's check row says."""
    if gate.overridden is not None:
        return gate.sentence()
    if gate.name == REGISTRY:
        return f"both values 0 and in force on all {len(state.nodes)} nodes (set, then restarted)"
    if gate.name == PREREQ and state.prereq is not None:
        return (f"passed at {local_time(state.prereq.finished, '?', '%Y-%m-%d %H:%M')} "
                f"({state.prereq.detail or 'PASSED'})")
    if gate.name == SR_SNAPSHOT:
        if not state.stretched:
            return "not a stretched cluster: no Storage Replica snapshot needed"
        count = len(state.snapshot.partnerships) if isinstance(state.snapshot, sr.SRSnapshot) else 0
        return f"re-read snapshot of {count} partnerships describes every live partnership"
    if gate.name == ISO:
        return f"staged and verified on all {len(state.nodes)} nodes, and still there"
    return "open"


# ----------------------------------------------------------------------- reads


async def read(ctx: Context) -> GateState:
    """Everything the gates judge: the registry and staging reads on every node, a fresh Get-SRGroup and
    Get-SRPartnership (stretched clusters), the snapshot from disk, and the journal's records."""
    nodes = list(ctx.client.node_names)
    if not ctx.stretched:
        # The config maps no two sites: make sure the cluster agrees before the SR gate is left out (a stretched
        # cluster whose config names no sites still has its partnerships, and keeps its gate).
        ctx.note_read(await observe(ctx, ("nodes", "sr_partnerships")))
    state = GateState(nodes=nodes, max_age_hours=ctx.cluster.prereq_max_age_hours,
                      stretched=ctx.stretched, staging_path=ctx.cluster.staging_path)
    try:
        state.registry = await registry.read_registry(ctx)
    except RemoteError as exc:
        state.registry = exc
    state.prereq = ctx.journal.step(prereq.PHASE, prereq.STEP)
    if state.stretched:
        try:
            state.snapshot = sr.load_snapshot(ctx)
        except sr.SnapshotError as exc:
            state.snapshot = exc
        cluster = await observe(ctx, ("sr_groups", "sr_partnerships"))
        state.sr_groups, state.sr_partnerships = cluster.sr_groups, cluster.sr_partnerships
    outcomes = await ctx.client.fan_out(iso_ops.get_staging_info, {"path": ctx.cluster.staging_path},
                                        timeout=ctx.cluster.timeouts.operation)
    state.staging = {n: (o.value if o.ok else o.error) for n, o in outcomes.items()}
    state.stage_records = {n: ctx.journal.step(staging.PHASE, staging.STAGE, n) for n in nodes}
    state.now = datetime.now(UTC)
    return state


def record_override(ctx: Context, gates: list[Gate], step: str, node: str | None) -> dict[str, Any] | None:
    """Journal an override that was used (the registry gate was closed): who, when, why, what it waved."""
    gate = next((g for g in gates if g.name == REGISTRY and g.overridden is not None), None)
    if gate is None:
        return None
    data = {"reason": gate.overridden, "operator": current_operator(), "for": step,
            "at": datetime.now(UTC).isoformat(timespec="seconds"), "waived": gate.reasons[:8]}
    ctx.journal.set_step(OVERRIDE_PHASE, OVERRIDE_STEP, node, StepStatus.DONE,
                         f"registry gate overridden for {step} by {data['operator']}: {gate.overridden}"[:300],
                         data=data, fresh=True)
    return data
