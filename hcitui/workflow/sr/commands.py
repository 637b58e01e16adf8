"""The PowerShell of Storage Replica removal and recreation: each cmdlet's parameters from a snapshot
entry, the plain command lines an operator could run by hand, and the plans shown before a change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hcitui.ps import ps_quote
from hcitui.ps import sr as sr_ops
from hcitui.workflow.context import Context
from hcitui.workflow.sr.snapshot import PartnershipSnapshot, SnapshotError, SRSnapshot
from hcitui.workflow.sr.store import load_snapshot
from hcitui.workflow.steps import Plan


def remove_params(sp: PartnershipSnapshot) -> dict[str, Any]:
    return {"source_computer_name": sp.source_computer, "source_rg_name": sp.source_rg,
            "destination_computer_name": sp.destination_computer, "destination_rg_name": sp.destination_rg}


def recreate_params(sp: PartnershipSnapshot) -> dict[str, Any]:
    """New-SRPartnership's parameters for one snapshot entry (switches only when on)."""
    return {
        "source_computer_name": sp.source_computer,
        "source_rg_name": sp.source_rg,
        "source_volume_name": list(sp.source_volumes),
        "source_log_volume_name": sp.source_log_volume,
        "destination_computer_name": sp.destination_computer,
        "destination_rg_name": sp.destination_rg,
        "destination_volume_name": list(sp.destination_volumes),
        "destination_log_volume_name": sp.destination_log_volume,
        "replication_mode": "Asynchronous" if sp.asynchronous else "Synchronous",
        "log_size_in_bytes": sp.log_size_in_bytes,
        "async_rpo": sp.async_rpo if sp.asynchronous else None,
        "enable_encryption": bool(sp.is_encrypted),
        "enable_consistency_groups": bool(sp.consistency_groups),
        "enable_compression": bool(sp.compression),
    }


def new_command(sp: PartnershipSnapshot) -> str:
    """The plain New-SRPartnership command line equivalent to recreating ``sp`` (for the operator)."""
    try:
        params = sr_ops.new_sr_partnership.make_params(recreate_params(sp)).to_ps()
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"# cannot be recreated as it is: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    parts = ["New-SRPartnership"]
    for key, value in params.items():
        parts.append(f"-{key}" if value is True else f"-{key} {ps_quote(value)}")
    parts.append("-Force")
    return " `\n    ".join(parts)


def view_text(snapshot: SRSnapshot, path: Path | None = None, sha: str | None = None) -> str:
    lines = [f"# Storage Replica snapshot of {snapshot.cluster}, taken "
             f"{snapshot.taken_at.astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')}"]
    if path is not None:
        lines.append(f"# File: {path}")
    if sha:
        lines.append(f"# sha256: {sha}")
    lines.append(f"# {len(snapshot.partnerships)} partnerships. Recreating one by hand (after its removal):")
    for sp in snapshot.partnerships:
        lines += ["", f"# {sp.label}", new_command(sp)]
    if any(sp.compression is None for sp in snapshot.partnerships):
        lines += ["", "# Compression is not readable from Get-SRGroup: if you had enabled it, add -EnableCompression."]
    lines += ["", "# The snapshot file:", snapshot.model_dump_json(indent=2)]
    return "\n".join(lines) + "\n"


def plan_remove(ctx: Context) -> Plan:
    plan = Plan(f"Remove the SR partnerships of {ctx.name}, one at a time (phase 4)")
    plan.notes += [
        "Refused unless a snapshot was taken and re-read and still describes",
        "every live partnership, every node is Up and every partnership is",
        "ContinuouslyReplicating. Each removal is proved by Get-SRPartnership",
        "no longer listing it; the destination groups go, the source groups stay.",
        "Partnerships already removed are skipped (an interrupted run goes on).",
    ]
    try:
        snapshot = load_snapshot(ctx)
    except SnapshotError as exc:
        plan.notes.append(f"Nothing to remove yet: {exc.sentence}.")
        return plan
    for sp in snapshot.partnerships:
        plan.add(sr_ops.remove_sr_partnership, remove_params(sp), f"any node of {ctx.name}", sp.label)
    return plan


def plan_recreate(ctx: Context) -> Plan:
    plan = Plan(f"Recreate the SR partnerships of {ctx.name} from the snapshot (phase 6)")
    plan.notes += [
        "One partnership at a time: each waits for its initial block copy (its",
        "destination group ContinuouslyReplicating, NumOfBytesRemaining 0) before",
        "the next is created. One already present is not created again. Then the",
        "configuration is compared with the snapshot.",
    ]
    try:
        snapshot = load_snapshot(ctx)
    except SnapshotError as exc:
        plan.notes.append(f"Nothing to recreate from: {exc.sentence}.")
        return plan
    for sp in snapshot.partnerships:
        plan.add(sr_ops.new_sr_partnership, recreate_params(sp), f"any node of {ctx.name}", sp.label)
    return plan
