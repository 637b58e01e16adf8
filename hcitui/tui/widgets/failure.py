"""Why something failed, in a panel that stays (a toast goes; this does not): per node, the operation that
failed, the PowerShell error's text and what to do next, as this console's key. Any screen can use it:
it takes anything with ``node``, ``operation``, ``error`` and ``remedy`` (a workflow's failure rows).

Readable without colour: the panel's first line starts with FAILED, and each node's lines are indented
under its name. Keyboard only: Tab reaches it, and the arrows scroll it when it holds more than it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from hcitui.core.errors import Remedy
from hcitui.tui import remedies


class Failure(Protocol):
    """One node's failure, as a workflow names it."""

    @property
    def node(self) -> str: ...

    @property
    def operation(self) -> str: ...

    @property
    def error(self) -> str: ...

    @property
    def remedy(self) -> Remedy | None: ...


def failure_text(headline: str, failures: Sequence[Failure], *, here: str = "",
                 remedy: Remedy | None = None) -> Text:
    """The panel's text: ``FAILED`` and the headline, then per node its operation, the error and what to do
    next (``here``: the screen's menu entry, so its own keys are named alone)."""
    text = Text()
    text.append("FAILED ", style="bold reverse")
    text.append(f" {headline}", style="bold")
    for failure in failures:
        text.append("\n")
        text.append(failure.node, style="bold")
        text.append(f"  {failure.operation}")
        text.append(f"\n  error: {failure.error}")
        fix = remedies.render(failure.remedy, here=here)
        if fix:
            text.append("\n  next:  ")
            text.append(fix, style="bold")
    if not failures and remedy is not None:
        text.append("\n  next:  ")
        text.append(remedies.render(remedy, here=here), style="bold")
    return text


class FailurePanel(VerticalScroll):
    """Hidden until :meth:`show`; then it stays until :meth:`clear` (the next run, or a screen's reset)."""

    DEFAULT_CSS = """
    FailurePanel { display: none; height: auto; max-height: 8; padding: 0 1; border-left: thick $error; }
    FailurePanel.-shown { display: block; }
    FailurePanel > Static { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.text = Text()

    def compose(self):
        yield Static("", markup=False)

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")

    def show(self, headline: str, failures: Sequence[Failure], *, here: str = "",
             remedy: Remedy | None = None) -> None:
        self.text = failure_text(headline, failures, here=here, remedy=remedy)
        self.query_one(Static).update(self.text)
        self.add_class("-shown")
        self.scroll_home(animate=False)

    def clear(self) -> None:
        self.text = Text()
        self.query_one(Static).update("")
        self.remove_class("-shown")
