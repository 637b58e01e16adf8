"""The WS-Management (SOAP 1.2) layer of the lab's WinRM endpoint.

Parses what a WinRM client (pypsrp) posts to ``/wsman``, builds the responses and faults
it expects, and keeps the table of open shells. It knows nothing about PowerShell: the
PSRP fragments it carries are opaque bytes here (see :mod:`hcitui.lab.endpoint`).

Prefixes in the XML are free; the namespace URIs, ``wsa:RelatesTo`` (equal to the
request's ``wsa:MessageID``) and the ShellId selector in ``wst:ResourceCreated`` are not.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsmv": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "wst": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "wsmanfault": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "pwsh": "http://schemas.microsoft.com/powershell",
}

TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

# Short names of the actions the endpoint serves, by their wsa:Action URI.
ACTIONS = {
    TRANSFER + "Create": "Create",
    TRANSFER + "Delete": "Delete",
    TRANSFER + "Get": "Get",
    SHELL + "Command": "Command",
    SHELL + "Receive": "Receive",
    SHELL + "Send": "Send",
    SHELL + "Signal": "Signal",
}
RESPONSE_ACTIONS = {
    "Create": TRANSFER + "CreateResponse",
    "Delete": TRANSFER + "DeleteResponse",
    "Get": TRANSFER + "GetResponse",
    "Command": SHELL + "CommandResponse",
    "Receive": SHELL + "ReceiveResponse",
    "Send": SHELL + "SendResponse",
    "Signal": SHELL + "SignalResponse",
}

# Fault codes as Windows reports them (the client compares these numbers).
OPERATION_TIMED_OUT = 0x80338029  # 2150858793: nothing to receive yet, ask again
SHELL_NOT_FOUND = 0x8033805B  # 2150858843: the shell is gone (host restarted)
INTERNAL_ERROR = 0x80004005  # E_FAIL: the generic "the service failed"
NOT_SUPPORTED = 0x80004001  # E_NOTIMPL
INVALID_REQUEST = 0x80070057  # E_INVALIDARG

COMMAND_DONE = SHELL + "CommandState/Done"
COMMAND_RUNNING = SHELL + "CommandState/Running"


class WSManFault(Exception):
    """A request the endpoint answers with a SOAP fault (HTTP 500)."""

    def __init__(self, code: int, reason: str, *, subcode: str = "InternalError", sender: bool = False) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.subcode = subcode
        self.sender = sender


def operation_timed_out() -> WSManFault:
    return WSManFault(
        OPERATION_TIMED_OUT,
        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
        subcode="TimedOut",
    )


def shell_not_found(shell_id: str | None) -> WSManFault:
    return WSManFault(
        SHELL_NOT_FOUND,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not "
        "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
        "exists on the server. Provide the correct ShellId or create a new shell and retry the operation.",
        subcode="InvalidSelectors",
        sender=True,
    )


def internal_error(detail: str) -> WSManFault:
    return WSManFault(INTERNAL_ERROR, f"The WS-Management service cannot process the request. {detail}")


def invalid_request(detail: str) -> WSManFault:
    return WSManFault(INVALID_REQUEST, f"The WS-Management service cannot process the request. {detail}",
                      subcode="InvalidParameter", sender=True)


# ----------------------------------------------------------------------- parsing

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str | None, default: float) -> float:
    """Seconds in an ``xs:duration`` such as ``PT20S``, ``PT20.000S`` or ``P0DT0H1M0S``."""
    match = _DURATION.match((text or "").strip())
    if not match or not any(match.groupdict().values()):
        return default
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)


@dataclass
class WSManRequest:
    action_uri: str
    message_id: str
    resource_uri: str
    selectors: dict[str, str] = field(default_factory=dict)
    operation_timeout: float = 60.0
    max_envelope_size: int = 153600
    body: ET.Element | None = None

    @property
    def action(self) -> str:
        """Create, Delete, Get, Command, Receive, Send, Signal, or the URI for anything else."""
        return ACTIONS.get(self.action_uri, self.action_uri)

    @property
    def shell_id(self) -> str | None:
        return self.selectors.get("ShellId")


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def parse_request(data: bytes) -> WSManRequest:
    """The parts of a WS-Management request the endpoint needs; a fault if it is not one."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise invalid_request(f"The request is not XML ({exc}).") from None
    header = root.find("s:Header", NS)
    body = root.find("s:Body", NS)
    if root.tag != f"{{{NS['s']}}}Envelope" or header is None or body is None:
        raise invalid_request("The request is not a SOAP 1.2 envelope.")
    selectors = {
        sel.attrib.get("Name", ""): _text(sel)
        for sel in header.findall("wsman:SelectorSet/wsman:Selector", NS)
    }
    try:
        max_envelope = int(_text(header.find("wsman:MaxEnvelopeSize", NS)) or 153600)
    except ValueError:
        max_envelope = 153600
    children = list(body)
    return WSManRequest(
        action_uri=_text(header.find("wsa:Action", NS)),
        message_id=_text(header.find("wsa:MessageID", NS)),
        resource_uri=_text(header.find("wsman:ResourceURI", NS)),
        selectors=selectors,
        operation_timeout=parse_duration(_text(header.find("wsman:OperationTimeout", NS)), 60.0),
        max_envelope_size=max(max_envelope, 8192),
        body=children[0] if children else None,
    )


def _b64(text: str | None) -> bytes:
    try:
        return base64.b64decode((text or "").strip(), validate=False)
    except (binascii.Error, ValueError):
        raise invalid_request("A stream is not valid base64.") from None


def normalize_id(value: str | None) -> str:
    """Shell and command ids compare as GUIDs (case-insensitively); anything else as upper-case text."""
    text = (value or "").strip()
    try:
        return str(uuid.UUID(text)).upper()
    except ValueError:
        return text.upper()


def create_payload(body: ET.Element | None) -> tuple[str | None, bytes]:
    """(ShellId the client chose or None, the PSRP fragments in ``creationXml``) of a Create."""
    if body is None or body.tag != f"{{{NS['rsp']}}}Shell":
        raise invalid_request("A Create needs a rsp:Shell body.")
    creation = body.find("pwsh:creationXml", NS)
    return body.attrib.get("ShellId"), _b64(creation.text if creation is not None else "")


def command_payload(body: ET.Element | None) -> tuple[str | None, bytes]:
    """(CommandId or None, the first PSRP fragments in ``rsp:Arguments``) of a Command."""
    if body is None or body.tag != f"{{{NS['rsp']}}}CommandLine":
        raise invalid_request("A Command needs a rsp:CommandLine body.")
    data = b"".join(_b64(arg.text) for arg in body.findall("rsp:Arguments", NS))
    return body.attrib.get("CommandId"), data


def receive_target(body: ET.Element | None) -> str | None:
    """The CommandId a Receive asks for, None for the shell (pool) itself."""
    if body is None:
        return None
    desired = body.find("rsp:DesiredStream", NS)
    return desired.attrib.get("CommandId") if desired is not None else None


def send_payloads(body: ET.Element | None) -> list[tuple[str, str | None, bytes]]:
    """(stream name, CommandId or None, data) for every stream in a Send."""
    if body is None or body.tag != f"{{{NS['rsp']}}}Send":
        raise invalid_request("A Send needs a rsp:Send body.")
    return [(s.attrib.get("Name", "stdin"), s.attrib.get("CommandId"), _b64(s.text))
            for s in body.findall("rsp:Stream", NS)]


def signal_payload(body: ET.Element | None) -> tuple[str | None, str]:
    """(CommandId or None, signal code) of a Signal."""
    if body is None or body.tag != f"{{{NS['rsp']}}}Signal":
        raise invalid_request("A Signal needs a rsp:Signal body.")
    return body.attrib.get("CommandId"), _text(body.find("rsp:Code", NS))


# ---------------------------------------------------------------------- building

_ENVELOPE_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["wsa"]}" xmlns:w="{NS["wsman"]}" '
    f'xmlns:p="{NS["wsmv"]}" xmlns:rsp="{NS["rsp"]}" xmlns:x="{NS["wst"]}">'
)


def envelope(action_uri: str, relates_to: str, body: str) -> bytes:
    """A complete response envelope; ``body`` is the XML text inside ``s:Body``."""
    return (
        f"{_ENVELOPE_OPEN}<s:Header><a:Action>{escape(action_uri)}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID><a:To>{ANONYMOUS}</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def response(request: WSManRequest, body: str = "") -> bytes:
    return envelope(RESPONSE_ACTIONS.get(request.action, request.action_uri + "Response"), request.message_id, body)


def fault_envelope(relates_to: str, fault: WSManFault, machine: str) -> bytes:
    """The SOAP fault WinRM sends, with the WSManFault detail carrying the numeric code."""
    role = "s:Sender" if fault.sender else "s:Receiver"
    body = (
        f"<s:Fault><s:Code><s:Value>{role}</s:Value><s:Subcode><s:Value>w:{escape(fault.subcode)}</s:Value>"
        f"</s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en-US\">{escape(fault.reason)}</s:Text></s:Reason>"
        f"<s:Detail><f:WSManFault xmlns:f=\"{NS['wsmanfault']}\" Code=\"{fault.code}\" Machine={quoteattr(machine)}>"
        f"<f:Message>{escape(fault.reason)}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return envelope(FAULT_ACTION, relates_to, body)


def _shell_fields(shell_id: str, resource_uri: str, *, owner: str, client_ip: str, state: str | None) -> str:
    parts = [
        f"<rsp:ShellId>{escape(shell_id)}</rsp:ShellId>",
        f"<rsp:ResourceUri>{escape(resource_uri)}</rsp:ResourceUri>",
        f"<rsp:Owner>{escape(owner)}</rsp:Owner>",
        f"<rsp:ClientIP>{escape(client_ip)}</rsp:ClientIP>",
        "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>",
        "<rsp:InputStreams>stdin pr</rsp:InputStreams>",
        "<rsp:OutputStreams>stdout</rsp:OutputStreams>",
        "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>",
        "<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>",
    ]
    if state is not None:
        parts.insert(2, f"<rsp:State>{escape(state)}</rsp:State>")
    return "".join(parts)


def create_response_body(address: str, resource_uri: str, shell_id: str, *, owner: str, client_ip: str) -> str:
    """``wst:ResourceCreated`` with the ShellId selector, then the ``rsp:Shell`` description."""
    return (
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{escape(resource_uri)}</w:ResourceURI><w:SelectorSet>"
        f"<w:Selector Name=\"ShellId\">{escape(shell_id)}</w:Selector></w:SelectorSet>"
        f"</a:ReferenceParameters></x:ResourceCreated>"
        f"<rsp:Shell>{_shell_fields(shell_id, resource_uri, owner=owner, client_ip=client_ip, state=None)}</rsp:Shell>"
    )


def get_response_body(shell_id: str, resource_uri: str, *, owner: str, client_ip: str) -> str:
    fields = _shell_fields(shell_id, resource_uri, owner=owner, client_ip=client_ip, state="Connected")
    return f"<rsp:Shell>{fields}</rsp:Shell>"


def command_response_body(command_id: str) -> str:
    return f"<rsp:CommandResponse><rsp:CommandId>{escape(command_id)}</rsp:CommandId></rsp:CommandResponse>"


def receive_response_body(chunks: Iterable[bytes], command_id: str | None, done: bool | None) -> str:
    """``rsp:ReceiveResponse`` with one stdout stream per chunk (whole PSRP fragments only)."""
    target = f" CommandId={quoteattr(command_id)}" if command_id else ""
    streams = "".join(
        f"<rsp:Stream Name=\"stdout\"{target}>{base64.b64encode(chunk).decode('ascii')}</rsp:Stream>"
        for chunk in chunks
    )
    state = ""
    if command_id and done is not None:
        uri = COMMAND_DONE if done else COMMAND_RUNNING
        state = f"<rsp:CommandState CommandId={quoteattr(command_id)} State=\"{uri}\"/>"
    return f"<rsp:ReceiveResponse>{streams}{state}</rsp:ReceiveResponse>"


def receive_budget(max_envelope_size: int) -> int:
    """How many raw bytes fit in one Receive response under the client's MaxEnvelopeSize."""
    return max(1024, (max_envelope_size - 4096) * 3 // 4)


# ------------------------------------------------------------------- shell table

T = TypeVar("T")


class ShellTable(Generic[T]):
    """Open shells by (normalized) ShellId; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shells: dict[str, T] = {}

    def add(self, shell_id: str, shell: T) -> None:
        with self._lock:
            self._shells[normalize_id(shell_id)] = shell

    def get(self, shell_id: str | None) -> T | None:
        with self._lock:
            return self._shells.get(normalize_id(shell_id))

    def pop(self, shell_id: str | None) -> T | None:
        with self._lock:
            return self._shells.pop(normalize_id(shell_id), None)

    def values(self) -> list[T]:
        with self._lock:
            return list(self._shells.values())

    def clear(self) -> list[T]:
        with self._lock:
            shells = list(self._shells.values())
            self._shells.clear()
            return shells

    def __len__(self) -> int:
        with self._lock:
            return len(self._shells)
