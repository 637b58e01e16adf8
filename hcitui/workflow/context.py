"""What every workflow step runs with: the cluster, its sessions, its journal and audit log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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

    @property
    def name(self) -> str:
        return self.cluster.name

    async def close(self) -> None:
        try:
            await self.client.close()
        finally:
            while self.cleanup:
                self.cleanup.pop()()
