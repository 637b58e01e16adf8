"""Sessions to real nodes over WinRM with pypsrp.

One RunspacePool per node, opened on first use and kept warm. pypsrp is synchronous, so
every call runs in a worker thread: one pool call at a time per node, and a shared,
bounded thread pool overall. :class:`BaseSession` bounds each call from the outside; here
pypsrp's own timeouts are set explicitly (its defaults retry a hung node for minutes).
A pool that broke (host restarted, connection refused or reset) is dropped and reopened,
with backoff, on the next call.
"""

from __future__ import annotations

import asyncio
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
OPERATION_TIMEOUT_FAULT = 0x80338029


def wire_value(value: Any) -> Any:
    """A parameter value as pypsrp must send it. pypsrp tags every int as Int32, so a larger one (a log
    size in bytes) would fail to deserialize on the node: those go tagged as Int64."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**31) <= value < 2**31:
        from pypsrp.serializer import TaggedValue

        return TaggedValue("I64", value)
    return value


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

    # One thread pool for every node: bounded overall; each node also runs one call at a time.
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
                cls._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="hcitui-psrp")
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
    """One RunspacePool generation. A call holds ``lock``; an abandoned connection is never reused."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pool: Any = None
        self.abandoned = False

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            try:
                pool.close()
            except Exception:  # the host is gone; nothing to close cleanly
                pass


class PsrpSession(BaseSession):
    """A warm RunspacePool to one node, rebuilt after a failure.

    Calls on one node run one at a time on its current connection. When a call outlives
    its timeout, its connection is abandoned: the stuck worker thread keeps it until
    pypsrp gives up, and the next call opens a fresh pool instead of queueing behind it.
    """

    def __init__(self, node: NodeConfig, factory: PsrpSessionFactory, *, read_only: bool,
                 audit: AuditSink | None) -> None:
        super().__init__(node.name, read_only=read_only, audit=audit,
                         default_timeout=factory.cluster.timeouts.operation)
        self._config = node
        self._factory = factory
        self._conn: _Connection | None = None
        self._conn_lock = threading.Lock()
        self._retry_after = 0.0
        self._failures = 0

    # ------------------------------------------------------------- connection
    def _connection(self) -> _Connection:
        with self._conn_lock:
            if self._conn is None or self._conn.abandoned:
                self._conn = _Connection()
            return self._conn

    def _discard(self, conn: _Connection) -> None:
        with self._conn_lock:
            conn.abandoned = True
            if self._conn is conn:
                self._conn = None

    def _abandon_current(self) -> None:
        with self._conn_lock:
            if self._conn is not None:
                self._conn.abandoned = True
                self._conn = None

    @property
    def warm(self) -> bool:
        """True while a RunspacePool is open and kept for the next call."""
        conn = self._conn
        return conn is not None and conn.pool is not None and not conn.abandoned

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
        return pool

    # ------------------------------------------------------------------ calls
    async def _run(self, op: Operation, parameters: dict[str, Any], timeout: float) -> str | None:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._factory.executor(), self._run_blocking, op, parameters, timeout)
        try:
            return await future
        except asyncio.CancelledError:
            # The outer timeout (or the caller) gave up on this call: never reuse its connection.
            self._abandon_current()
            raise

    def _run_blocking(self, op: Operation, parameters: dict[str, Any], timeout: float) -> str | None:
        try:
            return self._attempt(op, parameters, timeout)
        except Rebooting:
            # The node restarted since the pool was opened: its shell is gone. A read is safe to
            # run again on a fresh pool; a change is reported, never silently repeated.
            if op.mutates:
                raise
            return self._attempt(op, parameters, timeout)

    def _attempt(self, op: Operation, parameters: dict[str, Any], timeout: float) -> str | None:
        from pypsrp.powershell import PowerShell

        # A node that just failed to answer is not asked again until its backoff ends; failing
        # fast here does not count as a new failure (or the backoff would never end).
        wait = self._retry_after - time.monotonic()
        if wait > 0 and self._conn is None:
            raise Unreachable(self.node, op.name, f"did not answer; next attempt in {wait:.0f} s")
        while True:  # hold the lock of a connection nobody has abandoned
            conn = self._connection()
            conn.lock.acquire()
            if not conn.abandoned:
                break
            conn.lock.release()
        try:
            if conn.pool is None:
                conn.pool = self._open_pool(timeout)
            shell = PowerShell(conn.pool)
            shell.add_script(op.script)
            for name, value in parameters.items():
                shell.add_parameter(name, wire_value(value))
            output = shell.invoke()
        except BaseException as exc:
            error = classify(self.node, op.name, exc, timeout)
            self._discard(conn)
            conn.close()
            if isinstance(error, (Unreachable, TimedOut)) and not isinstance(error, Rebooting):
                self._failures += 1
                self._retry_after = time.monotonic() + min(BACKOFF_MAX, 0.25 * 2 ** min(self._failures, 6))
            raise error from None
        finally:
            conn.lock.release()
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
        with self._conn_lock:
            conn, self._conn = self._conn, None
        if conn is None:
            return
        conn.abandoned = True
        # A call stuck on a hung node holds the lock; do not wait on it for ever at exit.
        if conn.lock.acquire(timeout=5):
            try:
                conn.close()
            finally:
                conn.lock.release()
