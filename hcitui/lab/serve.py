"""Serving the lab over real WinRM on loopback: what ``hcitui lab serve`` runs, and what ``--lab`` starts
behind the console.

One HTTPS endpoint per lab node on 127.0.0.1 (and one for the CAU coordinator after them), a fresh CA
and password, the lab's clock ticking in the background, and the hcitui config that reaches it all.
The command line's context (:mod:`hcitui.cli.context`) is the only caller: the workflow never knows
whether it drives a lab.
"""

from __future__ import annotations

import secrets
import shlex
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

from hcitui.core.config import (
    ClusterConfig,
    CoordinatorConfig,
    NodeConfig,
    TransportConfig,
    parse_config,
)
from hcitui.core.files import atomic_write_text
from hcitui.lab.cluster import Lab
from hcitui.lab.state import COORDINATOR, ISO_SIZE

LAB_USER = "lab-operator"
LAB_ISO_NAME = "AzureLocal-2509-25398.iso"


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
            handle.writelines(block[: ISO_SIZE - start] for start in range(0, ISO_SIZE, len(block)))
        partial.replace(path)
    return path


def lab_update_packages(lab: Lab) -> list[Path]:
    """The lab's stand-in update package on this machine (the fast offline update's), next to the lab's state;
    made once, as the ISO's stand-in is. None staged on the nodes: the fresh lab starts without it."""
    if lab.path is None:
        return []
    from hcitui.lab.offline import make_update_package

    return [make_update_package(Path(lab.path).parent)]


def lab_cluster_config(lab: Lab, addresses: dict[str, str] | None = None, ca_file: Path | None = None,
                       password_command: str | None = None, *, coordinator: bool = True) -> ClusterConfig:
    """The lab as a cluster config; ``coordinator``: with its CAU coordinator (``LAB-MGMT``, outside the
    cluster), the recommended setup, which the lab shows unless told not to (``--lab-no-coordinator``)."""
    addresses = addresses or {}
    # The one-site lab's nodes name no site, as a config of a cluster that is not stretched would not.
    stretched = lab.state.stretched
    return ClusterConfig(
        name=lab.state.cluster_name,
        nodes=[NodeConfig(name=n.name, site=n.site if stretched else None, address=addresses.get(n.name))
               for n in lab.state.nodes.values()],
        transport=TransportConfig(scheme="https", auth="basic", username=LAB_USER, ca_file=ca_file,
                                  password_command=password_command),
        iso_path=lab.state.iso_path,
        staging_path=lab.state.staging_path,
        iso_source=lab_iso_source(lab),
        update_packages=lab_update_packages(lab),
        # Its transport is the lab's (Basic over HTTPS): the lab's WinRM takes nothing else.
        coordinator=CoordinatorConfig(host=COORDINATOR, address=addresses.get(COORDINATOR)) if coordinator else None,
    )


def set_knobs(lab: Lab, *, latency: float | None = None, pool_open_delay: float | None = None,
              reboot_seconds: float | None = None, unreachable: list[str] | None = None,
              http_500: list[str] | None = None, auth_failure: list[str] | None = None,
              hang: list[str] | None = None, cau_fail_node: str | None = None) -> None:
    """The fault knobs of ``lab serve``, on the lab's state (saved by the caller). A figure left None is
    kept as it is; the per-node lists and the CAU failure are set as given (names spelled as the lab's)."""
    faults = lab.state.faults
    if latency is not None:
        faults.latency = max(0.0, latency)
    if pool_open_delay is not None:
        faults.pool_open_delay = max(0.0, pool_open_delay)
    if reboot_seconds is not None:
        lab.state.timings.reboot = max(0.5, reboot_seconds)
    faults.unreachable, faults.http_500 = list(unreachable or []), list(http_500 or [])
    faults.auth_failure, faults.hang = list(auth_failure or []), list(hang or [])
    faults.cau_fail_node = cau_fail_node


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


def serve(lab: Lab, folder: Path, *, base_port: int | None = None, coordinator: bool = True) -> ServedLab:
    """Start one HTTPS WinRM endpoint per lab node on 127.0.0.1, with a fresh CA and password kept in
    ``folder`` (the lab's own); with ``coordinator``, one more for the lab's CAU coordinator (after the
    nodes: base_port + node count). Raises OSError when a port cannot be listened on."""
    from hcitui.lab.certs import make_lab_certs, server_ssl_context
    from hcitui.lab.endpoint import LabServer

    folder = Path(folder)
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
        *([f"update_packages = [{', '.join(q(str(p)) for p in c.update_packages)}]"] if c.update_packages else []),
        "",
        "[clusters.transport]",
        'scheme = "https"',
        'auth = "basic"',
        f"username = {q(LAB_USER)}",
        f"ca_file = {q(str(served.ca_file))}",
        f"password_command = {q(c.transport.password_command or '')}",
    ]
    for node in c.nodes:
        lines += ["", "[[clusters.nodes]]", f"name = {q(node.name)}",
                  *([f"site = {q(node.site)}"] if node.site else []), f"address = {q(node.address or '')}"]
    if c.coordinator is not None:
        lines += ["", "# The CAU coordinator: a management server outside the cluster that runs the CAU run.",
                  "[clusters.coordinator]", f"host = {q(c.coordinator.host)}",
                  f"address = {q(c.coordinator.address or '')}"]
    text = "\n".join(lines) + "\n"
    parse_config(text, "generated lab config")  # never write a config hcitui would refuse
    return text


def stop_on_signals(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)) -> threading.Event:
    """An event set when one of ``signals`` arrives (Ctrl+C, a kill, the SSH session dropping). Call it
    from the main thread before the lab's addresses are printed, so a signal sent as soon as they are read
    still ends the serving cleanly."""
    stop = threading.Event()
    for sig in signals:
        signal.signal(sig, lambda *_: stop.set())
    return stop


def serve_until(stop: threading.Event) -> None:
    """Block until ``stop`` is set; the endpoints keep answering from their own threads meanwhile."""
    while not stop.wait(1.0):  # a timed wait: signal handlers always get to run
        pass
