"""The monitor: what the cluster looks like now, what changed since the last look, and when to look again.

Plain asyncio, no Textual, data only: :class:`Monitor` reads the cluster with :func:`observe` (reads
only), turns the :class:`ClusterState` into a value per node and column and lines per section, says
which values changed since the previous refresh, remembers since when a node has not answered, and
computes the delay before the next refresh (the interval, or longer after failures: it backs off).
How it is laid out and worded on screen (columns, the status line, the marks) is the screen's; the
screen arms its next refresh only after the previous one finished, so refreshes never overlap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hcitui.core import model
from hcitui.core.units import bar, clock, human_bytes
from hcitui.remote import NodeEvent, RemoteError
from hcitui.workflow import observe as observe_mod
from hcitui.workflow.context import Context
from hcitui.workflow.observe import ClusterState, problem
from hcitui.workflow.sr.menu import NOT_APPLICABLE
from hcitui.workflow.verify import cluster_parts, observe_checks

CLUSTER_PARTS = ("nodes", "groups", "csv", "jobs", "sr_groups", "cau_run")
NODE_PARTS = ("os",)
OPERATIONS = [*(observe_mod.CLUSTER_PARTS[p] for p in CLUSTER_PARTS), *(observe_mod.NODE_PARTS[p] for p in NODE_PARTS)]

# Outcomes that mean "the node does not answer" (as opposed to "it answered with an error").
GONE = ("unreachable", "rebooting", "timeout")
MAX_BACKOFF = 120.0


@dataclass
class Line:
    """One line of a section; ``key`` identifies it across refreshes (to tell what changed)."""

    key: str
    text: str
    changed: bool = False


@dataclass
class Snapshot:
    """The monitor's view of one refresh: what each node and section showed, and what changed."""

    rows: dict[str, dict[str, str]]  # node -> column key -> value
    jobs: list[Line]
    sr_groups: list[Line]
    cau: list[Line]
    problems: list[str]  # the parts that could not be read, as sentences
    read_at: datetime
    changed: dict[str, set[str]] = field(default_factory=dict)  # node -> columns changed since the last refresh
    unreachable: dict[str, float] = field(default_factory=dict)  # node -> monotonic time first seen unreachable
    failed: bool = False  # the cluster could not be read at all

    def sections(self) -> list[tuple[str, list[Line]]]:
        return [("Storage jobs", self.jobs), ("SR groups", self.sr_groups), ("CAU run", self.cau)]


class Monitor:
    """One cluster's monitor. ``refresh`` is not re-entrant: the caller arms the next one after it returns."""

    def __init__(self, ctx: Context, interval: float | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx = ctx
        self.interval = float(interval if interval is not None else ctx.cluster.monitor_interval)
        self.clock = clock
        self.previous: Snapshot | None = None
        self.failures = 0  # consecutive refreshes that could not read the cluster
        self.last_error: str | None = None
        self.unreachable_since: dict[str, float] = {}
        self.running = False

    # ------------------------------------------------------------------ timing
    def next_delay(self) -> float:
        """The interval after a good refresh; doubling after each failed one, up to two minutes."""
        if not self.failures:
            return self.interval
        return min(self.interval * 2 ** self.failures, max(self.interval, MAX_BACKOFF))

    def unreachable_for(self, node: str) -> float | None:
        since = self.unreachable_since.get(node)
        return None if since is None else self.clock() - since

    # ----------------------------------------------------------------- refresh
    async def refresh(self, on_event: Callable[[NodeEvent], None] | None = None) -> Snapshot:
        """Read the cluster once and return what it looks like, with what changed. Never raises for the
        cluster's failures (they are in the snapshot); raises RuntimeError when called while running."""
        if self.running:
            raise RuntimeError("a refresh is already running")
        self.running = True
        try:
            # The SR groups only on a stretched cluster (Context.stretched), as every checks step reads them.
            state = await observe_checks(self.ctx, CLUSTER_PARTS, NODE_PARTS, on_event=on_event)
        except Exception as exc:
            self.failures += 1
            self.last_error = str(exc) or type(exc).__name__
            raise
        finally:
            self.running = False
        snapshot = self.digest(state)
        if snapshot.failed:
            self.failures += 1
            self.last_error = snapshot.problems[0] if snapshot.problems else "the cluster could not be read"
        else:
            self.failures = 0
            self.last_error = None
        return snapshot

    # ------------------------------------------------------------------ digest
    def digest(self, state: ClusterState) -> Snapshot:
        """Turn what was read into text, and mark what changed since the previous digest."""
        now = self.clock()
        stretched = self.ctx.stretched
        problems = [f"{part}: {problem(getattr(state, part))}" for part in cluster_parts(self.ctx, CLUSTER_PARTS)
                    if problem(getattr(state, part))]
        rows: dict[str, dict[str, str]] = {}
        for node in self.ctx.client.node_names:
            version = state.node_part(node, "os")
            gone = isinstance(version, RemoteError) and version.outcome in GONE
            if gone:
                self.unreachable_since.setdefault(node, now)
            else:
                self.unreachable_since.pop(node, None)
            rows[node] = self._row(state, node, version)
        snapshot = Snapshot(
            rows=rows,
            jobs=self._jobs(state),
            sr_groups=self._sr_groups(state) if stretched else [Line("sr", NOT_APPLICABLE)],
            cau=self._cau(state),
            problems=problems,
            read_at=state.read_at or datetime.now(UTC),
            unreachable=dict(self.unreachable_since),
            failed=isinstance(state.nodes, RemoteError),
        )
        self._mark_changes(snapshot)
        self.previous = snapshot
        return snapshot

    def _row(self, state: ClusterState, node: str, version: Any) -> dict[str, str]:
        info = state.cluster_node(node)
        row = {"node": node, "site": self.ctx.client.site_of(node) or "-"}
        if info is not None:
            row["state"] = str(info.state)
            drain = str(info.drain_status)
            row["drain"] = "-" if drain == str(model.DrainStatus.NOT_INITIATED) else drain
        else:
            row["state"] = "?" if problem(state.nodes) else "absent"
            row["drain"] = "?"
        if isinstance(version, model.OsVersion):
            row["build"] = version.build
            row["version"] = version.display_version or "?"
            row["boot"] = (version.last_boot_up_time.astimezone().strftime("%m-%d %H:%M")
                           if version.last_boot_up_time else "?")
        elif isinstance(version, RemoteError) and version.outcome in GONE:
            row["build"] = "unreachable"  # the time is added by the screen, which ticks every second
            row["version"] = row["boot"] = "?"
        else:
            row["build"] = "error" if isinstance(version, RemoteError) else "?"
            row["version"] = row["boot"] = "?"
        if problem(state.groups):
            row["roles"] = "?"
        else:
            row["roles"] = str(sum(1 for g in state.groups if (g.owner_node or "").lower() == node.lower()))
        if problem(state.csv):
            row["csv"] = "?"
        else:
            mine = [c for c in state.csv if c.node.lower() == node.lower()]
            down = sum(1 for c in mine if not c.is_available)
            row["csv"] = "none" if not mine else (f"{down} down" if down else f"{len(mine)} ok")
        row["cau"] = self._cau_node(state, node)
        return row

    @staticmethod
    def _cau_node(state: ClusterState, node: str) -> str:
        run = state.cau_run
        if not isinstance(run, model.CauRun):
            return "?"
        result = next((r for r in run.node_results if r.node.lower() == node.lower()), None)
        if result is not None:
            return str(result.status)
        note = next((n for n in reversed(run.node_status_notifications) if n.node.lower() == node.lower()), None)
        return note.status if note is not None else "-"

    @staticmethod
    def _jobs(state: ClusterState) -> list[Line]:
        err = problem(state.jobs)
        if err:
            return [Line("jobs", err)]
        active = [j for j in state.jobs if j.job_state != model.StorageJobState.COMPLETED]
        if not active:
            return [Line("jobs", "none running")]
        lines = []
        for index, job in enumerate(active):
            size = f" of {human_bytes(job.bytes_total)}" if job.bytes_total else ""
            lines.append(Line(f"job:{job.name}:{index}",
                              f"{job.name:<12} {str(job.job_state):<10} {bar(job.progress, 10)}{size}"))
        return lines

    @staticmethod
    def _sr_groups(state: ClusterState) -> list[Line]:
        err = problem(state.sr_groups)
        if err:
            return [Line("sr", err)]
        if not state.sr_groups:
            return [Line("sr", "none")]
        lines = []
        for group in state.sr_groups:
            statuses = sorted({str(r.replication_status or "?") for r in group.replicas}) or ["no replicas"]
            role = "primary" if group.is_primary else "secondary" if group.is_primary is False else "?"
            text = (f"{group.name:<18} {'/'.join(statuses):<23} {human_bytes(group.bytes_remaining or 0):>8} left "
                    f"{role} {group.computer_name or '?'}")
            lines.append(Line(f"sr:{group.name}:{group.computer_name}", text))
        return lines

    @staticmethod
    def _cau(state: ClusterState) -> list[Line]:
        err = problem(state.cau_run)
        if err:
            return [Line("cau", err)]
        run: model.CauRun = state.cau_run
        text = str(run.state)
        if run.run_start_time:
            text += f" since {clock(run.run_start_time)}"
        if run.current_orchestrator:
            text += f" on {run.current_orchestrator}"
        if run.cancel_pending:
            text += ", cancel pending"
        if run.node_results:
            done = ", ".join(f"{r.node} {r.status}" for r in run.node_results)
            text += f"; results: {done}"
        return [Line("cau", text)]

    def _mark_changes(self, snapshot: Snapshot) -> None:
        before = self.previous
        if before is None:
            return
        for node, row in snapshot.rows.items():
            old = before.rows.get(node, {})
            changed = {column for column, value in row.items() if column != "node" and old.get(column) != value}
            if changed:
                snapshot.changed[node] = changed
        for (_, lines), (_, old_lines) in zip(snapshot.sections(), before.sections()):
            old_text = {line.key: line.text for line in old_lines}
            for line in lines:
                line.changed = old_text.get(line.key) != line.text
