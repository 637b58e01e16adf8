"""Configuration: clusters, nodes, transport and timeouts, from TOML.

There is deliberately no password field. Credentials come from Kerberos (negotiate or
kerberos auth with a ticket), ``HCITUI_PASSWORD``, a ``password_command`` whose standard
output is the password, or a prompt.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from hcitui.core.errors import HciError

APP_NAME = "hcitui"

# RFC 1123 labels (letters, digits, hyphens; no leading/trailing hyphen), dot-separated.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
# NetBIOS computer names: at most 15 characters, and no dots.
NETBIOS_MAX = 15


def update_kb(file_name: str) -> str | None:
    """The KB number an update package's file name carries ("KB5048654"), or None."""
    match = re.search(r"kb(\d{6,8})", file_name, re.IGNORECASE)
    return f"KB{match.group(1)}" if match else None


class ConfigError(HciError):
    """A config that cannot be used; ``problems`` holds one sentence per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _host_name(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if len(text) > 253 or not HOST_NAME_RE.match(text):
        raise ValueError(
            f"{value!r} is not a valid host name (letters, digits and hyphens, dot-separated labels of 1-63 characters)"
        )
    if text.isdigit():
        raise ValueError(f"{value!r} is not a valid host name (all digits)")
    return text


HostName = Annotated[str, BeforeValidator(_host_name)]


def _netbios_name(value: str) -> str:
    """A computer name without dots is a NetBIOS name: at most 15 characters."""
    if "." not in value and len(value) > NETBIOS_MAX:
        raise ValueError(f"{value!r} is longer than 15 characters, the NetBIOS limit for a computer name")
    return value


def check_node_name(name: str) -> str:
    """``name`` checked as the config checks a node's name (an RFC 1123 host name; without dots, at most
    15 characters), for names that do not come from a config: ``--node``, the lab's node names. Returns it
    without surrounding blanks; raises :class:`ConfigError` with one sentence saying what is wrong."""
    if not isinstance(name, str):
        raise ConfigError([f"{name!r} is not a node name (a node name is text)"])
    try:
        return _netbios_name(_host_name(name))
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None


def _address(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    host, sep, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    if sep:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r}: the port after ':' must be a number from 1 to 65535")
    else:
        host = text
    ipv4 = re.fullmatch(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})", host)
    if ipv4:
        if any(int(part) > 255 for part in ipv4.groups()):
            raise ValueError(f"{value!r} is not a valid IPv4 address")
        return text
    _host_name(host)
    return text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeConfig(_Strict):
    name: HostName = Field(description="The node's cluster name (what Get-ClusterNode shows)")
    address: Annotated[str | None, BeforeValidator(_address)] = Field(
        None, description="host or host:port of its WinRM endpoint, when it is not the node's name"
    )
    site: str | None = Field(None, min_length=1, max_length=64)

    @field_validator("name")
    @classmethod
    def _netbios(cls, value: str) -> str:
        return _netbios_name(value)

    def endpoint(self, transport: TransportConfig) -> tuple[str, int]:
        """The (host, port) to connect to for this node."""
        if self.address:
            host, sep, port = self.address.rpartition(":")
            if sep and port.isdigit():
                return host, int(port)
            return self.address, transport.effective_port
        return self.name, transport.effective_port


AuthMethod = Literal["negotiate", "kerberos", "ntlm", "credssp", "basic", "certificate"]


class TransportConfig(_Strict):
    scheme: Literal["https", "http"] = "https"
    port: int | None = Field(None, ge=1, le=65535)
    auth: AuthMethod = "negotiate"
    username: str | None = Field(None, min_length=1)
    password_command: str | None = Field(
        None, min_length=1, description="A command whose standard output is the password"
    )
    ca_file: Path | None = None
    insecure: bool = Field(False, description="Skip TLS certificate validation (visible in the header)")
    certificate_pem: Path | None = None
    certificate_key_pem: Path | None = None

    @property
    def effective_port(self) -> int:
        return self.port or (5986 if self.scheme == "https" else 5985)

    @model_validator(mode="after")
    def _coherent(self) -> TransportConfig:
        if self.insecure and self.ca_file is not None:
            raise ValueError("ca_file and insecure = true contradict each other; choose one")
        if self.scheme == "http" and self.auth in ("basic", "certificate", "credssp"):
            raise ValueError(f"auth {self.auth!r} over http would send credentials in the clear; use https")
        if self.auth == "certificate" and not (self.certificate_pem and self.certificate_key_pem):
            raise ValueError("auth 'certificate' needs certificate_pem and certificate_key_pem")
        if self.auth in ("ntlm", "credssp", "basic") and not self.username:
            raise ValueError(f"auth {self.auth!r} needs a username")
        if self.ca_file is not None and not Path(self.ca_file).expanduser().is_file():
            raise ValueError(f"ca_file {str(self.ca_file)!r} does not exist")
        return self

    def password(self, *, environ: dict[str, str] | None = None) -> str | None:
        """The password from HCITUI_PASSWORD or password_command; None when neither is set."""
        env = os.environ if environ is None else environ
        if env.get("HCITUI_PASSWORD"):
            return env["HCITUI_PASSWORD"]
        if not self.password_command:
            return None
        try:
            done = subprocess.run(
                shlex.split(self.password_command), capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, ValueError) as exc:
            raise ConfigError([f"transport.password_command could not run: {exc}"]) from None
        except subprocess.TimeoutExpired:
            raise ConfigError(["transport.password_command did not finish within 30 s"]) from None
        if done.returncode != 0:
            raise ConfigError([f"transport.password_command exited with status {done.returncode}"])
        secret = done.stdout.rstrip("\r\n")
        if not secret:
            raise ConfigError(["transport.password_command printed nothing"])
        return secret


# What a coordinator's session may authenticate with. From the coordinator, CAU reaches every node with
# the credentials of the session that started it: the double hop. CredSSP delegates them by design;
# Kerberos does when the coordinator is trusted for delegation (hcitui then asks pypsrp to delegate the
# ticket, negotiate_delegate). Negotiate, NTLM and certificate logons cannot pass credentials on.
# Basic (a password logon) is accepted for the lab; on Windows, WinRM takes Basic for local accounts only,
# which the preflight then shows failing to reach the nodes.
COORDINATOR_AUTHS = ("credssp", "kerberos", "basic")


class CoordinatorConfig(_Strict):
    """The management server that runs the CAU run: outside the cluster, as the update guide runs it.

    Its transport settings default to the cluster's (``[clusters.transport]``); any given here win.
    """

    host: HostName = Field(description="Its computer name (DNS or NetBIOS), as for a node")
    address: Annotated[str | None, BeforeValidator(_address)] = Field(
        None, description="host or host:port of its WinRM endpoint, when it is not reachable by its name"
    )
    port: int | None = Field(None, ge=1, le=65535)
    scheme: Literal["https", "http"] | None = None
    auth: AuthMethod | None = Field(None, description="credssp or kerberos (with delegation); default: the cluster's")
    username: str | None = Field(None, min_length=1)
    password_command: str | None = Field(None, min_length=1)
    ca_file: Path | None = None
    insecure: bool | None = None

    @field_validator("host")
    @classmethod
    def _netbios(cls, value: str) -> str:
        return _netbios_name(value)

    @field_validator("auth")
    @classmethod
    def _delegating(cls, value: str | None) -> str | None:
        if value is not None and value not in COORDINATOR_AUTHS:
            raise ValueError(_no_delegation(value))
        return value

    def transport(self, cluster: TransportConfig) -> TransportConfig:
        """The coordinator's transport: the cluster's, with what is set here instead."""
        own = {k: v for k, v in self.model_dump(include={"port", "scheme", "auth", "username", "password_command",
                                                          "ca_file", "insecure"}).items() if v is not None}
        if "ca_file" in own:
            own.setdefault("insecure", False)
        if own.get("insecure"):
            own.setdefault("ca_file", None)
        return TransportConfig.model_validate({**cluster.model_dump(), **own})

    def endpoint(self, transport: TransportConfig) -> tuple[str, int]:
        """The (host, port) to connect to, as :meth:`NodeConfig.endpoint` for a node."""
        return NodeConfig.model_construct(name=self.host, address=self.address).endpoint(transport)


def _no_delegation(auth: str) -> str:
    return (f"auth {auth!r} cannot pass your credentials on: from the coordinator, CAU reaches every node "
            "(the double hop); use 'credssp' or 'kerberos' (with Kerberos delegation)")


class Timeouts(_Strict):
    connect: float = Field(30, gt=0, le=600, description="Opening a session to a node, seconds")
    operation: float = Field(120, gt=0, le=7200, description="Default bound on one read, seconds")
    drain: float = Field(1800, gt=0, le=86400)
    reboot: float = Field(3600, gt=0, le=86400, description="A restart until the node is back, seconds")
    storage_sync: float = Field(21600, gt=0, le=604800)


class ClusterConfig(_Strict):
    name: HostName
    nodes: list[NodeConfig] = Field(min_length=1, max_length=16)
    transport: TransportConfig = Field(default_factory=TransportConfig)
    iso_path: str | None = Field(None, min_length=3, description="The 23H2 ISO, as a path on the nodes")
    staging_path: str = Field(r"C:\SetupFiles\AzureLocal-23H2", min_length=3)
    iso_source: Path | None = Field(None, description="The 23H2 ISO on this machine, copied to nodes that lack it")
    # Fast offline update (workflow/offline): the cumulative update and any servicing stack update, files on
    # this machine (.msu or .cab, each name carrying its KB number), installed in this order; and the folder
    # they are staged to on every node.
    update_packages: list[Path] = Field(default_factory=list, max_length=16,
                                        description="Update packages (.msu/.cab) on this machine, in install order")
    update_staging_path: str = Field(r"C:\SetupFiles\Updates", min_length=3,
                                     description="Where the update packages are staged on every node")
    timeouts: Timeouts = Field(default_factory=Timeouts)
    read_only: bool = False
    concurrency: int = Field(16, ge=1, le=32)
    monitor_interval: float = Field(5, ge=1, le=3600, description="Seconds between the monitor's refreshes")
    audit_max_mb: float = Field(10, ge=0.01, le=10240, description="Size in MB at which an audit file is rotated")
    audit_keep: int = Field(5, ge=1, le=100, description="Rotated audit files kept (of changes, and of reads)")
    prereq_max_age_hours: float = Field(
        24, gt=0, le=720,
        description="How old a passing prerequisites run may be when an OS upgrade starts (hours, up to 720)")
    coordinator: CoordinatorConfig | None = Field(
        None, description="The management server outside the cluster that runs Invoke-CauRun (recommended)"
    )

    @field_validator("nodes", mode="before")
    @classmethod
    def _nodes_as_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("iso_path", "staging_path", "update_staging_path")
    @classmethod
    def _windows_path(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not re.match(r"^(?:[A-Za-z]:\\|\\\\[^\\]+\\[^\\]+)", value):
            raise ValueError(f"{value!r} is not an absolute Windows path (C:\\... or \\\\server\\share\\...)")
        if any(ch in value[2:] for ch in '<>"|?*') or "\n" in value:
            raise ValueError(f"{value!r} contains a character Windows does not allow in a path")
        return value

    @field_validator("iso_source")
    @classmethod
    def _iso_source_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return value
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValueError(f"{str(value)!r} is not an existing file on this machine; iso_source must name "
                             "the 23H2 ISO here, which the ISO staging copies to the nodes that lack it")
        return path

    @field_validator("update_packages")
    @classmethod
    def _update_package_files(cls, value: list[Path]) -> list[Path]:
        out, seen = [], set()
        for item in value:
            path = Path(item).expanduser()
            if not path.is_file():
                raise ValueError(f"{str(item)!r} is not an existing file on this machine; update_packages names "
                                 "the update files here, which the fast offline update stages on every node")
            if path.suffix.lower() not in (".msu", ".cab"):
                raise ValueError(f"{path.name!r} is not a .msu or .cab package")
            if not update_kb(path.name):
                raise ValueError(f"{path.name!r} carries no KB number in its name (as the Microsoft Update "
                                 "Catalog names them, e.g. windows10.0-kb5048654-x64.msu)")
            if path.name.lower() in seen:
                raise ValueError(f"{path.name!r} is listed twice (the packages share one folder on the nodes)")
            seen.add(path.name.lower())
            out.append(path)
        return out

    @model_validator(mode="after")
    def _unique_nodes(self) -> ClusterConfig:
        seen: set[str] = set()
        for node in self.nodes:
            key = node.name.lower()
            if key in seen:
                raise ValueError(f"node {node.name!r} is listed twice")
            seen.add(key)
        return self

    @model_validator(mode="after")
    def _coordinator_outside(self) -> ClusterConfig:
        coordinator = self.coordinator
        if coordinator is None:
            return self
        short = coordinator.host.split(".")[0].lower()
        if any(node.name.split(".")[0].lower() == short for node in self.nodes):
            raise ValueError(f"coordinator.host {coordinator.host!r} is a node of this cluster: the coordinator "
                             "runs the CAU run from outside it (a management server)")
        if coordinator.auth is None and self.transport.auth not in COORDINATOR_AUTHS:
            raise ValueError("coordinator.auth: " + _no_delegation(self.transport.auth)
                             + " (transport.auth applies when coordinator.auth is not set)")
        try:
            coordinator.transport(self.transport)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            raise ValueError(f"coordinator: {where + ': ' if where else ''}{message}") from None
        return self

    @property
    def audit_max_bytes(self) -> int:
        return int(self.audit_max_mb * 1024 * 1024)

    def coordinator_transport(self) -> TransportConfig | None:
        """How to reach the coordinator (None when there is none)."""
        return self.coordinator.transport(self.transport) if self.coordinator else None

    @property
    def sites(self) -> list[str]:
        return sorted({n.site for n in self.nodes if n.site})


class Config(_Strict):
    clusters: list[ClusterConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_clusters(self) -> Config:
        names = [c.name.lower() for c in self.clusters]
        if len(set(names)) != len(names):
            raise ValueError("two clusters have the same name")
        return self

    def cluster(self, name: str | None) -> ClusterConfig:
        if name is None:
            if len(self.clusters) == 1:
                return self.clusters[0]
            names = ", ".join(c.name for c in self.clusters)
            raise ConfigError([f"the config has several clusters ({names}); choose one with --cluster NAME"])
        for cluster in self.clusters:
            if cluster.name.lower() == name.lower():
                return cluster
        names = ", ".join(c.name for c in self.clusters)
        raise ConfigError([f"no cluster named {name!r} in the config (it has: {names})"])


# --------------------------------------------------------------------- locations


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def state_dir() -> Path:
    """Where journals, audit logs and the lab live. Honours XDG_STATE_HOME (platformdirs does)."""
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


# ----------------------------------------------------------------------- loading


def _printable(text: str, limit: int = 40) -> str:
    """Text safe on one terminal line: control characters escaped, long text cut."""
    shown = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _location(loc: tuple[Any, ...], data: Any) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = ""
            if isinstance(node, list) and 0 <= item < len(node):
                node = node[item]
                if isinstance(node, dict) and isinstance(node.get("name"), str):
                    label = f" ({_printable(node['name'])})"
            else:
                node = None
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]{label}"]
        else:
            if isinstance(node, dict):
                node = node.get(item)
            else:
                node = None
            parts.append(str(item))
    return ".".join(p for p in parts if p) or "config"


def describe_validation(exc: ValidationError, data: Any) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = error["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        if error["type"] == "extra_forbidden":
            message = "is not a setting hcitui knows (a typo?)"
            if loc and loc[-1] == "password":
                message = ("passwords are never stored in the config; use password_command, HCITUI_PASSWORD "
                           "or the prompt")
        elif error["type"] == "missing":
            message = "is required"
        problems.append(f"{_location(loc, data)}: {message}")
    return problems


def parse_config(text: str, source: str = "config") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: not valid TOML: {exc}"]) from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([f"{source}: {p}" for p in describe_validation(exc, data)]) from None


def load_config(path: Path | None = None) -> Config:
    target = Path(path).expanduser() if path else default_config_path()
    if not target.exists():
        hint = "" if path else f" (write one with: hcitui config example > {target}; or try the lab: hcitui --lab)"
        raise ConfigError([f"{target}: no such config file{hint}"])
    if target.is_dir():
        raise ConfigError([f"{target}: is a folder, not a config file"])
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{target}: cannot be read ({exc.__class__.__name__}: {exc})"]) from None
    return parse_config(text, str(target))


EXAMPLE = r'''# hcitui configuration
# Location: the --config PATH option, or the platform config folder
# (Linux: ~/.config/hcitui/config.toml). Check it with: hcitui config check PATH
#
# There is no password setting, on purpose. With auth "negotiate" or "kerberos" and a
# Kerberos ticket (kinit), none is needed. Otherwise hcitui takes, in this order:
#   1. the HCITUI_PASSWORD environment variable (for automation),
#   2. the output of password_command (your own secret store),
#   3. a prompt at start.

[[clusters]]
name = "HCI-STRETCH01"              # the failover cluster's name
read_only = false                   # true: this cluster can only be watched (--read-only also forces it)
iso_path = 'C:\ISO\AzureLocal-2509-25398.iso'   # the 23H2 ISO, as a path on each node
staging_path = 'C:\SetupFiles\AzureLocal-23H2'  # where the ISO contents go: the same path on every node
# iso_source = "/srv/iso/AzureLocal-2509-25398.iso"  # the ISO on this machine: copied to nodes that lack it
# Fast offline update (hcitui offline-update): the update files on this machine, in install order (a servicing
# stack update first, when there is one), and the folder they are staged to on every node.
# update_packages = ["/srv/updates/windows10.0-kb5048654-x64.msu"]
# update_staging_path = 'C:\SetupFiles\Updates'
concurrency = 16                    # at most this many nodes are worked on at once
monitor_interval = 5                # seconds between the monitor's refreshes (1 to 3600)
audit_max_mb = 10                   # the audit log rotates a file at this size (MB, 0.01 to 10240)
audit_keep = 5                      # and keeps this many rotated files of changes, and of reads (1 to 100)
prereq_max_age_hours = 24           # an OS upgrade needs prerequisites passed within this many hours (to 720)

# Nodes: a name each (what Get-ClusterNode shows). "site" maps it to its fault domain;
# "address" (host or host:port) is for when its WinRM endpoint is not reachable by its name.
[[clusters.nodes]]
name = "HCI-A1"
site = "SiteA"

[[clusters.nodes]]
name = "HCI-A2"
site = "SiteA"

[[clusters.nodes]]
name = "HCI-B1"
site = "SiteB"
address = "10.20.0.11"

[[clusters.nodes]]
name = "HCI-B2"
site = "SiteB"
address = "hci-b2.site-b.contoso.com:5986"

[clusters.transport]
scheme = "https"                    # https (5986) or http (5985; only with negotiate/kerberos, which encrypt)
# port = 5986                       # default: 5986 for https, 5985 for http
auth = "negotiate"                  # negotiate | kerberos | ntlm | credssp | basic | certificate
username = 'CONTOSO\hciadmin'       # omit for Kerberos with your ticket
# password_command = "pass show contoso/hciadmin"   # prints the password on standard output
# ca_file = "/etc/pki/contoso-root-ca.pem"          # the CA that signed the nodes' WinRM certificates
insecure = false                    # true skips certificate validation: the header then says INSECURE
# certificate_pem = "/home/me/.hcitui/client.pem"   # auth = "certificate" only
# certificate_key_pem = "/home/me/.hcitui/client.key"

[clusters.timeouts]                 # seconds
connect = 30                        # opening a session to a node
operation = 120                     # one read on a node
drain = 1800                        # Suspend-ClusterNode -Drain -Wait
reboot = 3600                       # a restart, until the node is back in the cluster
storage_sync = 21600                # repair jobs / Storage Replica initial sync

# The CAU coordinator (recommended): a Windows management server outside the cluster, with the
# Failover Clustering Tools, that runs Invoke-CauRun as the update guide does. Without one, the run
# starts on a cluster node as SYSTEM and reaches the other nodes as that node's computer account,
# which clusters usually refuse (and from a WinRM session it would meet the double hop).
# Its settings default to [clusters.transport]; its auth must pass your credentials on to the nodes:
# "credssp", or "kerberos" with the server trusted for Kerberos delegation.
# [clusters.coordinator]
# host = "HCI-MGMT01.contoso.com"   # its computer name, checked like a node's
# address = "10.20.0.5:5986"        # host or host:port, when WinRM is not reachable by its name
# auth = "credssp"                  # credssp | kerberos
# username = 'CONTOSO\hciadmin'     # default: transport.username (and its password)
'''
