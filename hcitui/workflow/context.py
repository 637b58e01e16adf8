"""What every workflow step runs with: the cluster, its sessions, its journal and audit log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hcitui.config import ClusterConfig
from hcitui.journal import AuditLog, Journal
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
    transport_note: str = ""  # e.g. "lab in-process", "https, CA-validated", "INSECURE"

    @property
    def name(self) -> str:
        return self.cluster.name

    async def close(self) -> None:
        await self.client.close()
