"""What every mutating step shares: refusal and failure as sentences, and a plan that shows
the exact PowerShell it will run per node before anything runs (preview and dry run)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hcitui.core.errors import HciError, Remedy
from hcitui.ps import Operation, Params

if TYPE_CHECKING:
    from hcitui.workflow.context import Context


class Refused(HciError):
    """An interlock refused the step; nothing was changed. ``reasons`` are sentences without key letters.
    ``overridable``: only the registry gate refused it, which the operator may override with a typed reason.
    ``remedy``: the next thing to do, when hcitui can do it (each front end renders it as a key or a command)."""

    def __init__(self, step: str, reasons: list[str], *, overridable: bool = False,
                 remedy: Remedy | None = None) -> None:
        self.step = step
        self.reasons = reasons
        self.overridable = overridable
        self.remedy = remedy
        super().__init__(self.sentence)

    @property
    def sentence(self) -> str:
        return f"{self.step} refused: " + "; ".join(self.reasons)


class StepFailed(HciError):
    """The step ran and did not reach its verified result; the cluster was left as it is."""

    def __init__(self, step: str, message: str, *, remedy: Remedy | None = None) -> None:
        self.step = step
        self.message = message
        self.remedy = remedy
        super().__init__(self.sentence)

    @property
    def sentence(self) -> str:
        return f"{self.step} failed: {self.message}"


class Unfinished(HciError):
    """A re-verification found the step stopped part-way: it must be resumed, not assumed done.
    ``remedy``: the step to run again to resume it."""

    def __init__(self, sentence: str, *, remedy: Remedy | None = None) -> None:
        self.remedy = remedy
        super().__init__(sentence)


@dataclass(frozen=True)
class PlannedCall:
    """One remote operation a step will send: what, with which values, where."""

    op: Operation
    params: Params | dict[str, Any] | None
    where: str  # e.g. "LAB-A1" or "any node but LAB-A1"
    why: str = ""

    def render(self) -> str:
        text = self.op.render(self.params, node=self.where)
        return f"# {self.why}\n{text}" if self.why else text


@dataclass
class Plan:
    """A step's plan: the calls it will make, in order, and what it waits for in between."""

    title: str
    calls: list[PlannedCall] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, op: Operation, params: Params | dict[str, Any] | None, where: str, why: str = "") -> Plan:
        self.calls.append(PlannedCall(op, params, where, why))
        return self

    @property
    def mutates(self) -> bool:
        return any(call.op.mutates for call in self.calls)

    def preview(self) -> str:
        lines = [f"# {self.title}", "# Nothing has run yet. The PowerShell below is exactly what will be sent."]
        lines += [f"# {note}" for note in self.notes]
        for call in self.calls:
            lines += ["", call.render()]
        return "\n".join(lines) + "\n"


def target_nodes(ctx: Context, nodes: Iterable[str] | None, step: str, *, mutating: bool = True) -> list[str]:
    """The nodes a step acts on, as the cluster spells them (all of them when ``nodes`` is None).
    Refused, with nothing sent, in a read-only session (``mutating``), for a name that is not one of
    the cluster's nodes, and when no node is left."""
    if mutating and ctx.read_only:
        raise Refused(step, ["this session is read-only; nothing was sent"])
    known = {n.lower(): n for n in ctx.client.node_names}
    targets = []
    for node in (list(nodes) if nodes is not None else ctx.client.node_names):
        if node.lower() not in known:
            raise Refused(step, [f"{node} is not a node of {ctx.name}"])
        targets.append(known[node.lower()])
    if not targets:
        raise Refused(step, ["no node to act on"])
    return targets
