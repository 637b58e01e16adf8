"""Start-up figures for benchmarks/remote.py: ``hcitui --help`` and the first paint of ``hcitui --lab``.

Both run hcitui as a child process, as an operator would. The first paint is the time from starting
``hcitui --lab`` in a pseudo-terminal (120x40) to the menu's prompt reaching that terminal; each child
is then sent Ctrl+Q and, if it does not end, killed (it is ours, by its pid).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time

MENU_PROMPT = b"Enter number to select an option"


def startup_help_s(env: dict[str, str], rounds: int) -> float:
    """Median wall time of ``hcitui --help`` (after one run that warms the file cache)."""
    times = []
    for _ in range(rounds + 1):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "hcitui", "--help"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True, timeout=60)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def _paint_once(env: dict[str, str], timeout: float = 30.0) -> float | None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "hcitui", "--lab"], stdin=slave, stdout=slave, stderr=slave,
                             env=env, close_fds=True, start_new_session=True)
    os.close(slave)
    seen, painted = b"", None
    try:
        while time.perf_counter() - start < timeout:
            ready, _, _ = select.select([master], [], [], 0.02)
            if not ready:
                continue
            try:
                seen = (seen + os.read(master, 65536))[-65536:]
            except OSError:
                break
            if MENU_PROMPT in seen:
                painted = time.perf_counter() - start
                break
        os.write(master, b"\x11")  # Ctrl+Q: the console quits
        deadline = time.monotonic() + 15
        while child.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)  # keep draining: a full terminal would block its exit
                except OSError:
                    pass
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        os.close(master)
    return painted


def first_paint_s(env: dict[str, str], rounds: int) -> float:
    """Median time to the first paint of ``hcitui --lab``'s menu; the first run (which creates the lab
    and its certificates in the scratch state folder) is not counted."""
    env = dict(env, TERM="xterm-256color", COLUMNS="120", LINES="40")
    times = []
    for _ in range(rounds + 1):
        painted = _paint_once(env)
        if painted is None:
            raise SystemExit("hcitui --lab never painted its menu")
        times.append(painted)
    return statistics.median(times[1:])
