"""Phase 3 ISO staging: the ISO on every node, its contents extracted to the same folder on each.

Per node: the ISO must be at ``iso_path``; where it is missing (or not the source's size) it
is copied from the management machine (``iso_source``) in chunks, resumably: the journal step
(3, ``iso-copy``, node) keeps the source's size and mtime and the offset reached, and a re-run
resumes at the node's length only when both still match. Then ``stage_iso`` mounts it, copies
its contents to ``staging_path`` and dismounts it, and ``get_staging_info`` proves it: setup.exe
present, and the same file count and bytes as the reference (the count most nodes have; on a tie
the first node in order). A node that differs fails with the numbers.
"""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import Journal, StepStatus
from hcitui.core.units import human_bytes
from hcitui.ps import iso as iso_ops
from hcitui.ps import reads
from hcitui.remote import NodeCall, NodeEvent, RemoteError
from hcitui.workflow import eta
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage, no_progress
from hcitui.workflow.steps import Plan, Refused, StepFailed, target_nodes

PHASE = 3
COPY, STAGE = "iso-copy", "iso-stage"
Counts = tuple[int, int]  # (file count, total bytes)


# ---------------------------------------------------------------------- source


@dataclass(frozen=True)
class Source:
    """The ISO on the management machine, as it is now."""

    path: Path
    size: int
    mtime_ns: int


def read_source(ctx: Context) -> tuple[Source | None, str | None]:
    """The configured source ISO, or why it cannot be used (None, None when none is configured)."""
    return source_of(ctx.cluster.iso_source, "the source ISO")


def source_of(path: Path | None, what: str) -> tuple[Source | None, str | None]:
    """A file on this machine to copy (the ISO, an update package), or why it cannot be used."""
    if path is None:
        return None, None
    try:
        stat = Path(path).stat()
    except OSError as exc:
        return None, f"{what} {path} cannot be read on this machine ({exc.strerror or exc})"
    if stat.st_size == 0:
        return None, f"{what} {path} is empty"
    return Source(Path(path), stat.st_size, stat.st_mtime_ns), None


def _read_chunk(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(size)


# ------------------------------------------------------------------------ rows


class IsoState(str, Enum):
    PRESENT = "present"
    MISSING = "missing"
    PARTIAL = "partial"  # shorter than the source: an interrupted copy
    WRONG_SIZE = "wrong size"
    FOLDER = "a folder"
    UNREADABLE = "could not be read"
    UNCHECKED = "no iso_path"

    @property
    def needs_copy(self) -> bool:
        return self in (IsoState.MISSING, IsoState.PARTIAL, IsoState.WRONG_SIZE)


@dataclass
class NodeIso:
    """What one node holds: the ISO file and the staging folder (each a value or why it is unknown)."""

    node: str
    iso: model.PathInfo | None = None
    iso_error: str | None = None
    staging: model.StagingInfo | None = None
    staging_error: str | None = None

    def iso_state(self, source_size: int | None) -> IsoState:
        if self.iso_error:
            return IsoState.UNREADABLE
        if self.iso is None:
            return IsoState.UNCHECKED
        if not self.iso.exists:
            return IsoState.MISSING
        if self.iso.is_container:
            return IsoState.FOLDER
        if source_size is not None and self.iso.length != source_size:
            return IsoState.PARTIAL if (self.iso.length or 0) < source_size else IsoState.WRONG_SIZE
        return IsoState.PRESENT

    @property
    def counts(self) -> Counts | None:
        if self.staging is None or not self.staging.has_setup:
            return None
        return self.staging.file_count, self.staging.total_bytes


def reference(rows: dict[str, NodeIso], order: list[str]) -> tuple[str, Counts] | None:
    """The counts most nodes with setup.exe have; on a tie, those of the first such node in ``order``."""
    candidates = [(node, rows[node].counts) for node in order if node in rows and rows[node].counts]
    if not candidates:
        return None
    tally = Counter(counts for _node, counts in candidates)
    best = max(tally.values())
    return next((node, counts) for node, counts in candidates if tally[counts] == best)  # type: ignore[misc]


def judge_staging(row: NodeIso, ref: tuple[str, Counts] | None, staging_path: str) -> tuple[bool, str]:
    """Pure: is this node's staging folder right? (ok, a sentence with the numbers)."""
    if row.staging_error:
        return False, f"cannot read {staging_path}: {row.staging_error}"
    info = row.staging
    if info is None or not info.exists:
        return False, f"not staged: {staging_path} does not exist"
    numbers = f"{info.file_count} files, {info.total_bytes} bytes ({human_bytes(info.total_bytes)})"
    if not info.has_setup:
        return False, f"setup.exe is missing in {staging_path} ({numbers})"
    if ref is not None and (info.file_count, info.total_bytes) != ref[1]:
        return False, (f"{numbers} in {staging_path} differ from {ref[0]}'s {ref[1][0]} files, "
                       f"{ref[1][1]} bytes")
    return True, f"{numbers}, setup.exe present" + (f", same as {ref[0]}" if ref and ref[0] != row.node else "")


@dataclass
class IsoReport:
    rows: dict[str, NodeIso] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    source: Source | None = None
    source_problem: str | None = None

    @property
    def reference(self) -> tuple[str, Counts] | None:
        return reference(self.rows, self.order)

    @property
    def source_size(self) -> int | None:
        return self.source.size if self.source else None


# ----------------------------------------------------------------------- reads


async def read_iso(ctx: Context, nodes: Iterable[str] | None = None,
                   on_event: Callable[[NodeEvent], None] | None = None) -> IsoReport:
    """The ISO and the staging folder on every node (or ``nodes``). Never raises for a node."""
    targets = list(nodes) if nodes is not None else ctx.client.node_names
    report = IsoReport(order=targets)
    report.source, report.source_problem = read_source(ctx)
    iso_path, timeout = ctx.cluster.iso_path, ctx.cluster.timeouts.operation

    async def work(call: NodeCall) -> None:
        row = report.rows[call.node] = NodeIso(call.node)
        if iso_path:
            try:
                row.iso = await call.invoke(reads.get_path_info, {"path": iso_path}, timeout=timeout)
            except RemoteError as exc:
                row.iso_error = exc.message
                if exc.outcome in ("unreachable", "rebooting", "timeout"):
                    row.staging_error = exc.message
                    raise
        try:
            row.staging = await call.invoke(iso_ops.get_staging_info, {"path": ctx.cluster.staging_path},
                                            timeout=timeout)
        except RemoteError as exc:
            row.staging_error = exc.message
            raise

    await ctx.client.for_each_node(work, nodes=targets, on_event=on_event)
    return report


async def _fresh_staging(ctx: Context, report: IsoReport) -> None:
    """Read every node's staging folder again into ``report`` (the proof after a change)."""
    outcomes = await ctx.client.fan_out(iso_ops.get_staging_info, {"path": ctx.cluster.staging_path},
                                        nodes=report.order, timeout=ctx.cluster.timeouts.operation)
    for node, outcome in outcomes.items():
        row = report.rows.setdefault(node, NodeIso(node))
        row.staging, row.staging_error = (outcome.value, None) if outcome.ok else (None, outcome.error.message)


# ----------------------------------------------------------------------- plans


def plan_reads(ctx: Context) -> str:
    nodes = ", ".join(ctx.client.node_names)
    parts = [f"# ISO staging reads on {ctx.name}. All read-only; nothing is changed.", ""]
    if ctx.cluster.iso_path:
        parts += [reads.get_path_info.render({"path": ctx.cluster.iso_path}, node="each node: " + nodes), ""]
    else:
        parts += ["# No iso_path in the config: the ISO is not looked up.", ""]
    parts += [iso_ops.get_staging_info.render({"path": ctx.cluster.staging_path}, node="each node: " + nodes), ""]
    return "\n".join(parts)


def _chunk_example(source: Source | None) -> dict[str, Any]:
    name = source.path.name if source else "the source ISO"
    return {"path": "", "offset": 0, "data": f"<base64 of bytes 0-{iso_ops.CHUNK_BYTES - 1} of {name}>"}


def _copy_calls(ctx: Context, plan: Plan, node: str, source: Source | None, condition: str) -> None:
    iso_path = ctx.cluster.iso_path or ""
    chunk = dict(_chunk_example(source), path=iso_path)
    count = f"{-(-source.size // iso_ops.CHUNK_BYTES)} calls" if source else "one call"
    plan.add(iso_ops.write_file_chunk, chunk, node,
             f"{node}: {condition}{count}, one per {human_bytes(iso_ops.CHUNK_BYTES)}, -Data that chunk in base64")
    plan.add(reads.get_path_info, {"path": iso_path}, node, f"{node}: verify its length is the source's")


def _source_notes(ctx: Context, source: Source | None, problem: str | None) -> list[str]:
    if source is not None:
        return [f"Source on this machine: {source.path}", f"({source.size} bytes, {human_bytes(source.size)}).",
                "Resumable: a copy of the same source (size and time unchanged) that",
                "was interrupted goes on at the node's length when the journal agrees;",
                "otherwise it starts at 0."]
    return [problem or "No iso_source in the config: the ISO cannot be copied from here."]


def _no_iso_path(plan: Plan) -> Plan:
    plan.notes.append("No iso_path in the config: nothing can be copied or staged; set iso_path first.")
    return plan


def plan_copy(ctx: Context, nodes: list[str]) -> Plan:
    source, problem = read_source(ctx)
    plan = Plan(f"Copy the ISO to {', '.join(nodes) or 'no node'}: {ctx.cluster.iso_path}")
    if not ctx.cluster.iso_path:
        return _no_iso_path(plan)
    plan.notes += _source_notes(ctx, source, problem)
    for node in nodes:
        plan.add(reads.get_path_info, {"path": ctx.cluster.iso_path or ""}, node, f"{node}: is it there, how long")
        _copy_calls(ctx, plan, node, source, "")
    return plan


def plan_stage(ctx: Context, nodes: list[str], missing: Iterable[str] | None = None) -> Plan:
    """``missing``: the nodes known to lack the ISO (from the last read); None when not known."""
    source, problem = read_source(ctx)
    missing_set = set(missing) if missing is not None else None
    iso_path, staging = ctx.cluster.iso_path or "", ctx.cluster.staging_path
    every = nodes == ctx.client.node_names and len(nodes) > 1
    plan = Plan(f"Stage the ISO on {f'all {len(nodes)} nodes' if every else ', '.join(nodes)}")
    if not iso_path:
        return _no_iso_path(plan)
    plan.notes += [f"ISO: {iso_path}", f"extracted to: {staging}"]
    plan.notes += [
        "Skips a node already staged and verified (still the same as the rest).",
        "Copies the ISO first where it is missing or not the source's size;",
        "then per node: mount it, copy its contents, dismount it. Then every",
        "node's folder is read: setup.exe must be there, with the same file",
        "count and bytes on every node.",
    ]
    plan.notes += _source_notes(ctx, source, problem)
    for node in nodes:
        plan.add(iso_ops.get_staging_info, {"path": staging}, node, f"{node}: staged already?")
        plan.add(reads.get_path_info, {"path": iso_path}, node, f"{node}: is the ISO there")
        if missing_set is None or node in missing_set:
            known = missing_set is not None
            _copy_calls(ctx, plan, node, source, "" if known else "if missing: ")
        plan.add(iso_ops.stage_iso, {"iso_path": iso_path, "destination": staging}, node,
                 f"{node}: mount, copy the contents, dismount")
        plan.add(iso_ops.get_staging_info, {"path": staging}, node, f"{node}: verify setup.exe, count and bytes")
    return plan


# ---------------------------------------------------------------------- guards


def _iso_path(ctx: Context, step: str) -> str:
    if not ctx.cluster.iso_path:
        raise Refused(step, ["no iso_path in the config: set it to the ISO's path on the nodes"])
    return ctx.cluster.iso_path


class _NodeFailed(Exception):
    """One node's part failed (a sentence); the other nodes go on."""


@dataclass
class _Pace:
    """How far one run's copies are, one node at a time: the rate is this machine's uplink's, so the
    estimate counts every byte sent in the run and every byte left, this node's and the next ones'."""

    size: int  # the source's bytes
    count: int  # the nodes to copy to
    number: int = 0  # the node copying now, 1-based
    start: int = 0  # the offset its copy began at
    sent: int = 0  # bytes sent in this run before its copy began
    transfer: eta.Transfer = field(default_factory=eta.Transfer)

    def begin(self, start: int) -> None:
        self.number, self.start = self.number + 1, start
        self.sent = self.transfer.samples[-1][1] if self.transfer.samples else 0

    def event(self, node: str, text: str, offset: int, stage: Stage = Stage.WORKING) -> ProgressEvent:
        self.transfer.note(self.sent + offset - self.start)
        left = self.size - offset + self.size * (self.count - self.number)
        return ProgressEvent(node, text, offset / self.size, stage=stage, done=offset, total=self.size,
                             position=(self.number, self.count), eta=self.transfer.finish(left) if left else None)


# ------------------------------------------------------------------------ copy


async def _copy_one(ctx: Context, node: str, source: Source, length: int | None, progress: Progress,
                    final: bool, pace: _Pace, *, dest: str | None = None, phase: int = PHASE, step: str = COPY) -> str:
    """Copy ``source`` to the node's iso_path (or ``dest``) in chunks; resume where the journal allows (its
    record ``phase``/``step`` of the node); verify the length. ``final``: the copy is the node's whole part
    (copy_iso), not the first half of staging it. The one copier: the fast offline update's packages too."""
    iso_path = dest or ctx.cluster.iso_path or ""
    record = ctx.journal.step(phase, step, node)
    data = record.data if record else {}
    same_source = data.get("source_size") == source.size and data.get("source_mtime_ns") == source.mtime_ns
    known_ends = {data.get("offset"), data.get("sending_to")} - {None, 0}
    offset = length if same_source and length and length < source.size and length in known_ends else 0
    ctx.journal.set_step(phase, step, node, StepStatus.RUNNING,
                         f"copying from byte {offset}" + (" (resumed)" if offset else ""),
                         data={"source": str(source.path), "source_size": source.size,
                               "source_mtime_ns": source.mtime_ns, "offset": offset, "sending_to": None},
                         fresh=True)
    pace.begin(offset)
    progress(pace.event(node, f"copying from {human_bytes(offset)}" + (" (resuming)" if offset else ""), offset))
    try:
        while offset < source.size:
            chunk = await asyncio.to_thread(_read_chunk, source.path, offset, iso_ops.CHUNK_BYTES)
            if not chunk:
                raise _NodeFailed(f"the source {source.path} ended at {offset} bytes, not {source.size}: "
                                  "it changed during the copy")
            end = offset + len(chunk)
            # Before sending: a chunk the node got but we never heard back about still resumes right.
            ctx.journal.set_step(phase, step, node, StepStatus.RUNNING, f"copying: {offset} of {source.size} bytes",
                                 data={"offset": offset, "sending_to": end})
            info = await ctx.client.invoke(node, iso_ops.write_file_chunk,
                                           {"path": iso_path, "offset": offset,
                                            "data": base64.b64encode(chunk).decode("ascii")})
            if info.length != end:
                raise _NodeFailed(f"after writing up to byte {end}, {iso_path} is {info.length} bytes long")
            offset = end
            progress(pace.event(node, "copying", offset))
    except asyncio.CancelledError:
        ctx.journal.set_step(phase, step, node, StepStatus.FAILED,
                             f"interrupted at byte {offset} of {source.size}: copy again to resume")
        raise
    ctx.journal.set_step(phase, step, node, StepStatus.RUNNING, "verifying the length",
                         data={"offset": offset, "sending_to": None})
    now, problem = source_of(source.path, "the source")
    if now != source:
        raise _NodeFailed(problem or f"the source {source.path} changed during the copy: copy again")
    info = await ctx.client.invoke(node, reads.get_path_info, {"path": iso_path},
                                   timeout=ctx.cluster.timeouts.operation)
    if not info.exists or info.length != source.size:
        raise _NodeFailed(f"after the copy {iso_path} is {info.length if info.exists else 'missing'}"
                          f"{' bytes' if info.exists else ''}, not {source.size} bytes")
    ctx.journal.set_step(phase, step, node, StepStatus.DONE, f"copied and verified: {source.size} bytes")
    progress(pace.event(node, f"copied: {human_bytes(source.size)}, length verified", source.size,
                        Stage.DONE if final else Stage.WORKING))
    return "copied"


async def _copy_where_needed(ctx: Context, report: IsoReport, nodes: list[str], source: Source,
                             progress: Progress, failures: dict[str, str], *, final: bool) -> dict[str, str]:
    """Copy to each of ``nodes`` that needs it, one node at a time (they share this machine's uplink).
    ``final``: copying is all that is done to the nodes (not staging after it)."""
    outcomes: dict[str, str] = {}
    rows = {node: report.rows.get(node, NodeIso(node, iso_error="not read")) for node in nodes}
    needed = [node for node, row in rows.items() if row.iso_state(source.size).needs_copy]
    pace = _Pace(source.size, len(needed))
    for node in needed:
        row = rows[node]
        length = row.iso.length if row.iso is not None and row.iso.exists else None
        try:
            outcomes[node] = await _copy_one(ctx, node, source, length, progress, final, pace)
        except (_NodeFailed, RemoteError) as exc:
            why = str(exc) if isinstance(exc, _NodeFailed) else f"{exc.operation}: {exc.message}"
            failures[node] = f"copy: {why}"
            ctx.journal.set_step(PHASE, COPY, node, StepStatus.FAILED, why)
            progress(ProgressEvent(node, f"copy: {why}", stage=Stage.FAILED))
    return outcomes


def _raise_failures(step: str, failures: dict[str, str], done: list[str]) -> None:
    if failures:
        tail = f" ({', '.join(done)} done)" if done else ""
        raise StepFailed(step, "; ".join(f"{node}: {why}" for node, why in failures.items()) + tail)


async def copy_iso(ctx: Context, nodes: Iterable[str] | None = None,
                   progress: Progress = no_progress) -> dict[str, str]:
    """Copy the ISO to the nodes (default: all) where it is missing or not the source's size."""
    step = "copy the ISO"
    targets = target_nodes(ctx, nodes, step)
    _iso_path(ctx, step)
    source, problem = read_source(ctx)
    if source is None:
        raise Refused(step, [problem or "no iso_source in the config: set it to the ISO on this machine"])
    report = await read_iso(ctx, targets)
    failures: dict[str, str] = {}
    for node in targets:
        if report.rows[node].iso_state(source.size) in (IsoState.UNREADABLE, IsoState.FOLDER):
            row = report.rows[node]
            failures[node] = (f"cannot look up the ISO: {row.iso_error}" if row.iso_error
                              else f"{ctx.cluster.iso_path} is a folder, not the ISO file")
            progress(ProgressEvent(node, failures[node], stage=Stage.FAILED))
    outcomes = await _copy_where_needed(ctx, report, [n for n in targets if n not in failures], source,
                                        progress, failures, final=True)
    for node in targets:
        if node not in failures and node not in outcomes:
            outcomes[node] = "already there"
            progress(ProgressEvent(node, f"ISO already there ({human_bytes(source.size)})", stage=Stage.SKIPPED))
    _raise_failures(step, failures, [n for n in targets if n not in failures])
    return outcomes


# ----------------------------------------------------------------------- stage


def _record_verdict(journal: Journal, node: str, ok: bool, reason: str, ref: tuple[str, Counts] | None,
                    row: NodeIso) -> None:
    record = journal.step(PHASE, STAGE, node)
    if ok and row.staging is not None:
        counts = {"file_count": row.staging.file_count, "total_bytes": row.staging.total_bytes,
                  "reference": ref[0] if ref else node}
        if record is None or record.status is not StepStatus.DONE or any(
                record.data.get(k) != v for k, v in counts.items() if k != "reference"):
            journal.set_step(PHASE, STAGE, node, StepStatus.DONE, f"verified: {reason}", data=counts)
    elif record is not None or (row.staging is not None and row.staging.exists):
        if record is None or record.status is not StepStatus.FAILED or record.detail != reason:
            journal.set_step(PHASE, STAGE, node, StepStatus.FAILED, reason)


async def stage(ctx: Context, nodes: Iterable[str] | None = None,
                progress: Progress = no_progress) -> dict[str, str]:
    """Copy the ISO where needed, stage it on the nodes (default: all), prove every folder is the same."""
    step = "stage the ISO"
    targets = target_nodes(ctx, nodes, step)
    iso_path = _iso_path(ctx, step)
    staging_path = ctx.cluster.staging_path
    source, problem = read_source(ctx)
    if ctx.cluster.iso_source is not None and source is None:
        raise Refused(step, [problem or "the source ISO cannot be read"])
    report = await read_iso(ctx)  # every node: the reference comes from all of them
    ref = report.reference
    outcomes: dict[str, str] = {}
    failures: dict[str, str] = {}
    to_stage: list[str] = []
    for node in targets:
        row = report.rows[node]
        record = ctx.journal.step(PHASE, STAGE, node)
        if record is not None and record.status is StepStatus.DONE and judge_staging(row, ref, staging_path)[0]:
            outcomes[node] = "already staged and verified"
            progress(ProgressEvent(node, "already staged and verified; skipped", stage=Stage.SKIPPED))
            continue
        state = row.iso_state(source.size if source else None)
        if state is IsoState.UNREADABLE:
            failures[node] = f"cannot look up the ISO: {row.iso_error}"
        elif state is IsoState.FOLDER:
            failures[node] = f"{iso_path} is a folder, not the ISO file"
        elif state.needs_copy and source is None:
            failures[node] = (f"the ISO is not on the node ({iso_path}) and no iso_source is configured "
                              "to copy it from: set iso_source, or copy it there by hand")
        else:
            to_stage.append(node)
            continue
        progress(ProgressEvent(node, failures[node], stage=Stage.FAILED))
    if source is not None:
        await _copy_where_needed(ctx, report, to_stage, source, progress, failures, final=False)
        to_stage = [n for n in to_stage if n not in failures]

    async def stage_one(call: NodeCall) -> None:
        node = call.node
        ctx.journal.set_step(PHASE, STAGE, node, StepStatus.RUNNING, "mount, copy, dismount", fresh=True)
        progress(ProgressEvent(node, "staging: mount the ISO, copy its contents, dismount"))
        try:
            await call.invoke(iso_ops.stage_iso, {"iso_path": iso_path, "destination": staging_path})
        except RemoteError as exc:
            failures[node] = f"{exc.operation}: {exc.message}"
            ctx.journal.set_step(PHASE, STAGE, node, StepStatus.FAILED, exc.message)
            progress(ProgressEvent(node, exc.message, stage=Stage.FAILED))
            return
        progress(ProgressEvent(node, "staged; verifying"))

    if to_stage:
        await ctx.client.for_each_node(stage_one, nodes=to_stage)
    # The proof: every node's folder read again, compared with the reference.
    await _fresh_staging(ctx, report)
    ref = report.reference
    for node in targets:
        if node in failures:
            continue
        ok, reason = judge_staging(report.rows[node], ref, staging_path)
        _record_verdict(ctx.journal, node, ok, reason, ref, report.rows[node])
        if ok:
            outcomes.setdefault(node, "staged and verified")
            info = report.rows[node].staging
            if node in to_stage and info is not None:
                progress(ProgressEvent(node, f"verified: {info.file_count} files", stage=Stage.DONE))
        else:
            outcomes.pop(node, None)
            failures[node] = reason
            progress(ProgressEvent(node, reason, stage=Stage.FAILED))
    _raise_failures(step, failures, [n for n in targets if n not in failures])
    return outcomes


async def verify_staging(ctx: Context, nodes: Iterable[str] | None = None,
                         on_event: Callable[[NodeEvent], None] | None = None) -> dict[str, str]:
    """Read every staging folder, compare each with the reference, record the verdicts. Changes nothing."""
    step = "verify the staged media"
    targets = target_nodes(ctx, nodes, step, mutating=False)
    report = IsoReport(order=ctx.client.node_names)
    outcomes = await ctx.client.fan_out(iso_ops.get_staging_info, {"path": ctx.cluster.staging_path},
                                        on_event=on_event, timeout=ctx.cluster.timeouts.operation)
    for node, outcome in outcomes.items():
        report.rows[node] = NodeIso(node, staging=outcome.value,
                                    staging_error=None if outcome.ok else outcome.error.message)
    ref = report.reference
    if ref is None:
        raise StepFailed(step, f"no node has setup.exe in {ctx.cluster.staging_path}: stage the ISO first",
                         remedy=Remedy(action=Action.ISO_STAGE))
    verdicts: dict[str, str] = {}
    failures: dict[str, str] = {}
    for node in targets:
        ok, reason = judge_staging(report.rows[node], ref, ctx.cluster.staging_path)
        _record_verdict(ctx.journal, node, ok, reason, ref, report.rows[node])
        (verdicts if ok else failures)[node] = reason
    _raise_failures(step, failures, list(verdicts))
    return verdicts


# ------------------------------------------------------------------ menu state


def journal_summary(journal: Journal, nodes: list[str]) -> str:
    """The menu's line, from the journal alone: "3/4 nodes staged"."""
    stage_records = {n: journal.step(PHASE, STAGE, n) for n in nodes}
    copy_records = {n: journal.step(PHASE, COPY, n) for n in nodes}
    if all(r is None for r in (*stage_records.values(), *copy_records.values())):
        return "not staged yet"
    done = sum(1 for r in stage_records.values() if r is not None and r.status is StepStatus.DONE)
    failed = sum(1 for r in stage_records.values() if r is not None and r.status is StepStatus.FAILED)
    text = f"{done}/{len(nodes)} nodes staged"
    if failed:
        text += f", {failed} failed"
    copying = [n for n, r in copy_records.items() if r is not None and r.status is StepStatus.RUNNING]
    interrupted = [n for n, r in copy_records.items()
                   if r is not None and r.status in (StepStatus.FAILED, StepStatus.UNKNOWN)]
    if copying:
        text += f", copying to {copying[0]}"
    elif interrupted:
        text += f", copy to {interrupted[0]} unfinished"
    return text


# The one chunked, resumable copier, for the other steps that copy files (the fast offline update's packages).
copy_file = _copy_one
Pace = _Pace
NodeFailed = _NodeFailed
