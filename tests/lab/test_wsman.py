"""The lab's WinRM endpoint against the real pypsrp client, over loopback HTTPS.

Every test starts its own :class:`LabServer` on ephemeral ports, with a fresh lab CA, and
talks to it exactly as a pypsrp user would. Waits are bounded; nothing asserts speed.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import pytest
import requests
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from hcitui.lab import Lab
from hcitui.lab.certs import make_lab_certs, server_ssl_context
from hcitui.lab.endpoint import LabServer
from hcitui.ps import OPERATIONS
from support import example_params

USER = "lab\\operator"
PASSWORD = "Lab-Passw0rd!"
SHELL_NOT_FOUND = 0x8033805B
OPERATION_TIMED_OUT = 0x80338029
NOT_RECOGNIZED = "is not recognized as the name of a cmdlet"


@pytest.fixture
def certs(tmp_path):
    return make_lab_certs(tmp_path / "certs")


@pytest.fixture
def server(lab, certs):
    srv = LabServer(lab, username=USER, password=PASSWORD, ssl_context=server_ssl_context(certs))
    srv.start()
    yield srv
    srv.stop()


def connect(server: LabServer, certs: Any, node: str = "LAB-A1", **overrides: Any) -> WSMan:
    kwargs: dict[str, Any] = dict(
        port=server.endpoints[node].port, ssl=True, auth="basic", username=USER, password=PASSWORD,
        cert_validation=str(certs.ca_file), operation_timeout=5, read_timeout=10, connection_timeout=5,
        reconnection_retries=0, reconnection_backoff=0.1,
    )
    kwargs.update(overrides)
    return WSMan("127.0.0.1", **kwargs)


def open_pool(server: LabServer, certs: Any, node: str = "LAB-A1", **overrides: Any) -> RunspacePool:
    pool = RunspacePool(connect(server, certs, node, **overrides))
    bounded(pool.open)
    return pool


def run_script(pool: RunspacePool, script: str, params: dict[str, Any] | None = None) -> PowerShell:
    ps = PowerShell(pool)
    ps.add_script(script)
    for name, value in (params or {}).items():
        ps.add_parameter(name, value)
    bounded(ps.invoke)
    return ps


def run_cmdlet(pool: RunspacePool, name: str) -> PowerShell:
    ps = PowerShell(pool)
    ps.add_cmdlet(name)
    bounded(ps.invoke)
    return ps


def bounded(fn: Any, timeout: float = 30.0) -> Any:
    """``fn()`` bounded from outside (pypsrp polls a pipeline that never ends for ever)."""
    result, error = in_thread(fn, timeout)
    if error is not None:
        raise error
    return result


def prop(obj: Any, name: str) -> Any:
    """A property as a plain pypsrp user reads it: adapted or extended."""
    for props in (getattr(obj, "adapted_properties", {}), getattr(obj, "extended_properties", {})):
        if name in props:
            return props[name]
    raise KeyError(name)


def in_thread(fn: Any, timeout: float = 30.0) -> tuple[Any, BaseException | None]:
    """Run ``fn`` in a thread, bounded from outside; fail the test if it does not return."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"the call did not return within {timeout} s"
    return box.get("result"), box.get("error")


# --------------------------------------------------------------- declared operations


def _params_for(op_name: str, lab: Lab) -> dict[str, Any]:
    op = OPERATIONS[op_name]
    values = example_params(op, lab, all_fields=op_name == "set_registry_values")
    values.update(PARAMS.get(op_name, {}))
    if op_name == "write_file_chunk":
        values["Path"] = "C:\\Temp\\copy.bin"
    return op.make_params(values).to_ps()


def _staged(lab: Lab) -> None:
    lab.execute("LAB-A1", "stage_iso", {"IsoPath": lab.state.iso_path, "Destination": lab.state.staging_path})


def _upgraded(lab: Lab, level: int | None = None) -> None:
    for node in lab.state.nodes.values():
        node.build = 25398
    if level:
        lab.state.functional_level = level


def _vm_off(lab: Lab) -> None:
    _upgraded(lab)
    next(g for g in lab.state.groups if g.name == "VM-A01").state = "Offline"


# Preconditions per operation, run on the lab before the operation goes over the wire.
SETUP = {
    "resume_node": lambda lab: lab.execute("LAB-A1", "suspend_node", {"Name": "LAB-A2"}),  # only a paused node
    "start_os_upgrade": _staged,
    "update_cluster_functional_level": _upgraded,
    "update_storage_pool": lambda lab: _upgraded(lab, 12),
    "update_vm_version": _vm_off,
    "new_sr_partnership": lambda lab: lab.execute("LAB-A1", "remove_sr_partnership", {
        "SourceRGName": "SiteA-Data01-RG", "DestinationComputerName": "LAB-B1",
        "DestinationRGName": "SiteB-Replica01-RG"}),
}
# Parameters that differ from the shared examples for one operation (Name is a VM here).
PARAMS = {"update_vm_version": {"Name": "VM-A01"}, "get_file_hash": {"Path": "C:\\Temp\\small.bin"}}
# CAU: the rolling upgrade from the folder _staged fills; remoting enabled before (the first time drops WinRM).
CAU_UPGRADE = {"Plugin": "RollingUpgrade", "MediaPath": "C:\\SetupFiles\\AzureLocal-23H2"}
PARAMS.update(start_cau_run=CAU_UPGRADE, get_cau_scan=CAU_UPGRADE)


def _cau_failed(lab: Lab) -> None:
    from hcitui.lab.state import LabCauRun

    lab.state.cau.run = LabCauRun(run_id="0f0f0f0f-run", plugin="RollingUpgrade", started=lab.now, state="RunFailed")


def _setup_running(lab: Lab) -> None:
    _staged(lab)
    lab.execute("LAB-A1", "start_os_upgrade", {"MediaPath": lab.state.staging_path})


SETUP.update(
    get_os_upgrade_status=_setup_running,  # setup installing in its task: there is something to read
    enable_remoting=lambda lab: lab.state.cau.remoting.append("LAB-A1"),
    start_cau_run=_staged,
    get_cau_scan=_staged,
    stop_cau_run=lambda lab: lab.execute("LAB-A1", "start_cau_run", {"Plugin": "WindowsUpdate"}),
    recover_cau_run=_cau_failed,
    # The fast offline update: a package staged on the node; a small file whose content the lab keeps
    install_update_package=lambda lab: lab.execute("LAB-A1", "write_file_chunk", {
        "Path": "C:\\SetupFiles\\Updates\\windows10.0-kb5048654-x64.msu", "Offset": 0, "Data": "aGNpdHVp"}),
    get_file_hash=lambda lab: lab.execute("LAB-A1", "write_file_chunk", {
        "Path": "C:\\Temp\\small.bin", "Offset": 0, "Data": "aGNpdHVp"}),
)


@pytest.mark.parametrize("op_name", sorted(OPERATIONS))
def test_every_declared_operation_runs_through_the_endpoint(op_name, lab, server, certs):
    op = OPERATIONS[op_name]
    if op_name in SETUP:  # what must be true on the lab for the operation to succeed
        SETUP[op_name](lab)
    pool = open_pool(server, certs, "LAB-A1")
    ps = run_script(pool, op.script, _params_for(op_name, lab))

    assert not ps.had_errors, [str(e) for e in ps.streams.error]
    assert ps.streams.error == []
    assert len(ps.output) == 1 and isinstance(ps.output[0], str)
    op.parse_result(ps.output[0])  # raises ResultError on anything else

    if op_name == "suspend_node":
        assert lab.state.nodes["LAB-A2"].cluster_state == "Paused"
    elif op_name == "resume_node":
        assert lab.state.nodes["LAB-A2"].cluster_state == "Up"
    elif op_name == "set_registry_values":
        assert lab.state.nodes["LAB-A1"].skip_small_local_allocations == 0
    elif op_name == "start_os_upgrade":
        assert lab.state.nodes["LAB-A1"].setup_task.state == "Running"  # setup runs in its task
    elif op_name == "get_os_upgrade_status":
        status = op.parse_result(ps.output[0])
        assert status.running and status.task_name == "hcitui OS upgrade" and not status.exit_recorded
    if op_name == "restart_node":
        assert lab.state.nodes["LAB-A1"].power == "rebooting"
        assert pool.is_alive() is False  # the node dropped the connection: nothing to close
    else:
        pool.close()


def test_parameters_are_bound_by_powershell_name_and_checked(lab, server, certs):
    pool = open_pool(server, certs)
    op = OPERATIONS["get_path_info"]
    ps = run_script(pool, op.script, {"path": r"C:\nowhere"})  # PowerShell names are case-insensitive
    assert json.loads(ps.output[0]) == {"Path": r"C:\nowhere", "Exists": False, "IsContainer": None,
                                        "Length": None}
    missing = run_script(pool, op.script)
    assert missing.had_errors and "missing mandatory parameters: Path" in str(missing.streams.error[0])
    unknown = run_script(pool, op.script, {"Path": "C:\\", "Bogus": 1})
    assert unknown.had_errors and "parameter name 'Bogus'" in str(unknown.streams.error[0])
    empty = run_script(pool, op.script, {"Path": ""})
    assert empty.had_errors and "because it is an empty string" in str(empty.streams.error[0])
    pool.close()


def test_lab_error_is_a_terminating_error_record(lab, server, certs):
    pool = open_pool(server, certs, "LAB-A1")
    op = OPERATIONS["suspend_node"]
    ps = run_script(pool, op.script, {"Name": "LAB-A1"})  # dynamic-memory VMs: the drain fails
    assert ps.had_errors is True
    assert ps.output == []
    texts = [str(e) for e in ps.streams.error]
    assert len(texts) == 1 and "could not be drained" in texts[0] and "VM-A01" in texts[0]
    assert lab.state.nodes["LAB-A1"].drain_status == "Failed"
    # The pool is still usable after a failed pipeline.
    assert len(run_cmdlet(pool, "Get-ClusterNode").output) == 4
    pool.close()


# ------------------------------------------------------------------- plain cmdlets


def test_plain_read_cmdlets_write_objects_with_properties(lab, server, certs):
    pool = open_pool(server, certs, "LAB-B2")
    nodes = run_cmdlet(pool, "Get-ClusterNode")
    assert not nodes.had_errors
    assert len(nodes.output) == 4
    assert {str(prop(o, "Name")) for o in nodes.output} == set(lab.state.nodes)
    assert {str(prop(o, "State")) for o in nodes.output} == {"Up"}
    assert [str(d) for d in prop(nodes.output[0], "FaultDomain")] == ["Site:SiteA"]

    groups = run_cmdlet(pool, "get-srgroup")  # cmdlet names are case-insensitive
    assert len(groups.output) == len(lab.state.sr_groups)
    replicas = prop(groups.output[0], "Replicas")
    assert len(replicas) == 1
    assert str(prop(replicas[0], "DataVolume")) == r"C:\ClusterStorage\SiteA-Data01"
    assert prop(groups.output[0], "IsPrimary") is True
    assert prop(replicas[0], "PartitionSize") == 2 * 1024**4

    cau = run_cmdlet(pool, "Get-CauRun")
    assert [str(o) for o in cau.output] == ["RunNotInProgress"]
    pool.close()


def test_unknown_command_is_not_recognized(server, certs):
    pool = open_pool(server, certs)
    ps = run_cmdlet(pool, "Get-Nonsense")
    assert ps.had_errors is True
    assert ps.output == []
    assert len(ps.streams.error) == 1
    record = ps.streams.error[0]
    assert str(record) == (
        "The term 'Get-Nonsense' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
        "and try again."
    )
    assert record.fq_error == "CommandNotFoundException"
    assert str(record.message).startswith("ObjectNotFound: (Get-Nonsense:String)")

    script = run_script(pool, "Remove-Item C:\\ -Recurse")  # a script that is no declared operation
    assert script.had_errors and NOT_RECOGNIZED in str(script.streams.error[0])
    pool.close()


# -------------------------------------------------------------- pool and pipelines


def test_pool_features_runspaces_stop_and_is_alive(server, certs):
    pool = open_pool(server, certs)
    pool.max_runspaces = 3  # pypsrp sends the call id as "CI": the endpoint must alias it
    pool.min_runspaces = 2
    assert (pool.min_runspaces, pool.max_runspaces) == (2, 3)
    assert pool.get_available_runspaces() == 3
    assert pool.is_alive() is True

    ps = PowerShell(pool)
    ps.add_script(OPERATIONS["get_cluster_nodes"].script)
    ps.begin_invoke()
    ps.stop()  # Signal ctrl_c
    assert ps.state == 3  # Stopped
    again = run_script(pool, OPERATIONS["get_os_version"].script)
    assert not again.had_errors and len(again.output) == 1
    again.close()  # Signal Terminate
    pool.close()  # Delete


def test_long_poll_times_out_then_a_fragmented_pipeline_completes(server, certs):
    pool = open_pool(server, certs, operation_timeout=1)
    pool._fragmenter.max_size = 1200  # split CreatePipeline over Command + several Sends
    ps = PowerShell(pool)
    ps.add_script(OPERATIONS["get_cluster_groups"].script)
    faults: list[int] = []
    shell_send = pool.shell.send

    def send_after_polling(*args: Any, **kwargs: Any) -> Any:
        if not faults:  # before the rest of the pipeline arrives, a Receive has nothing to give
            try:
                pool._receive(ps.id)
            except WSManFaultError as exc:
                faults.append(exc.code)
        return shell_send(*args, **kwargs)

    pool.shell.send = send_after_polling
    result, error = in_thread(ps.invoke)
    assert error is None, error
    assert faults == [OPERATION_TIMED_OUT]
    assert len(result) == 1 and len(json.loads(result[0])) == 9
    pool.shell.send = shell_send
    pool.close()


def test_large_output_spans_several_receives(lab, server, certs, monkeypatch):
    from hcitui.lab import endpoint as endpoint_module
    from hcitui.lab import wsman as wsman_module

    monkeypatch.setattr(endpoint_module, "_CHUNK", 200)  # tiny fragments ...
    monkeypatch.setattr(wsman_module, "receive_budget", lambda max_envelope_size: 300)  # ... one per Receive
    pool = open_pool(server, certs)
    received = []
    shell_receive = pool.shell.receive

    def counting_receive(*args: Any, **kwargs: Any) -> Any:
        received.append(kwargs.get("command_id"))
        return shell_receive(*args, **kwargs)

    pool.shell.receive = counting_receive
    groups = run_cmdlet(pool, "Get-SRGroup")
    assert len(groups.output) == len(lab.state.sr_groups)
    assert len([c for c in received if c]) > 5
    assert str(prop(prop(groups.output[3], "Replicas")[0], "ReplicationStatus")) == "ContinuouslyReplicating"
    pool.close()


def test_plain_http_with_basic_auth(lab):
    srv = LabServer(lab, username=USER, password=PASSWORD, ssl_context=None)
    with srv:
        endpoint = srv.endpoints["LAB-A2"]
        assert endpoint.url == f"http://127.0.0.1:{endpoint.port}/wsman"
        wsman = WSMan("127.0.0.1", port=endpoint.port, ssl=False, auth="basic", encryption="never",
                      username=USER, password=PASSWORD, operation_timeout=5, read_timeout=10)
        with RunspacePool(wsman) as pool:
            assert len(run_cmdlet(pool, "Get-ClusterGroup").output) == len(lab.state.groups)


def test_concurrent_pools_from_several_threads(lab, server, certs):
    results: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def worker(node: str) -> None:
        try:
            pool = open_pool(server, certs, node)
            counts = []
            for _ in range(5):
                counts.append(len(run_cmdlet(pool, "Get-ClusterNode").output))
            counts.append(len(json.loads(run_script(pool, OPERATIONS["get_vm_summary"].script).output[0])))
            pool.close()
            results[node] = counts
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in lab.state.nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert results == {n: [4, 4, 4, 4, 4, 4] for n in lab.state.nodes}


# ------------------------------------------------------------------------- faults


def test_wrong_password_and_auth_failure_knob(lab, server, certs):
    with pytest.raises(AuthenticationError):
        open_pool(server, certs, password="wrong")
    lab.state.faults.auth_failure.append("LAB-A1")
    with pytest.raises(AuthenticationError):
        open_pool(server, certs, "LAB-A1")
    open_pool(server, certs, "LAB-A2").close()  # only the named node refuses
    lab.state.faults.auth_failure.clear()
    open_pool(server, certs, "LAB-A1").close()


def test_tls_validates_against_the_lab_ca_only(server, certs, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(requests.exceptions.SSLError) as info:
        open_pool(server, certs, cert_validation=True)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    pool = open_pool(server, certs, cert_validation=str(certs.ca_file))
    assert pool.is_alive()
    pool.close()
    assert oct(certs.key_file.stat().st_mode & 0o777) == "0o600"


def test_http_500_knob_is_a_generic_wsman_fault(lab, server, certs):
    pool = open_pool(server, certs, "LAB-A1")
    lab.state.faults.http_500.append("LAB-A1")
    with pytest.raises(WSManFaultError) as info:
        run_cmdlet(pool, "Get-ClusterNode")
    assert info.value.code not in (OPERATION_TIMED_OUT, SHELL_NOT_FOUND)
    assert info.value.code == 0x80004005
    with pytest.raises(WSManFaultError):
        open_pool(server, certs, "LAB-A1")
    lab.state.faults.http_500.clear()
    assert len(run_cmdlet(pool, "Get-ClusterNode").output) == 4
    pool.close()


def test_unreachable_knob_drops_connections(lab, server, certs):
    pool = open_pool(server, certs, "LAB-B1")
    lab.state.faults.unreachable.append("LAB-B1")
    with pytest.raises(requests.exceptions.ConnectionError) as info:
        open_pool(server, certs, "LAB-B1")
    assert not isinstance(info.value, requests.exceptions.SSLError)
    with pytest.raises(requests.exceptions.ConnectionError):
        run_cmdlet(pool, "Get-ClusterNode")
    lab.state.faults.unreachable.clear()
    assert len(run_cmdlet(pool, "Get-ClusterNode").output) == 4  # the shell survived the outage
    pool.close()


def test_node_lost_during_a_call_drops_the_connection(lab, server, certs, monkeypatch):
    pool = open_pool(server, certs, "LAB-A2")
    real_execute = lab.execute

    def execute_while_the_node_goes(node: str, operation: str, params: dict[str, Any]) -> str:
        lab.state.faults.unreachable.append(node)  # after the request got in, before the lab answers
        return real_execute(node, operation, params)

    monkeypatch.setattr(lab, "execute", execute_while_the_node_goes)
    with pytest.raises(requests.exceptions.ConnectionError) as info:
        run_script(pool, OPERATIONS["get_os_version"].script)
    assert not isinstance(info.value, requests.exceptions.SSLError)
    monkeypatch.setattr(lab, "execute", real_execute)
    lab.state.faults.unreachable.clear()
    assert len(run_cmdlet(pool, "Get-ClusterNode").output) == 4
    pool.close()


def test_reboot_drops_then_shell_not_found_then_new_pool_works(lab, clock, server, certs):
    pool = open_pool(server, certs, "LAB-B1")
    assert len(run_cmdlet(pool, "Get-ClusterNode").output) == 4
    boot_before = lab.state.nodes["LAB-B1"].last_boot
    answer = run_script(pool, OPERATIONS["restart_node"].script)
    assert not answer.had_errors and len(answer.output) == 1  # the answer arrives before the node goes
    assert lab.state.nodes["LAB-B1"].power == "rebooting"

    with pytest.raises(requests.exceptions.ConnectionError):
        run_cmdlet(pool, "Get-ClusterNode")

    clock.advance(lab.state.timings.reboot + lab.state.timings.cluster_join + 1)
    with pytest.raises(WSManFaultError) as info:
        run_cmdlet(pool, "Get-ClusterNode")
    assert info.value.code == SHELL_NOT_FOUND
    assert pool.is_alive() is False
    pool.close()  # returns quietly once is_alive() found it dead

    fresh = open_pool(server, certs, "LAB-B1")
    os_version = json.loads(run_script(fresh, OPERATIONS["get_os_version"].script).output[0])
    assert os_version["LastBootUpTime"] != json.loads(answer.output[0])["LastBootUpTime"]
    assert lab.state.nodes["LAB-B1"].last_boot != boot_before
    clock.advance(lab.state.timings.cluster_join + 1)  # the join is timed from when the boot was noticed
    rows = {str(prop(o, "Name")): str(prop(o, "State")) for o in run_cmdlet(fresh, "Get-ClusterNode").output}
    assert rows["LAB-B1"] == "Up"
    fresh.close()


def test_hang_knob_times_out_the_client_and_releases(lab, server, certs):
    pool = open_pool(server, certs, "LAB-A2", operation_timeout=2, read_timeout=4)
    lab.state.faults.hang.append("LAB-A2")
    _, error = in_thread(lambda: run_cmdlet(pool, "Get-ClusterNode"), timeout=30)
    assert isinstance(error, (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError)), error
    lab.state.faults.hang.clear()
    fresh = open_pool(server, certs, "LAB-A2")
    assert len(run_cmdlet(fresh, "Get-ClusterNode").output) == 4
    fresh.close()


def test_latency_and_pool_open_delay_knobs(lab, server, certs):
    lab.state.faults.pool_open_delay = 0.4
    started = time.monotonic()
    pool = open_pool(server, certs)
    assert time.monotonic() - started >= 0.4 * 0.9
    lab.state.faults.pool_open_delay = 0.0
    run_cmdlet(pool, "Get-ClusterNode")  # warm
    lab.state.faults.latency = 0.3
    started = time.monotonic()
    assert len(run_cmdlet(pool, "Get-ClusterNode").output) == 4
    assert time.monotonic() - started >= 0.3 * 0.9
    lab.state.faults.latency = 0.0
    pool.close()


def test_stop_releases_hung_and_long_polling_requests_and_refuses_new_connections(lab, certs, monkeypatch):
    srv = LabServer(lab, username=USER, password=PASSWORD, ssl_context=server_ssl_context(certs))
    srv.start()
    hung_endpoint, polled_endpoint = srv.endpoints["LAB-A1"], srv.endpoints["LAB-A2"]
    ports = [e.port for e in srv.endpoints.values()]
    hung_pool = open_pool(srv, certs, "LAB-A1", read_timeout=25)
    polled_pool = open_pool(srv, certs, "LAB-A2", operation_timeout=20, read_timeout=25)

    hanging, polling = threading.Event(), threading.Event()
    real_sleep, real_wait = hung_endpoint._sleep, polled_endpoint._wait
    monkeypatch.setattr(hung_endpoint, "_sleep", lambda s: (s > 0 and hanging.set(), real_sleep(s)))
    monkeypatch.setattr(polled_endpoint, "_wait", lambda *a: (polling.set(), real_wait(*a)))
    lab.state.faults.hang.append("LAB-A1")

    box: dict[str, Any] = {}
    clients = [
        threading.Thread(target=lambda: box.update(hung=_capture(lambda: run_cmdlet(hung_pool, "Get-ClusterNode"))),
                         daemon=True),
        # A pool-level Receive with nothing to come waits up to the 20 s operation timeout.
        threading.Thread(target=lambda: box.update(polled=_capture(polled_pool._receive)), daemon=True),
    ]
    for client in clients:
        client.start()
    assert hanging.wait(10) and polling.wait(10)  # both requests are inside the server

    _, error = in_thread(srv.stop, timeout=15)
    assert error is None
    for client in clients:
        client.join(15)
        assert not client.is_alive()
    assert isinstance(box["hung"], requests.exceptions.ConnectionError), box["hung"]
    assert isinstance(box["polled"], requests.exceptions.ConnectionError), box["polled"]
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    with pytest.raises(requests.exceptions.ConnectionError):
        open_pool(srv, certs, "LAB-B1")


def _capture(fn: Any) -> Any:
    try:
        return fn()
    except BaseException as exc:  # noqa: BLE001 - handed back to the test
        return exc
