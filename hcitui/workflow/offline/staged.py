"""Stage 0: the update packages on every node, "the way the ISO is": the one chunked, resumable copier of
workflow/staging.py, then the proof, a SHA256 of each file on the node (``Get-FileHash``) equal to the source's."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from hcitui.core.journal import StepStatus
from hcitui.core.units import human_bytes
from hcitui.ps import iso as iso_ops
from hcitui.remote import NodeCall, RemoteError
from hcitui.workflow import staging
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage
from hcitui.workflow.offline.common import COPY_STEP, PHASE, Package, packages
from hcitui.workflow.steps import Plan, Refused


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest().upper()


def copy_step(package: Package) -> str:
    return f"{COPY_STEP} {package.kb}"


def plan_staging(ctx: Context, plan: Plan, nodes: list[str]) -> None:
    """The staging calls, for the preview: per node and package a hash read, the copy where it differs, the proof."""
    every = f"each node: {', '.join(nodes)}"
    for package in packages(ctx):
        size = package.source.stat().st_size if package.source.is_file() else 0
        calls = f"{-(-size // iso_ops.CHUNK_BYTES)} calls" if size else "calls"
        plan.add(iso_ops.get_file_hash, {"path": package.dest}, every, f"{package.name}: staged already?")
        plan.add(iso_ops.write_file_chunk, {"path": package.dest, "offset": 0,
                                            "data": f"<base64 of bytes 0-{iso_ops.CHUNK_BYTES - 1} of {package.name}>"},
                 every, f"where it is missing or differs: {calls} of {human_bytes(iso_ops.CHUNK_BYTES)} "
                        f"({human_bytes(size)})")
        plan.add(iso_ops.get_file_hash, {"path": package.dest}, every,
                 "proof: its SHA256 on the node equals this machine's copy's")


async def stage_packages(ctx: Context, nodes: list[str], progress: Progress) -> dict[str, str]:
    """Every package on every node, proved by its SHA256; copies (one node at a time: they share this machine's
    uplink) only where the node's file is missing or differs. Raises Refused with each node's problem."""
    step = "stage the update packages"
    wanted = packages(ctx)
    if not wanted:
        raise Refused(step, ["no update_packages in the config: name the cumulative update (and any servicing "
                             "stack update) on this machine"])
    hashes: dict[Package, str] = {}
    for package in wanted:
        source, problem = staging.source_of(package.source, "the update package")
        if source is None:
            raise Refused(step, [problem or f"the update package {package.source} cannot be read"])
        hashes[package] = await asyncio.to_thread(_sha256, package.source)
    failures: dict[str, str] = {}
    outcomes: dict[str, str] = {}

    async def proof(node: str, package: Package) -> tuple[bool, str, int | None]:
        """(proved, in words, the node's length when the file is there)."""
        info = await ctx.client.invoke(node, iso_ops.get_file_hash, {"path": package.dest},
                                       timeout=ctx.cluster.timeouts.operation)
        if not info.exists:
            return False, "missing", None
        if (info.hash or "").upper() != hashes[package]:
            return False, f"{info.length} bytes, SHA256 {(info.hash or '?')[:12]}... differs", info.length
        return True, f"SHA256 {hashes[package][:12]}... proved", info.length

    for package in wanted:
        source, _ = staging.source_of(package.source, "the update package")
        if source is None:
            raise Refused(step, [f"the update package {package.source} changed while it was read"])
        found: dict[str, tuple[bool, str, int | None]] = {}

        async def check(call: NodeCall, package: Package = package,
                        found: dict[str, tuple[bool, str, int | None]] = found) -> None:
            found[call.node] = await proof(call.node, package)

        result = await ctx.client.for_each_node(check, nodes=nodes)
        for node, outcome in result.items():
            if not outcome.ok:
                failures[node] = f"{package.name}: {outcome.error.message}"
        todo = [n for n in nodes if n not in failures and not found[n][0]]
        for node in nodes:
            if node in found and found[node][0]:
                progress(ProgressEvent(node, f"{package.name} already staged ({found[node][1]})", stage=Stage.SKIPPED))
        pace = staging.Pace(source.size, len(todo))
        for node in todo:
            try:
                await staging.copy_file(ctx, node, source, found[node][2], progress, False, pace, dest=package.dest,
                                        phase=PHASE, step=copy_step(package))
                ok, words, _length = await proof(node, package)
            except (staging.NodeFailed, RemoteError) as exc:
                ok, words = False, str(exc) if isinstance(exc, staging.NodeFailed) else exc.message
            if not ok:
                failures[node] = f"{package.name}: after the copy, {words}"
                ctx.journal.set_step(PHASE, copy_step(package), node, StepStatus.FAILED, words)
                progress(ProgressEvent(node, failures[node], stage=Stage.FAILED))
                continue
            ctx.journal.set_step(PHASE, copy_step(package), node, StepStatus.DONE, f"copied; {words}")
            progress(ProgressEvent(node, f"{package.name} staged: {words}", stage=Stage.DONE))
    for node in nodes:
        if node not in failures:
            outcomes[node] = f"{len(wanted)} package{'s' if len(wanted) > 1 else ''} staged and proved"
    if failures:
        raise Refused(step, [f"{node}: {why}" for node, why in failures.items()])
    return outcomes
