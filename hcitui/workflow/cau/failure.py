"""Why a CAU run failed, per node: the first real failure of each node that failed, as Get-CauReport
-Detailed gives it (Get-CauRun's node results when the report is not the run's): the node, the operation
that failed, the PowerShell error's text and what to do next.

The operation is the update that failed to install (a failed InstallResults entry, with its error code),
else the cmdlet the error names (``Suspend-ClusterNode : ...``), else the CAU stage the node was seen in
when it failed. For a run that ended Canceled the report's earlier failed run of the series explains it:
Microsoft's TSG (Azure/AzureLocal-Supportability TSG/Update/Previous-CAU-run-status-was-canceled.md) finds
"the actual reason CAU failed the first time" there, the later runs "just show the Canceled status"."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.units import clock
from hcitui.ps import cau as cau_ops
from hcitui.workflow.cau.options import short_id

# A .NET exception's type before its message, as ErrorRecordData.ExceptionData writes it (the TSG's sample:
# 'System.Management.Automation.RemoteException: The requested operation ...').
_EXCEPTION_TYPE = re.compile(r"^(?:[A-Za-z_]\w*\.)+\w*Exception:\s*")
# PowerShell's error view names the command first: 'Suspend-ClusterNode : The node ...'.
_COMMAND = re.compile(r"^([A-Z][a-z]+-[A-Za-z]+)\s:\s*")


@dataclass(frozen=True)
class NodeFailure:
    """One node's first real failure. ``node`` is a node's name, or the cluster's for the run's own error."""

    node: str
    operation: str
    error: str
    remedy: Remedy | None = None


@dataclass(frozen=True)
class Explanation:
    """Why the run failed: ``headline`` says which run and where the details come from, ``failures`` one
    per node that failed (empty when nothing names one: ``headline`` says so)."""

    headline: str
    failures: tuple[NodeFailure, ...] = field(default_factory=tuple)
    remedy: Remedy | None = None  # what to do next for the run as a whole


def failed(status: object) -> bool:
    """A node result that failed: its Status is like '*Failed' (the TSG's own test)."""
    return str(status).lower().endswith("failed")


def error_text(raw: str | None) -> str:
    """The error's text without the exception's type name; "" when there is none."""
    text = " ".join((raw or "").split())
    return _EXCEPTION_TYPE.sub("", text)


def error_code(code: str | None) -> str:
    """An install's error code as Windows writes HRESULTs (0x800F0922), whatever form it was read in."""
    text = (code or "").strip()
    try:
        value = int(text, 0)
    except ValueError:
        return text
    return f"0x{value & 0xFFFFFFFF:08X}"


def _operation(result: model.CauNodeResult, error: str, stage: str | None) -> tuple[str, str]:
    """(operation, error text) of one failed node result."""
    installs = getattr(result, "failed_installs", None) or []
    if installs:
        first = installs[0]
        code = error_code(first.error_code)
        operation = f"install {first.update_title or first.update_id or 'an update'}"
        if not error:
            error = f"the install failed with {code}" if code else "the install failed"
        elif code and code.lower() not in error.lower():
            error = f"{error} ({code})"
        return operation, error
    command = _COMMAND.match(error)
    if command:
        return command.group(1), error[command.end():]
    if stage:
        return f"CAU {stage}", error
    return "the node's update", error


def node_failures(results: Iterable[model.CauNodeResult], remedy: Remedy | None,
                  stages: dict[str, str] | None = None) -> list[NodeFailure]:
    """One :class:`NodeFailure` per failed node, in the results' order. ``stages``: the CAU status each node
    was seen in just before it failed (the watch's), for an error that names no operation."""
    out = []
    for result in results:
        if not failed(result.status):
            continue
        error = error_text(result.error_record_data)
        operation, error = _operation(result, error, (stages or {}).get(result.node))
        out.append(NodeFailure(result.node, operation, error or f"{result.status}, with no error recorded", remedy))
    return out


def _when(started: datetime | None) -> str:
    return f" (started {clock(started)})" if started else ""


def explain(cluster: str, run_id: str | None, results: Iterable[model.CauNodeResult], *, locked: bool,
            report: cau_ops.CauReportDetail | None = None, stages: dict[str, str] | None = None,
            stopped_here: bool = False) -> Explanation:
    """Why run ``run_id`` failed. ``report``: the detailed report when it is this run's (its error id, and
    for a run that ended Canceled the failed run that began the series); ``locked``: the run ended
    RunFailed, so the cluster stays locked until it is recovered; ``stopped_here``: hcitui's stop ended it."""
    remedy = Remedy(action=Action.CAU_RECOVER) if locked else None
    rows = list(results)
    source = "Get-CauReport -Detailed" if report is not None else "Get-CauRun"
    if stopped_here and not any(failed(r.status) for r in rows):
        return Explanation(f"run {short_id(run_id)} was stopped on request (Stop-CauRun): no node failed")
    if report is not None and report.cause is not None and not any(failed(r.status) for r in rows):
        cause = report.cause
        fix = remedy or Remedy(text="fix what failed, then start the run again")
        failures = node_failures(cause.node_results, fix, None)
        if not failures and cause.error_id:
            failures = [NodeFailure(cluster, "the run", cause.error_id, fix)]
        head = (f"run {short_id(run_id)} ended Canceled; the series began with run {short_id(cause.run_id)}"
                f"{_when(cause.run_start_time)}, which ended {cause.status} ({source}):")
        return Explanation(head, tuple(failures), fix)
    word = "RunFailed: the cluster stays locked until it is recovered" if locked else "with failed nodes"
    fix = remedy or Remedy(text="fix what failed, then start the run again")
    failures = node_failures(rows, fix, stages)
    if not failures and report is not None and report.error_id:
        failures = [NodeFailure(cluster, "the run", report.error_id, fix)]
    if not failures:
        return Explanation(f"run {short_id(run_id)} ended {word}; no node's failure was recorded ({source})", (),
                           fix)
    return Explanation(f"run {short_id(run_id)} ended {word} ({source}):", tuple(failures), fix)

