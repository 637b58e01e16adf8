"""What every workflow step runs with: the cluster, its sessions, its journal and audit log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hcitui.core.audit import AuditLog
from hcitui.core.config import ClusterConfig
from hcitui.core.journal import Journal
from hcitui.remote import ClusterClient


@dataclass
class Context:
    cluster: ClusterConfig
    client: ClusterClient
    journal: Journal
    audit: AuditLog
    state_root: Path
    read_only: bool
    lab: bool = False
    transport_note: str = ""  # e.g. "lab (in-process)", "https:5986 basic, CA ...", "INSECURE"
    cleanup: list[Callable[[], None]] = field(default_factory=list)  # run after the sessions close
    poll: float = 2.0  # seconds between reads while a step waits (a reboot, a repair job)
    seen_stretched: bool = False  # a read showed two sites or Storage Replica (see :attr:`stretched`)
    # What the console runs once its first screen is painted (hcitui --lab serves its lab and opens its pools
    # then, so the menu shows at once); None: nothing waits for the paint.
    open_after_paint: Callable[[], None] | None = None

    @property
    def name(self) -> str:
        return self.cluster.name

    @property
    def stretched(self) -> bool:
        """The one rule for "is this cluster stretched", which every step, screen and command asks:
        its nodes are in two sites or more as the config maps them (each node's ``site``), or a read of the
        cluster showed it (:meth:`note_read`: nodes in two Site fault domains, Storage Replica groups or
        partnerships present). Not stretched: Storage Replica does not apply (no SR checks, no SR snapshot
        gate, the SR screen says so)."""
        return len(self.client.sites) > 1 or self.seen_stretched

    def note_read(self, observed: Any) -> bool:
        """Learn from a read (a ClusterState) that the cluster is stretched although the config maps no two
        sites: Get-ClusterNode's Site fault domains, or Storage Replica groups or partnerships present. A
        part that could not be read teaches nothing. Returns :attr:`stretched`."""
        nodes = getattr(observed, "nodes", None)
        if isinstance(nodes, list) and len({s for n in nodes if (s := getattr(n, "site", None))}) > 1:
            self.seen_stretched = True
        for part in ("sr_groups", "sr_partnerships"):
            value = getattr(observed, part, None)
            if isinstance(value, list) and value:
                self.seen_stretched = True
        return self.stretched

    async def close(self) -> None:
        try:
            await self.client.close()
        finally:
            while self.cleanup:
                self.cleanup.pop()()
