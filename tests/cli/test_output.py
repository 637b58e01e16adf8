"""What the command line prints, from typed values: progress lines, the checks table, errors with
their remedies as commands, and the one check of a node's name."""

from __future__ import annotations

import argparse
import io
from datetime import datetime
from types import SimpleNamespace

import pytest

from hcitui.cli import output, remedies
from hcitui.cli.commands.base import node_of, nodes_of, spelled
from hcitui.cli.output import Printer, UsageError, checks_table, describe
from hcitui.core.config import ConfigError
from hcitui.core.errors import Action, ExitCode, HciError, Remedy
from hcitui.remote.fanout import EventKind, NodeEvent
from hcitui.workflow import eta
from hcitui.workflow.checks import CheckResult, Status
from hcitui.workflow.events import ProgressEvent, Stage
from hcitui.workflow.steps import Refused, StepFailed


def printed(events) -> list[str]:
    """The lines a Printer makes of ``events``, without their time stamps."""
    stream = io.StringIO()
    printer = Printer(stream)
    for event in events:
        printer(event)
    return [line.split(" ", 1)[1] for line in stream.getvalue().splitlines()]


# ----------------------------------------------------------------------- progress


def test_a_line_per_change_not_per_poll():
    lines = printed([
        ProgressEvent("LAB-A1", "draining"),
        ProgressEvent("LAB-A1", "draining"),  # a poll that saw nothing new
        ProgressEvent("LAB-A2", "draining"),  # another node: its own line
        ProgressEvent("LAB-A1", "drained", 1.0, stage=Stage.DONE),
        ProgressEvent("LAB-A1", "drained", 1.0, stage=Stage.DONE),
    ])
    assert lines == ["LAB-A1           draining", "LAB-A2           draining", "LAB-A1           drained [100%]"]


def test_a_moving_measure_is_a_line_per_tenth():
    total = 1000
    events = [ProgressEvent("LAB-B2", "copying", done / total, done=done, total=total) for done in range(0, 1001, 25)]
    lines = printed(events)
    assert len(lines) == 11  # 0%, 10%, ... 100%
    assert lines[0] == "LAB-B2           copying (0 of 1,000) [0%]"
    assert lines[-1] == "LAB-B2           copying (1,000 of 1,000) [100%]"
    # New words at the same tenth are a line: the step said something new.
    assert printed([*events, ProgressEvent("LAB-B2", "copied, length verified", 1.0, done=total, total=total)])[-1] \
        == "LAB-B2           copied, length verified (1,000 of 1,000) [100%]"


def test_stage_status_and_position_are_changes_even_with_the_same_words():
    lines = printed([
        ProgressEvent("LAB-A1", "CAU", status="Waiting"),
        ProgressEvent("LAB-A1", "CAU", status="Waiting"),
        ProgressEvent("LAB-A1", "CAU", status="Installing"),
        ProgressEvent("LAB-A1", "CAU", status="Installing", stage=Stage.FAILED),
        ProgressEvent("LAB-A1", "restart", position=(1, 4)),
        ProgressEvent("LAB-A1", "restart", position=(2, 4)),
    ])
    assert len(lines) == 5
    assert lines[2] == "LAB-A1           FAILED: CAU"
    assert lines[3].endswith("restart (node 1 of 4)") and lines[4].endswith("restart (node 2 of 4)")


def test_describe_uses_the_fields_never_the_words():
    since = datetime(2026, 1, 2, 12, 0, 1)
    event = ProgressEvent("LAB-STRETCH", "Test-Cluster running", stage=Stage.WAITING, since=since)
    assert describe(event) == "Test-Cluster running (since 12:00:01)"
    assert describe(event, now=since) == "Test-Cluster running"  # the line's own time says it
    # Words that look like a failure are only words: the stage says whether it failed.
    assert describe(ProgressEvent("n", "FAILED earlier, now fine")) == "FAILED earlier, now fine"
    assert describe(ProgressEvent("n", "lost", stage=Stage.FAILED)) == "FAILED: lost"
    assert describe(ProgressEvent("n", "sync", 0.5, done=3)) == "sync (3) [50%]"


def test_describe_says_the_steps_finish_estimate():
    now = datetime(2026, 1, 2, 14, 5, 9)
    finish = datetime(2026, 1, 2, 14, 35, 40)
    rolling = ProgressEvent("LAB-A2", "restarting", position=(2, 4), eta=finish)
    assert describe(rolling, now) == "restarting (node 2 of 4, finish about 14:35)"
    first = ProgressEvent("LAB-A1", "restarting", position=(1, 4), eta=eta.UNKNOWN)
    assert describe(first, now) == "restarting (node 1 of 4, estimate unknown)"
    copy = ProgressEvent("LAB-B2", "copying", 0.5, done=4, total=8, eta=datetime(2026, 1, 3, 1, 0))
    assert describe(copy, now) == "copying (4 of 8, finish about Sat 01:00) [50%]"  # not today: the day too
    # A step that makes no estimate says nothing of one.
    assert describe(ProgressEvent("LAB-A1", "restart", position=(1, 4)), now) == "restart (node 1 of 4)"


def test_a_moving_estimate_alone_is_no_new_line():
    today = datetime.now().replace(hour=14, second=0, microsecond=0)  # the printer's lines are of today
    lines = printed([
        ProgressEvent("LAB-A2", "restarting", position=(2, 4), eta=today.replace(minute=35)),
        ProgressEvent("LAB-A2", "restarting", position=(2, 4), eta=today.replace(minute=36)),
        ProgressEvent("LAB-A2", "resumed", position=(2, 4), eta=today.replace(minute=37)),
    ])
    assert len(lines) == 2 and lines[1].endswith("resumed (node 2 of 4, finish about 14:37)")


def test_node_events_are_printed_as_they_come():
    lines = printed([NodeEvent("LAB-A1", EventKind.RUNNING, "get_os_version"),
                     NodeEvent("LAB-A1", EventKind.OK, "get_os_version", elapsed=0.25)])
    assert lines == ["LAB-A1           running get_os_version", "LAB-A1           ok (0.2 s)"]


# ------------------------------------------------------------------------- checks


def test_the_checks_table_is_one_layout_for_every_check_report():
    stream = io.StringIO()
    checks_table([
        CheckResult("Coordinator", None, Status.PASS, "LAB-MGMT, outside the cluster"),
        CheckResult("Test-CauSetup", "LAB-A1", Status.FAIL, "2 errors", remediation="enable remoting"),
        CheckResult("Scan", "LAB-B2", Status.UNKNOWN, "not read", remediation="read it again"),
        CheckResult("Coord. reach", "LAB-B2", Status.PASS, "reached", remediation="never shown on a pass"),
    ], stream)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "" and lines[-1] == ""
    assert lines[1] == "PASS  Coordinator   (cluster)        LAB-MGMT, outside the cluster"
    assert lines[2] == "FAIL  Test-CauSetup LAB-A1           2 errors"
    assert lines[3] == " " * 37 + "fix: enable remoting"
    assert lines[4].startswith("UNKN  Scan") and lines[5].endswith("fix: read it again")
    assert lines[6] == "PASS  Coord. reach  LAB-B2           reached"
    assert len(lines) == 8


# ------------------------------------------------------------------------- errors


def test_advice_is_the_remedy_with_its_command():
    # Every Action having a command is tests/cli/test_remedies.py's; this is how the advice reads.
    assert remedies.advice(Remedy(action=Action.NODE_RESUME, node="LAB-A2")) == \
        "to resume the node, run: hcitui resume --node LAB-A2"
    assert remedies.advice(Remedy(text="drain it first", action=Action.NODE_DRAIN, node="LAB-B1")) == \
        "to drain it first, run: hcitui drain --node LAB-B1"
    assert remedies.advice(Remedy(action=Action.SR_REREAD)) == \
        "to re-read the Storage Replica snapshot, run: hcitui sr-snapshot --reread"
    assert remedies.command_for(Remedy(text="call the storage team")) is None
    assert remedies.advice(Remedy(text="call the storage team")) == "call the storage team"
    assert remedies.advice(None) == ""


def test_errors_are_sentences_with_their_remedy_as_a_command(capsys):
    failed = StepFailed("cau-run", "the run ended RunFailed", remedy=Remedy(action=Action.CAU_RECOVER))
    assert output.error(failed) == ExitCode.FAILED
    err = capsys.readouterr().err
    assert err == ("hcitui: cau-run failed: the run ended RunFailed "
                   "(to recover the failed CAU run, run: hcitui cau-recover)\n")

    refused = Refused("drain LAB-B1", ["LAB-A2 is out of service", "storage is not quiet"],
                      remedy=Remedy(action=Action.NODE_RESUME, node="LAB-A2"))
    assert output.error(refused) == ExitCode.FAILED
    assert capsys.readouterr().err.splitlines() == [
        "hcitui: drain LAB-B1 refused; nothing was changed:",
        "hcitui:   - LAB-A2 is out of service",
        "hcitui:   - storage is not quiet",
        "hcitui: to resume the node, run: hcitui resume --node LAB-A2",
    ]

    assert output.error(ConfigError(["first problem", "second problem"])) == ExitCode.USAGE
    assert capsys.readouterr().err.splitlines() == ["hcitui: first problem", "hcitui: second problem"]
    assert output.error(UsageError("--node NOPE: not a node")) == ExitCode.USAGE
    assert output.error(HciError("plain")) == ExitCode.FAILED
    assert capsys.readouterr().err.splitlines() == ["hcitui: --node NOPE: not a node", "hcitui: plain"]


# ---------------------------------------------------------------------- node names


def fake_ctx(*nodes: str):
    return SimpleNamespace(name="C1", client=SimpleNamespace(node_names=list(nodes)))


def test_one_check_of_node_names():
    ctx = fake_ctx("LAB-A1", "LAB-B1")
    assert spelled(" lab-b1 ", ctx.client.node_names) == "LAB-B1"  # any case names the computer
    assert spelled("LAB-C1", ctx.client.node_names) is None
    with pytest.raises(ConfigError):
        spelled("LAB-A1; Remove-Item C:\\", ctx.client.node_names)

    assert node_of(argparse.Namespace(node="lab-a1"), ctx, "drain") == "LAB-A1"
    assert node_of(argparse.Namespace(node=None), ctx) is None
    assert nodes_of(argparse.Namespace(node=None), ctx) == ["LAB-A1", "LAB-B1"]
    assert nodes_of(argparse.Namespace(node="LAB-B1"), ctx) == ["LAB-B1"]
    with pytest.raises(UsageError, match=r"drain needs --node NODE \(one of LAB-A1, LAB-B1\)"):
        node_of(argparse.Namespace(node=None), ctx, "drain")
    with pytest.raises(UsageError, match=r"--node NOPE: not a node of C1 \(LAB-A1, LAB-B1\)"):
        node_of(argparse.Namespace(node="NOPE"), ctx)
    with pytest.raises(UsageError, match="not a valid host name"):
        node_of(argparse.Namespace(node="A;B"), ctx)
