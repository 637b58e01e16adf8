"""One error type: HciError reads as a sentence, Remedy names the next thing to do in words, ExitCode."""

from __future__ import annotations

import re

import pytest

from hcitui.core.config import ConfigError
from hcitui.core.errors import Action, ExitCode, HciError, Remedy
from hcitui.core.journal import JournalError


def test_sentence_is_the_message():
    assert HciError("the node N1 does not answer").sentence == "the node N1 does not answer"
    assert str(HciError("x")) == "x"


def test_sentence_without_a_message_is_the_error_name():
    class NothingSaid(HciError):
        pass

    assert NothingSaid().sentence == "NothingSaid"


def test_no_remedy_unless_one_is_given():
    assert HciError("x").remedy is None
    error = HciError("x")
    error.remedy = Remedy(action=Action.CAU_STOP)
    assert error.remedy.words() == "stop the CAU run"
    assert HciError("y").remedy is None  # set on one error, not on the class


def test_every_error_family_is_an_hci_error():
    assert issubclass(ConfigError, HciError) and issubclass(JournalError, HciError)
    config = ConfigError(["config: clusters[0].name: is required"])
    assert config.sentence == "config: clusters[0].name: is required"
    assert config.problems == ["config: clusters[0].name: is required"]
    with pytest.raises(HciError):
        raise JournalError("the journal cannot be read")


# ------------------------------------------------------------------------ remedies


def test_remedy_words_prefer_its_own_text():
    assert Remedy(text="free space on the system drive").words() == "free space on the system drive"
    assert Remedy(text="stop the run first", action=Action.CAU_STOP).words() == "stop the run first"


def test_remedy_words_fall_back_on_its_action():
    assert Remedy(action=Action.NODE_RESUME, node="N1").words() == "resume the node"
    assert Remedy(action=Action.ISO_STAGE).words() == "stage the ISO"


def test_an_empty_remedy_says_nothing():
    assert Remedy().words() == ""


def test_a_remedy_is_a_value():
    assert Remedy(action=Action.NODE_DRAIN, node="N1") == Remedy(action=Action.NODE_DRAIN, node="N1")
    assert Remedy(action=Action.NODE_DRAIN, node="N1") != Remedy(action=Action.NODE_DRAIN, node="N2")
    with pytest.raises(AttributeError):
        Remedy().text = "changed"  # frozen: a remedy handed to a front end cannot change under it


@pytest.mark.parametrize("action", list(Action))
def test_every_action_is_plain_words_never_a_key_or_menu_number(action):
    words = action.value
    assert words and words == words.strip() and words[0].islower()
    assert not re.search(r"\(\w\)|\b\d+\)|\bkey\b", words), words
    assert Remedy(action=action).words() == words


def test_actions_are_distinct():
    assert len({a.value for a in Action}) == len(list(Action))


# ---------------------------------------------------------------------- exit codes


def test_exit_code_values():
    assert int(ExitCode.OK) == 0
    assert int(ExitCode.FAILED) == 1
    assert int(ExitCode.USAGE) == 2
    assert int(ExitCode.LEFT_MID_STEP) == 3
    assert len({int(code) for code in ExitCode}) == len(list(ExitCode))


def test_exit_code_is_usable_as_a_process_status():
    with pytest.raises(SystemExit) as caught:
        raise SystemExit(ExitCode.USAGE)
    assert caught.value.code == 2
