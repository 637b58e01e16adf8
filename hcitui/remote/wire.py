"""What each call costs the client, kept small. pypsrp still speaks PSRP and WS-Management, but:

- the CreatePipeline message of a script with its parameters is serialized (CLIXML) once and reused
  for every node and every later call with the same values (pypsrp builds it again each time: about
  half a millisecond of CPU per operation, on the interpreter lock the whole fan-out shares);
- the WS-Management envelope is written from a template made once per distinct header, not built as
  an element tree and serialized for every request (the same elements and values as pypsrp's);
- over HTTPS with Basic authentication (no message encryption, no proxy, no client certificate), the
  messages go over one kept-alive connection per pool, a request in one write, instead of through
  requests, whose per-request machinery (prepare, hooks, adapters, urllib3's pool) costs more CPU than
  the rest of the call.

Every other setup (Kerberos, NTLM, CredSSP, certificates, a proxy) keeps pypsrp's requests transport.
The errors raised here are requests' own, so :func:`hcitui.remote.psrp.classify` words them as before.
"""

from __future__ import annotations

import base64
import functools
import http.client
import os
import random
import select
import socket
import ssl
import struct
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape, quoteattr

_MESSAGE_HEADER = struct.Struct("<II")  # destination, message type (MS-PSRP 2.2.1)
_FRAGMENT_HEADER = struct.Struct(">QQBI")  # object id, fragment id, start/end bits, length (MS-PSRP 2.2.4)
_DESTINATION_SERVER = 0x00000002
_CREATE_PIPELINE = 0x00021006
_CACHE_SIZE = 256
_BULK = 1024  # a parameter value longer than this (a file chunk) is never kept: it is sent once


# ----------------------------------------------------------------- CreatePipeline


class _PipelineCache:
    """CLIXML of CreatePipeline messages by (script, parameters); shared by every session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[Any, bytes] = OrderedDict()
        self.misses = 0

    def get(self, key: Any) -> bytes | None:
        with self._lock:
            xml = self._items.get(key)
            if xml is not None:
                self._items.move_to_end(key)
            return xml

    def put(self, key: Any, xml: bytes) -> None:
        with self._lock:
            self.misses += 1
            self._items[key] = xml
            self._items.move_to_end(key)
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


PIPELINES = _PipelineCache()


def _key_value(value: Any) -> Any:
    """``value`` as part of a cache key (its type too: True and 1 must not share an entry), or
    raise TypeError when it should not be cached (bulk, or a type whose CLIXML is not plain)."""
    if value is None or isinstance(value, (bool, int, float)):
        return (type(value).__name__, value)
    if isinstance(value, str):
        if len(value) > _BULK:
            raise TypeError("bulk")
        return ("str", value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_key_value(v) for v in value))
    tag = getattr(value, "tag", None)  # pypsrp's TaggedValue (an Int64)
    if isinstance(tag, str) and type(value).__name__ == "TaggedValue":
        return ("tagged", tag, _key_value(value.value))
    raise TypeError(type(value).__name__)


def pipeline_key(script: str, parameters: dict[str, Any]) -> Any:
    """The cache key of a script with these parameter values, or None when it must not be cached."""
    try:
        return (script, tuple((name, _key_value(value)) for name, value in parameters.items()))
    except TypeError:
        return None


def _create_pipeline(shell: Any) -> Any:
    """The CreatePipeline message pypsrp's ``PowerShell.begin_invoke()`` sends, with its defaults."""
    from pypsrp.complex_objects import ApartmentState, HostInfo, Pipeline, RemoteStreamOptions
    from pypsrp.messages import CreatePipeline

    pool = shell.runspace_pool
    pipeline = Pipeline(is_nested=shell.is_nested, cmds=shell.commands, history=shell.history_string,
                        redirect_err_to_out=False)
    return CreatePipeline(True, ApartmentState(value=pool.apartment_state),
                          RemoteStreamOptions(value=RemoteStreamOptions.ADD_INVOCATION_INFO), False,
                          HostInfo(host=pool.host), pipeline, shell.is_nested)


def pipeline_xml(shell: Any, key: Any, fill: Callable[[], None] | None = None) -> bytes:
    """The CLIXML of ``shell``'s CreatePipeline message: from the cache when ``key`` is in it. ``fill``
    adds the script and its parameters to ``shell`` when they are needed (not for a message in the cache:
    nothing else reads them)."""
    pool = shell.runspace_pool
    cacheable = key is not None and pool.host is None and not shell.is_nested
    if cacheable:  # what else the message depends on: the pool's settings and the protocol it speaks
        key = (key, pool.apartment_state, pool.protocol_version)
        xml = PIPELINES.get(key)
        if xml is not None:
            return xml
    if fill is not None:
        fill()
    if not shell.commands:
        raise ValueError("a pipeline needs a command")
    # The pool's own serializer (its session key encrypts a secure string), as pypsrp's Message.pack uses it.
    element = pool._fragmenter.serializer.serialize(_create_pipeline(shell))
    xml = ET.tostring(element, encoding="utf-8", method="xml")
    if cacheable:
        PIPELINES.put(key, xml)
    return xml


def fragments(pool: Any, pipeline_id: str, xml: bytes) -> list[bytes]:
    """The PSRP fragments of a CreatePipeline message, numbered by the pool's own fragmenter."""
    fragmenter = pool._fragmenter
    data = (_MESSAGE_HEADER.pack(_DESTINATION_SERVER, _CREATE_PIPELINE) + uuid.UUID(pool.id).bytes_le
            + uuid.UUID(pipeline_id).bytes_le + xml)
    size = fragmenter.max_size
    object_id = fragmenter.outgoing_counter
    fragmenter.outgoing_counter += 1
    out = []
    for index, start in enumerate(range(0, len(data), size)):
        chunk = data[start:start + size]
        flags = (0x1 if index == 0 else 0) | (0x2 if start + size >= len(data) else 0)
        out.append(_FRAGMENT_HEADER.pack(object_id, index, flags, len(chunk)) + chunk)
    return out


def begin_invoke(shell: Any, key: Any, fill: Callable[[], None] | None = None) -> None:
    """``shell.begin_invoke()`` without input, its CreatePipeline message from the cache (``fill``: see
    :func:`pipeline_xml`): the Command carries the first fragment, Sends the rest (as pypsrp's
    ``PowerShell._invoke`` does)."""
    from pypsrp.complex_objects import PSInvocationState
    from pypsrp.wsman import NAMESPACES

    pool = shell.runspace_pool
    parts = fragments(pool, shell.id, pipeline_xml(shell, key, fill))
    pool.pipelines[shell.id] = shell
    response = pool.shell.command("", arguments=[base64.b64encode(parts[0]).decode("ascii")], command_id=shell.id)
    command_id = response.find("rsp:CommandResponse/rsp:CommandId", NAMESPACES)
    if command_id is not None:
        shell._command_id = command_id.text or ""
    shell.state = PSInvocationState.RUNNING
    for part in parts[1:]:
        pool.shell.send("stdin", part, command_id=shell._command_id)


# ---------------------------------------------------------------------- envelopes

_RANDOM = random.Random(int.from_bytes(os.urandom(16), "big"))  # message ids need uniqueness, not secrecy
_HEADERS: OrderedDict[Any, tuple[bytes, bytes]] = OrderedDict()
_HEADERS_LOCK = threading.Lock()
_HEADERS_MAX = 512


def _message_id() -> str:
    """A random (version 4) UUID, upper case as pypsrp writes it, without a system call."""
    value = _RANDOM.getrandbits(128)
    value = (value & ~(0xF000 << 64) & ~(0xC000 << 48)) | (0x4000 << 64) | (0x8000 << 48)
    text = f"{value:032X}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _set_text(item: Any) -> tuple[Any, ...]:
    if item is None:
        return ()
    return (item.element_name, item.child_element_name, item.must_understand,
            tuple((name, str(value), tuple(sorted(attributes.items()))) for name, value, attributes in item.values))


def _render_set(key: tuple[Any, ...]) -> str:
    if not key:
        return ""
    element, child, must_understand, values = key
    understand = ' s:mustUnderstand="true"' if must_understand else ""
    inner = "".join(
        f"<wsman:{child} Name={quoteattr(name)}"
        + "".join(f" {attr}={quoteattr(str(value))}" for attr, value in attributes)
        + f">{escape(value)}</wsman:{child}>"
        for name, value, attributes in values)
    return f"<wsman:{element}{understand}>{inner}</wsman:{element}>"


def _header(wsman: Any, action: str, resource_uri: str, option_set: Any, selector_set: Any,
            timeout: Any) -> tuple[bytes, bytes]:
    """The envelope up to its MessageID, and from there to the body, as pypsrp's ``_create_header``
    writes them (same elements, same order, same values); made once per distinct header."""
    from pypsrp.wsman import NAMESPACES as NS

    key = (action, resource_uri, _set_text(option_set), _set_text(selector_set), timeout or wsman.operation_timeout,
           wsman.max_envelope_size, wsman.locale, wsman.data_locale, wsman.session_id, wsman.transport.endpoint)
    with _HEADERS_LOCK:
        found = _HEADERS.get(key)
    if found is not None:
        return found
    head = (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:wsa="{NS["wsa"]}" xmlns:wsman="{NS["wsman"]}" '
        f'xmlns:wsmv="{NS["wsmv"]}"><s:Header>'
        f'<wsa:Action s:mustUnderstand="true">{escape(action)}</wsa:Action>'
        f'<wsmv:DataLocale s:mustUnderstand="false" xml:lang={quoteattr(wsman.data_locale)} />'
        f'<wsman:Locale s:mustUnderstand="false" xml:lang={quoteattr(wsman.locale)} />'
        f'<wsman:MaxEnvelopeSize s:mustUnderstand="true">{wsman.max_envelope_size}</wsman:MaxEnvelopeSize>'
        "<wsa:MessageID>uuid:"
    )
    tail = (
        f"</wsa:MessageID><wsman:OperationTimeout>PT{timeout or wsman.operation_timeout}S</wsman:OperationTimeout>"
        "<wsa:ReplyTo><wsa:Address s:mustUnderstand=\"true\">"
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo>"
        f'<wsman:ResourceURI s:mustUnderstand="true">{escape(resource_uri)}</wsman:ResourceURI>'
        f'<wsmv:SessionId s:mustUnderstand="false">uuid:{str(wsman.session_id).upper()}</wsmv:SessionId>'
        f"<wsa:To>{escape(wsman.transport.endpoint)}</wsa:To>"
        f"{_render_set(key[2])}{_render_set(key[3])}</s:Header><s:Body>"
    )
    found = (head.encode("utf-8"), tail.encode("utf-8"))
    with _HEADERS_LOCK:
        _HEADERS[key] = found
        while len(_HEADERS) > _HEADERS_MAX:
            _HEADERS.popitem(last=False)
    return found


def _invoke(wsman: Any, action: str, resource_uri: str, resource: ET.Element | None, option_set: Any = None,
            selector_set: Any = None, timeout: int | None = None, *, retries_on_read_timeout: int = 0) -> ET.Element:
    """pypsrp's ``WSMan.invoke``, its envelope written from a template instead of built as a tree."""
    from pypsrp.exceptions import WinRMError, WinRMTransportError
    from pypsrp.wsman import NAMESPACES

    head, tail = _header(wsman, action, resource_uri, option_set, selector_set, timeout)
    message_id = _message_id()
    body = b"" if resource is None else ET.tostring(resource, encoding="unicode").encode("utf-8")
    xml = b"%s%s%s%s</s:Body></s:Envelope>" % (head, message_id.encode("ascii"), tail, body)
    try:
        response = wsman.transport.send(xml, retries_on_read_timeout=retries_on_read_timeout,
                                        timeout=timeout + 2 if timeout else None)
    except WinRMTransportError as err:
        try:
            raise wsman._parse_wsman_fault(err.response_text) from None
        except ET.ParseError:
            raise err from None
    response_xml = ET.fromstring(response)
    relates_to = response_xml.find("s:Header/wsa:RelatesTo", namespaces=NAMESPACES)
    if (relates_to.text if relates_to is not None else "") != f"uuid:{message_id}":
        raise WinRMError(f"Received related id does not match related expected message id: Sent: uuid:{message_id}, "
                         f"Received: {relates_to.text if relates_to is not None else ''}")
    return response_xml


# ---------------------------------------------------------------------- transport


class LeanHttp:
    """WS-Management posts over one kept-alive connection, in place of pypsrp's requests session.

    Installed by :func:`install` on a transport that needs nothing requests does for it: Basic
    authentication, no message encryption, no proxy, no client certificate. Each transport (one
    RunspacePool, one node) is used by one call at a time, so one connection is enough. A request
    leaves in one write (one TLS record); the response is read by Content-Length (or chunks).
    """

    def __init__(self, transport: Any, session: Any) -> None:
        from requests.auth import _basic_auth_str

        self.transport = transport
        self.host = transport.server
        self.port = transport.port
        self.secure = bool(transport.ssl)
        self.connect_timeout = float(transport.connection_timeout)
        self.read_timeout = float(transport.read_timeout)
        self.context = _ssl_context(session.verify) if self.secure else None
        headers = {key: value for key, value in session.headers.items()
                   if key.lower() not in ("connection", "content-length", "host")}
        headers["Authorization"] = _basic_auth_str(transport.username, transport.password)
        headers["Content-Type"] = "application/soap+xml;charset=UTF-8"
        where = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        lines = [f"POST /{transport.path.lstrip('/')} HTTP/1.1", f"Host: {where}:{self.port}",
                 *(f"{key}: {value}" for key, value in headers.items())]
        self._head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._timeout: float | None = None  # the socket's, as last set
        self._used = 0.0  # when the last answer arrived (monotonic)

    # pypsrp's _TransportHTTP.send, for a transport that never wraps its messages
    def send(self, message: bytes, *, retries_on_read_timeout: int = 0, timeout: Any = None) -> bytes:
        import requests

        attempt = 0
        while True:
            try:
                return self._post(message, timeout)
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectTimeout):
                if attempt >= retries_on_read_timeout:
                    raise
                attempt += 1
                time.sleep(self.transport.reconnection_backoff * (2**attempt - 1))

    def close(self) -> None:
        sock, reader, self._sock, self._reader = self._sock, self._reader, None, None
        for item in (reader, sock):
            if item is not None:
                try:
                    item.close()
                except OSError:
                    pass

    def _connect(self, timeout: float) -> None:
        import requests

        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except TimeoutError as exc:
            raise requests.exceptions.ConnectTimeout(exc) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.context is not None:
                sock = self.context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self._sock, self._reader, self._timeout = sock, sock.makefile("rb"), sock.gettimeout()

    def _post(self, message: bytes, timeout: Any) -> bytes:
        import requests
        from pypsrp.exceptions import AuthenticationError, WinRMTransportError

        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        connect = float(connect) if connect is not None else self.connect_timeout
        read = float(read) if read is not None else self.read_timeout
        # A connection idle for a while may have been closed by the node (or the node restarted): then a
        # fresh one. Within a second of its last answer it is taken as it is (a system call saved per request).
        if self._sock is not None and time.monotonic() - self._used > 1.0 and _dropped(self._sock):
            self.close()
        try:
            if self._sock is None:
                self._connect(connect)
            assert self._sock is not None
            if read != self._timeout:
                self._sock.settimeout(read)
                self._timeout = read
            self._sock.sendall(b"%sContent-Length: %d\r\n\r\n%s" % (self._head, len(message), message))
            status, will_close, body = _read_response(self._reader)
            self._used = time.monotonic()
        except requests.exceptions.RequestException:
            self.close()
            raise
        except ssl.SSLError as exc:
            self.close()
            raise requests.exceptions.SSLError(exc) from exc
        except TimeoutError as exc:
            self.close()
            raise requests.exceptions.ReadTimeout(exc) from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.close()
            raise requests.exceptions.ConnectionError(exc) from exc
        if will_close:
            self.close()
        if status == 401:
            raise AuthenticationError(f"Failed to authenticate the user {self.transport.username} with basic")
        if not 200 <= status < 300:
            raise WinRMTransportError("http", status, body.decode("utf-8", "replace"))
        return body


def _read_response(reader: Any) -> tuple[int, bool, bytes]:
    """(status, whether the server closes the connection after it, body) of one HTTP/1.1 response."""
    while True:
        line = reader.readline(65537)
        if not line:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        version, _, rest = line.partition(b" ")
        status = int(rest[:3])
        headers: dict[bytes, bytes] = {}
        while True:
            header = reader.readline(65537)
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if status != 100:
            break
    will_close = headers.get(b"connection", b"").lower() == b"close" or (
        version == b"HTTP/1.0" and headers.get(b"connection", b"").lower() != b"keep-alive")
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        parts = []
        while True:
            size = int(reader.readline(65537).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while reader.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            parts.append(_read_exactly(reader, size))
            reader.readline(65537)
        return status, will_close, b"".join(parts)
    if b"content-length" in headers:
        return status, will_close, _read_exactly(reader, int(headers[b"content-length"]))
    return status, True, reader.read()  # no length: the body ends with the connection


def _read_exactly(reader: Any, size: int) -> bytes:
    data = reader.read(size)
    if len(data) != size:
        raise http.client.IncompleteRead(data, size - len(data))
    return data


def _dropped(sock: socket.socket) -> bool:
    """Has the peer closed (or written unasked to) an idle kept-alive connection?"""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _ssl_context(verify: Any) -> ssl.SSLContext:
    """The context requests would build: certificates checked against ``verify`` (a CA file or folder,
    or True for requests' own bundle), or not at all when ``verify`` is False."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    from requests.utils import DEFAULT_CA_BUNDLE_PATH

    where = DEFAULT_CA_BUNDLE_PATH if verify is True else str(verify)
    if os.path.isdir(where):
        return ssl.create_default_context(capath=where)
    return ssl.create_default_context(cafile=where)


def install(pool: Any) -> bool:
    """Write ``pool``'s WS-Management envelopes from templates, and carry them with :class:`LeanHttp`
    when its transport allows it (see the class); returns whether the carrier is lean. Call after the
    pool opened (its session exists)."""
    from requests.utils import select_proxy

    wsman = getattr(pool, "connection", None)
    if wsman is not None and "invoke" not in vars(wsman):
        wsman.invoke = functools.partial(_invoke, wsman)  # an instance attribute: this pool's WSMan only
    transport = getattr(wsman, "transport", None)
    session = getattr(transport, "session", None)
    if transport is None or session is None or getattr(transport, "lean", None) is not None:
        return False
    if (transport.auth != "basic" or transport.wrap_required or session.cert
            or select_proxy(transport.endpoint, session.proxies or {})):
        return False
    lean = LeanHttp(transport, session)
    original_close = transport.close

    def close() -> None:
        lean.close()
        original_close()

    # Instance attributes over the class's methods: only this transport is changed.
    transport.lean = lean
    transport.send = lean.send
    transport.close = close
    return True
