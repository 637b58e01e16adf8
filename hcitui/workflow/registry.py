"""Phase 1 registry keys: read them on every node, set them, the ReFS 1-then-0 remediation.

``RefsEnableMetadataValidation`` and ``SkipSmallLocalAllocations`` are read by the kernel at
boot, so a value is only in force once its node restarted after it was set. The workflow
proves that without guessing: just before setting, it reads the node's LastBootUpTime and
keeps it in the journal step (``data["boot_at_set"]``). A value found set while the node
still has that boot time is *pending reboot*; once the boot time moved on it is *effective*;
a value found set with no journal record is *effective unknown* (restart to be sure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from hcitui.core import model
from hcitui.core.journal import Journal, StepRecord, StepStatus, local_time
from hcitui.ps import nodes as node_ops
from hcitui.ps import reads
from hcitui.remote import NodeCall, NodeEvent, RemoteError
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.maintenance import RESTART
from hcitui.workflow.observe import observe
from hcitui.workflow.steps import Plan, StepFailed, target_nodes

PHASE = 1
STEP = "registry"
REMEDIATION = "refs-remediation"
RECORD_STEPS = (STEP, REMEDIATION)

FS_KEY = r"HKLM:\SYSTEM\CurrentControlSet\Control\FileSystem"
VID_KEY = r"HKLM:\SYSTEM\CurrentControlSet\Services\Vid\Parameters"
SET_VALUES = {"refs_enable_metadata_validation": 0, "skip_small_local_allocations": 0}


class Effect(str, Enum):
    NOT_SET = "not set"
    PENDING = "set, pending reboot"
    EFFECTIVE = "set, effective"
    UNKNOWN = "set (effective unknown: restart to be sure)"
    UNREADABLE = "could not be read"


# One word per effect for the node table (meaning in words, not colours).
EFFECT_WORD = {
    Effect.NOT_SET: "no",
    Effect.PENDING: "pending",
    Effect.EFFECTIVE: "yes",
    Effect.UNKNOWN: "unknown",
    Effect.UNREADABLE: "?",
}
# What a node's values mean, in a few words (a node's status once read).
MEANING = {
    Effect.NOT_SET: "not set",
    Effect.PENDING: "set, restart pending",
    Effect.EFFECTIVE: "in force",
    Effect.UNKNOWN: "set, restart to be sure",
    Effect.UNREADABLE: "could not be read",
}


def boot_text(version: model.OsVersion) -> str | None:
    """The boot time as the journal keeps it (ISO 8601), or None when the node did not say."""
    return version.last_boot_up_time.isoformat() if version.last_boot_up_time else None


def boots_recorded(records: Iterable[StepRecord | None]) -> list[str]:
    return [str(r.data["boot_at_set"]) for r in records if r is not None and r.data.get("boot_at_set")]


def judge(values: model.RegistryValues | None, boot: str | None, records: Iterable[StepRecord | None]) -> Effect:
    """Pure: what the node's values mean now, given its boot time and hcitui's records of setting them."""
    if values is None or boot is None:
        return Effect.UNREADABLE
    if not values.fix_applied:
        return Effect.NOT_SET
    recorded = boots_recorded(records)
    if not recorded:
        return Effect.UNKNOWN
    if boot in recorded:
        return Effect.PENDING
    return Effect.EFFECTIVE


def _value(value: int | None) -> str:
    return "-" if value is None else str(value)


@dataclass
class NodeRegistry:
    """One node's registry values, its boot time, and what they mean."""

    node: str
    values: model.RegistryValues | None
    boot: str | None
    effect: Effect
    error: str | None = None
    build: str | None = None

    @property
    def refs(self) -> str:
        return _value(self.values.refs_enable_metadata_validation) if self.values else "?"

    @property
    def vid_key(self) -> str:
        if self.values is None:
            return "?"
        return "yes" if self.values.vid_parameters_key_exists else "no"

    @property
    def skip(self) -> str:
        return _value(self.values.skip_small_local_allocations) if self.values else "?"

    def sentence(self) -> str:
        """One sentence for the detail line, "-" meaning not set."""
        if self.error:
            return f"{self.node}: could not read: {self.error}"
        values = self.values
        assert values is not None
        key = "exists" if values.vid_parameters_key_exists else "missing"
        text = (f"{self.node}: RefsEnableMetadataValidation {self.refs}, SkipSmallLocalAllocations {self.skip} "
                f"(Vid key {key}): {self.effect.value}")
        wrong = [f"{name} is {value}, not 0" for name, value in (
            ("RefsEnableMetadataValidation", values.refs_enable_metadata_validation),
            ("SkipSmallLocalAllocations", values.skip_small_local_allocations)) if value not in (None, 0)]
        if wrong:
            text += " (" + "; ".join(wrong) + ")"
        if self.boot:
            text += f". Last boot {local_time(self.boot)}"
        return text


@dataclass
class RegistryReport:
    rows: dict[str, NodeRegistry] = field(default_factory=dict)

    def count(self, effect: Effect) -> int:
        return sum(1 for row in self.rows.values() if row.effect is effect)

    def summary(self) -> str:
        """ "4/4 nodes set: 2 pending reboot, 2 effective" """
        total = len(self.rows)
        set_count = sum(1 for r in self.rows.values() if r.effect in (Effect.PENDING, Effect.EFFECTIVE, Effect.UNKNOWN))
        parts = []
        for effect, words in ((Effect.PENDING, "pending reboot"), (Effect.EFFECTIVE, "effective"),
                              (Effect.UNKNOWN, "effective unknown"), (Effect.NOT_SET, "not set"),
                              (Effect.UNREADABLE, "unreadable")):
            if self.count(effect):
                parts.append(f"{self.count(effect)} {words}")
        return f"{set_count}/{total} nodes set: " + ", ".join(parts)


def _records(journal: Journal, node: str) -> list[StepRecord | None]:
    return [journal.step(PHASE, step, node) for step in RECORD_STEPS]


# ----------------------------------------------------------------------- reads

NODE_READS = (reads.get_os_version, reads.get_registry_values)


async def read_registry(ctx: Context, nodes: Iterable[str] | None = None,
                        on_event: Callable[[NodeEvent], None] | None = None) -> RegistryReport:
    """Read both values and the boot time on every node (or ``nodes``); judge each."""
    targets = list(nodes) if nodes is not None else ctx.client.node_names
    state = await observe(ctx, (), ("os", "registry"), nodes=targets, on_event=on_event)
    report = RegistryReport()
    for node in targets:
        version, values = state.node_part(node, "os"), state.node_part(node, "registry")
        error = next((v.message for v in (values, version) if isinstance(v, RemoteError)), None)
        if error is None and not isinstance(values, model.RegistryValues):
            error = "not read"
        boot = boot_text(version) if isinstance(version, model.OsVersion) else None
        values = values if isinstance(values, model.RegistryValues) else None
        effect = judge(values, boot, _records(ctx.journal, node)) if error is None else Effect.UNREADABLE
        build = version.build if isinstance(version, model.OsVersion) else None
        report.rows[node] = NodeRegistry(node, values, boot, effect, error, build)
        if effect is Effect.EFFECTIVE:
            _note_effective(ctx.journal, node, boot)
    return report


def _note_effective(journal: Journal, node: str, boot: str | None) -> None:
    """Once a read proved a recorded value effective, say so in its record (the menu reads it)."""
    for step in RECORD_STEPS:
        record = journal.step(PHASE, step, node)
        if (record is not None and record.status is StepStatus.DONE and record.data.get("boot_at_set")
                and not record.data.get("effective_at_boot")):
            journal.set_step(PHASE, step, node, record.status, record.detail, data={"effective_at_boot": boot})


# ----------------------------------------------------------------------- plans


def plan_set(ctx: Context, nodes: list[str]) -> Plan:
    plan = Plan(f"Set the upgrade registry values on {_nodes_text(ctx, nodes)}")
    plan.notes += [
        "RefsEnableMetadataValidation = 0 (DWORD) in Control\\FileSystem;",
        "SkipSmallLocalAllocations = 0 (DWORD) in Services\\Vid\\Parameters,",
        "that key created only if missing, never with -Force.",
        "Each node's boot time is noted first: the values take effect at its",
        "next restart: then restart the nodes one at a time (the rolling restart).",
        "A node already set and recorded by hcitui is left as it is.",
    ]
    for node in nodes:
        plan.add(reads.get_registry_values, None, node, f"{node}: the values now")
        plan.add(reads.get_os_version, None, node, f"{node}: boot time before setting")
        plan.add(node_ops.set_registry_values, SET_VALUES, node, f"{node}: set both values to 0")
        plan.add(reads.get_registry_values, None, node, f"{node}: verify both read 0")
        plan.add(reads.get_os_version, None, node, f"{node}: boot time again (did it restart meanwhile?)")
    return plan


def plan_remediate(ctx: Context, nodes: list[str]) -> Plan:
    plan = Plan(f"ReFS remediation on {_nodes_text(ctx, nodes)}: RefsEnableMetadataValidation 1, then 0")
    plan.notes += [
        "For ReFS volumes that stay offline after a restart: 1, then back to 0.",
        "Each value is verified by a read before the next one is set.",
        "It takes effect at the node's next restart (the rolling restart restarts each in turn).",
    ]
    for node in nodes:
        plan.add(reads.get_os_version, None, node, f"{node}: boot time before setting")
        plan.add(node_ops.set_registry_values, {"refs_enable_metadata_validation": 1}, node, f"{node}: 1. set 1")
        plan.add(reads.get_registry_values, None, node, f"{node}: 2. verify it reads 1")
        plan.add(node_ops.set_registry_values, {"refs_enable_metadata_validation": 0}, node, f"{node}: 3. set 0")
        plan.add(reads.get_registry_values, None, node, f"{node}: 4. verify it reads 0")
        plan.add(reads.get_os_version, None, node, f"{node}: boot time again (did it restart meanwhile?)")
    return plan


def plan_reads(ctx: Context) -> str:
    """The PowerShell of the screen's reads (what its preview shows)."""
    nodes = ", ".join(ctx.client.node_names)
    parts = [f"# Registry reads on {ctx.name}. All read-only; nothing is changed.", ""]
    for op in NODE_READS:
        parts += [op.render(node="each node: " + nodes), ""]
    return "\n".join(parts)


def _nodes_text(ctx: Context, nodes: list[str]) -> str:
    if len(nodes) == len(ctx.client.node_names) and len(nodes) > 1:
        return f"all {len(nodes)} nodes"
    return ", ".join(nodes)


# -------------------------------------------------------------------- changes


async def _boot(call: NodeCall, ctx: Context) -> str:
    version = await call.invoke(reads.get_os_version, timeout=ctx.cluster.timeouts.operation)
    boot = boot_text(version)
    if boot is None:
        raise _NodeFailed(f"{call.node} did not report its boot time, so a pending reboot could not be told apart")
    return boot


class _NodeFailed(Exception):
    """One node's part failed (a sentence); the other nodes go on."""


async def _run_per_node(ctx: Context, step: str, targets: list[str],
                        work: Callable[[NodeCall], Any], progress: Progress, record_step: str) -> dict[str, str]:
    failures: dict[str, str] = {}
    outcomes: dict[str, str] = {}

    async def guarded(call: NodeCall) -> None:
        try:
            outcomes[call.node] = await work(call)
        except _NodeFailed as exc:
            failures[call.node] = str(exc)
        except RemoteError as exc:
            failures[call.node] = f"{exc.operation}: {exc.message}"
        if call.node in failures:
            record = ctx.journal.step(PHASE, record_step, call.node)
            if record is not None and record.status is StepStatus.RUNNING:
                ctx.journal.set_step(PHASE, record_step, call.node, StepStatus.FAILED, failures[call.node])
            progress(ProgressEvent(call.node, failures[call.node], stage=Stage.FAILED))

    await ctx.client.for_each_node(guarded, nodes=targets)
    if failures:
        done = [n for n in targets if n not in failures]
        tail = f" ({', '.join(done)} done)" if done else ""
        raise StepFailed(step, "; ".join(f"{node}: {why}" for node, why in failures.items()) + tail)
    return outcomes


async def set_values(ctx: Context, nodes: Iterable[str] | None = None,
                     progress: Progress = no_progress) -> dict[str, str]:
    """Set both values to 0 on ``nodes`` (default: all), each verified by a read; node -> what was done."""
    step = "set the registry values"
    targets = target_nodes(ctx, nodes, step)
    timeout = ctx.cluster.timeouts.operation

    async def one(call: NodeCall) -> str:
        node = call.node
        progress(ProgressEvent(node, "reading the values"))
        before = await call.invoke(reads.get_registry_values, timeout=timeout)
        boot = await _boot(call, ctx)
        if before.fix_applied and judge(before, boot, _records(ctx.journal, node)) in (Effect.PENDING,
                                                                                       Effect.EFFECTIVE):
            progress(ProgressEvent(node, "already set; left as it was", stage=Stage.SKIPPED))
            return "already set"
        ctx.journal.set_step(PHASE, STEP, node, StepStatus.RUNNING, "setting both values to 0",
                             data={"boot_at_set": boot}, fresh=True)
        progress(ProgressEvent(node, "setting both values to 0"))
        await call.invoke(node_ops.set_registry_values, SET_VALUES, timeout=timeout)
        after = await call.invoke(reads.get_registry_values, timeout=timeout)
        if not after.fix_applied:
            raise _NodeFailed(f"after setting, RefsEnableMetadataValidation reads "
                              f"{_value(after.refs_enable_metadata_validation)} and SkipSmallLocalAllocations "
                              f"{_value(after.skip_small_local_allocations)}, not 0")
        await _settle_boot(call, ctx, STEP, boot)
        ctx.journal.set_step(PHASE, STEP, node, StepStatus.DONE, "set, pending reboot")
        progress(ProgressEvent(node, "set both to 0; restart to apply", stage=Stage.DONE))
        return "set"

    return await _run_per_node(ctx, step, targets, one, progress, STEP)


async def _settle_boot(call: NodeCall, ctx: Context, record_step: str, boot: str) -> None:
    """Did the node restart while we set it? Then the value may date from the new boot: keep that one."""
    now = await _boot(call, ctx)
    if now != boot:
        ctx.journal.set_step(PHASE, record_step, call.node, StepStatus.RUNNING, "the node restarted meanwhile",
                             data={"boot_at_set": now})


async def remediate_refs(ctx: Context, nodes: Iterable[str] | None = None,
                         progress: Progress = no_progress) -> dict[str, str]:
    """RefsEnableMetadataValidation 1, verified, then 0, verified; takes effect at the next restart."""
    step = "ReFS remediation (RefsEnableMetadataValidation 1 then 0)"
    targets = target_nodes(ctx, nodes, step)
    timeout = ctx.cluster.timeouts.operation

    async def one(call: NodeCall) -> str:
        node = call.node
        boot = await _boot(call, ctx)
        ctx.journal.set_step(PHASE, REMEDIATION, node, StepStatus.RUNNING, "setting 1",
                             data={"boot_at_set": boot}, fresh=True)
        for value in (1, 0):
            progress(ProgressEvent(node, f"RefsEnableMetadataValidation = {value}"))
            await call.invoke(node_ops.set_registry_values, {"refs_enable_metadata_validation": value},
                              timeout=timeout)
            read = await call.invoke(reads.get_registry_values, timeout=timeout)
            if read.refs_enable_metadata_validation != value:
                raise _NodeFailed(f"after setting {value}, RefsEnableMetadataValidation reads "
                                  f"{_value(read.refs_enable_metadata_validation)}")
            ctx.journal.set_step(PHASE, REMEDIATION, node, StepStatus.RUNNING, f"set {value}, verified")
        await _settle_boot(call, ctx, REMEDIATION, boot)
        ctx.journal.set_step(PHASE, REMEDIATION, node, StepStatus.DONE, "toggled 1 then 0, pending reboot")
        progress(ProgressEvent(node, "toggled 1 then 0; restart to apply", stage=Stage.DONE))
        return "toggled"

    return await _run_per_node(ctx, step, targets, one, progress, REMEDIATION)


def _nodes_words(nodes: list[str]) -> str:
    return ", ".join(nodes) if len(nodes) <= 3 else f"{len(nodes)} nodes"


def changed(outcomes: dict[str, str]) -> bool:
    """Whether :func:`set_values` or :func:`remediate_refs` changed a value on any node."""
    return any(what != "already set" for what in outcomes.values())


def outcome_words(outcomes: dict[str, str]) -> str:
    """What :func:`set_values` or :func:`remediate_refs` did, node by node as each node's read after the
    change showed it: "set, each read back as 0, on 3 nodes; already set on LAB-B2, left as it was"."""
    by_outcome: dict[str, list[str]] = {}
    for node, what in outcomes.items():
        by_outcome.setdefault(what, []).append(node)
    parts = []
    if nodes := by_outcome.get("set"):
        parts.append(f"set, each read back as 0, on {_nodes_words(sorted(nodes))}")
    if nodes := by_outcome.get("toggled"):
        parts.append(f"RefsEnableMetadataValidation 1 then 0, each read back, on {_nodes_words(sorted(nodes))}")
    if nodes := by_outcome.get("already set"):
        left = "it was" if len(nodes) == 1 else "they were"
        parts.append(f"already set on {_nodes_words(sorted(nodes))}, left as {left}")
    return "; ".join(parts) or "no node to change"


# ------------------------------------------------------------------ menu state


def _restarted_after(journal: Journal, node: str, record: StepRecord) -> bool:
    restart = journal.step(PHASE, RESTART, node)
    if restart is None or restart.status is not StepStatus.DONE or not restart.started or not record.finished:
        return False
    try:
        return datetime.fromisoformat(restart.started) >= datetime.fromisoformat(record.finished)
    except ValueError:
        return False


def journal_summary(journal: Journal, nodes: list[str]) -> str:
    """The menu's line, from the journal alone: "4/4 set, 2 pending reboot"."""
    records = {n: journal.step(PHASE, STEP, n) for n in nodes}
    if all(r is None for r in records.values()):
        return "not set yet"
    done = [n for n, r in records.items() if r is not None and r.status is StepStatus.DONE]
    failed = [n for n, r in records.items() if r is not None and r.status is StepStatus.FAILED]
    pending = []
    for node in nodes:
        for step in RECORD_STEPS:
            record = journal.step(PHASE, step, node)
            if (record is not None and record.status is StepStatus.DONE and record.data.get("boot_at_set")
                    and not record.data.get("effective_at_boot") and not _restarted_after(journal, node, record)):
                pending.append(node)
                break
    text = f"{len(done)}/{len(nodes)} set"
    if pending:
        text += f", {len(pending)} pending reboot"
    elif done and len(done) == len(nodes):
        text += ", effective"
    if failed:
        text += f", {len(failed)} failed"
    return text
