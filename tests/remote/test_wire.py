"""What each call costs the client (hcitui.remote.wire), and the pools a node may have (PsrpSession).

The shortcuts must send exactly what pypsrp would: the CreatePipeline message and its fragments byte
for byte, the WS-Management envelope element for element. The lean carrier and the pools are checked
against the lab served over WinRM. Nothing here asserts a duration.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.serializer import TaggedValue
from pypsrp.wsman import WSMan

from hcitui import ps
from hcitui.cli import context as wiring
from hcitui.lab import Lab
from hcitui.remote import OperationFailed, Unreachable, wire
from hcitui.remote.psrp import POOLS_PER_NODE, PsrpSession, wire_value
from hcitui.remote.session import DeferredSession, Opening

GUARD = 60  # seconds: an outer bound so a broken test fails instead of hanging


def offline_pool() -> RunspacePool:
    """A RunspacePool that is never opened: enough to build messages with (nothing is sent); its protocol
    version is what a node (and the lab) reports when a pool opens."""
    pool = RunspacePool(WSMan("node.example", ssl=True, auth="basic", username="u", password="p"))
    pool.protocol_version = "2.3"
    return pool


def shell_for(pool: RunspacePool, script: str, parameters: dict) -> PowerShell:
    shell = PowerShell(pool)
    shell.add_script(script)
    for name, value in parameters.items():
        shell.add_parameter(name, wire_value(value))
    return shell


def pypsrp_fragments(shell: PowerShell) -> list[bytes]:
    """The fragments pypsrp's own begin_invoke would send for ``shell``."""
    from pypsrp.complex_objects import ApartmentState, HostInfo, Pipeline, RemoteStreamOptions
    from pypsrp.messages import CreatePipeline

    pool = shell.runspace_pool
    message = CreatePipeline(True, ApartmentState(value=pool.apartment_state),
                             RemoteStreamOptions(value=RemoteStreamOptions.ADD_INVOCATION_INFO), False,
                             HostInfo(host=pool.host),
                             Pipeline(is_nested=False, cmds=shell.commands, history=shell.history_string,
                                      redirect_err_to_out=False), False)
    return pool._fragmenter.fragment(message, pool.id, shell.id)


@pytest.mark.parametrize("name", sorted(ps.OPERATIONS))
def test_cached_create_pipeline_is_pypsrps_own_byte_for_byte(name):
    from support import example_params

    op = ps.get(name)
    parameters = op.make_params(example_params(op)).to_ps()
    pool = offline_pool()
    shell = shell_for(pool, op.script, parameters)
    wired = {key: wire_value(value) for key, value in parameters.items()}
    key = wire.pipeline_key(op.script, wired)
    counter = pool._fragmenter.outgoing_counter
    ours = wire.fragments(pool, shell.id, wire.pipeline_xml(shell, key))
    again = wire.fragments(pool, shell.id, wire.pipeline_xml(shell, key))  # from the cache when it could be kept
    pool._fragmenter.outgoing_counter = counter
    assert ours == pypsrp_fragments(shell)
    assert again[0][:8] != ours[0][:8]  # each message has its own object id, as pypsrp numbers them
    assert again[0][21:] == ours[0][21:]


def test_large_create_pipeline_is_fragmented_as_pypsrp_does():
    pool = offline_pool()
    pool._fragmenter.max_size = 700  # many fragments for an ordinary script
    op = ps.get("get_os_version")
    shell = shell_for(pool, op.script, {})
    counter = pool._fragmenter.outgoing_counter
    ours = wire.fragments(pool, shell.id, wire.pipeline_xml(shell, None))
    pool._fragmenter.outgoing_counter = counter
    assert len(ours) > 2
    assert ours == pypsrp_fragments(shell)


def test_pipeline_cache_keys():
    script = "param($A) $A"
    assert wire.pipeline_key(script, {"A": True}) != wire.pipeline_key(script, {"A": 1})
    assert wire.pipeline_key(script, {"A": ["x", 2]}) == wire.pipeline_key(script, {"A": ["x", 2]})
    assert wire.pipeline_key(script, {"A": TaggedValue("I64", 2**40)}) is not None
    assert wire.pipeline_key(script, {"A": "x" * 5000}) is None  # a file chunk is sent once, never kept
    assert wire.pipeline_key(script, {"A": object()}) is None


def test_a_script_is_serialized_once_for_every_node():
    wire.PIPELINES.clear()
    op = ps.get("get_os_version")
    before = wire.PIPELINES.misses
    for _ in range(5):
        pool = offline_pool()
        shell = shell_for(pool, op.script, {})
        wire.pipeline_xml(shell, wire.pipeline_key(op.script, {}))
    assert wire.PIPELINES.misses == before + 1


def test_envelope_is_pypsrps_element_for_element(monkeypatch):
    """The templated envelope and pypsrp's tree are the same XML (prefixes aside), option and selector
    sets, timeout and body included."""
    from pypsrp import wsman as pypsrp_wsman
    from pypsrp.wsman import NAMESPACES, OptionSet, SelectorSet

    fixed = uuid.UUID("0f0e0d0c-0b0a-4908-8706-050403020100")
    sent: list[bytes] = []
    reply = ('<s:Envelope xmlns:s="{s}" xmlns:a="{a}"><s:Header><a:RelatesTo>uuid:{mid}</a:RelatesTo></s:Header>'
             "<s:Body/></s:Envelope>").format(s=NAMESPACES["s"], a=NAMESPACES["wsa"], mid=str(fixed).upper())

    class Carrier:
        endpoint = "https://node.example:5986/wsman"

        def send(self, message, **_kwargs):
            sent.append(message)
            return reply.encode()

    manager = WSMan("node.example", ssl=True, auth="basic", username="u", password="p")
    manager.transport = Carrier()
    monkeypatch.setattr(pypsrp_wsman.uuid, "uuid4", lambda: fixed)
    monkeypatch.setattr(wire, "_message_id", lambda: str(fixed).upper())
    options = OptionSet()
    options.add_option("WSMAN_CMDSHELL_OPTION_KEEPALIVE", "True")
    options.add_option("protocolversion", "2.3", {"MustComply": "true"})
    selectors = SelectorSet()
    selectors.add_option("ShellId", "ABC-<&>")
    rsp = NAMESPACES["rsp"]
    body = ET.Element(f"{{{rsp}}}Receive")
    ET.SubElement(body, f"{{{rsp}}}DesiredStream", CommandId="C1").text = "stdout"
    action = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive"
    uri = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
    manager.invoke(action, uri, body, options, selectors, 20)
    wire._invoke(manager, action, uri, body, options, selectors, 20)
    manager.invoke(action, uri, None)
    wire._invoke(manager, action, uri, None)
    assert len(sent) == 4
    assert ET.canonicalize(sent[0]) == ET.canonicalize(sent[1])
    assert ET.canonicalize(sent[2]) == ET.canonicalize(sent[3])


def test_message_ids_are_version_4_uuids():
    ids = {wire._message_id() for _ in range(1000)}
    assert len(ids) == 1000
    for text in list(ids)[:50]:
        value = uuid.UUID(text)
        assert value.version == 4 and value.variant == uuid.RFC_4122 and text == text.upper()


@pytest.mark.parametrize(("raw", "status", "closes", "body"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, False, b"hello"),
    (b"HTTP/1.1 500 Err\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno", 500, True, b"no"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n", 200, False,
     b"abcde"),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, False, b"x"),
    (b"HTTP/1.0 200 OK\r\n\r\nuntil the end", 200, True, b"until the end"),
])
def test_http_responses_are_read_whole(raw, status, closes, body):
    assert wire._read_response(io.BufferedReader(io.BytesIO(raw))) == (status, closes, body)


def test_a_truncated_response_is_an_error():
    import http.client

    with pytest.raises(http.client.IncompleteRead):
        wire._read_response(io.BufferedReader(io.BytesIO(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort")))
    with pytest.raises(http.client.RemoteDisconnected):
        wire._read_response(io.BufferedReader(io.BytesIO(b"")))


# --------------------------------------------------------------- against the served lab


@pytest.fixture
def served(tmp_path):
    lab = Lab.create(4)
    served = wiring.serve_lab(lab, tmp_path)
    try:
        yield served
    finally:
        served.stop()


def make_ctx(served, tmp_path, *, read_only=True):
    return wiring._psrp_context(served.cluster, tmp_path, read_only=read_only, password=served.password, lab=True)


async def test_the_lab_is_reached_through_the_lean_carrier(served, tmp_path):
    ctx = make_ctx(served, tmp_path)
    try:
        session = ctx.client.sessions["LAB-A1"]
        for _ in range(3):
            version = await asyncio.wait_for(session.invoke(ps.get("get_os_version")), GUARD)
        assert version.current_build_number == 20349
        pool = session._conn.pool
        assert pool.connection.transport.lean is not None
        assert "invoke" in vars(pool.connection)  # the templated envelopes
    finally:
        await ctx.close()


async def test_concurrent_reads_on_one_node_get_pools_of_their_own(served, tmp_path, monkeypatch):
    endpoint = served.server.endpoints["LAB-A1"]
    creates = []
    original = endpoint._create
    monkeypatch.setattr(endpoint, "_create", lambda *a, **k: creates.append(1) or original(*a, **k))
    served.lab.state.faults.latency = 0.2  # the reads overlap
    ctx = make_ctx(served, tmp_path)
    session = ctx.client.sessions["LAB-A1"]
    op = ps.get("get_os_version")
    try:
        await asyncio.wait_for(asyncio.gather(*(session.invoke(op) for _ in range(3))), GUARD)
        assert len(creates) == 3
        await asyncio.wait_for(asyncio.gather(*(session.invoke(op) for _ in range(3))), GUARD)
        assert len(creates) == 3  # warm: the same three pools again
        many = POOLS_PER_NODE + 3
        await asyncio.wait_for(asyncio.gather(*(session.invoke(op) for _ in range(many))), GUARD)
        assert len(creates) == POOLS_PER_NODE  # never more than that; the others waited for one
    finally:
        served.lab.state.faults.latency = 0.0
        await ctx.close()


async def test_changes_to_one_node_never_overlap(served, tmp_path, monkeypatch):
    running, overlapped = [], []
    original = served.lab.execute

    def execute(node, operation, params):
        op = ps.get(operation)
        if op.mutates:
            if running:
                overlapped.append(operation)
            running.append(operation)
            time.sleep(0.2)  # long enough for another change to arrive meanwhile, were they let through
        try:
            return original(node, operation, params)
        finally:
            if op.mutates:
                running.remove(operation)

    monkeypatch.setattr(served.lab, "execute", execute)
    served.lab.state.faults.latency = 0.1
    ctx = make_ctx(served, tmp_path, read_only=False)
    session = ctx.client.sessions["LAB-A1"]
    change = ps.get("set_registry_values")
    from support import example_params

    try:
        results = await asyncio.wait_for(asyncio.gather(
            *(session.invoke(change, example_params(change, served.lab)) for _ in range(3)),
            *(session.invoke(ps.get("get_os_version")) for _ in range(3)), return_exceptions=True), GUARD)
        assert not [r for r in results if isinstance(r, BaseException) and not isinstance(r, OperationFailed)]
        assert overlapped == []
    finally:
        served.lab.state.faults.latency = 0.0
        await ctx.close()


async def test_a_reboot_takes_every_free_pool_with_it(served, tmp_path):
    served.lab.state.faults.latency = 0.1
    ctx = make_ctx(served, tmp_path)
    session: PsrpSession = ctx.client.sessions["LAB-A2"]
    op = ps.get("get_os_version")
    lab = served.lab
    try:
        await asyncio.wait_for(asyncio.gather(*(session.invoke(op) for _ in range(3))), GUARD)
        lab.state.faults.latency = 0.0
        with lab._lock:
            lab.restart(lab.state.nodes["LAB-A2"])
        while lab.state.nodes["LAB-A2"].power != "on":
            lab.tick()
            await asyncio.sleep(0.05)
        # The first read meets "shell not found" on a stale pool; it is run again on a fresh one, not on
        # another stale one.
        version = await asyncio.wait_for(session.invoke(op), GUARD)
        assert version.current_build_number == 20349
    finally:
        await ctx.close()


# ------------------------------------------------------------------ deferred sessions


class Fake:
    def __init__(self, node):
        self.node = node
        self.read_only = True
        self.closed = False

    async def invoke(self, op, params=None, *, timeout=None):
        return f"{self.node}:{op.name}"

    async def close(self):
        self.closed = True


async def test_deferred_sessions_wait_for_the_opening_and_start_it():
    started = []

    def open_sessions():
        started.append(1)
        return {"N1": Fake("N1"), "N2": Fake("N2")}

    warmed = []
    opening = Opening(open_sessions, after=lambda sessions: warmed.append(sorted(sessions)))
    first = DeferredSession("N1", opening, read_only=True)
    second = DeferredSession("N2", opening, read_only=True)
    assert opening.opened() is None
    op = ps.get("get_os_version")
    assert await asyncio.wait_for(asyncio.gather(first.invoke(op), second.invoke(op)), GUARD) == [
        "N1:get_os_version", "N2:get_os_version"]
    opening.start()  # once only
    opening.wait(5)
    assert started == [1] and warmed == [["N1", "N2"]]
    await first.close()
    assert opening.opened()["N1"].closed and not opening.opened()["N2"].closed


async def test_an_opening_that_fails_is_every_calls_sentence():
    def open_sessions():
        raise OSError("cannot listen: address in use")

    opening = Opening(open_sessions)
    session = DeferredSession("N1", opening, read_only=True)
    with pytest.raises(Unreachable) as caught:
        await asyncio.wait_for(session.invoke(ps.get("get_os_version")), GUARD)
    assert "cannot listen" in caught.value.sentence
    await session.close()  # nothing was opened: nothing to close
