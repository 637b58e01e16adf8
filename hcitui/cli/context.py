"""Opening a Context: from the config, or on the lab. The composition root of both front ends.

Only the command line and the console call this; the workflow never knows whether it drives a lab.
``hcitui --lab`` serves the lab over real WinRM on loopback (:mod:`hcitui.lab.serve`) and connects to
it with the same pypsrp sessions as a production cluster; the in-process session is for fast tests.
This module is the one way from the command line to the lab.
"""

from __future__ import annotations

import sys
from argparse import Namespace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hcitui.core.audit import AuditLog
from hcitui.core.config import (
    ClusterConfig,
    Config,
    ConfigError,
    NodeConfig,
    load_config,
    state_dir,
)
from hcitui.core.journal import Journal, cluster_dir
from hcitui.lab import Lab, LabError, LabState
from hcitui.lab import serve as lab_serve
from hcitui.lab.serve import (  # noqa: F401  (re-exported: the lab as a config, and the served lab)
    LAB_ISO_NAME,
    LAB_USER,
    ServedLab,
    lab_cluster_config,
    lab_iso_source,
    served_config_text,
)
from hcitui.lab.state import SINGLE_CLUSTER, STRETCHED_CLUSTER
from hcitui.lab.state import cluster_name as lab_cluster_name
from hcitui.remote import ClusterClient, NodeInfo, Session
from hcitui.workflow.context import Context

if TYPE_CHECKING:
    from hcitui.remote.psrp import PsrpSessionFactory

LAB_CLUSTER = STRETCHED_CLUSTER  # the default lab (two sites); ``--lab-sites 1`` is LAB_SINGLE
LAB_SINGLE = SINGLE_CLUSTER
LAB_CLUSTERS = (LAB_CLUSTER, LAB_SINGLE)


def lab_dir(state_root: Path) -> Path:
    return Path(state_root) / "lab"


def lab_path(state_root: Path, sites: int = 2) -> Path:
    """The lab's file, named after its cluster: the stretched and the one-site lab never share one."""
    return lab_dir(state_root) / f"{lab_cluster_name(sites)}.json"


def open_lab(state_root: Path, node_count: int = 4, *, reset: bool = False, sites: int = 2) -> Lab:
    """The lab cluster: two sites (LAB-STRETCH, an even node count) or one (LAB-SINGLE, any count)."""
    if sites not in (1, 2):
        raise ConfigError([f"--lab-sites {sites}: the lab has 1 site or 2"])
    if sites == 1 and not 2 <= node_count <= 16:
        raise ConfigError([f"--lab-nodes {node_count}: the one-site lab takes 2 to 16 nodes"])
    if sites == 2 and (node_count < 2 or node_count > 16 or node_count % 2):
        raise ConfigError([f"--lab-nodes {node_count}: the lab takes an even number of nodes from 2 to 16"])
    return Lab.open(lab_path(state_root, sites), node_count, reset=reset, sites=sites)


def reset_lab_records(state_root: Path, cluster: str = LAB_CLUSTER) -> str:
    """``--lab-reset``: the lab cluster's journal and audit log start over with the fresh lab.

    The old files are kept beside them, renamed with the time of the reset (``journal.json`` becomes
    ``journal.reset-20250601T101500Z.json``, ``audit.jsonl.2`` becomes ``audit.reset-...jsonl.2``), where
    neither the journal nor the audit log reads them any more. Only the lab's own cluster is touched:
    a real cluster's files are never moved. Returns the one line that says what was done.
    """
    if cluster not in LAB_CLUSTERS:
        raise ValueError(f"{cluster} is not a lab cluster ({', '.join(LAB_CLUSTERS)}); its records are left as "
                         "they are")
    folder = cluster_dir(state_root, cluster)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    old = [folder / "journal.json", *AuditLog(folder / "audit.jsonl").files()]
    kept: list[Path] = []
    for path in old:
        if not path.is_file():
            continue
        head, _, rest = path.name.partition(".")
        target = path.with_name(f"{head}.reset-{stamp}.{rest}" if rest else f"{head}.reset-{stamp}")
        path.replace(target)
        kept.append(target)
    if not kept:
        return f"Lab reset: {cluster} starts fresh; it had no journal or audit log to keep."
    return (f"Lab reset: {cluster}'s journal and audit log start over; the old ones are kept in {folder} "
            f"as *.reset-{stamp}.* ({len(kept)} files).")


def serve_lab(lab: Lab, state_root: Path, *, base_port: int | None = None, coordinator: bool = True) -> ServedLab:
    """Serve the lab over WinRM on loopback, its CA and password kept in the lab's folder under ``state_root``."""
    return lab_serve.serve(lab, lab_dir(state_root), base_port=base_port, coordinator=coordinator)


def select_cluster(config_path: Path | None, cluster: str | None) -> ClusterConfig:
    config: Config = load_config(config_path)
    return config.cluster(cluster)


# ------------------------------------------------------------------- contexts


def _context(cluster: ClusterConfig, sessions: dict[str, Session], audit: AuditLog, root: Path, *,
             read_only: bool, lab: bool, note: str, coordinator: Session | None = None) -> Context:
    client = ClusterClient(cluster.name, [NodeInfo(n.name, n.site) for n in cluster.nodes], sessions,
                           read_only=read_only, concurrency=cluster.concurrency, coordinator=coordinator)
    return Context(cluster=cluster, client=client, journal=Journal.open(root, cluster.name), audit=audit,
                   state_root=root, read_only=read_only, lab=lab, transport_note=note,
                   poll=0.5 if lab else 2.0)  # the lab's time runs fast


def context_for_lab(lab: Lab, *, read_only: bool, state_root: Path | None = None,
                    transport: Literal["winrm", "inprocess"] = "inprocess", coordinator: bool = True) -> Context:
    """A context on the lab: over WinRM on loopback (what ``--lab`` uses), or in-process (tests).
    ``coordinator``: the CAU run goes through the lab's CAU coordinator (the recommended setup);
    without, it starts on a node (the path the CAU preflight warns about)."""
    root = Path(state_root) if state_root else state_dir()
    if transport == "winrm":
        served = serve_lab(lab, root, coordinator=coordinator)
        try:
            ctx = _psrp_context(served.cluster, root, read_only=read_only, password=served.password, lab=True)
        except BaseException:
            served.stop()
            raise
        ctx.transport_note = "lab over WinRM, " + ctx.transport_note
        ctx.cleanup.append(served.stop)
        return ctx

    from hcitui.lab.inprocess import InProcessSession

    cluster = lab_cluster_config(lab, coordinator=coordinator)
    audit = AuditLog.open(root, cluster.name, max_bytes=cluster.audit_max_bytes, keep=cluster.audit_keep)
    sessions: dict[str, Session] = {
        node.name: InProcessSession(lab, node.name, read_only=read_only, audit=audit,
                                    default_timeout=cluster.timeouts.operation)
        for node in cluster.nodes
    }
    coordinator_session = InProcessSession(lab, cluster.coordinator.host, read_only=read_only, audit=audit,
                                           default_timeout=cluster.timeouts.operation) if cluster.coordinator else None
    return _context(cluster, sessions, audit, root, read_only=read_only, lab=True, note="lab (in-process)",
                    coordinator=coordinator_session)


def _psrp_context(cluster: ClusterConfig, root: Path, *, read_only: bool, password: str | None = None,
                  lab: bool = False) -> Context:
    from hcitui.remote.psrp import (
        PsrpSessionFactory,  # pypsrp is imported only when needed
    )

    audit = AuditLog.open(root, cluster.name, max_bytes=cluster.audit_max_bytes, keep=cluster.audit_keep)
    factory = PsrpSessionFactory(cluster, password=password)
    audit.add_secret(factory.password)
    sessions: dict[str, Session] = {
        node.name: factory.session(node, read_only=read_only, audit=audit) for node in cluster.nodes
    }
    coordinator = _coordinator_session(cluster, factory, read_only=read_only, audit=audit)
    return _context(cluster, sessions, audit, root, read_only=read_only, lab=lab, note=factory.describe(),
                    coordinator=coordinator)


def _coordinator_session(cluster: ClusterConfig, factory: PsrpSessionFactory, *, read_only: bool,
                         audit: AuditLog) -> Session | None:
    """The session to the cluster's CAU coordinator, with its own transport (the cluster's, overridden by
    what ``[clusters.coordinator]`` sets) and credential delegation on; None when there is none."""
    from hcitui.remote.psrp import PsrpSessionFactory

    coordinator = cluster.coordinator
    transport = cluster.coordinator_transport()
    if coordinator is None or transport is None:
        return None
    nodes_transport = cluster.transport
    same_account = (transport.username, transport.password_command) == (nodes_transport.username,
                                                                        nodes_transport.password_command)
    # One password prompt when the coordinator takes the nodes' account (it usually does).
    password = factory.password if same_account else None
    view = cluster.model_copy(update={"transport": transport,
                                      "nodes": [NodeConfig.model_construct(name=coordinator.host,
                                                                           address=coordinator.address, site=None)]})
    coordinator_factory = PsrpSessionFactory(view, password=password, delegate=True)
    audit.add_secret(coordinator_factory.password)
    return coordinator_factory.session(view.nodes[0], read_only=read_only, audit=audit)


def context_for_config(cluster: ClusterConfig, *, read_only: bool, state_root: Path | None = None) -> Context:
    """A context on a real cluster over WinRM."""
    root = Path(state_root) if state_root else state_dir()
    return _psrp_context(cluster, root, read_only=read_only or cluster.read_only)


# ------------------------------------------------------------- from the command line


def state_root() -> Path:
    return state_dir()


def make_context(args: Namespace) -> Context:
    """The Context for ``--lab`` or ``--config`` (and ``--cluster``, ``--read-only``, ``--insecure``);
    raises ConfigError for anything wrong. ``--lab-reset`` says on standard error what it did."""
    if args.lab and args.config:
        raise ConfigError(["--lab and --config exclude each other"])
    root = state_root()
    if args.lab:
        try:
            lab = open_lab(root, args.lab_nodes, reset=args.lab_reset, sites=getattr(args, "lab_sites", 2))
        except LabError as exc:  # the lab's own file cannot be used: a usage problem, in one sentence
            raise ConfigError([str(exc)]) from None
        if args.lab_reset:
            print(reset_lab_records(root, lab.state.cluster_name), file=sys.stderr, flush=True)
        return context_for_lab(lab, read_only=args.read_only, state_root=root, transport="winrm",
                               coordinator=not args.lab_no_coordinator)
    cluster = select_cluster(args.config, args.cluster)
    if args.insecure:
        transport = cluster.transport.model_copy(update={"insecure": True, "ca_file": None})
        changes: dict[str, Any] = {"transport": transport}
        if cluster.coordinator is not None:
            changes["coordinator"] = cluster.coordinator.model_copy(update={"insecure": True, "ca_file": None})
        cluster = cluster.model_copy(update=changes)
    return context_for_config(cluster, read_only=args.read_only, state_root=root)


def lab_cluster_nodes(root: Path, sites: int = 2) -> tuple[str, list[tuple[str, str]]] | None:
    """The served lab's cluster name and (node, site) pairs, read from its file without opening it;
    None when there is no lab file or it cannot be read (the report then names the default lab)."""
    path = lab_path(root, sites)
    if not path.exists():
        return None
    try:
        state = LabState.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return state.cluster_name, [(n.name, n.site) for n in state.nodes.values()]


def script_evidence(script: str) -> list[str]:
    """What Microsoft's reference says of each cmdlet and property a script relies on (the lab's
    catalogue), for ``hcitui ops show``. Imported here only: it parses with tree-sitter."""
    from hcitui.lab import propreads

    return propreads.evidence(script)
