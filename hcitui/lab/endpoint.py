"""The lab's WinRM endpoints: real WS-Management over HTTP(S) in front of :class:`Lab`.

One :class:`NodeEndpoint` per lab node answers an unmodified WinRM client (pypsrp) the way
a node would: Basic authentication, RunspacePools and pipelines through psrpcore's server
classes, long-polling Receives, and the faults a client meets on real clusters (dropped
connections, HTTP 500, refused credentials, hangs, "shell not found" after a restart),
driven by the knobs in ``lab.state.faults`` and read again at every request.

What a pipeline may run: a declared operation's script (exactly, with its parameters),
one of the plain read cmdlets below, and nothing else ("is not recognized as the name of
a cmdlet"). A pipeline starts when its Command arrives and runs when the client first
asks for its output, so the answer of an operation that restarts the node still reaches
the client, as it does from a real node during ``shutdown /t 5``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import socket
import socketserver
import ssl
import threading
import time
import uuid
from collections import OrderedDict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.etree import ElementTree

from psrpcore import (
    CreatePipelineEvent,
    GetAvailableRunspacesEvent,
    GetCommandMetadataEvent,
    PSRPCoreError,
    PSRPEvent,
    PSRPPayload,
    ResetRunspaceStateEvent,
    ServerPipeline,
    ServerRunspacePool,
    SetMaxRunspacesEvent,
    SetMinRunspacesEvent,
    StreamType,
)
from psrpcore._payload import PSRPMessage, create_message
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PipelineState,
    PSCustomObject,
    PSInvocationState,
    PSObject,
    PSRPMessageType,
    PSSecureString,
    add_note_property,
    deserialize,
    serialize,
)

from hcitui.lab import frontdoor, wsman
from hcitui.lab.cluster import Lab, LabPowerShellError, LabUnreachable
from hcitui.lab.state import COORDINATOR
from hcitui.ps import OPERATIONS, Operation, script_parameter_names

log = logging.getLogger(__name__)

# Plain read cmdlets (lower-case name) -> (lab operation, the .NET type the real cmdlet writes).
_CIM = "Microsoft.Management.Infrastructure.CimInstance#ROOT/Microsoft/Windows/"
READ_CMDLETS: dict[str, tuple[str, str]] = {
    "get-clusternode": ("get_cluster_nodes", "Microsoft.FailoverClusters.PowerShell.ClusterNode"),
    "get-clustergroup": ("get_cluster_groups", "Microsoft.FailoverClusters.PowerShell.ClusterGroup"),
    "get-clustersharedvolumestate": ("get_csv_state",
                                     "Microsoft.FailoverClusters.PowerShell.ClusterSharedVolumeStateInfo"),
    "get-storagejob": ("get_storage_jobs", _CIM + "Storage/MSFT_StorageJob"),
    "get-virtualdisk": ("get_virtual_disks", _CIM + "Storage/MSFT_VirtualDisk"),
    "get-storagepool": ("get_storage_pools", _CIM + "Storage/MSFT_StoragePool"),
    "get-srgroup": ("get_sr_groups", _CIM + "StorageReplica/MSFT_WvrReplicationGroup"),
    "get-srpartnership": ("get_sr_partnerships", _CIM + "StorageReplica/MSFT_WvrReplicationPartnership"),
    "get-caurun": ("get_cau_run", "Microsoft.ClusterAwareUpdating.CauRun"),
}

# Declared operations by their exact script text.
_SCRIPTS: dict[str, Operation] = {op.script.strip(): op for op in OPERATIONS.values()}

_MANDATORY = re.compile(r"\[\s*Parameter\s*\([^)]*\bMandatory\b[^)]*\)\s*\][^$,]*\$(?P<name>[A-Za-z_]\w*)", re.I)

_FINISHED = (PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped)
_CHUNK = 60000  # bytes of PSRP fragments per queued chunk: a few fit any Receive
_POLL = 0.05  # how often waits look at the stop flag and the knobs


class _Drop(Exception):
    """End the connection without any response (the node is gone, or the server stops)."""


class _PowerShellFailure(Exception):
    """A terminating error the pipeline ends with."""

    def __init__(self, record: ErrorRecord) -> None:
        super().__init__(str(record))
        self.record = record


# ------------------------------------------------------------- PowerShell shapes


class _CategoryInfo(ErrorCategoryInfo):
    """ErrorCategoryInfo whose text reads like PowerShell's ("ObjectNotFound: (x:String) [], Reason")."""

    def __str__(self) -> str:
        return (f"{self.Category.name}: ({self.TargetName or ''}:{self.TargetType or ''}) "
                f"[{self.Activity or ''}], {self.Reason or ''}")


def _error_record(message: str, *, exception_types: list[str], category: ErrorCategory, reason: str,
                  error_id: str, target: str | None = None) -> ErrorRecord:
    exception = NETException(Message=message, HResult=-2146233087)
    exception.PSObject.type_names = [*exception_types, *exception.PSTypeNames]
    return ErrorRecord(
        Exception=exception,
        CategoryInfo=_CategoryInfo(Category=category, Reason=reason, TargetName=target,
                                       TargetType="String" if target is not None else None),
        TargetObject=target,
        FullyQualifiedErrorId=error_id,
    )


def command_not_found(term: str) -> ErrorRecord:
    """PowerShell's error for a command it does not know, word for word."""
    return _error_record(
        f"The term '{term}' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
        "and try again.",
        exception_types=["System.Management.Automation.CommandNotFoundException",
                         "System.Management.Automation.RuntimeException", "System.SystemException"],
        category=ErrorCategory.ObjectNotFound, reason="CommandNotFoundException",
        error_id="CommandNotFoundException", target=term,
    )


def script_error(message: str) -> ErrorRecord:
    """What a failing cmdlet under ``$ErrorActionPreference = 'Stop'`` ends the script with."""
    return _error_record(
        message,
        exception_types=["System.Management.Automation.RuntimeException", "System.SystemException"],
        category=ErrorCategory.NotSpecified, reason="RuntimeException", error_id="RuntimeException",
    )


def _binding_error(message: str, error_id: str) -> ErrorRecord:
    return _error_record(
        message,
        exception_types=["System.Management.Automation.ParameterBindingException",
                         "System.Management.Automation.RuntimeException", "System.SystemException"],
        category=ErrorCategory.InvalidArgument, reason="ParameterBindingException", error_id=error_id,
    )


def _fail(pipeline: ServerPipeline, record: ErrorRecord) -> None:
    """End a running pipeline Failed with a terminating error.

    psrpcore has no public call for this (only complete and stop); this is the state
    change its own ``stop()`` makes, with Failed instead of Stopped. The record travels
    in the PipelineState message, where a client reads a terminating error.
    """
    pipeline._change_state(PSInvocationState.Failed, error=record)


def _plain(value: Any) -> Any:
    """A deserialized parameter value as plain Python data (secure strings decrypted)."""
    if isinstance(value, PSSecureString):
        return value.decrypt()
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, PSObject):
        props = [*value.PSObject.adapted_properties, *value.PSObject.extended_properties]
        if props:
            return {p.name: _plain(p.get_value(value)) for p in props}
    return str(value)


def _ps_value(value: Any, type_name: str | None = None) -> Any:
    """Plain data (JSON rows) as PowerShell objects: dicts become PSCustomObjects."""
    if isinstance(value, dict):
        obj = PSCustomObject()
        if type_name:
            obj.PSObject.type_names.insert(0, type_name)
        for key, item in value.items():
            add_note_property(obj, str(key), _ps_value(item))
        return obj
    if isinstance(value, list):
        return [_ps_value(v) for v in value]
    return value


def _bind(op: Operation, parameters: list[tuple[str | None, Any]]) -> dict[str, Any]:
    """The parameters of a declared script by PowerShell name, bound as PowerShell would."""
    declared = script_parameter_names(op.script)
    by_lower = {name.lower(): name for name in declared}
    bound: dict[str, Any] = {}
    positional = iter(declared)
    for name, value in parameters:
        if name is None:
            target = next((n for n in positional if n not in bound), None)
            if target is None:
                raise _PowerShellFailure(_binding_error(
                    f"A positional parameter cannot be found that accepts argument '{_plain(value)}'.",
                    "PositionalParameterNotFound"))
        else:
            target = by_lower.get(name.lstrip("-").lower())
            if target is None:
                raise _PowerShellFailure(_binding_error(
                    f"A parameter cannot be found that matches parameter name '{name}'.",
                    "NamedParameterNotFound"))
        bound[target] = _plain(value)
    mandatory = [m.group("name") for m in _MANDATORY.finditer(op.script)]
    missing = [name for name in mandatory if name not in bound]
    if missing:
        raise _PowerShellFailure(_binding_error(
            "Cannot process command because of one or more missing mandatory parameters: "
            f"{' '.join(missing)}.", "MissingMandatoryParameter"))
    for name in mandatory:
        if bound[name] is None or bound[name] == "":
            why = "null" if bound[name] is None else "an empty string"
            raise _PowerShellFailure(_binding_error(
                f"Cannot bind argument to parameter '{name}' because it is {why}.",
                "ParameterArgumentValidationErrorNullNotAllowed"))
    return bound


def refusal_record(refusal: frontdoor.Refusal) -> ErrorRecord:
    """The error record a node answers a script with that it will not run (see lab.frontdoor)."""
    if refusal.kind == "parse":
        return _error_record(
            refusal.message,
            exception_types=["System.Management.Automation.ParseException",
                             "System.Management.Automation.RuntimeException", "System.SystemException"],
            category=ErrorCategory.ParserError, reason="ParseException", error_id=refusal.error_id)
    if refusal.kind == "not-found":
        return command_not_found(refusal.message.split("'")[1])
    if refusal.kind == "prompt":
        return _error_record(
            str(refusal),
            exception_types=["System.Management.Automation.PSInvalidOperationException",
                             "System.InvalidOperationException", "System.SystemException"],
            category=ErrorCategory.InvalidOperation, reason="PSInvalidOperationException",
            error_id=refusal.error_id)
    return _binding_error(str(refusal), refusal.error_id)


def _front_door(commands: list[Any]) -> None:
    """Refuse, as a node would, a pipeline Windows PowerShell 5.1 would not run (lab.frontdoor)."""
    for index, cmd in enumerate(commands):
        text = str(cmd.command_text)
        if cmd.is_script:
            try:
                frontdoor.admit(text)
            except frontdoor.Refusal as refusal:
                raise _PowerShellFailure(refusal_record(refusal)) from None
            continue
        named = [str(name) for name, _ in cmd.parameters if name is not None]
        positional = sum(1 for name, _ in cmd.parameters if name is None)
        refusal = frontdoor.check_call(text.strip(), named, positional, piped=index > 0)
        if refusal is not None:
            raise _PowerShellFailure(refusal_record(refusal))


def _term(commands: list[Any]) -> str:
    """The name PowerShell would say it does not recognise."""
    for cmd in commands:
        text = str(cmd.command_text).strip()
        if cmd.is_script or text.lower() not in READ_CMDLETS:
            first = next((line.strip() for line in text.splitlines() if line.strip()), text)
            return first if len(first) <= 120 else first[:117] + "..."
    return str(commands[-1].command_text).strip()


# ------------------------------------------------------------------ psrpcore glue


def _alias_call_id(event: Any) -> None:
    """pypsrp names the call id of SetMax/MinRunspaces ``CI``; psrpcore reads ``ci``."""
    message = event._ps_object
    if getattr(message, "ci", None) is None:
        call_id = getattr(message, "CI", None)
        if call_id is not None:
            add_note_property(message, "ci", call_id, force=True)


# A CreatePipeline's CLIXML, deserialized, and the pipeline psrpcore makes of it, by its text. The lab serves
# every node from one interpreter, so what each node's own PowerShell parses once per call would otherwise
# queue 64 nodes behind one lock: the same script with the same values, from any pool, is parsed once.
# psrpcore only reads both (a server pipeline's ``metadata`` is assigned, never changed), and so does the lab.
_PARSED: OrderedDict[bytes, tuple[Any, Any]] = OrderedDict()
_PARSED_LOCK = threading.Lock()
_PARSED_MAX = 256
# And the other way: the CLIXML of what every pipeline sends back the same (see prepare_message).
_WRITTEN: OrderedDict[Any, bytes] = OrderedDict()


class _LabRunspacePool(ServerRunspacePool):
    def _process_message(self, message: Any) -> Any:
        """psrpcore's own, except that a CreatePipeline seen before is not parsed again (see _PARSED)."""
        if message.message_type != PSRPMessageType.CreatePipeline:
            return super()._process_message(message)
        key = bytes(message.data)
        with _PARSED_LOCK:
            parsed = _PARSED.get(key)
            if parsed is not None:
                _PARSED.move_to_end(key)
        if parsed is None:
            ps_object = deserialize(ElementTree.fromstring(key), cipher=self._cipher,
                                    our_capability=self.our_capability, their_capability=self.their_capability)
            parsed = (ps_object, PSRPEvent.create(message.message_type, ps_object, message.runspace_pool_id,
                                                  message.pipeline_id).pipeline)
            with _PARSED_LOCK:
                _PARSED[key] = parsed
                while len(_PARSED) > _PARSED_MAX:
                    _PARSED.popitem(last=False)
        event = PSRPEvent.create(message.message_type, parsed[0], message.runspace_pool_id, message.pipeline_id)
        pipeline = self.pipeline_table.get(event.pipeline_id)
        if pipeline is None:  # as psrpcore's _process_CreatePipeline says it
            raise PSRPCoreError(f"Failed to find pipeline for incoming event {event.pipeline_id!s}")
        pipeline.metadata = parsed[1]
        return event

    def prepare_message(self, message: Any, message_type: Any = None, pipeline_id: Any = None,
                        stream_type: StreamType = StreamType.default) -> None:
        """psrpcore's own, except that the CLIXML of a pipeline's plain state change (Running, Completed) or
        of a text it writes is made once (see _WRITTEN): every node says the same, every call."""
        if isinstance(message, PipelineState) and not message.ExceptionAsErrorRecord:
            key: Any = ("state", int(message.PipelineState))
            message_type = PSRPMessageType.PipelineState
        elif message_type == PSRPMessageType.PipelineOutput and type(message) is str and len(message) <= 4096:
            key = ("output", message)
        else:
            return super().prepare_message(message, message_type, pipeline_id, stream_type)
        with _PARSED_LOCK:
            data = _WRITTEN.get(key)
        if data is None:
            data = ElementTree.tostring(serialize(message, self._cipher, our_capability=self.our_capability,
                                                  their_capability=self.their_capability),
                                        encoding="utf-8", method="xml")
            with _PARSED_LOCK:
                _WRITTEN[key] = data
                while len(_WRITTEN) > _PARSED_MAX:
                    _WRITTEN.popitem(last=False)
        framed = create_message(self._is_client, message_type, data, self.runspace_pool_id, pipeline_id)
        self._send_buffer.append(PSRPMessage(message_type, bytearray(framed), self.runspace_pool_id, pipeline_id,
                                             self._fragment_counter, stream_type))

    def _process_SetMaxRunspaces(self, event: SetMaxRunspacesEvent) -> None:
        _alias_call_id(event)
        super()._process_SetMaxRunspaces(event)

    def _process_SetMinRunspaces(self, event: SetMinRunspacesEvent) -> None:
        _alias_call_id(event)
        super()._process_SetMinRunspaces(event)

    def _process_GetAvailableRunspaces(self, event: GetAvailableRunspacesEvent) -> None:
        _alias_call_id(event)
        super()._process_GetAvailableRunspaces(event)

    def _process_ResetRunspaceState(self, event: ResetRunspaceStateEvent) -> None:
        _alias_call_id(event)
        super()._process_ResetRunspaceState(event)


class _Command:
    """One pipeline of a shell: its psrpcore pipeline, what to run, what to send back."""

    def __init__(self, command_id: str, pipeline: ServerPipeline) -> None:
        self.id = command_id
        self.pipeline = pipeline
        self.pending: list[Any] | None = None  # the commands, until run
        self.queue: deque[bytes] = deque()

    @property
    def finished(self) -> bool:
        return self.pending is None and self.pipeline.state in _FINISHED


class _Shell:
    """One RunspacePool. Every psrpcore call happens under ``cond``, which also wakes Receives."""

    def __init__(self, shell_id: str, resource_uri: str, node: str, last_boot: float, owner: str,
                 client_ip: str) -> None:
        self.id = shell_id
        self.resource_uri = resource_uri
        self.node = node
        self.last_boot = last_boot
        self.owner = owner
        self.client_ip = client_ip
        self.cond = threading.Condition(threading.Lock())
        self.pool = _LabRunspacePool()
        self.pool_queue: deque[bytes] = deque()
        self.commands: dict[str, _Command] = {}
        self.closed = False

    def flush(self) -> None:
        """Move what psrpcore wants to send into the pool's or each pipeline's queue."""
        while (payload := self.pool.data_to_send(_CHUNK)) is not None:
            if payload.pipeline_id is None:
                self.pool_queue.append(payload.data)
            else:
                cmd = self.commands.get(wsman.normalize_id(str(payload.pipeline_id)))
                if cmd is not None:
                    cmd.queue.append(payload.data)
        self.cond.notify_all()


def _take(queue: deque[bytes], budget: int) -> list[bytes]:
    chunks: list[bytes] = []
    size = 0
    while queue and (not chunks or size + len(queue[0]) <= budget):
        chunk = queue.popleft()
        chunks.append(chunk)
        size += len(chunk)
    return chunks


# --------------------------------------------------------------------- HTTP layer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms Nagle wait on a response written in parts
    wbufsize = 64 * 1024  # headers and body leave in one TLS record and one send (flushed after each request)
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.server.endpoint._handle(self)

    def do_GET(self) -> None:  # noqa: N802
        self.server.endpoint._reply(self, 405, b"", content_type=None)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log.debug("%s %s", self.server.endpoint.node, format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, endpoint: NodeEndpoint, address: tuple[str, int]) -> None:
        self.endpoint = endpoint
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up (getfqdn): slow without DNS, and unused here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[0], self.server_address[1]

    def finish_request(self, request: Any, client_address: Any) -> None:
        endpoint = self.endpoint
        conn = request
        endpoint._track(request)
        try:
            if endpoint.ssl_context is not None:
                request.settimeout(10)  # a client that never finishes its handshake
                conn = endpoint.ssl_context.wrap_socket(request, server_side=True)
                conn.settimeout(None)
                endpoint._track(conn)
            self.RequestHandlerClass(conn, client_address, self)
        except (OSError, ValueError) as exc:  # handshake refused, peer gone, server stopping
            log.debug("%s: connection ended: %s", endpoint.node, exc)
        finally:
            endpoint._untrack(request)
            if conn is not request:
                endpoint._untrack(conn)
                _close(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("%s: request from %s failed", self.endpoint.node, client_address, exc_info=True)


def _close(sock: Any) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass
    try:
        sock.close()
    except (OSError, ValueError):
        pass


class NodeEndpoint:
    """The WinRM endpoint of one lab node."""

    def __init__(self, lab: Lab, node: str, *, username: str, password: str,
                 ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.lab = lab
        self.node = node
        self.username = username
        self.password = password
        self.ssl_context = ssl_context
        self.host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._shells: wsman.ShellTable[_Shell] = wsman.ShellTable()
        self._conns: set[Any] = set()
        self._conns_lock = threading.Lock()
        pair = f"{username}:{password}"
        self._credentials = [pair.encode("utf-8")]
        try:
            self._credentials.append(pair.encode("latin-1"))
        except UnicodeEncodeError:
            pass

    # ------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._server is not None:
            return
        self._stopping.clear()
        self._server = _Server(self, (self.host, self._port))
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": _POLL},
                                        name=f"lab-winrm-{self.node}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        for shell in self._shells.clear():
            if shell.cond.acquire(timeout=1.0):
                try:
                    shell.closed = True
                    shell.cond.notify_all()
                finally:
                    shell.cond.release()
        server.shutdown()
        server.server_close()
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            _close(conn)
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self._port}/wsman"

    def _track(self, conn: Any) -> None:
        with self._conns_lock:
            self._conns.add(conn)
        if self._stopping.is_set():
            _close(conn)

    def _untrack(self, conn: Any) -> None:
        with self._conns_lock:
            self._conns.discard(conn)

    # ---------------------------------------------------------------- requests
    def _handle(self, handler: _Handler) -> None:
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        data = handler.rfile.read(length) if length > 0 else b""
        request: wsman.WSManRequest | None = None
        try:
            self._gate()
            if not self._authorized(handler):
                self._reply(handler, 401, b"", content_type=None,
                            headers={"WWW-Authenticate": 'Basic realm="WSMAN"'})
                return
            request = wsman.parse_request(data)
            if self.node in self.lab.state.faults.http_500:
                raise wsman.internal_error("The lab's http_500 knob is set for this node.")
            body = self._dispatch(request, handler)
            self._reply(handler, 200, body)
        except _Drop:
            handler.close_connection = True
        except wsman.WSManFault as fault:
            relates_to = request.message_id if request is not None else ""
            self._reply(handler, 500, wsman.fault_envelope(relates_to, fault, self.node))
        except Exception as exc:  # a defect here must still answer like WinRM does
            log.exception("%s: request failed", self.node)
            relates_to = request.message_id if request is not None else ""
            fault = wsman.internal_error(f"{type(exc).__name__}: {exc}")
            self._reply(handler, 500, wsman.fault_envelope(relates_to, fault, self.node))

    def _reply(self, handler: _Handler, status: int, body: bytes, *,
               content_type: str | None = "application/soap+xml;charset=UTF-8",
               headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _authorized(self, handler: _Handler) -> bool:
        if self.node in self.lab.state.faults.auth_failure:
            return False
        given = handler.headers.get("Authorization") or ""
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        # requests encodes Basic credentials as Latin-1 when it can, other clients as UTF-8.
        return any(hmac.compare_digest(decoded, expected) for expected in self._credentials)

    def _reachable(self) -> bool:
        self.lab.tick()
        return self.lab.answers(self.node)  # a node powered on, or the CAU coordinator; knobs permitting

    def _sleep(self, seconds: float) -> None:
        """Sleep, but end the connection at once if the server stops meanwhile."""
        if seconds > 0 and self._stopping.wait(seconds):
            raise _Drop

    def _gate(self) -> None:
        """The knobs every request meets before it is answered: down, hung, slow."""
        if self._stopping.is_set() or not self._reachable():
            raise _Drop
        if self.node in self.lab.state.faults.hang:
            while self.node in self.lab.state.faults.hang:
                self._sleep(_POLL)
            if not self._reachable():
                raise _Drop
        self._sleep(self.lab.state.faults.latency)

    def _dispatch(self, request: wsman.WSManRequest, handler: _Handler) -> bytes:
        action = request.action
        if action == "Create":
            return self._create(request, handler)
        if action == "Get" and request.shell_id is None:
            return wsman.response(request, _config_body())
        if action not in wsman.RESPONSE_ACTIONS:
            raise wsman.WSManFault(wsman.NOT_SUPPORTED, f"The action {request.action_uri} is not supported.",
                                   subcode="ActionNotSupported", sender=True)
        shell = self._shell(request.shell_id)
        if action == "Delete":
            self._close_shell(shell)
            return wsman.response(request)
        with shell.cond:
            if shell.closed:
                raise wsman.shell_not_found(request.shell_id)
            if action == "Get":
                return wsman.response(request, wsman.get_response_body(
                    shell.id, shell.resource_uri, owner=shell.owner, client_ip=shell.client_ip))
            if action == "Command":
                return self._command(shell, request)
            if action == "Send":
                return self._send(shell, request)
            if action == "Signal":
                return self._signal(shell, request)
            return self._receive(shell, request)

    def _shell(self, shell_id: str | None) -> _Shell:
        """The shell a request names: unknown, closed, or from before the node's last boot -> not found."""
        shell = self._shells.get(shell_id)
        boot = self.lab.boot_time(self.node)
        if shell is None or boot is None:
            raise wsman.shell_not_found(shell_id)
        if boot != shell.last_boot:
            self._close_shell(shell)
            raise wsman.shell_not_found(shell_id)
        return shell

    def _close_shell(self, shell: _Shell) -> None:
        self._shells.pop(shell.id)
        with shell.cond:
            shell.closed = True
            shell.commands.clear()
            shell.cond.notify_all()

    # ------------------------------------------------------------------ actions
    def _create(self, request: wsman.WSManRequest, handler: _Handler) -> bytes:
        wanted_id, creation = wsman.create_payload(request.body)
        self._sleep(self.lab.state.faults.pool_open_delay)
        last_boot = self.lab.boot_time(self.node) or 0.0
        shell_id = wsman.normalize_id(wanted_id or str(uuid.uuid4()))
        shell = _Shell(shell_id, request.resource_uri, self.node, last_boot, owner=self.username,
                       client_ip=handler.client_address[0])
        with shell.cond:
            self._feed(shell, creation, None)
        self._shells.add(shell_id, shell)
        return wsman.response(request, wsman.create_response_body(
            self.url, request.resource_uri, shell_id, owner=self.username, client_ip=shell.client_ip))

    def _command(self, shell: _Shell, request: wsman.WSManRequest) -> bytes:
        wanted_id, data = wsman.command_payload(request.body)
        command_id = wsman.normalize_id(wanted_id or str(uuid.uuid4()))
        try:
            pipeline_id = uuid.UUID(command_id)
        except ValueError:
            raise wsman.invalid_request("The CommandId is not a GUID.") from None
        shell.commands[command_id] = _Command(command_id, ServerPipeline(shell.pool, pipeline_id))
        self._feed(shell, data, pipeline_id)
        return wsman.response(request, wsman.command_response_body(command_id))

    def _send(self, shell: _Shell, request: wsman.WSManRequest) -> bytes:
        for _stream, command_id, data in wsman.send_payloads(request.body):
            pipeline_id = uuid.UUID(wsman.normalize_id(command_id)) if command_id else None
            self._feed(shell, data, pipeline_id)
        return wsman.response(request, "<rsp:SendResponse/>")

    def _signal(self, shell: _Shell, request: wsman.WSManRequest) -> bytes:
        command_id, code = wsman.signal_payload(request.body)
        code = code.lower()
        cmd = shell.commands.get(wsman.normalize_id(command_id)) if command_id else None
        if code.endswith("ctrl_c") and cmd is not None:
            cmd.pending = None
            if cmd.pipeline.state in (PSInvocationState.Running, PSInvocationState.Stopping):
                cmd.pipeline.stop()
            shell.flush()
        elif code.endswith("terminate"):
            if cmd is not None:
                self._forget(shell, cmd)
            elif not command_id:
                self._shells.pop(shell.id)
                shell.closed = True
                shell.commands.clear()
                shell.cond.notify_all()
        return wsman.response(request, "<rsp:SignalResponse/>")

    def _receive(self, shell: _Shell, request: wsman.WSManRequest) -> bytes:
        target = wsman.receive_target(request.body)
        budget = wsman.receive_budget(request.max_envelope_size)
        if target is None:
            self._wait(shell, lambda: bool(shell.pool_queue), request)
            return wsman.response(request, wsman.receive_response_body(_take(shell.pool_queue, budget), None, None))
        command_id = wsman.normalize_id(target)
        cmd = shell.commands.get(command_id)
        if cmd is None:  # already delivered and forgotten: nothing more will come
            return wsman.response(request, wsman.receive_response_body([], target, True))
        if cmd.pending is not None:
            commands, cmd.pending = cmd.pending, None
            self._run(cmd.pipeline, commands)
            shell.flush()
        self._wait(shell, lambda: bool(cmd.queue) or cmd.finished, request)
        chunks = _take(cmd.queue, budget)
        done = cmd.finished and not cmd.queue
        if done:
            self._forget(shell, cmd)
        return wsman.response(request, wsman.receive_response_body(chunks, target, done))

    def _forget(self, shell: _Shell, cmd: _Command) -> None:
        shell.commands.pop(cmd.id, None)
        if cmd.pipeline.state in (PSInvocationState.Running, PSInvocationState.Stopping):
            cmd.pipeline.stop()
        if cmd.pipeline.state != PSInvocationState.Stopping:
            cmd.pipeline.close()
        shell.flush()  # what it still had to say goes nowhere: nobody will receive it

    def _wait(self, shell: _Shell, ready: Any, request: wsman.WSManRequest) -> None:
        """Long poll: until ``ready()``, else the operation-timeout fault; hold ``shell.cond``."""
        deadline = time.monotonic() + request.operation_timeout
        while not ready():
            if self._stopping.is_set():
                raise _Drop
            if shell.closed:
                raise wsman.shell_not_found(request.shell_id)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise wsman.operation_timed_out()
            shell.cond.wait(min(remaining, 0.25))
            if not ready() and not self._reachable():
                raise _Drop

    # --------------------------------------------------------------- pipelines
    def _feed(self, shell: _Shell, data: bytes, pipeline_id: uuid.UUID | None) -> None:
        """Give psrpcore the client's fragments and act on every message they complete."""
        pool = shell.pool
        try:
            pool.receive_data(PSRPPayload(data, StreamType.default, pipeline_id))
            while (event := pool.next_event()) is not None:
                if isinstance(event, CreatePipelineEvent):
                    cmd = shell.commands.get(wsman.normalize_id(str(event.pipeline_id)))
                    if cmd is None:
                        raise wsman.invalid_request("A pipeline was created outside a Command.")
                    cmd.pipeline.start()
                    cmd.pending = list(cmd.pipeline.metadata.commands)  # what psrpcore made of the event
                elif isinstance(event, GetCommandMetadataEvent):
                    pipeline = pool.pipeline_table.get(event.pipeline_id)
                    if pipeline is not None:
                        pipeline.start()
                        pipeline.complete()
                elif isinstance(event, (SetMaxRunspacesEvent, SetMinRunspacesEvent, ResetRunspaceStateEvent)):
                    pool.runspace_availability_response(event.ci, True)
                elif isinstance(event, GetAvailableRunspacesEvent):
                    pool.runspace_availability_response(event.ci, max(pool.max_runspaces, 1))
        except PSRPCoreError as exc:
            raise wsman.internal_error(f"PowerShell remoting protocol error: {exc}") from None
        finally:
            shell.flush()

    def _run(self, pipeline: ServerPipeline, commands: list[Any]) -> None:
        """Run a pipeline's commands against the lab; end it Completed or Failed."""
        try:
            outputs = self._execute(commands)
        except LabUnreachable:
            raise _Drop from None
        except LabPowerShellError as exc:
            _fail(pipeline, script_error(str(exc)))
            return
        except _PowerShellFailure as exc:
            _fail(pipeline, exc.record)
            return
        for value in outputs:
            pipeline.write_output(value)
        pipeline.complete()

    def _execute(self, commands: list[Any]) -> list[Any]:
        _front_door(commands)
        if len(commands) == 1 and commands[0].is_script:
            op = _SCRIPTS.get(str(commands[0].command_text).strip())
            if op is not None:
                params = _bind(op, list(commands[0].parameters))
                return [self.lab.execute(self.node, op.name, params)]
        if len(commands) == 1 and not commands[0].is_script:
            entry = READ_CMDLETS.get(str(commands[0].command_text).strip().lower())
            if entry is not None:
                op_name, type_name = entry
                return _read_objects(op_name, type_name, json.loads(self.lab.execute(self.node, op_name, {})))
        raise _PowerShellFailure(command_not_found(_term(commands)))


def _read_objects(op_name: str, type_name: str, data: Any) -> list[Any]:
    """A read handler's rows as the objects the real cmdlet writes."""
    if op_name == "get_cau_run" and isinstance(data, dict):
        # Get-CauRun writes its state first, then a run object only while a run exists.
        rest = {k: v for k, v in data.items() if k != "State"}
        out: list[Any] = [str(data.get("State", ""))]
        if rest:
            out.append(_ps_value(rest, type_name))
        return out
    rows = data if isinstance(data, list) else [data]
    return [_ps_value(row, type_name) for row in rows]


def _config_body() -> str:
    ns = "http://schemas.microsoft.com/wbem/wsman/1/config"
    return (f'<cfg:Config xmlns:cfg="{ns}"><cfg:MaxEnvelopeSizekb>500</cfg:MaxEnvelopeSizekb>'
            "<cfg:MaxTimeoutms>60000</cfg:MaxTimeoutms><cfg:MaxBatchItems>32000</cfg:MaxBatchItems>"
            "</cfg:Config>")


class LabServer:
    """One NodeEndpoint per lab node, sharing one SSL context and credentials; with ``coordinator``, one
    more for the lab's CAU coordinator (a management server outside the cluster), after the nodes."""

    def __init__(self, lab: Lab, *, username: str, password: str, ssl_context: ssl.SSLContext | None,
                 ports: dict[str, int] | None = None, base_port: int | None = None,
                 coordinator: bool = False) -> None:
        self.lab = lab
        self.endpoints: dict[str, NodeEndpoint] = {}
        names = [*lab.state.nodes, *([COORDINATOR] if coordinator else [])]
        for index, name in enumerate(names):
            if ports and name in ports:
                port = ports[name]
            elif base_port is not None:
                port = base_port + index
            else:
                port = 0
            self.endpoints[name] = NodeEndpoint(lab, name, username=username, password=password,
                                                ssl_context=ssl_context, port=port)

    def start(self) -> None:
        try:
            for endpoint in self.endpoints.values():
                endpoint.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.stop()

    def __enter__(self) -> LabServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
