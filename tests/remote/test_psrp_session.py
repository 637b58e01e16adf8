"""hcitui's own pypsrp sessions against the lab served over WinRM (HTTPS, Basic, lab CA).

This is the production code path: the same PsrpSession that talks to real nodes. Waits
are bounded (no test can hang), and nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hcitui import ps
from hcitui.cli import context as wiring
from hcitui.core.config import ClusterConfig
from hcitui.lab import Lab
from hcitui.lab.state import LabStorageJob
from hcitui.remote import (
    AuthenticationFailed,
    EventKind,
    OperationFailed,
    ReadOnlyRefused,
    TimedOut,
    TlsFailed,
    Unreachable,
)
from hcitui.remote.psrp import PsrpSession, PsrpSessionFactory
from support import example_params

GUARD = 60  # seconds: an outer bound so a broken test fails instead of hanging


@pytest.fixture
def served(tmp_path):
    lab = Lab.create(4)
    lab.state.timings.reboot = 0.6
    lab.state.timings.cluster_join = 0.3
    lab.state.timings.repair = 0.3
    served = wiring.serve_lab(lab, tmp_path)
    try:
        yield served
    finally:
        served.stop()


def make_ctx(served, tmp_path, *, read_only=False, password=None, cluster: ClusterConfig | None = None):
    return wiring._psrp_context(cluster or served.cluster, tmp_path, read_only=read_only,
                                password=served.password if password is None else password, lab=True)


async def bounded(coro):
    return await asyncio.wait_for(coro, GUARD)


def params_for(op, lab: Lab) -> dict:
    return example_params(op, lab)


@pytest.mark.parametrize("name", [n for n, op in ps.OPERATIONS.items() if not op.mutates])
async def test_every_read_through_our_session(served, tmp_path, name):
    op = ps.get(name)
    if name == "get_storage_jobs":  # a quiet lab has none: give it a repair job to read
        served.lab.state.storage_jobs.append(
            LabStorageJob(name="Repair", site="SiteA", started=time.time(), duration=600, bytes_total=10**9))
    params = params_for(op, served.lab)
    if name == "get_file_hash":  # the lab keeps the content of small files only: hash one it holds
        params["Path"] = "C:\\Temp\\small.bin"
        served.lab.execute("LAB-A1", "write_file_chunk", {"Path": params["Path"], "Offset": 0, "Data": "aGNpdHVp"})
    ctx = make_ctx(served, tmp_path, read_only=True)
    try:
        value = await bounded(ctx.client.invoke("LAB-A1", op, params))
    finally:
        await ctx.close()
    # The declared result type came back through JSON over the wire.
    assert value is not None
    if isinstance(value, list):
        assert value, f"{name} returned no rows from the lab"


async def test_every_change_through_our_session(served, tmp_path):
    ctx = make_ctx(served, tmp_path)
    lab = served.lab
    try:
        regs = await bounded(ctx.client.invoke("LAB-B1", ps.get("set_registry_values"),
                                               {"refs_enable_metadata_validation": 0,
                                                "skip_small_local_allocations": 0}))
        assert regs.refs_enable_metadata_validation == 0 and regs.vid_parameters_key_exists
        node = await bounded(ctx.client.invoke("LAB-A1", ps.get("suspend_node"), {"name": "LAB-A2"}))
        assert str(node.state) == "Paused" and str(node.drain_status) == "Completed"
        node = await bounded(ctx.client.invoke("LAB-A1", ps.get("resume_node"), {"name": "LAB-A2"}))
        assert str(node.state) == "Up"
        before = await bounded(ctx.client.invoke("LAB-B2", ps.get("restart_node")))
        assert before.current_build_number == 20349
        assert lab.state.nodes["LAB-B2"].power == "rebooting"
    finally:
        await ctx.close()


async def test_pool_is_kept_warm_between_calls(served, tmp_path, monkeypatch):
    endpoint = served.server.endpoints["LAB-A1"]
    creates = []
    original = endpoint._create
    monkeypatch.setattr(endpoint, "_create", lambda *a, **k: creates.append(1) or original(*a, **k))
    ctx = make_ctx(served, tmp_path, read_only=True)
    try:
        session = ctx.client.sessions["LAB-A1"]
        assert isinstance(session, PsrpSession) and not session.warm
        for _ in range(3):
            await bounded(session.invoke(ps.get("get_os_version")))
        assert session.warm
        assert len(creates) == 1  # one RunspacePool for three operations
    finally:
        await ctx.close()


async def test_powershell_error_text_reaches_the_operator(served, tmp_path):
    ctx = make_ctx(served, tmp_path)
    try:
        with pytest.raises(OperationFailed) as caught:
            await bounded(ctx.client.invoke("LAB-A2", ps.get("suspend_node"), {"name": "LAB-A1"}))
    finally:
        await ctx.close()
    assert "could not be drained" in caught.value.sentence
    assert "RuntimeException" not in caught.value.sentence  # the message, not the category line


async def test_read_only_refuses_before_anything_is_sent(served, tmp_path, monkeypatch):
    endpoint = served.server.endpoints["LAB-A1"]
    requests_seen = []
    original = endpoint._dispatch
    monkeypatch.setattr(endpoint, "_dispatch", lambda *a, **k: requests_seen.append(1) or original(*a, **k))
    ctx = make_ctx(served, tmp_path, read_only=True)
    before = served.lab.state.model_dump()
    try:
        for op in (o for o in ps.OPERATIONS.values() if o.mutates):
            with pytest.raises(ReadOnlyRefused):
                await ctx.client.invoke("LAB-A1", op, params_for(op, served.lab))
    finally:
        await ctx.close()
    assert requests_seen == []
    assert served.lab.state.model_dump() == before


async def test_wrong_password_is_a_sentence(served, tmp_path):
    ctx = make_ctx(served, tmp_path, password="not-the-password")
    try:
        with pytest.raises(AuthenticationFailed) as caught:
            await bounded(ctx.client.invoke("LAB-A1", ps.get("get_os_version")))
    finally:
        await ctx.close()
    assert "authentication failed" in caught.value.sentence
    assert "not-the-password" not in caught.value.sentence


async def test_auth_failure_knob(served, tmp_path):
    served.lab.state.faults.auth_failure = ["LAB-B1"]
    ctx = make_ctx(served, tmp_path)
    try:
        with pytest.raises(AuthenticationFailed):
            await bounded(ctx.client.invoke("LAB-B1", ps.get("get_os_version")))
        assert await bounded(ctx.client.invoke("LAB-A1", ps.get("get_os_version")))
    finally:
        await ctx.close()


async def test_node_down_shows_unreachable_in_fan_out(served, tmp_path):
    served.lab.state.faults.unreachable = ["LAB-B2"]
    ctx = make_ctx(served, tmp_path, read_only=True)
    events = []
    try:
        outcomes = await bounded(ctx.client.fan_out(ps.get("get_os_version"), on_event=events.append))
    finally:
        await ctx.close()
    assert isinstance(outcomes["LAB-B2"].error, Unreachable)
    assert all(outcomes[n].ok for n in ("LAB-A1", "LAB-A2", "LAB-B1"))
    assert [e.kind for e in events if e.node == "LAB-B2"][-1] is EventKind.UNREACHABLE


async def test_http_500_is_a_sentence(served, tmp_path):
    served.lab.state.faults.http_500 = ["LAB-A2"]
    ctx = make_ctx(served, tmp_path, read_only=True)
    try:
        with pytest.raises(OperationFailed) as caught:
            await bounded(ctx.client.invoke("LAB-A2", ps.get("get_os_version")))
    finally:
        await ctx.close()
    assert "WinRM fault" in caught.value.sentence


async def test_hung_node_times_out_and_the_next_call_is_not_stuck_behind_it(served, tmp_path):
    lab = served.lab
    ctx = make_ctx(served, tmp_path, read_only=True)
    session = ctx.client.sessions["LAB-A1"]
    try:
        await bounded(session.invoke(ps.get("get_os_version")))  # warm pool
        lab.state.faults.hang = ["LAB-A1"]
        with pytest.raises(TimedOut) as caught:
            await bounded(session.invoke(ps.get("get_os_version"), timeout=1))
        assert "timed out after 1 s" in caught.value.sentence
        assert not session.warm  # the stuck connection was abandoned
        lab.state.faults.hang = []
        # A fresh pool answers although the abandoned call's thread may still be inside pypsrp.
        version = await bounded(session.invoke(ps.get("get_os_version"), timeout=20))
        assert version.current_build_number == 20349
    finally:
        lab.state.faults.hang = []
        await ctx.close()


async def test_reboot_mid_session_then_back_rebuilds_the_pool(served, tmp_path):
    ctx = make_ctx(served, tmp_path)
    session = ctx.client.sessions["LAB-B1"]
    try:
        first = await bounded(session.invoke(ps.get("get_os_version")))
        old_connection = session._conn
        await bounded(session.invoke(ps.get("restart_node")))
        # While it restarts the node does not answer: a sentence, not a hang.
        with pytest.raises(Unreachable):
            await bounded(session.invoke(ps.get("get_os_version"), timeout=5))
        # Back: poll as the workflow will, bounded.
        deadline = time.monotonic() + 30
        while True:
            try:
                after = await bounded(session.invoke(ps.get("get_os_version"), timeout=5))
                break
            except Unreachable:
                assert time.monotonic() < deadline, "the node never came back"
                await asyncio.sleep(0.2)
        assert session._conn is not old_connection  # a new RunspacePool
        assert after.last_boot_up_time > first.last_boot_up_time
    finally:
        await ctx.close()


async def test_stale_shell_after_a_reboot_is_retried_for_a_read(served, tmp_path):
    """The pool is warm, the node restarts and comes back while nobody asked: the first read
    meets 'shell not found' and is run again on a new pool, transparently."""
    lab = served.lab
    ctx = make_ctx(served, tmp_path, read_only=True)
    session = ctx.client.sessions["LAB-A2"]
    try:
        await bounded(session.invoke(ps.get("get_os_version")))
        with lab._lock:
            lab.restart(lab.state.nodes["LAB-A2"])
        deadline = time.monotonic() + 30
        while lab.state.nodes["LAB-A2"].power != "on":
            assert time.monotonic() < deadline
            lab.tick()
            await asyncio.sleep(0.05)
        version = await bounded(session.invoke(ps.get("get_os_version")))
        assert version.current_build_number == 20349
    finally:
        await ctx.close()


async def test_tls_validation_needs_the_lab_ca(served, tmp_path, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with_ca = make_ctx(served, tmp_path, read_only=True)
    without = served.cluster.model_copy(
        update={"transport": served.cluster.transport.model_copy(update={"ca_file": None})})
    no_ca = make_ctx(served, tmp_path, read_only=True, cluster=without)
    try:
        assert await bounded(with_ca.client.invoke("LAB-A1", ps.get("get_os_version")))
        with pytest.raises(TlsFailed) as caught:
            await bounded(no_ca.client.invoke("LAB-A1", ps.get("get_os_version")))
        assert "TLS failed" in caught.value.sentence
    finally:
        await with_ca.close()
        await no_ca.close()


def test_password_comes_from_the_password_command_never_the_config(served, tmp_path):
    text = wiring.served_config_text(served)
    assert served.password not in text
    assert "password_command" in text
    assert oct(Path(served.password_file).stat().st_mode & 0o777) == "0o600"
    factory = PsrpSessionFactory(served.cluster, prompt=False)
    assert factory.password == served.password


async def test_audit_records_every_winrm_operation(served, tmp_path):
    ctx = make_ctx(served, tmp_path, read_only=True)
    try:
        await bounded(ctx.client.fan_out(ps.get("get_os_version")))
    finally:
        await ctx.close()
    records = list(ctx.audit.records())
    assert sorted(r["node"] for r in records) == ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]
    assert {r["outcome"] for r in records} == {"ok"}
    assert all(served.password not in str(r) for r in records)
