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
from typing import Any

from hcitui.config import ClusterConfig, ConfigError, NodeConfig
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
OPERATION_TIMEOUT_FAULT = 0x80338029


def _error_text(record: Any) -> str:
    """The message of a PowerShell ErrorRecord as pypsrp hands it over."""
    for attr in ("message", "reason"):
        value = getattr(record, attr, None)
        if value:
            return str(value)
    return str(record)


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
        cause = _root_cause(exc)
        if "RemoteDisconnected" in cause or "reset" in cause.lower():
            return Unreachable(node, operation, "the connection was dropped (host restarting or gone)")
        return Unreachable(node, operation, f"host unreachable: {cause}")
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

    def __init__(self, cluster: ClusterConfig, *, password: str | None = None, prompt: bool = True) -> None:
        self.cluster = cluster
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
        t = self.cluster.transport
        if t.scheme == "http":
            return f"http:{t.effective_port} {t.auth} (message encryption)"
        validation = "INSECURE: certificates not checked" if t.insecure else (
            f"CA {t.ca_file}" if t.ca_file else "system CAs")
        return f"https:{t.effective_port} {t.auth}, {validation}"

    def session(self, node: NodeConfig, *, read_only: bool, audit: AuditSink | None) -> PsrpSession:
        return PsrpSession(node, self, read_only=read_only, audit=audit)

    def wsman(self, node: NodeConfig, timeout: float) -> Any:
        from pypsrp.wsman import WSMan

        t = self.cluster.transport
        host, port = node.endpoint(t)
        operation_timeout = max(5, int(min(timeout, 60)))
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
            read_timeout=operation_timeout + 10,
            reconnection_retries=0,
            reconnection_backoff=0.5,
        )
        if t.auth == "certificate":
            kwargs["certificate_pem"] = str(t.certificate_pem)
            kwargs["certificate_key_pem"] = str(t.certificate_key_pem)
            kwargs.pop("username")
            kwargs.pop("password")
        if t.scheme == "http" and t.auth in ("basic", "certificate"):
            kwargs["encryption"] = "never"
        return WSMan(**kwargs)


class PsrpSession(BaseSession):
    """A warm RunspacePool to one node, rebuilt after a failure."""

    def __init__(self, node: NodeConfig, factory: PsrpSessionFactory, *, read_only: bool,
                 audit: AuditSink | None) -> None:
        super().__init__(node.name, read_only=read_only, audit=audit,
                         default_timeout=factory.cluster.timeouts.operation)
        self._config = node
        self._factory = factory
        self._pool: Any = None
        self._call_lock = threading.Lock()  # one pypsrp call at a time on this node's pool
        self._retry_after = 0.0
        self._failures = 0

    async def _run(self, op: Operation, parameters: dict[str, Any], timeout: float) -> str | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._factory.executor(), self._run_blocking, op, parameters, timeout)

    def _open_pool(self, timeout: float) -> Any:
        from pypsrp.powershell import RunspacePool

        now = time.monotonic()
        if now < self._retry_after:
            raise Unreachable(self.node, "connect", f"recently unreachable; retrying in {self._retry_after - now:.0f} s")
        pool = RunspacePool(self._factory.wsman(self._config, timeout))
        pool.open()
        return pool

    def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                pool.close()
            except Exception:  # the host is gone; nothing to close cleanly
                pass

    def _run_blocking(self, op: Operation, parameters: dict[str, Any], timeout: float) -> str | None:
        from pypsrp.powershell import PowerShell

        with self._call_lock:
            try:
                if self._pool is None:
                    self._pool = self._open_pool(timeout)
                shell = PowerShell(self._pool)
                shell.add_script(op.script)
                for name, value in parameters.items():
                    shell.add_parameter(name, value)
                output = shell.invoke()
            except BaseException as exc:
                error = classify(self.node, op.name, exc, timeout)
                self._drop_pool()
                if isinstance(error, (Unreachable, TimedOut)):
                    self._failures += 1
                    self._retry_after = time.monotonic() + min(30.0, 0.5 * 2 ** min(self._failures, 6))
                raise error from None
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
        with self._call_lock:
            self._drop_pool()
