"""The lab's PowerShell front door: each rule refuses a planted defect in PowerShell's words, and
every declared script (and the CAU runner) passes it.

The planted scripts are throwaway: each carries one member of a defect class a review found in
hcitui's scripts (or one the rules exist for), so a later script with the same defect is refused
by the lab long before it reaches a real node.
"""

from __future__ import annotations

import pytest

from hcitui.lab import frontdoor, propreads
from hcitui.lab.catalogue import load
from hcitui.ps import OPERATIONS
from hcitui.ps import cau as cau_ops


def refused(script: str) -> frontdoor.Refusal:
    found = frontdoor.check(script)
    assert found, f"the front door accepted:\n{script}"
    return found[0]


def accepted(script: str) -> None:
    found = frontdoor.check(script)
    assert not found, "\n".join(str(r) for r in found)


# ----------------------------------------------------------------- syntax


def test_a_syntax_error_is_refused_with_its_line_and_wording():
    refusal = refused("param()\n$rows = @(Get-ClusterNode | ForEach-Object {\n    $_.Name\n")
    assert refusal.kind == "parse"
    assert "Missing closing" in refusal.message
    assert refusal.message.startswith("At line:")


@pytest.mark.parametrize(("script", "wording"), [
    ("Get-ClusterNode && Get-ClusterGroup", "The token '&&' is not a valid statement separator in this version."),
    ("Get-ClusterNode || Get-ClusterGroup", "The token '||' is not a valid statement separator in this version."),
    ("$a = $null\n$b = $a ?? 'x'", "Unexpected token '??' in expression or statement."),
    ("$a = 1\n$b = $a ? 'x' : 'y'", "Unexpected token '?' in expression or statement."),
    ("$a = $null\n$b = ${a}?.Name", "Unexpected token '?."),
])
def test_powershell_7_syntax_is_refused_as_5_1_refuses_it(script, wording):
    refusal = refused(script)
    assert refusal.kind == "parse"
    assert wording in refusal.message


@pytest.mark.parametrize(("script", "parameter"), [
    ("1..3 | ForEach-Object -Parallel { $_ }", "Parallel"),
    ("'{}' | ConvertFrom-Json -AsHashtable", "AsHashtable"),
    ("ConvertTo-Json -InputObject 1 -AsArray", "AsArray"),
])
def test_powershell_7_parameters_are_unknown_to_the_5_1_cmdlets(script, parameter):
    refusal = refused(script)
    assert refusal.error_id == "NamedParameterNotFound"
    assert f"A parameter cannot be found that matches parameter name '{parameter}'." in str(refusal)


def test_a_drive_qualified_variable_in_a_string_is_a_parse_error():
    # write_file_chunk's defect: "... not $Offset: the copy ..." never parses on a node.
    refusal = refused("param([long]$Offset)\nthrow \"the file is not $Offset: the copy must resume\"")
    assert refusal.error_id == "InvalidVariableReferenceWithDrive"
    assert "Variable reference is not valid. ':' was not followed by a valid variable name character." in \
        refusal.message
    accepted("param([long]$Offset)\nthrow \"not $($Offset): resume; temp is $env:TEMP and ${Offset}: ok\"")


# --------------------------------------------------------------- commands


@pytest.mark.parametrize("name", ["Get-ClusterNodes", "Remove-SRPartnerships", "Get-Storage-Job", "setup.exe"])
def test_an_unknown_command_is_not_recognized(name):
    refusal = refused(f"{name}")
    assert refusal.kind == "not-found"
    assert f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable " \
           "program." in refusal.message


def test_functions_the_script_defines_and_documented_natives_are_known():
    accepted("function Get-Thing {\n    param($Name)\n    $Name\n}\nGet-Thing -Name x\n& shutdown.exe /r /t 5")


def test_an_unknown_parameter_is_refused():
    refusal = refused("Get-ClusterNode -Nmae 'LAB-A1'")
    assert str(refusal) == "Get-ClusterNode : A parameter cannot be found that matches parameter name 'Nmae'."


def test_an_ambiguous_parameter_prefix_is_refused_and_a_unique_one_binds():
    refusal = refused("Get-ChildItem -Path C:\\ -F")
    assert refusal.error_id == "AmbiguousParameter"
    assert "Possible matches include:" in refusal.message
    accepted("Get-ChildItem -Pa C:\\ -Rec")


def test_confirm_on_a_cmdlet_without_should_process_is_refused():
    # resume_node's defect: Resume-ClusterNode does not support ShouldProcess.
    refusal = refused("Resume-ClusterNode -Name 'LAB-A1' -Failback Immediate -Confirm:$false")
    assert refusal.error_id == "NamedParameterNotFound"
    assert "'Confirm'" in refusal.message
    accepted("Suspend-ClusterNode -Name 'LAB-A1' -Drain -Wait -Confirm:$false")


def test_a_missing_mandatory_parameter_is_refused():
    refusal = refused("New-SRPartnership -SourceRGName 'rg01' -Force")
    assert refusal.error_id == "MissingMandatoryParameter"
    assert "DestinationComputerName" in refusal.message


def test_parameters_from_two_sets_cannot_be_resolved():
    refusal = refused("Invoke-CauRun -ClusterName c -ForceRecovery -CauPluginName Microsoft.WindowsUpdatePlugin -Force")
    assert refusal.error_id == "AmbiguousParameterSet"
    assert "Parameter set cannot be resolved using the specified named parameters." in refusal.message


def test_an_argument_no_position_takes_is_refused():
    refusal = refused("Get-ClusterNode 'LAB-A1' 'extra'")
    assert refusal.error_id == "PositionalParameterNotFound"
    assert "A positional parameter cannot be found that accepts argument ''extra''." in refusal.message


def test_a_parameter_without_its_argument_is_refused():
    refusal = refused("Get-ClusterNode -Name")
    assert refusal.error_id == "MissingArgument"


def test_a_cmdlet_that_asks_without_force_fails_as_a_remote_pipeline_does():
    refusal = refused("Remove-SRPartnership -SourceRGName a -DestinationComputerName b -DestinationRGName c")
    assert refusal.kind == "prompt"
    assert str(refusal) == f"Remove-SRPartnership : {frontdoor.NON_INTERACTIVE}"
    accepted("Remove-SRPartnership -SourceRGName a -DestinationComputerName b -DestinationRGName c -Force")
    refused("Remove-SRPartnership -SourceRGName a -DestinationComputerName b -DestinationRGName c -Force:$false")


def test_splatted_hashtables_are_bound_like_named_parameters():
    refusal = refused("$p = @{ Name = 'LAB-A1'; Confirm = $false }\nResume-ClusterNode @p")
    assert "'Confirm'" in refusal.message
    refusal = refused("$p = [ordered]@{ SourceRGName = 'a' }\n$p.DestinationComputerName = 'b'\n"
                      "$p['DestinationRGName'] = 'c'\nRemove-SRPartnership @p")
    assert refusal.kind == "prompt"
    accepted("$p = [ordered]@{ SourceRGName = 'a' }\n$p.DestinationComputerName = 'b'\n"
             "$p['DestinationRGName'] = 'c'\n$p.Force = $true\nRemove-SRPartnership @p")


def test_pipeline_input_satisfies_a_mandatory_parameter_that_takes_it():
    accepted("Get-VM | Update-VMVersion -Force")
    assert "VMName" in str(refused("Update-VMVersion -Force")) or refused("Update-VMVersion -Force").kind


# ------------------------------------------------------- the real scripts


@pytest.mark.parametrize("op_name", sorted(OPERATIONS))
def test_every_declared_script_passes_the_front_door(op_name):
    accepted(OPERATIONS[op_name].script)


def test_the_os_upgrade_runner_passes():
    from hcitui.ps import upgrade as upgrade_ops

    accepted(upgrade_ops.RUNNER)


def test_the_cau_runner_passes_and_its_splat_binds_to_invoke_caurun():
    accepted(cau_ops.RUNNER)
    keys = frontdoor.splat_keys(cau_ops.start_cau_run.script, "run")
    assert keys and {"ClusterName", "CauPluginName", "Force"} <= keys
    assert frontdoor.check_call("Invoke-CauRun", sorted(keys)) is None
    assert frontdoor.check_call("Invoke-CauRun", sorted(keys - {"Force"})) is not None  # it would ask


def test_every_cmdlet_a_script_calls_is_in_the_catalogue_with_its_source():
    cat = load()
    assert cat.sources, "the catalogue records the commits it was built from"
    for op in OPERATIONS.values():
        for line in propreads.evidence(op.script):
            assert "NOT IN THE CATALOGUE" not in line, (op.name, line)


# ------------------------------------------------------------ property reads


def _unconfirmed(script: str) -> list[propreads.Verdict]:
    return [v for v in propreads.judge(propreads.reads(script)) if not v.confirmed]


@pytest.mark.parametrize("op_name", sorted(OPERATIONS))
def test_every_property_read_is_confirmed_or_marked_unconfirmed(op_name):
    """A read of cmdlet output either has public evidence in the catalogue, or is listed there as
    unconfirmed (one place) and the script says UNCONFIRMED next to it, naming the property."""
    script = OPERATIONS[op_name].script
    table = load().properties["cmdlets"]
    for verdict in _unconfirmed(script):
        read = verdict.read
        entry = (table.get(read.cmdlet) or {}).get("properties", {}).get(read.path)
        assert entry and entry.get("unconfirmed"), f"{op_name}: {read.cmdlet} .{read.path} has no evidence and " \
                                                   "is not listed as unconfirmed in properties.json"
        leaf = read.path.rsplit(".", 1)[-1]
        assert any("UNCONFIRMED" in line and leaf in line for line in script.splitlines()), \
            f"{op_name}: reads unconfirmed {read.cmdlet} .{read.path} without saying UNCONFIRMED"


def test_a_planted_wrong_read_is_found_and_unconfirmed():
    # get_cau_report's defect: the run's status is under .ClusterResult, not on the report.
    wrong = "$report = @(Get-CauReport -ClusterName c -Last -Detailed) | Select-Object -First 1\n[string]$report.Status"
    assert [(v.read.cmdlet, v.read.path) for v in _unconfirmed(wrong)] == [("Get-CauReport", "Status")]
    right = "$report = @(Get-CauReport -ClusterName c -Last -Detailed) | Select-Object -First 1\n" \
            "foreach ($r in $report.ClusterResult.NodeResults) { [string]$r.Node.NodeName }"
    assert _unconfirmed(right) == []
    found = {v.read.path for v in propreads.judge(propreads.reads(right))}
    assert "ClusterResult.NodeResults.Node.NodeName" in found


def test_dollar_underscore_is_the_upstream_object_and_writes_are_not_reads():
    script = "Get-SRGroup | ForEach-Object {\n  foreach ($x in $_.Replicas) { $x.NumOfBytesRemaining }\n}\n" \
             "$h = @{}\n$h.State = 1"
    paths = {(r.cmdlet, r.path) for r in propreads.reads(script)}
    assert ("Get-SRGroup", "Replicas.NumOfBytesRemaining") in paths
    assert not any(p == "State" for _, p in paths)


def test_a_property_piped_into_foreach_object_is_found():
    # $null | ForEach-Object runs once: a node with no fault domain reported one empty fault domain.
    assert propreads.null_pipes("$n = Get-ClusterNode -Name a\n@($n.FaultDomain | ForEach-Object { [string]$_ })")
    assert not propreads.null_pipes("$n = Get-ClusterNode -Name a\n@(foreach ($f in $n.FaultDomain) { [string]$f })")


@pytest.mark.parametrize("op_name", sorted(OPERATIONS))
def test_no_declared_script_pipes_a_property_into_foreach_object(op_name):
    assert propreads.null_pipes(OPERATIONS[op_name].script) == []


def test_ops_show_marks_unconfirmed_reads_and_names_sources():
    lines = propreads.evidence(OPERATIONS["get_cluster_nodes"].script)
    assert any("Get-ClusterNode: MicrosoftDocs/windows-powershell-docs:" in line for line in lines)
    assert any(line.startswith("#   UNCONFIRMED Get-ClusterNode .BuildNumber") for line in lines)
