"""Workflow events as Textual messages.

A step reports through plain callbacks (a :class:`ProgressEvent` per step event, a :class:`NodeEvent`
per remote read of the fan-out), called from the screen's job worker. The screen's callbacks only
post these messages to the screen; its widgets change in the message handlers, on the screen's own
message loop, in the order the events came.
"""

from __future__ import annotations

import asyncio

from textual.message import Message
from textual.message_pump import MessagePump

from hcitui.remote import NodeEvent
from hcitui.workflow.events import ProgressEvent

CHECK_SECONDS = 0.5  # how often handled() looks whether the screen stopped while it waits


class Progressed(Message, bubble=False):
    """A step's progress event, for the screen that runs the step."""

    def __init__(self, event: ProgressEvent) -> None:
        self.event = event
        super().__init__()


class NodeRead(Message, bubble=False):
    """A fan-out read's per-node event (queued, running, ok, failed), for the screen that reads."""

    def __init__(self, event: NodeEvent) -> None:
        self.event = event
        super().__init__()


async def handled(pump: MessagePump) -> None:
    """Return once ``pump`` has handled every message posted to it so far: a job calls it before it
    shows its outcome, so that no event of the step lands on the screen after it. Returns at once if
    the pump has stopped (the screen closed). Never call it from ``pump``'s own handlers."""
    done = asyncio.Event()
    if not pump.call_later(done.set):  # the screen is closing: nothing more will be shown
        return
    while not done.is_set() and pump.is_running:
        try:
            await asyncio.wait_for(done.wait(), CHECK_SECONDS)
        except TimeoutError:
            pass  # still queued behind others, or the pump stopped: look again
