"""Sessions to real nodes over WinRM with pypsrp.

RunspacePools to each node, opened on first use and kept warm: one per call in flight on that node
(up to ``POOLS_PER_NODE``), changes to one node one at a time. pypsrp is synchronous, so every call
runs in a worker thread of a shared, bounded thread pool. :class:`BaseSession` bounds each call from
the outside; here pypsrp's own timeouts are set explicitly (its defaults retry a hung node for
minutes). A pool that broke (host restarted, connection refused or reset) is dropped and reopened,
with backoff, on the next call. What each call costs the client is kept small in :mod:`.wire`.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import ssl
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hcitui.core.config import ClusterConfig, ConfigError, NodeConfig
from hcitui.ps import Operation
from hcitui.remote import wire
from hcitui.remote.errors import (
    AuthenticationFailed,
    OperationFailed,
    Rebooting,
    RemoteError,
    TimedOut,
    TlsFailed,
    Unreachable,
)
from hcitui.remote.session import AuditSink, BaseSession

SHELL_NOT_FOUND = 0x8033805B
BACKOFF_MAX = 8.0  # seconds between attempts on a node that does not answer (a reboot is re-probed)
MAX_CALLS = 128  # calls in flight at once, over every session of the process
POOLS_PER_NODE = 8  # RunspacePools one node may have open at once (well under WinRM's default shells per user)
OPERATION_TIMEOUT_FAULT = 0x80338029


def wire_value(value: Any) -> Any:
    """A parameter value as pypsrp must send it. pypsrp tags every int as Int32, so a larger one (a log
    size in bytes) would fail to deserialize on the node: those go tagged as Int64."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**31) <= value < 2**31:
        from pypsrp.serializer import TaggedValue

        return TaggedValue("I64", value)
    return value


@functools.cache
def _cacheable_params(params: type) -> bool:
    fields = getattr(params, "model_fields", {})
    return not any(isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("secret") for f in fields.values())


def _cacheable(op: Operation) -> bool:
    """May the serialized pipeline of ``op`` be kept for reuse? Not when a parameter is a secret."""
    return _cacheable_params(op.params)


def _error_text(record: Any) -> str:
    """The message of a PowerShell ErrorRecord as pypsrp hands it over.

    PowerShell shows ErrorDetails.Message when a cmdlet set one, otherwise the record's
    ToString(), which is the exception's message. pypsrp's ``message`` attribute is the
    category line ("NotSpecified: (:) [], RuntimeException"): the last resort only.
    """
    details = getattr(record, "details_message", None)
    if details:
        return str(details)
    text = str(record) if type(record).__str__ is not object.__str__ else ""
    if text and text != "None":
        return text
    exception = getattr(record, "exception", None)
    for candidate in (getattr(exception, "message", None), getattr(record, "message", None)):
        if candidate:
            return str(candidate)
    return "PowerShell reported an error"


def classify(node: str, operation: str, exc: BaseException, timeout: float) -> RemoteError:
    """One sentence for every way a pypsrp call can fail."""
    import requests
    from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

    if isinstance(exc, RemoteError):
        return exc
    if isinstance(exc, AuthenticationError):
        return AuthenticationFailed(node, operation, "authentication failed: the node refused the credentials")
    if isinstance(exc, requests.exceptions.SSLError) or isinstance(exc, ssl.SSLError):
        return TlsFailed(node, operation, f"TLS failed: {_root_cause(exc)}")
    if isinstance(exc, (requests.exceptions.ReadTimeout, requests.exceptions.ConnectTimeout, TimeoutError)):
        return TimedOut(node, operation, timeout)
    if isinstance(exc, requests.exceptions.ConnectionError):
        kinds = _chain_types(exc)
        if kinds & {"RemoteDisconnected", "ConnectionResetError", "BrokenPipeError", "ConnectionAbortedError"}:
            return Unreachable(node, operation, "the connection was dropped (host restarting or gone)")
        if "ConnectionRefusedError" in kinds:
            return Unreachable(node, operation, "host unreachable: connection refused (WinRM not listening)")
        if "NameResolutionError" in kinds or "gaierror" in kinds:
            return Unreachable(node, operation, "host unreachable: its name does not resolve")
        return Unreachable(node, operation, f"host unreachable: {_root_cause(exc)}")
    if isinstance(exc, WSManFaultError):
        code = getattr(exc, "code", None)
        if code == SHELL_NOT_FOUND:
            return Rebooting(node, operation, "its PowerShell session is gone (the host restarted)")
        reason = getattr(exc, "reason", None) or str(exc)
        return OperationFailed(node, operation, f"WinRM fault: {reason}")
    if isinstance(exc, WinRMTransportError):
        code = getattr(exc, "code", "?")
        if code == 401:
            return AuthenticationFailed(node, operation, "authentication failed: the node refused the credentials")
        return Unreachable(node, operation, f"WinRM answered HTTP {code}")
    return OperationFailed(node, operation, f"{type(exc).__name__}: {exc}")


def _chain_types(exc: BaseException) -> set[str]:
    """Class names of an exception and of everything it wraps (urllib3 nests its causes deeply)."""
    names: set[str] = set()
    todo, seen = [exc], set()
    while todo and len(seen) < 32:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        names.update(cls.__name__ for cls in type(current).__mro__)
        for inner in (current.__cause__, current.__context__, getattr(current, "reason", None),
                      *getattr(current, "args", ())):
            if isinstance(inner, BaseException):
                todo.append(inner)
    return names


def _root_cause(exc: BaseException) -> str:
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__
    text = str(seen) or type(seen).__name__
    return text.splitlines()[0][:200]


class PsrpSessionFactory:
    """Builds the sessions of one cluster from its transport settings (credentials read once)."""

    # One thread pool for every session of the process (a fleet of clusters too): bounded overall; a call
    # holds its thread while it waits on the network, so the bound is the calls that can be in flight.
    _executor: ThreadPoolExecutor | None = None
    _executor_lock = threading.Lock()

    def __init__(self, cluster: ClusterConfig, *, password: str | None = None, prompt: bool = True,
                 delegate: bool = False) -> None:
        self.cluster = cluster
        # The CAU coordinator's sessions pass the operator's credentials on to the nodes (the double hop):
        # CredSSP does by design; Kerberos when pypsrp is asked to delegate the ticket.
        self.delegate = delegate
        transport = cluster.transport
        self.password = password if password is not None else transport.password()
        needs_password = transport.auth in ("ntlm", "credssp", "basic") or (
            transport.username and transport.auth in ("negotiate", "kerberos")
        )
        if needs_password and self.password is None:
            if prompt and sys.stdin.isatty():
                self.password = getpass.getpass(f"Password for {transport.username} on {cluster.name}: ")
            else:
                raise ConfigError(
                    [f"{cluster.name}: auth {transport.auth!r} with username {transport.username!r} needs a password: "
                     "set HCITUI_PASSWORD or transport.password_command, or run interactively"]
                )

    @classmethod
    def executor(cls) -> ThreadPoolExecutor:
        with cls._executor_lock:
            if cls._executor is None:
                cls._executor = ThreadPoolExecutor(max_workers=MAX_CALLS, thread_name_prefix="hcitui-psrp")
            return cls._executor

    def describe(self) -> str:
        """The connection in a few words for the header and menu: scheme, port, auth, validation."""
        t = self.cluster.transport
        ports = {node.endpoint(t)[1] for node in self.cluster.nodes}
        port = str(ports.pop()) if len(ports) == 1 else "per-node ports"
        if t.scheme == "http":
            return f"http ({port}), {t.auth} with message encryption"
        validation = "INSECURE: certificates not checked" if t.insecure else (
            f"CA {Path(t.ca_file).name}" if t.ca_file else "system CAs")
        return f"https ({port}), {t.auth}, {validation}"

    def session(self, node: NodeConfig, *, read_only: bool, audit: AuditSink | None) -> PsrpSession:
        return PsrpSession(node, self, read_only=read_only, audit=audit)

    def wsman(self, node: NodeConfig, timeout: float) -> Any:
        from pypsrp.wsman import WSMan

        t = self.cluster.transport
        host, port = node.endpoint(t)
        # Receives long-poll for at most operation_timeout and are re-polled, so a command may run
        # far longer than this; a silent node fails within read_timeout per request instead.
        operation_timeout = int(max(3, min(timeout, 20)))
        validation: bool | str
        if t.scheme == "http":
            validation = False
        elif t.insecure:
            validation = False
        elif t.ca_file:
            validation = str(t.ca_file.expanduser())
        else:
            validation = True
        kwargs: dict[str, Any] = dict(
            server=host,
            port=port,
            ssl=t.scheme == "https",
            auth=t.auth,
            username=t.username,
            password=self.password,
            cert_validation=validation,
            connection_timeout=int(min(self.cluster.timeouts.connect, 600)),
            operation_timeout=operation_timeout,
            read_timeout=operation_timeout + 5,
            reconnection_retries=0,
            reconnection_backoff=0.1,
        )
        if t.auth == "certificate":
            kwargs["certificate_pem"] = str(t.certificate_pem)
            kwargs["certificate_key_pem"] = str(t.certificate_key_pem)
            kwargs.pop("username")
            kwargs.pop("password")
        if t.scheme == "http" and t.auth in ("basic", "certificate"):
            kwargs["encryption"] = "never"
        if self.delegate and t.auth == "kerberos":
            kwargs["negotiate_delegate"] = True
        return WSMan(**kwargs)


class _Connection:
    """One RunspacePool generation. One call at a time uses it; an abandoned connection is never reused."""

    def __init__(self) -> None:
        self.pool: Any = None
        self.abandoned = False

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            try:
                pool.close()
            except Exception:  # the host is gone; nothing to close cleanly
                pass


class _Call:
    """One call's hold on a connection, so that cancelling the call abandons that connection only."""

    def __init__(self) -> None:
        self.conn: _Connection | None = None
        self.cancelled = False


class PsrpSession(BaseSession):
    """Warm RunspacePools to one node, rebuilt after a failure.

    Each call has a pool to itself: a free warm one, else a new one while the node has fewer than
    ``POOLS_PER_NODE`` (the monitor reads the cluster-wide parts on one node at once), else it waits for
    one to be free. Changes to one node never overlap: they run one at a time, whatever else is read.
    When a call outlives its timeout, its connection is abandoned: the stuck worker thread keeps it
    until pypsrp gives up, and the next call opens a fresh pool instead of queueing behind it.
    """

    def __init__(self, node: NodeConfig, factory: PsrpSessionFactory, *, read_only: bool,
                 audit: AuditSink | None) -> None:
        super().__init__(node.name, read_only=read_only, audit=audit,
                         default_timeout=factory.cluster.timeouts.operation)
        self._config = node
        self._factory = factory
        self._conns: list[_Connection] = []  # live: not abandoned, in use or free
        self._free: list[_Connection] = []  # live and free, the most recently used last
        self._cond = threading.Condition(threading.Lock())
        self._changing = threading.Lock()  # held by the one change to this node that runs
        self._retry_after = 0.0
        self._failures = 0

    # ------------------------------------------------------------- connection
    @property
    def _conn(self) -> _Connection | None:
        """A live connection (the first opened), or None."""
        with self._cond:
            return self._conns[0] if self._conns else None

    def _acquire(self, call: _Call, timeout: float) -> _Connection:
        """A free live connection, a new one (its pool not yet open), or the first to come free."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if call.cancelled:
                    raise TimedOut(self.node, "hcitui", timeout)
                while self._free:
                    conn = self._free.pop()
                    if not conn.abandoned:
                        call.conn = conn
                        return conn
                if len(self._conns) < POOLS_PER_NODE:
                    conn = _Connection()
                    self._conns.append(conn)
                    call.conn = conn
                    return conn
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimedOut(self.node, "hcitui", timeout)
                self._cond.wait(min(left, 1.0))

    def _release(self, conn: _Connection) -> None:
        with self._cond:
            if not conn.abandoned and conn in self._conns:
                self._free.append(conn)
            self._cond.notify()
        if conn.abandoned:
            conn.close()  # a call cancelled meanwhile that pypsrp finished after all: never reused

    def _discard(self, conn: _Connection, *, everything_free: bool = False) -> list[_Connection]:
        """Abandon ``conn`` (and, ``everything_free``: every free connection, the node having restarted
        or gone); returns the free ones abandoned, for the caller to close outside the lock."""
        with self._cond:
            dropped = [conn, *self._free] if everything_free else [conn]
            if everything_free:
                self._free.clear()
            for item in dropped:
                item.abandoned = True
                if item in self._conns:
                    self._conns.remove(item)
            self._cond.notify_all()
        return dropped[1:]

    def _abandon(self, call: _Call) -> None:
        with self._cond:
            call.cancelled = True
            conn = call.conn
            if conn is not None:
                conn.abandoned = True
                if conn in self._conns:
                    self._conns.remove(conn)
            self._cond.notify_all()

    @property
    def warm(self) -> bool:
        """True while a RunspacePool is open and kept for the next call."""
        with self._cond:
            return any(conn.pool is not None for conn in self._conns)

    def warm_up(self) -> None:
        """Open a pool now (blocking), unless one is open: the first call then finds it warm. A node that
        does not answer is left for that call to report."""
        call = _Call()
        if self.warm:
            return
        conn = self._acquire(call, self._default_timeout or 60.0)
        try:
            if conn.pool is None:
                conn.pool = self._open_pool(self._default_timeout or 60.0)
        except Exception:  # noqa: BLE001
            for free in self._discard(conn):
                free.close()
            conn.close()
            return
        self._release(conn)

    def _open_pool(self, timeout: float) -> Any:
        from pypsrp.powershell import RunspacePool

        pool = RunspacePool(self._factory.wsman(self._config, timeout))
        pool.open()
        # pypsrp read the proxy and CA settings from the environment once, when it built its
        # requests session, and set them on it. Left on, requests scans the whole environment
        # again on every request (about 0.7 ms of CPU per operation, on a GIL the fan-out shares).
        session = getattr(getattr(pool.connection, "transport", None), "session", None)
        if session is not None:
            session.trust_env = False
        wire.install(pool)  # Basic over HTTPS: the pool's messages skip requests (see remote.wire)
        return pool

    # ------------------------------------------------------------------ calls
    async def _run(self, op: Operation, parameters: dict[str, Any], timeout: float) -> str | None:
        loop = asyncio.get_running_loop()
        call = _Call()
        future = loop.run_in_executor(self._factory.executor(), self._run_blocking, op, parameters, timeout, call)
        try:
            return await future
        except asyncio.CancelledError:
            # The outer timeout (or the caller) gave up on this call: never reuse its connection.
            self._abandon(call)
            raise

    def _run_blocking(self, op: Operation, parameters: dict[str, Any], timeout: float,
                      call: _Call | None = None) -> str | None:
        call = call or _Call()
        if not op.mutates:
            return self._attempts(op, parameters, timeout, call)
        if not self._changing.acquire(timeout=timeout):
            raise TimedOut(self.node, op.name, timeout)
        try:
            if call.cancelled:  # given up on while it waited for the change before it: never sent late
                raise TimedOut(self.node, op.name, timeout)
            return self._attempts(op, parameters, timeout, call)
        finally:
            self._changing.release()

    def _attempts(self, op: Operation, parameters: dict[str, Any], timeout: float, call: _Call) -> str | None:
        try:
            return self._attempt(op, parameters, timeout, call)
        except Rebooting:
            # The node restarted since the pool was opened: its shell is gone. A read is safe to
            # run again on a fresh pool; a change is reported, never silently repeated.
            if op.mutates:
                raise
            call.conn = None
            return self._attempt(op, parameters, timeout, call)

    def _attempt(self, op: Operation, parameters: dict[str, Any], timeout: float, call: _Call) -> str | None:
        from pypsrp.powershell import PowerShell

        # A node that just failed to answer is not asked again until its backoff ends; failing
        # fast here does not count as a new failure (or the backoff would never end).
        wait = self._retry_after - time.monotonic()
        if wait > 0 and not self.warm:
            raise Unreachable(self.node, op.name, f"did not answer; next attempt in {wait:.0f} s")
        conn = self._acquire(call, timeout)
        try:
            if conn.pool is None:
                conn.pool = self._open_pool(timeout)
            shell = PowerShell(conn.pool)
            wired = {name: wire_value(value) for name, value in parameters.items()}

            def fill() -> None:
                shell.add_script(op.script)
                for name, value in wired.items():
                    shell.add_parameter(name, value)

            # The CreatePipeline message is serialized once per script and values (see remote.wire).
            wire.begin_invoke(shell, wire.pipeline_key(op.script, wired) if _cacheable(op) else None, fill)
            output = shell.end_invoke()
        except BaseException as exc:
            error = classify(self.node, op.name, exc, timeout)
            # A node that restarted or went away took every pool with it: the free ones go too.
            gone = isinstance(error, (Unreachable, TimedOut))
            for free in self._discard(conn, everything_free=gone):
                free.close()
            conn.close()
            if gone and not isinstance(error, Rebooting):
                self._failures += 1
                self._retry_after = time.monotonic() + min(BACKOFF_MAX, 0.25 * 2 ** min(self._failures, 6))
            raise error from None
        self._release(conn)
        self._failures = 0
        self._retry_after = 0.0
        errors = [_error_text(r) for r in (shell.streams.error or [])]
        if shell.had_errors or errors:
            raise OperationFailed(self.node, op.name, errors[0] if errors else "PowerShell reported an error")
        texts = [str(item) for item in output if item is not None]
        return texts[-1] if texts else None

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._factory.executor(), self._close_blocking)

    def _close_blocking(self) -> None:
        """Close every free pool now; one still in use is abandoned (its call closes it when pypsrp returns,
        which a call stuck on a hung node may never do: it is not waited for)."""
        with self._cond:
            conns, free = list(self._conns), list(self._free)
            self._conns.clear()
            self._free.clear()
            for conn in conns:
                conn.abandoned = True
            self._cond.notify_all()
        for conn in free:
            conn.close()
