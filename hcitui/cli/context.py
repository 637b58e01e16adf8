"""The composition root: turns options into a ready Context (lab or real cluster).

Only the CLI and the app call this; the workflow never knows whether it drives a lab.
``hcitui --lab`` serves the lab over real WinRM on loopback and connects to it with the
same pypsrp sessions as a production cluster; the in-process session is for fast tests.
"""

from __future__ import annotations

import secrets
import shlex
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from hcitui.core.config import (
    ClusterConfig,
    Config,
    ConfigError,
    CoordinatorConfig,
    NodeConfig,
    TransportConfig,
    load_config,
    parse_config,
    state_dir,
)
from hcitui.core.files import atomic_write_text
from hcitui.core.journal import AuditLog, Journal
from hcitui.lab import Lab
from hcitui.lab.state import COORDINATOR, ISO_SIZE
from hcitui.remote import ClusterClient, NodeInfo, Session
from hcitui.workflow.context import Context

if TYPE_CHECKING:
    from hcitui.remote.psrp import PsrpSessionFactory

LAB_CLUSTER = "LAB-STRETCH"
LAB_USER = "lab-operator"
LAB_ISO_NAME = "AzureLocal-2509-25398.iso"


def lab_dir(state_root: Path) -> Path:
    return Path(state_root) / "lab"


def lab_path(state_root: Path) -> Path:
    return lab_dir(state_root) / f"{LAB_CLUSTER}.json"


def open_lab(state_root: Path, node_count: int = 4, *, reset: bool = False) -> Lab:
    if node_count < 2 or node_count > 16 or node_count % 2:
        raise ConfigError([f"--lab-nodes {node_count}: the lab takes an even number of nodes from 2 to 16"])
    return Lab.open(lab_path(state_root), node_count, reset=reset)


def reset_lab_records(state_root: Path, cluster: str = LAB_CLUSTER) -> str:
    """``--lab-reset``: the lab cluster's journal and audit log start over with the fresh lab.

    The old files are kept beside them, renamed with the time of the reset (``journal.json`` becomes
    ``journal.reset-20250601T101500Z.json``, ``audit.jsonl.2`` becomes ``audit.reset-...jsonl.2``), where
    neither the journal nor the audit log reads them any more. Only the lab's own cluster is touched:
    a real cluster's files are never moved. Returns the one line that says what was done.
    """
    if cluster != LAB_CLUSTER:
        raise ValueError(f"{cluster} is not the lab cluster ({LAB_CLUSTER}); its records are left as they are")
    from datetime import datetime, timezone

    from hcitui.core.journal import cluster_dir

    folder = cluster_dir(state_root, cluster)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
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


def lab_iso_source(lab: Lab) -> Path | None:
    """The lab's stand-in for the 2509 ISO on this machine, next to the lab's state: made once,
    exactly ``ISO_SIZE`` deterministic bytes (what the lab's nodes hold), so copies can resume."""
    if lab.path is None:
        return None
    path = Path(lab.path).parent / LAB_ISO_NAME
    if not path.is_file() or path.stat().st_size != ISO_SIZE:
        block = bytes(range(256)) * 4096  # 1 MiB of a repeating pattern
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.tmp")
        with open(partial, "wb") as handle:
            for start in range(0, ISO_SIZE, len(block)):
                handle.write(block[: ISO_SIZE - start])
        partial.replace(path)
    return path


def lab_cluster_config(lab: Lab, addresses: dict[str, str] | None = None, ca_file: Path | None = None,
                       password_command: str | None = None, *, coordinator: bool = True) -> ClusterConfig:
    """The lab as a cluster config; ``coordinator``: with its CAU coordinator (``LAB-MGMT``, outside the
    cluster), the recommended setup, which the lab shows unless told not to (``--lab-no-coordinator``)."""
    addresses = addresses or {}
    return ClusterConfig(
        name=lab.state.cluster_name,
        nodes=[NodeConfig(name=n.name, site=n.site, address=addresses.get(n.name)) for n in lab.state.nodes.values()],
        transport=TransportConfig(scheme="https", auth="basic", username=LAB_USER, ca_file=ca_file,
                                  password_command=password_command),
        iso_path=lab.state.iso_path,
        staging_path=lab.state.staging_path,
        iso_source=lab_iso_source(lab),
        # Its transport is the lab's (Basic over HTTPS): the lab's WinRM takes nothing else.
        coordinator=CoordinatorConfig(host=COORDINATOR, address=addresses.get(COORDINATOR)) if coordinator else None,
    )


def select_cluster(config_path: Path | None, cluster: str | None) -> ClusterConfig:
    config: Config = load_config(config_path)
    return config.cluster(cluster)


# ------------------------------------------------------------------ served lab


@dataclass
class ServedLab:
    """The lab's WinRM endpoints, running, and the config that reaches them."""

    lab: Lab
    server: object  # hcitui.lab.endpoint.LabServer
    cluster: ClusterConfig
    password: str
    ca_file: Path
    password_file: Path

    def lines(self) -> list[str]:
        """One line per node (``LAB-A1 URL``), one for the CAU coordinator (``coordinator LAB-MGMT URL``)
        when it is served, then the credentials."""
        out = [f"{'coordinator ' if name == COORDINATOR else ''}{name} {endpoint.url}"
               for name, endpoint in self.server.endpoints.items()]
        out.append(f"user {LAB_USER} password {self.password} ca {self.ca_file}")
        return out

    def __post_init__(self) -> None:
        # Lab time moves on even while nobody asks (a reboot ends, a repair job finishes).
        self._stopping = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="hcitui-lab-ticker", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._stopping.wait(0.25):
            self.lab.tick()

    def stop(self) -> None:
        self._stopping.set()
        self.server.stop()
        self._ticker.join(timeout=5)


def serve_lab(lab: Lab, state_root: Path, *, base_port: int | None = None, coordinator: bool = True) -> ServedLab:
    """Start one HTTPS WinRM endpoint per lab node on 127.0.0.1, with a fresh CA and password; with
    ``coordinator``, one more for the lab's CAU coordinator (after the nodes: base_port + node count)."""
    from hcitui.lab.certs import make_lab_certs, server_ssl_context
    from hcitui.lab.endpoint import LabServer

    folder = lab_dir(state_root)
    certs = make_lab_certs(folder / "tls")
    password = secrets.token_urlsafe(18)
    password_file = folder / "password"
    atomic_write_text(password_file, password, mode=0o600)  # only the user can read it
    server = LabServer(lab, username=LAB_USER, password=password, ssl_context=server_ssl_context(certs),
                       base_port=base_port, coordinator=coordinator)
    server.start()
    addresses = {name: f"127.0.0.1:{endpoint.port}" for name, endpoint in server.endpoints.items()}
    cluster = lab_cluster_config(lab, addresses, certs.ca_file,
                                 password_command="cat " + shlex.quote(str(password_file)), coordinator=coordinator)
    return ServedLab(lab, server, cluster, password, certs.ca_file, password_file)


def served_config_text(served: ServedLab) -> str:
    """An hcitui config for the served lab: the password is reached through a command, never stored."""
    c = served.cluster

    def q(value: str) -> str:
        return "'" + value + "'" if "'" not in value else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [
        "# hcitui config for the lab served by 'hcitui lab serve'. Valid while that process runs.",
        "[[clusters]]",
        f"name = {q(c.name)}",
        f"iso_path = {q(c.iso_path or '')}",
        f"staging_path = {q(c.staging_path)}",
        *([f"iso_source = {q(str(c.iso_source))}"] if c.iso_source else []),
        "",
        "[clusters.transport]",
        'scheme = "https"',
        'auth = "basic"',
        f"username = {q(LAB_USER)}",
        f"ca_file = {q(str(served.ca_file))}",
        f"password_command = {q(c.transport.password_command or '')}",
    ]
    for node in c.nodes:
        lines += ["", "[[clusters.nodes]]", f"name = {q(node.name)}", f"site = {q(node.site or '')}",
                  f"address = {q(node.address or '')}"]
    if c.coordinator is not None:
        lines += ["", "# The CAU coordinator: a management server outside the cluster that runs the CAU run.",
                  "[clusters.coordinator]", f"host = {q(c.coordinator.host)}",
                  f"address = {q(c.coordinator.address or '')}"]
    text = "\n".join(lines) + "\n"
    parse_config(text, "generated lab config")  # never write a config hcitui would refuse
    return text


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
    from hcitui.remote.psrp import PsrpSessionFactory  # pypsrp is imported only when needed

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
