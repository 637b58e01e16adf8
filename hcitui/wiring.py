"""The composition root: turns options into a ready Context (lab or real cluster).

Only the CLI and the app call this; the workflow never knows whether it drives a lab.
"""

from __future__ import annotations

from pathlib import Path

from hcitui.config import ClusterConfig, Config, ConfigError, NodeConfig, TransportConfig, load_config, state_dir
from hcitui.journal import AuditLog, Journal
from hcitui.lab import Lab
from hcitui.lab.inprocess import InProcessSession
from hcitui.remote import ClusterClient, NodeInfo
from hcitui.workflow.context import Context

LAB_CLUSTER = "LAB-STRETCH"


def lab_path(state_root: Path) -> Path:
    return Path(state_root) / "lab" / f"{LAB_CLUSTER}.json"


def open_lab(state_root: Path, node_count: int = 4, *, reset: bool = False) -> Lab:
    if node_count < 2 or node_count > 16 or node_count % 2:
        raise ConfigError([f"--lab-nodes {node_count}: the lab takes an even number of nodes from 2 to 16"])
    return Lab.open(lab_path(state_root), node_count, reset=reset)


def lab_cluster_config(lab: Lab) -> ClusterConfig:
    return ClusterConfig(
        name=lab.state.cluster_name,
        nodes=[NodeConfig(name=n.name, site=n.site) for n in lab.state.nodes.values()],
        transport=TransportConfig(scheme="https", auth="basic", username="lab-operator"),
        iso_path=lab.state.iso_path,
        staging_path=lab.state.staging_path,
    )


def select_cluster(config_path: Path | None, cluster: str | None) -> ClusterConfig:
    config: Config = load_config(config_path)
    return config.cluster(cluster)


def context_for_lab(lab: Lab, *, read_only: bool, state_root: Path | None = None) -> Context:
    root = Path(state_root) if state_root else state_dir()
    cluster = lab_cluster_config(lab)
    audit = AuditLog.open(root, cluster.name)
    sessions = {
        node.name: InProcessSession(lab, node.name, read_only=read_only, audit=audit,
                                    default_timeout=cluster.timeouts.operation)
        for node in cluster.nodes
    }
    client = ClusterClient(cluster.name, [NodeInfo(n.name, n.site) for n in cluster.nodes], sessions,
                           read_only=read_only, concurrency=cluster.concurrency)
    return Context(cluster=cluster, client=client, journal=Journal.open(root, cluster.name), audit=audit,
                   state_root=root, read_only=read_only, lab=True, transport_note="lab (in-process)")


def context_for_config(cluster: ClusterConfig, *, read_only: bool, state_root: Path | None = None) -> Context:
    """A context on a real cluster over WinRM."""
    from hcitui.remote.psrp import PsrpSessionFactory  # pypsrp is imported only when needed

    root = Path(state_root) if state_root else state_dir()
    effective_read_only = read_only or cluster.read_only
    audit = AuditLog.open(root, cluster.name)
    factory = PsrpSessionFactory(cluster)
    sessions = {
        node.name: factory.session(node, read_only=effective_read_only, audit=audit) for node in cluster.nodes
    }
    client = ClusterClient(cluster.name, [NodeInfo(n.name, n.site) for n in cluster.nodes], sessions,
                           read_only=effective_read_only, concurrency=cluster.concurrency)
    return Context(cluster=cluster, client=client, journal=Journal.open(root, cluster.name), audit=audit,
                   state_root=root, read_only=effective_read_only, lab=False, transport_note=factory.describe())
