"""Remote-path benchmark: prints figures, asserts nothing.

Runs `hcitui lab serve` as separate processes (as a real cluster is other machines) with 50 ms added to
every WinRM request and 500 ms to open a RunspacePool, 16 nodes each, and drives them through hcitui's
own pypsrp sessions:

  (a) one warm operation on a kept pool vs one cold operation on a new pool;
  (b) a full status refresh of all 16 nodes: hcitui's fan-out vs a sequential loop vs a
      cold-connection-per-operation loop 5 at a time (what Ansible does);
  (c) the Monitor's full tick over the 16 nodes (hcitui.workflow.monitor's refresh: every read it makes);
  (d) a fleet of four served clusters, 64 nodes, refreshed with one operation each at once: its time,
      the client's CPU per operation, and the event loop's largest lag meanwhile;
  (e) keypress to repaint (p95) in the console on the Monitor, polling the 16 nodes every second;
  (f) start-up: `hcitui --help`, and the first paint of `hcitui --lab`'s menu.

Every ratio is over one warm operation; every time is the median of the rounds.
Usage: python benchmarks/remote.py [--nodes 16] [--latency 0.05] [--pool-open-delay 0.5] [--rounds 5]
       [--clusters 4] [--presses 150]
Each figure is printed on its own line as `name: value`. The servers started here listen on 127.0.0.1
(ephemeral ports) and stop by themselves when this process ends, whichever way it ends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _keys import keypress_ms, p95
from _startup import first_paint_s, startup_help_s

from hcitui.cli import context as wiring
from hcitui.core.config import load_config
from hcitui.ps import reads
from hcitui.remote.fanout import fan_out
from hcitui.remote.psrp import PsrpSessionFactory
from hcitui.workflow import monitor as monitor_mod
from hcitui.workflow.monitor import Monitor

OP = reads.get_os_version
SERVE_FOR = 1800  # seconds: a server ends by itself after this, or as soon as this process is gone

# `hcitui lab serve`, ended by SIGTERM (which it handles cleanly) when its standard input closes: when
# this benchmark ends, or dies, the pipe closes and the server stops on its own.
SERVER = """
import os, signal, sys, threading
def watch():
    sys.stdin.read()
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=watch, daemon=True).start()
threading.Timer({limit}, os.kill, (os.getpid(), signal.SIGTERM)).start()
from hcitui.cli.main import main
sys.exit(main({argv!r}))
"""


async def timed(coro) -> float:
    start = time.perf_counter()
    await coro
    return time.perf_counter() - start


async def cold_op(factory: PsrpSessionFactory, node) -> float:
    session = factory.session(node, read_only=True, audit=None)
    try:
        return await timed(session.invoke(OP))
    finally:
        await session.close()


def process_cpu(pid: int) -> float | None:
    """CPU seconds used so far by a process (Linux /proc), or None where that is not readable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def servers_cpu(pids: list[int]) -> float | None:
    used = [process_cpu(pid) for pid in pids]
    return None if any(u is None for u in used) else sum(used)  # type: ignore[arg-type]


class LoopLag:
    """The event loop's largest delay past a 5 ms sleep, while running."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task | None = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.005)
            self.lags.append(loop.time() - before - 0.005)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def main_async(args: argparse.Namespace, configs: list[Path], server_pids: list[int], scratch: Path) -> None:
    out: dict[str, str] = {}
    clusters = [load_config(path).clusters[0] for path in configs]
    cluster = clusters[0]
    factory = PsrpSessionFactory(cluster, prompt=False)
    nodes = cluster.nodes
    sessions = {n.name: factory.session(n, read_only=True, audit=None) for n in nodes}
    first = sessions[nodes[0].name]
    try:
        # (a) warm vs cold, on one node
        await first.invoke(OP)  # open the pool
        warm = [await timed(first.invoke(OP)) for _ in range(args.rounds * 2)]
        cold = [await cold_op(factory, nodes[0]) for _ in range(args.rounds)]
        one_warm = statistics.median(warm)
        one_cold = statistics.median(cold)

        # (b) whole-cluster refresh three ways (pools warmed first for the first two)
        await fan_out(sessions, OP, concurrency=len(sessions))
        fanout = statistics.median([await timed(fan_out(sessions, OP, concurrency=len(sessions)))
                                    for _ in range(args.rounds)])

        async def sequential() -> None:
            for node in nodes:
                await sessions[node.name].invoke(OP)

        sequential_time = await timed(sequential())
        gate = asyncio.Semaphore(5)

        async def ansible_like_one(node) -> None:
            async with gate:
                await cold_op(factory, node)

        ansible_time = await timed(asyncio.gather(*(ansible_like_one(n) for n in nodes)))
    finally:
        for session in sessions.values():
            await session.close()

    # (c) the Monitor's tick, on a context as the console opens it (its pools warmed by the first ticks)
    ctx = wiring.context_for_config(cluster, read_only=True, state_root=scratch / "monitor")
    try:
        monitor = Monitor(ctx, interval=5)
        for _ in range(3):
            await monitor.refresh()
        ticks = [await timed(monitor.refresh()) for _ in range(args.rounds)]
        operations = len(monitor_mod.CLUSTER_PARTS) + len(ctx.client.node_names) * len(monitor_mod.NODE_PARTS)
    finally:
        await ctx.close()
    tick = statistics.median(ticks)

    # (d) the fleet: every node of every served cluster at once
    fleet = {}
    for index, member in enumerate(clusters):
        member_factory = PsrpSessionFactory(member, prompt=False)
        for node in member.nodes:
            fleet[f"{index}/{node.name}"] = member_factory.session(node, read_only=True, audit=None)
    try:
        for _ in range(2):
            await fan_out(fleet, OP, concurrency=len(fleet))  # every pool open
        fleet_times, lag_max = [], []
        client_before, servers_before = time.process_time(), servers_cpu(server_pids)
        for _ in range(args.rounds):
            with LoopLag() as lag:
                fleet_times.append(await timed(fan_out(fleet, OP, concurrency=len(fleet))))
            lag_max.append(max(lag.lags, default=0.0))
        ops = args.rounds * len(fleet)
        client_cpu = (time.process_time() - client_before) / ops
        servers_after = servers_cpu(server_pids)
        server_cpu = None if servers_before is None or servers_after is None else (
            (servers_after - servers_before) / ops)
    finally:
        for session in fleet.values():
            await session.close()
    fleet_time = statistics.median(fleet_times)

    # (e) keypress to repaint in the console, on the Monitor polling every second
    console_ctx = wiring.context_for_config(cluster, read_only=True, state_root=scratch / "console")
    keys = await keypress_ms(console_ctx, args.presses)  # the app closes its context when it ends

    out["nodes"] = str(len(nodes))
    out["latency_per_request_ms"] = f"{args.latency * 1000:.0f}"
    out["pool_open_delay_ms"] = f"{args.pool_open_delay * 1000:.0f}"
    out["one_warm_op_ms"] = f"{one_warm * 1000:.1f}"
    out["one_cold_op_ms"] = f"{one_cold * 1000:.1f}"
    out["warm_over_cold"] = f"{one_warm / one_cold:.3f}"
    out["fanout_refresh_ms"] = f"{fanout * 1000:.1f}"
    out["fanout_over_one_warm"] = f"{fanout / one_warm:.2f}"
    out["sequential_refresh_ms"] = f"{sequential_time * 1000:.1f}"
    out["sequential_over_one_warm"] = f"{sequential_time / one_warm:.2f}"
    out["ansible_like_refresh_ms"] = f"{ansible_time * 1000:.1f}"
    out["ansible_like_over_one_warm"] = f"{ansible_time / one_warm:.2f}"
    out["monitor_tick_operations"] = str(operations)
    out["monitor_tick_ms"] = f"{tick * 1000:.1f}"
    out["monitor_tick_over_one_warm"] = f"{tick / one_warm:.2f}"
    out["fleet_nodes"] = str(len(fleet))
    out["fleet64_refresh_ms"] = f"{fleet_time * 1000:.1f}"
    out["fleet64_over_one_warm"] = f"{fleet_time / one_warm:.2f}"
    out["loop_lag_max_ms"] = f"{statistics.median(lag_max) * 1000:.1f}"
    # Where the fleet's time goes: CPU per operation on each side (each process has one GIL).
    out["client_cpu_per_op_ms"] = f"{client_cpu * 1000:.2f}"
    if server_cpu is not None:
        out["lab_server_cpu_per_op_ms"] = f"{server_cpu * 1000:.2f}"
    out["keypress_samples"] = str(len(keys))
    out["keypress_p50_ms"] = f"{statistics.median(keys) * 1000:.1f}"
    out["keypress_p95_ms"] = f"{p95(keys) * 1000:.1f}"
    for name, value in out.items():
        print(f"{name}: {value}", flush=True)


def start_server(args: argparse.Namespace, folder: Path) -> tuple[subprocess.Popen, Path]:
    folder.mkdir(parents=True)
    config = folder / "lab.toml"
    argv = ["lab", "serve", "--lab-reset", "--nodes", str(args.nodes), "--latency", str(args.latency),
            "--pool-open-delay", str(args.pool_open_delay), "--write-config", str(config)]
    env = dict(os.environ, XDG_STATE_HOME=str(folder), XDG_CONFIG_HOME=str(folder))
    server = subprocess.Popen([sys.executable, "-c", SERVER.format(limit=SERVE_FOR, argv=argv)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
    return server, config


def wait_ready(server: subprocess.Popen) -> None:
    """Until the 'config PATH' line: the server is up and its config written."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            raise SystemExit("lab serve stopped early: " + server.stderr.read())
        if line.startswith("config "):
            return
    raise SystemExit("lab serve did not start in 60 s")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.stdin.close()  # it stops itself (SIGTERM from within)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--pool-open-delay", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clusters", type=int, default=4, help="served clusters in the fleet")
    parser.add_argument("--presses", type=int, default=150, help="keys pressed on the Monitor")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hcitui-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        servers = [start_server(args, scratch / f"lab{index}") for index in range(args.clusters)]
        try:
            for server, _config in servers:
                wait_ready(server)
            os.environ.update(XDG_STATE_HOME=str(scratch / "client"), XDG_CONFIG_HOME=str(scratch / "client"))
            asyncio.run(main_async(args, [config for _, config in servers], [s.pid for s, _ in servers], scratch))
        finally:
            for server, _config in servers:
                stop(server)
        # Start-up last, with the servers gone: the machine as an operator's would be, its bytecode compiled
        # (an installed package has it; here it is written, by the uncounted first run, into the scratch folder).
        env = dict(os.environ, XDG_STATE_HOME=str(scratch / "startup"), XDG_CONFIG_HOME=str(scratch / "startup"),
                   PYTHONPYCACHEPREFIX=str(scratch / "pycache"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        print(f"startup_help_s: {startup_help_s(env, args.rounds):.3f}", flush=True)
        print(f"first_paint_s: {first_paint_s(env, args.rounds):.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
