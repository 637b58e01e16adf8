"""The one vocabulary of checks: verification, prerequisites and the CAU preflight each judge
:class:`CheckResult` values (name, node, status, reason, remediation) into a :class:`ChecksReport`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from hcitui.core.errors import Remedy

if TYPE_CHECKING:
    from hcitui.workflow.observe import ClusterState


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CheckResult:
    name: str
    node: str | None
    status: Status
    reason: str
    remediation: str | None = None  # what the operator can do about it, when there is something
    gate: bool = False  # a gate on the rolling upgrade (workflow/gates.py): the run refuses while it fails
    remedy: Remedy | None = None  # the action hcitui offers for it, when it has one (a key, a command)
    severity: str | None = None  # the environment checker's severity: "critical" (blocks) or "warning" (does not)

    @property
    def ok(self) -> bool:
        return self.status in (Status.PASS, Status.WARN)

    def as_json(self) -> dict[str, Any]:
        out = {"name": self.name, "node": self.node, "status": self.status.value, "reason": self.reason}
        if self.remediation:
            out["remediation"] = self.remediation
        if self.severity:
            out["severity"] = self.severity
        return out


@dataclass
class ChecksReport:
    """A set of judged checks (verification, prerequisites): passed when none failed or is unknown."""

    cluster: str
    checks: list[CheckResult]
    started: datetime
    finished: datetime
    observed: ClusterState | None = None  # what was read, when the checks judged a ClusterState

    @property
    def passed(self) -> bool:
        return all(c.status in (Status.PASS, Status.WARN) for c in self.checks)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for check in self.checks:
            out[check.status.value] += 1
        return out

    def for_node(self, node: str | None) -> ChecksReport:
        """The same report limited to one node's checks and the cluster-wide ones (``--node``)."""
        if not node:
            return self
        kept = [c for c in self.checks if c.node is None or c.node.lower() == node.lower()]
        return dataclasses.replace(self, checks=kept)

    def summary(self) -> str:
        c = self.counts()
        parts = [f"{c['pass']} pass", f"{c['fail']} fail"]
        if c["unknown"]:
            parts.append(f"{c['unknown']} unknown")
        if c["warn"]:
            parts.append(f"{c['warn']} warn")
        return ("PASSED: " if self.passed else "NOT PASSED: ") + ", ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "passed": self.passed,
            "started": self.started.isoformat(timespec="seconds"),
            "finished": self.finished.isoformat(timespec="seconds"),
            "checks": [c.as_json() for c in self.checks],
        }
