"""Declared PowerShell operations: scripts match their parameter models, quoting, results."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError
from pydantic.alias_generators import to_pascal

from hcitui import ps
from hcitui.ps import OPERATIONS, ResultError, ps_quote, script_parameter_names
from hcitui.ps.base import _param_body
from hcitui.ps.nodes import NodeNameParams, RegistryParams, ResumeParams
from hcitui.ps.reads import PathParams
from support import example_params

ALL_OPS = list(OPERATIONS.values())
OP_IDS = [op.name for op in ALL_OPS]


def _aliases(params_cls) -> list[str]:
    return [info.alias or to_pascal(name) for name, info in params_cls.model_fields.items()]




def _lines_after_last_convertto_json(script: str) -> list[str]:
    """The non-blank lines after the statement holding the script's last ConvertTo-Json."""
    idx = script.rfind("ConvertTo-Json")
    assert idx != -1
    depth, pos = 0, idx
    while pos < len(script):
        ch = script[pos]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "\n" and depth <= 0:
            break
        pos += 1
    return [line.strip() for line in script[pos:].splitlines() if line.strip()]


# ----------------------------------------------------------- every operation


def test_there_are_operations_and_names_are_unique():
    assert len(ALL_OPS) >= 20
    names = [op.name for op in ALL_OPS]
    assert len(names) == len(set(names))
    assert all(key == op.name for key, op in OPERATIONS.items())


@pytest.mark.parametrize("op", ALL_OPS, ids=OP_IDS)
def test_script_parameters_match_params_model(op):
    assert script_parameter_names(op.script) == _aliases(op.params)


@pytest.mark.parametrize("op", ALL_OPS, ids=OP_IDS)
def test_script_has_leading_param_block(op):
    assert op.script.lstrip().lower().startswith("param(")
    assert _param_body(op.script) is not None


@pytest.mark.parametrize("op", ALL_OPS, ids=OP_IDS)
def test_script_stops_on_errors(op):
    assert "$ErrorActionPreference = 'Stop'" in op.script
    assert "{STOP}" not in op.script


@pytest.mark.parametrize("op", ALL_OPS, ids=OP_IDS)
def test_script_ends_its_output_with_convertto_json(op):
    assert "ConvertTo-Json" in op.script
    for line in _lines_after_last_convertto_json(op.script):
        harmless = (
            line.endswith("| Out-Null")
            or re.fullmatch(r"[}\s)]+", line) is not None
            or (line.startswith("if (") and "throw" in line)
        )
        assert harmless, f"{op.name}: output after ConvertTo-Json: {line!r}"


@pytest.mark.parametrize("op", ALL_OPS, ids=OP_IDS)
def test_script_has_no_format_leftovers_and_balanced_brackets(op):
    script = op.script
    assert "{{" not in script and "}}" not in script, "an f-string placeholder was not rendered"
    # Brackets, strings and comments as PowerShell reads them: the lab's front door parses the script.
    from hcitui.lab import frontdoor

    assert [str(r) for r in frontdoor.check(script) if r.kind == "parse"] == []


@pytest.mark.parametrize("op", ALL_OPS, ids=OP_IDS)
def test_render_shows_script_and_header(op):
    required = example_params(op)
    text = op.render(required, node="LAB-A1")
    first = text.splitlines()[0]
    assert first.startswith(f"# {op.name} (")
    assert first.endswith("on LAB-A1")
    assert ("CHANGES THE CLUSTER" in first) is op.mutates
    assert op.script.strip("\n") in text


def test_mutating_flags():
    mutating = {op.name for op in ALL_OPS if op.mutates}
    # The naming rule is the declaration rule: get_*/test_* read, every other operation changes
    # something. A mis-declared flag (a change marked read-only) breaks it.
    reads = {op.name for op in ALL_OPS if op.name.startswith(("get_", "test_"))}
    assert mutating == {op.name for op in ALL_OPS} - reads
    assert {"suspend_node", "resume_node", "restart_node", "set_registry_values"} <= mutating
    for op in ALL_OPS:
        if op.name.startswith("get_"):
            assert op.mutates is False, op.name


def test_get_unknown_operation_names_the_fix():
    with pytest.raises(KeyError, match="hcitui ops"):
        ps.get("nope")
    assert ps.get("get_cluster_nodes") is OPERATIONS["get_cluster_nodes"]


# -------------------------------------------------------------------- quoting


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "'plain'"),
        ("it's", "'it''s'"),
        ("a\u2018b", "'a\u2018\u2018b'"),
        ("a\u2019b", "'a\u2019\u2019b'"),
        ("a\u201ab", "'a\u201a\u201ab'"),
        ("a\u201bb", "'a\u201b\u201bb'"),
        ("$(evil) `n \"x\"", "'$(evil) `n \"x\"'"),
        (True, "$true"),
        (False, "$false"),
        (None, "$null"),
        (0, "0"),
        (42, "42"),
        (["a", "b'c", 1, True], "@('a', 'b''c', 1, $true)"),
        ([], "@()"),
    ],
)
def test_ps_quote(value, expected):
    assert ps_quote(value) == expected


def _single_quoted_literal_end(text: str) -> int:
    """Index just past the single-quoted literal that starts text[0] (PowerShell rules)."""
    quotes = "'\u2018\u2019\u201a\u201b"
    assert text[0] in quotes
    i = 1
    while i < len(text):
        if text[i] in quotes:
            if i + 1 < len(text) and text[i + 1] in quotes:
                i += 2
                continue
            return i + 1
        i += 1
    raise AssertionError("unterminated literal")


def test_render_keeps_injection_inside_one_literal():
    evil = "'; Remove-Item C:\\ -Recurse; '"
    text = ps.get("get_path_info").render({"Path": evil})
    last = text.splitlines()[-1]
    expected_literal = "'''; Remove-Item C:\\ -Recurse; '''"
    assert last == "} -Path " + expected_literal
    argument = last[len("} -Path "):]
    assert _single_quoted_literal_end(argument) == len(argument)


def test_render_keeps_typographic_quote_injection_inside_one_literal():
    evil = "x\u2019; Stop-Computer; \u2018"
    text = ps.get("get_path_info").render({"Path": evil})
    argument = text.splitlines()[-1].removeprefix("} -Path ")
    assert argument == "'x\u2019\u2019; Stop-Computer; \u2018\u2018'"
    assert _single_quoted_literal_end(argument) == len(argument)


def test_render_without_parameters_has_no_arguments():
    text = ps.get("get_cluster_nodes").render()
    assert text.splitlines()[-1] == "}"
    assert "Get-ClusterNode" in text


# --------------------------------------------------------------------- results


def test_parse_result_non_json_is_a_sentence():
    op = ps.get("get_os_version")
    with pytest.raises(ResultError) as info:
        op.parse_result("WARNING: something went sideways")
    message = str(info.value)
    assert message.startswith("get_os_version: ")
    assert "did not return JSON" in message


def test_parse_result_wrong_shape_is_a_sentence():
    op = ps.get("get_cluster_nodes")
    with pytest.raises(ResultError) as info:
        op.parse_result('{"Name": "N1"}')
    assert str(info.value).startswith("get_cluster_nodes: unexpected result at ")

    with pytest.raises(ResultError, match=r"get_cluster_nodes: unexpected result at 0\.Name"):
        op.parse_result('[{"State": "Up"}]')


def test_parse_result_empty_payload_for_object_is_an_error():
    with pytest.raises(ResultError, match="get_os_version: unexpected result"):
        ps.get("get_os_version").parse_result("")


def test_parse_result_ok():
    nodes = ps.get("get_cluster_nodes").parse_result(
        '[{"Name":"N1","State":"Up","FaultDomain":"Site:SiteA","BuildNumber":20349}]'
    )
    assert nodes[0].name == "N1"
    assert nodes[0].site == "SiteA"
    version = ps.get("get_os_version").parse_result('{"CurrentBuildNumber":25398,"UBR":1913}')
    assert version.build == "25398.1913"


# --------------------------------------------------------------------- params


def test_to_ps_drops_none_and_keeps_zero():
    assert RegistryParams().to_ps() == {}
    assert RegistryParams(skip_small_local_allocations=0).to_ps() == {"SkipSmallLocalAllocations": 0}
    assert RegistryParams(refs_enable_metadata_validation=1, skip_small_local_allocations=0).to_ps() == {
        "RefsEnableMetadataValidation": 1,
        "SkipSmallLocalAllocations": 0,
    }
    assert ResumeParams(name="N1").to_ps() == {"Name": "N1", "Failback": "Immediate"}


def test_params_reject_extra_fields():
    with pytest.raises(ValidationError):
        NodeNameParams(name="LAB-A1", force=True)
    with pytest.raises(ValidationError):
        ps.get("get_path_info").make_params({"Path": "C:\\x", "Recurse": True})
    with pytest.raises(ValidationError):
        ps.get("get_cluster_nodes").make_params({"Anything": 1})


@pytest.mark.parametrize(
    "name",
    ["LAB-A1; Remove-Item C:\\ -Recurse", "A|B", "$(whoami)", "A`B", "A B", "A'B", "-A1", "", "a" * 254],
)
def test_node_name_params_reject_metacharacters(name):
    with pytest.raises(ValidationError):
        NodeNameParams(name=name)


def test_node_name_params_accept_host_names():
    assert NodeNameParams(name="LAB-A1").name == "LAB-A1"
    assert NodeNameParams(name="hci-b2.site-b.contoso.com").name == "hci-b2.site-b.contoso.com"


def test_registry_params_only_allow_the_documented_values():
    with pytest.raises(ValidationError):
        RegistryParams(skip_small_local_allocations=1)
    with pytest.raises(ValidationError):
        RegistryParams(refs_enable_metadata_validation=2)


def test_path_params_require_a_path():
    with pytest.raises(ValidationError):
        PathParams(path="")


def test_script_parameter_names_parser():
    script = ("param([Parameter(Mandatory)][string]$Name, [ValidateSet('a,b', 'c')][string]$Mode = 'a,b', $Plain)"
              "\n$x = 1")
    assert script_parameter_names(script) == ["Name", "Mode", "Plain"]
    assert script_parameter_names("param()\nGet-Thing") == []
    assert script_parameter_names("Get-Thing -Parameter $x") == []
