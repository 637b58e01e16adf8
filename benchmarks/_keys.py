"""Keypress to repaint while the Monitor polls, for benchmarks/remote.py.

The console runs in this process under Textual's Pilot (headless, 120x40), on the Monitor, refreshing
every second over the served lab. Up and Down move the cursor of the node table; each sample is the
time from the key being sent to the first screen update after the cursor moved (Textual's ``_display``,
which a terminal's app would write out).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from typing import Any


async def keypress_ms(ctx: Any, presses: int, *, warm_refreshes: int = 2) -> list[float]:
    from textual.widgets import DataTable

    from hcitui.tui.app import HciApp
    from hcitui.tui.screens.monitor import MonitorScreen

    app = HciApp(ctx, start=lambda: MonitorScreen(interval=1))
    shown: list[float] = []
    display = app._display

    def timed_display(screen: Any, renderable: Any) -> None:
        if renderable is not None:
            shown.append(time.perf_counter())
        display(screen, renderable)

    app._display = timed_display  # type: ignore[method-assign]
    moved: list[float] = []
    samples: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        deadline = time.monotonic() + 120
        while getattr(screen, "refreshes", 0) < warm_refreshes:  # every pool open, the monitor polling
            if time.monotonic() > deadline:
                raise SystemExit("the Monitor never refreshed")
            await asyncio.sleep(0.05)
        table = screen.query_one(DataTable)
        screen.watch(table, "cursor_coordinate", lambda *_: moved.append(time.perf_counter()), init=False)
        rng = random.Random(14)
        for index in range(presses):
            key = "down" if (index // 4) % 2 == 0 else "up"  # four down, four up: the cursor always moves
            before = len(moved)
            sent = time.perf_counter()
            await pilot.press(key)
            limit = time.monotonic() + 5
            while time.monotonic() < limit:
                if len(moved) > before:
                    after = [t for t in shown if t >= moved[before]]
                    if after:
                        samples.append(after[0] - sent)
                        break
                await asyncio.sleep(0.001)
            await asyncio.sleep(rng.uniform(0.02, 0.12))  # spread the keys over the refresh cycle
    return samples


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]
