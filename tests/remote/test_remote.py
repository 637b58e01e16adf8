"""Sessions, the read-only guard, timeouts, fan-out, cluster calls, audit records, psrp classify."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import Field

from hcitui import ps
from hcitui.lab.inprocess import InProcessSession
from hcitui.ps import OPERATIONS, NoParams, Operation, Params
from hcitui.remote import (
    AuthenticationFailed,
    BaseSession,
    ClusterClient,
    EventKind,
    NodeInfo,
    OperationFailed,
    ParametersInvalid,
    ReadOnlyRefused,
    Rebooting,
    ResultInvalid,
    TimedOut,
    TlsFailed,
    Unreachable,
    fan_out,
)
from support import example_params

MUTATING = [op for op in OPERATIONS.values() if op.mutates]
NODES = ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]

# Values for required parameters, by PowerShell name: a new required parameter must be added here.
def minimal_params(op: Operation) -> dict:
    return example_params(op)


class Recorder:
    """Wraps lab.execute and counts calls."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[tuple[str, str, dict]] = []

    def __call__(self, node, operation, params):
        self.calls.append((node, operation, dict(params)))
        return self.inner(node, operation, params)


def sessions_for(lab, *, read_only=False, audit=None, latency=0.0):
    return {
        n: InProcessSession(lab, n, read_only=read_only, audit=audit, latency=latency)
        for n in lab.state.nodes
    }


# ------------------------------------------------------------ read-only guard


def test_there_are_mutating_operations():
    assert len(MUTATING) >= 4


@pytest.mark.parametrize("op", MUTATING, ids=[op.name for op in MUTATING])
async def test_read_only_session_refuses_every_mutating_op(lab, monkeypatch, op):
    recorder = Recorder(lab.execute)
    monkeypatch.setattr(lab, "execute", recorder)
    audit: list[dict] = []
    session = InProcessSession(lab, "LAB-A1", read_only=True, audit=audit.append)
    before = lab.state.model_dump()

    with pytest.raises(ReadOnlyRefused) as info:
        await session.invoke(op, minimal_params(op))

    assert info.value.outcome == "refused"
    assert "read-only" in str(info.value)
    assert recorder.calls == []
    assert lab.state.model_dump() == before
    assert len(audit) == 1
    assert audit[0]["outcome"] == "refused"
    assert audit[0]["operation"] == op.name
    assert audit[0]["node"] == "LAB-A1"
    assert audit[0]["mutates"] is True


async def test_read_in_read_only_mode_works(lab, monkeypatch):
    recorder = Recorder(lab.execute)
    monkeypatch.setattr(lab, "execute", recorder)
    audit: list[dict] = []
    session = InProcessSession(lab, "LAB-A1", read_only=True, audit=audit.append)
    nodes = await session.invoke(ps.get("get_cluster_nodes"))
    assert [n.name for n in nodes] == NODES
    assert len(recorder.calls) == 1
    assert [r["outcome"] for r in audit] == ["ok"]


async def test_writable_session_does_mutate(lab):
    session = InProcessSession(lab, "LAB-A1", read_only=False)
    values = await session.invoke(ps.get("set_registry_values"), {"SkipSmallLocalAllocations": 0})
    assert values.skip_small_local_allocations == 0
    assert lab.state.nodes["LAB-A1"].skip_small_local_allocations == 0


# ---------------------------------------------------------------- timeouts


class HangingSession(BaseSession):
    async def _run(self, op, parameters, timeout):
        await asyncio.Event().wait()  # forever


class ReleasedSession(BaseSession):
    """Answers once the test releases it, so an answer and a cancellation can arrive together."""

    def __init__(self, node, **kwargs):
        super().__init__(node, **kwargs)
        self.release = asyncio.Event()

    async def _run(self, op, parameters, timeout):
        await self.release.wait()
        return None


async def test_a_cancellation_that_arrives_with_the_answer_is_not_swallowed():
    # The app is killed while a watcher's call completes: the watcher must stop, not go on watching
    # with the answer (asyncio.wait_for on Python 3.11 returns the answer and drops the cancellation).
    session = ReleasedSession("N1")
    caller = asyncio.ensure_future(session.invoke(ps.get("get_os_version")))
    await asyncio.sleep(0.01)  # the call waits inside the session now
    session.release.set()  # the answer arrives ...
    caller.cancel()  # ... in the same turn of the loop as the caller's cancellation
    with pytest.raises(asyncio.CancelledError):
        await caller


class ScriptedSession(BaseSession):
    """Answers from a function; optionally records concurrency."""

    def __init__(self, node, answer, *, delay=0.0, tracker=None, **kwargs):
        super().__init__(node, **kwargs)
        self.answer = answer
        self.delay = delay
        self.tracker = tracker

    async def _run(self, op, parameters, timeout):
        if self.tracker is not None:
            self.tracker["now"] += 1
            self.tracker["max"] = max(self.tracker["max"], self.tracker["now"])
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            result = self.answer(op, parameters)
            if isinstance(result, BaseException):
                raise result
            return result
        finally:
            if self.tracker is not None:
                self.tracker["now"] -= 1


async def test_timeout_raises_timed_out():
    audit: list[dict] = []
    session = HangingSession("N1", audit=audit.append)
    with pytest.raises(TimedOut) as info:
        await asyncio.wait_for(session.invoke(ps.get("get_os_version"), timeout=0.05), timeout=5)
    assert info.value.node == "N1"
    assert info.value.operation == "get_os_version"
    assert info.value.seconds == 0.05
    assert [r["outcome"] for r in audit] == ["timeout"]


def test_timeout_for_defaults():
    session = HangingSession("N1", default_timeout=120)
    assert session.timeout_for(ps.get("get_os_version"), None) == 120
    assert session.timeout_for(ps.get("suspend_node"), None) == 1800  # a drain may take longer
    assert session.timeout_for(ps.get("suspend_node"), 5) == 5
    assert HangingSession("N1").timeout_for(ps.get("get_os_version"), None) == ps.get("get_os_version").timeout


async def test_transport_exception_becomes_operation_failed_sentence():
    audit: list[dict] = []
    session = ScriptedSession("N1", lambda op, p: RuntimeError("socket exploded"), audit=audit.append)
    with pytest.raises(OperationFailed) as info:
        await session.invoke(ps.get("get_os_version"))
    assert str(info.value) == "N1: get_os_version: RuntimeError: socket exploded."
    assert audit[0]["outcome"] == "failed"


async def test_bad_payload_becomes_result_invalid():
    session = ScriptedSession("N1", lambda op, p: "not json")
    with pytest.raises(ResultInvalid) as info:
        await session.invoke(ps.get("get_os_version"))
    assert "did not return JSON" in str(info.value)
    assert not info.value.message.startswith("get_os_version: ")


# ----------------------------------------------------------------- fan-out


async def test_fan_out_event_order_per_node(lab):
    events = []
    outcomes = await fan_out(sessions_for(lab), ps.get("get_os_version"), on_event=events.append)
    assert set(outcomes) == set(NODES)
    assert all(o.ok for o in outcomes.values())
    assert outcomes["LAB-A1"].value.current_build_number == 20349
    for node in NODES:
        kinds = [e.kind for e in events if e.node == node]
        assert kinds == [EventKind.QUEUED, EventKind.RUNNING, EventKind.OK], node
        running = next(e for e in events if e.node == node and e.kind is EventKind.RUNNING)
        assert running.operation == "get_os_version"


async def test_fan_out_unreachable_node(lab):
    lab.state.faults.unreachable = ["LAB-B2"]
    events = []
    outcomes = await fan_out(sessions_for(lab), ps.get("get_os_version"), on_event=events.append)
    assert not outcomes["LAB-B2"].ok
    assert isinstance(outcomes["LAB-B2"].error, Unreachable)
    assert not isinstance(outcomes["LAB-B2"].error, Rebooting)
    assert [e.kind for e in events if e.node == "LAB-B2"][-1] is EventKind.UNREACHABLE
    for node in ("LAB-A1", "LAB-A2", "LAB-B1"):
        assert outcomes[node].ok
        assert [e.kind for e in events if e.node == node][-1] is EventKind.OK


async def test_fan_out_rebooting_node(lab):
    lab.restart(lab.state.nodes["LAB-A2"])
    events = []
    outcomes = await fan_out(sessions_for(lab), ps.get("get_os_version"), on_event=events.append)
    error = outcomes["LAB-A2"].error
    assert isinstance(error, Rebooting)
    assert isinstance(error, Unreachable)
    assert error.outcome == "rebooting"
    assert [e.kind for e in events if e.node == "LAB-A2"][-1] is EventKind.UNREACHABLE
    assert all(outcomes[n].ok for n in NODES if n != "LAB-A2")


async def test_fan_out_powershell_error_is_failed_event(lab):
    events = []
    outcomes = await fan_out(sessions_for(lab), ps.get("get_os_version"), nodes=["LAB-A1"], on_event=events.append)
    assert list(outcomes) == ["LAB-A1"]
    # A PowerShell error on one node: FAILED, and the others are unaffected.
    sessions = {
        "N1": ScriptedSession("N1", lambda op, p: OperationFailed("N1", op.name, "Access is denied")),
        "N2": ScriptedSession("N2", lambda op, p: '{"CurrentBuildNumber": 25398}'),
    }
    events = []
    outcomes = await fan_out(sessions, ps.get("get_os_version"), on_event=events.append)
    assert isinstance(outcomes["N1"].error, OperationFailed)
    assert outcomes["N2"].value.current_build_number == 25398
    assert [e.kind for e in events if e.node == "N1"][-1] is EventKind.FAILED
    assert [e.kind for e in events if e.node == "N2"][-1] is EventKind.OK


async def test_fan_out_params_per_node():
    seen = {}

    def answer(op, parameters):
        seen[parameters["Path"]] = True
        return json.dumps({"Path": parameters["Path"], "Exists": False})

    sessions = {n: ScriptedSession(n, answer) for n in ("N1", "N2")}
    outcomes = await fan_out(sessions, ps.get("get_path_info"), lambda node: {"Path": f"C:\\{node}"})
    assert set(seen) == {"C:\\N1", "C:\\N2"}
    assert outcomes["N2"].value.path == "C:\\N2"


async def test_fan_out_concurrency_bound():
    tracker = {"now": 0, "max": 0}
    answer = lambda op, p: '{"CurrentBuildNumber": 20349}'  # noqa: E731
    sessions = {f"N{i}": ScriptedSession(f"N{i}", answer, delay=0.02, tracker=tracker) for i in range(6)}
    outcomes = await fan_out(sessions, ps.get("get_os_version"), concurrency=2)
    assert all(o.ok for o in outcomes.values())
    assert tracker["max"] <= 2
    assert tracker["max"] == 2  # and the bound was actually used in parallel


# ------------------------------------------------------- cluster-wide calls


def make_client(lab, **kwargs):
    sessions = sessions_for(lab, **kwargs)
    infos = [NodeInfo(n.name, n.site) for n in lab.state.nodes.values()]
    return ClusterClient(lab.state.cluster_name, infos, sessions, read_only=False)


async def test_invoke_cluster_skips_unreachable_first_node(lab):
    lab.state.faults.unreachable = ["LAB-A1"]
    client = make_client(lab)
    assert client.sites == ["SiteA", "SiteB"]
    assert client.site_of("LAB-B1") == "SiteB"
    nodes = await client.invoke_cluster(ps.get("get_cluster_nodes"))
    assert [n.name for n in nodes] == NODES
    assert client._preferred == "LAB-A2"


async def test_invoke_cluster_skips_rebooting_node(lab):
    lab.restart(lab.state.nodes["LAB-A1"])
    client = make_client(lab)
    groups = await client.invoke_cluster(ps.get("get_cluster_groups"))
    assert any(g.name == "Cloud Management" for g in groups)


async def test_invoke_cluster_moves_past_a_node_still_joining(lab, clock):
    lab.execute("LAB-A1", "restart_node", {})
    clock.advance(lab.state.timings.reboot)
    lab.execute("LAB-A1", "get_os_version", {})  # WinRM answers; the cluster service does not yet
    assert lab.state.nodes["LAB-A1"].cluster_state == "Joining"
    client = make_client(lab)
    nodes = await client.invoke_cluster(ps.get("get_cluster_nodes"))
    assert {n.name: str(n.state) for n in nodes}["LAB-A1"] == "Joining"
    assert client._preferred == "LAB-A2"


async def test_invoke_cluster_all_unreachable(lab):
    lab.state.faults.unreachable = list(NODES)
    client = make_client(lab)
    with pytest.raises(Unreachable) as info:
        await client.invoke_cluster(ps.get("get_cluster_nodes"))
    assert info.value.node == lab.state.cluster_name
    assert "no node answered" in str(info.value)
    for node in NODES:
        assert node in str(info.value)


async def test_invoke_cluster_raises_powershell_error_as_is(lab):
    client = make_client(lab)
    with pytest.raises(OperationFailed, match="was not found"):
        await client.invoke_cluster(ps.get("suspend_node"), {"Name": "LAB-Z9"})


# ------------------------------------------------------------------- audit


class SecretParams(Params):
    user: str
    token: str = Field(json_schema_extra={"secret": True})


FAKE_LOGIN = Operation(
    name="fake_login",
    summary="test only",
    script="param([string]$User, [string]$Token)\n$ErrorActionPreference = 'Stop'\nConvertTo-Json -InputObject 1",
    params=SecretParams,
    result=int,
    mutates=False,
)


async def test_audit_record_fields_and_secret_redacted():
    audit: list[dict] = []
    session = ScriptedSession("N1", lambda op, p: "1", audit=audit.append)
    assert script_parameter_names_ok(FAKE_LOGIN)
    result = await session.invoke(FAKE_LOGIN, {"User": "bob", "Token": "hunter2-secret-token"})
    assert result == 1
    assert len(audit) == 1
    record = audit[0]
    for key in ("time", "node", "operation", "parameters", "outcome", "duration_ms"):
        assert key in record, key
    assert record["node"] == "N1"
    assert record["operation"] == "fake_login"
    assert record["outcome"] == "ok"
    assert record["error"] is None
    assert isinstance(record["duration_ms"], (int, float)) and record["duration_ms"] >= 0
    assert record["parameters"] == {"User": "bob", "Token": "<redacted>"}
    assert "hunter2-secret-token" not in json.dumps(record)


async def test_audit_records_secret_redacted_on_failure_too():
    audit: list[dict] = []
    session = ScriptedSession("N1", lambda op, p: Unreachable("N1", op.name, "gone"), audit=audit.append)
    with pytest.raises(Unreachable):
        await session.invoke(FAKE_LOGIN, {"User": "bob", "Token": "hunter2-secret-token"})
    assert audit[0]["outcome"] == "unreachable"
    assert audit[0]["parameters"]["Token"] == "<redacted>"
    assert "hunter2-secret-token" not in json.dumps(audit)


def script_parameter_names_ok(op):
    return ps.script_parameter_names(op.script) == ["User", "Token"]


async def test_params_no_params_op_audit_is_empty_dict(lab):
    audit: list[dict] = []
    session = InProcessSession(lab, "LAB-B1", audit=audit.append)
    await session.invoke(ps.get("get_os_version"), NoParams())
    assert audit[0]["parameters"] == {}
    assert audit[0]["mutates"] is False


# ------------------------------------------------------------- psrp classify


def test_classify_maps_pypsrp_and_requests_errors():
    import requests
    from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

    from hcitui.remote.psrp import SHELL_NOT_FOUND, classify

    def c(exc):
        return classify("N1", "get_os_version", exc, 30)

    assert type(c(AuthenticationError("x"))) is AuthenticationFailed
    assert type(c(requests.exceptions.ConnectionError("refused"))) is Unreachable
    timed = c(requests.exceptions.ReadTimeout("slow"))
    assert type(timed) is TimedOut
    assert timed.seconds == 30
    assert type(c(requests.exceptions.SSLError("bad cert"))) is TlsFailed
    assert SHELL_NOT_FOUND == 0x8033805B
    # WSManFaultError takes positional args only: code, machine, reason, provider, provider_path, provider_fault
    rebooting = c(WSManFaultError(0x8033805B, "m", "Shell not found", None, None, None))
    assert type(rebooting) is Rebooting
    other = c(WSManFaultError(0x80070005, "m", "Access is denied", None, None, None))
    assert type(other) is OperationFailed
    assert "Access is denied" in str(other)
    assert type(c(WinRMTransportError("http", 401, "no"))) is AuthenticationFailed
    assert type(c(WinRMTransportError("http", 503, "busy"))) is Unreachable
    assert type(c(ValueError("weird"))) is OperationFailed
    already = Unreachable("N1", "x", "y")
    assert c(already) is already


async def test_invalid_parameters_are_a_sentence_and_nothing_is_sent(lab, monkeypatch):
    calls = []
    monkeypatch.setattr(lab, "execute", lambda *a, **k: calls.append(a))
    audit = []
    session = InProcessSession(lab, "LAB-A1", audit=audit.append)
    with pytest.raises(ParametersInvalid) as caught:
        await session.invoke(ps.get("suspend_node"), {"name": "LAB-A1; Remove-Item C:\\ -Recurse"})
    assert caught.value.sentence.startswith("LAB-A1: suspend_node: invalid parameter name")
    assert "nothing was sent" in caught.value.sentence
    assert calls == []
    assert len(audit) == 1 and audit[0]["outcome"] == "invalid" and audit[0]["parameters"] == {}
