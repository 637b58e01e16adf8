"""Every Action the workflow can name is carried out by a key on the console and by a command on the
command line: a remedy never falls through to nothing, or to a crash."""

from __future__ import annotations

import pytest

from hcitui.cli import remedies as cli_remedies
from hcitui.core.errors import Action, Remedy
from hcitui.tui import remedies as tui_remedies
from hcitui.workflow.steps import Refused


@pytest.mark.parametrize("action", list(Action))
def test_every_action_has_a_key_and_a_command(action):
    assert action in tui_remedies.KEYS, f"{action!r} has no screen and key in hcitui/tui/remedies.py"
    assert action in cli_remedies.COMMANDS, f"{action!r} has no command in hcitui/cli/remedies.py"
    command = cli_remedies.command_for(Remedy(action=action, node="LAB-A1"))
    assert command.startswith("hcitui ") and "{" not in command


def test_a_refusal_reads_with_its_key_on_the_console_and_its_command_headless():
    refused = Refused("cau-run", ["a CAU run is in progress"], remedy=Remedy(action=Action.CAU_STOP))
    assert tui_remedies.sentence(refused) == ("cau-run refused: a CAU run is in progress "
                                              "(stop the CAU run: x on 5) CAU run)")
    assert tui_remedies.sentence(refused, here="5) CAU run").endswith("(stop the CAU run: x)")
    assert cli_remedies.sentence(refused).endswith("(to stop the CAU run, run: hcitui cau-stop)")


def test_a_remedy_without_an_action_is_words_alone():
    remedy = Remedy(text="ask the storage team to bring the pool back")
    assert tui_remedies.render(remedy) == remedy.text
    assert cli_remedies.command_for(remedy) is None
