"""Remote-path benchmark: prints figures, asserts nothing.

Runs `hcitui lab serve` as a separate process (as a real cluster is another machine) with
50 ms added to every WinRM request and 500 ms to open a RunspacePool, 16 nodes, and drives
it through hcitui's own pypsrp sessions:

  (a) one warm operation on a kept pool vs one cold operation on a new pool;
  (b) a full status refresh of all nodes: hcitui's fan-out vs a sequential loop vs a
      cold-connection-per-operation loop 5 at a time (what Ansible does);
  (c) the event loop's largest lag while the fan-out runs.

Usage: python benchmarks/remote.py [--nodes 16] [--latency 0.05] [--pool-open-delay 0.5] [--rounds 5]
Each figure is printed on its own line as `name: value`.
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

from hcitui.core.config import load_config
from hcitui.ps import reads
from hcitui.remote.fanout import fan_out
from hcitui.remote.psrp import PsrpSessionFactory

OP = reads.get_os_version


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


async def main_async(args: argparse.Namespace, config_path: Path, server_pid: int) -> None:
    cluster = load_config(config_path).clusters[0]
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
        lags: list[float] = []
        running = True

        async def watch_loop() -> None:
            loop = asyncio.get_running_loop()
            while running:
                before = loop.time()
                await asyncio.sleep(0.005)
                lags.append(loop.time() - before - 0.005)

        fanout_times = []
        client_cpu_start, server_cpu_start = time.process_time(), process_cpu(server_pid)
        for _ in range(args.rounds):
            watcher = asyncio.create_task(watch_loop())
            fanout_times.append(await timed(fan_out(sessions, OP, concurrency=len(sessions))))
            running = False
            await watcher
            running = True
        client_cpu = (time.process_time() - client_cpu_start) / (args.rounds * len(nodes))
        server_cpu_end = process_cpu(server_pid)
        server_cpu = (None if server_cpu_start is None or server_cpu_end is None
                      else (server_cpu_end - server_cpu_start) / (args.rounds * len(nodes)))

        async def sequential() -> None:
            for node in nodes:
                await sessions[node.name].invoke(OP)

        sequential_time = await timed(sequential())

        gate = asyncio.Semaphore(5)

        async def ansible_like_one(node) -> None:
            async with gate:
                await cold_op(factory, node)

        async def ansible_like() -> None:
            await asyncio.gather(*(ansible_like_one(n) for n in nodes))

        ansible_time = await timed(ansible_like())
    finally:
        for session in sessions.values():
            await session.close()

    fanout = statistics.median(fanout_times)
    print(f"nodes: {len(nodes)}")
    print(f"latency_per_request_ms: {args.latency * 1000:.0f}")
    print(f"pool_open_delay_ms: {args.pool_open_delay * 1000:.0f}")
    print(f"one_warm_op_ms: {one_warm * 1000:.1f}")
    print(f"one_cold_op_ms: {one_cold * 1000:.1f}")
    print(f"warm_over_cold: {one_warm / one_cold:.3f}")
    print(f"fanout_refresh_ms: {fanout * 1000:.1f}")
    print(f"fanout_over_one_warm: {fanout / one_warm:.2f}")
    print(f"sequential_refresh_ms: {sequential_time * 1000:.1f}")
    print(f"sequential_over_one_warm: {sequential_time / one_warm:.2f}")
    print(f"ansible_like_refresh_ms: {ansible_time * 1000:.1f}")
    print(f"ansible_like_over_one_warm: {ansible_time / one_warm:.2f}")
    print(f"loop_lag_max_ms: {max(lags) * 1000:.1f}")
    # Where the fan-out's time goes: CPU per operation on each side (each side has one GIL).
    print(f"client_cpu_per_op_ms: {client_cpu * 1000:.2f}")
    if server_cpu is not None:
        print(f"lab_server_cpu_per_op_ms: {server_cpu * 1000:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--pool-open-delay", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hcitui-bench-") as scratch:
        env = dict(os.environ, XDG_STATE_HOME=scratch, XDG_CONFIG_HOME=scratch)
        config_path = Path(scratch) / "lab.toml"
        server = subprocess.Popen(
            [sys.executable, "-m", "hcitui", "lab", "serve", "--lab-reset", "--nodes", str(args.nodes),
             "--latency", str(args.latency), "--pool-open-delay", str(args.pool_open_delay),
             "--write-config", str(config_path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        try:
            # Wait for the 'config PATH' line: the server is up and the config written.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                line = server.stdout.readline()
                if not line:
                    raise SystemExit("lab serve stopped early: " + server.stderr.read())
                if line.startswith("config "):
                    break
            os.environ.update(XDG_STATE_HOME=scratch)
            asyncio.run(main_async(args, config_path, server.pid))
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
