"""The readiness remedies' declared operations (ps/remedies.py): parameters, what the scripts send, what their
results mean. The generic tests (tests/ps/test_ps.py, tests/lab/test_frontdoor.py) hold them to the front door
and to properties.json like every other operation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hcitui.lab import frontdoor
from hcitui.ps import OPERATIONS
from hcitui.ps import remedies as ops

REMEDIES = ["install_windows_features", "enable_optional_features", "suspend_bitlocker", "resume_bitlocker"]


def test_registered_and_mutating():
    for name in REMEDIES:
        assert OPERATIONS[name].mutates is True
    assert ops.install_windows_features.timeout >= 600 and ops.enable_optional_features.timeout >= 600


@pytest.mark.parametrize("names", [[], ["Bad Name"], ["x; Remove-Item"], ["NetworkATC", "networkatc"]])
def test_feature_names_are_checked(names):
    with pytest.raises(ValidationError):
        ops.install_windows_features.make_params({"names": names})


@pytest.mark.parametrize("mount", ["C:", "D:", "C:\\ClusterStorage\\Volume1",
                                   "\\\\?\\Volume{12345678-1234-1234-1234-123456789abc}\\"])
def test_mount_points_accepted(mount):
    assert ops.suspend_bitlocker.make_params({"mount_point": mount}).to_ps() == {"MountPoint": mount}


@pytest.mark.parametrize("mount", ["C", "CC:", "C:'; Resume-BitLocker", ""])
def test_mount_points_refused(mount):
    with pytest.raises(ValidationError):
        ops.suspend_bitlocker.make_params({"mount_point": mount})


def test_the_cmdlets_are_called_as_seed_001_and_the_reference_say():
    assert "Install-WindowsFeature -Name $feature -IncludeAllSubFeature -IncludeManagementTools" in \
        ops.install_windows_features.script
    assert "Enable-WindowsOptionalFeature -Online -FeatureName $feature -All -NoRestart" in \
        ops.enable_optional_features.script
    assert "Suspend-BitLocker -MountPoint $MountPoint -RebootCount 0 -Confirm:$false" in ops.suspend_bitlocker.script
    assert "Resume-BitLocker -MountPoint $MountPoint -Confirm:$false" in ops.resume_bitlocker.script


def test_the_front_door_holds_the_parameters():
    # -Restart would restart the node behind the drain's back; Enable-WindowsOptionalFeature has no -Force.
    assert frontdoor.check_call("Install-WindowsFeature", ["Name", "IncludeAllSubFeature", "IncludeManagementTools"]) \
        is None
    assert frontdoor.check_call("Enable-WindowsOptionalFeature", ["Online", "FeatureName", "Force"]) is not None
    assert frontdoor.check_call("Enable-WindowsOptionalFeature", ["FeatureName", "All"]) is not None  # no -Online
    assert frontdoor.check_call("Suspend-BitLocker", ["MountPoint", "RebootCount", "Confirm"]) is None


def test_results_parse_one_row_collapsed_and_say_when_a_restart_is_needed():
    rows = ops.install_windows_features.parse_result(
        '{"Name":"NetworkATC","Success":true,"RestartNeeded":"No","ExitCode":"Success","Error":null}')
    assert [r.name for r in rows] == ["NetworkATC"] and rows[0].needs_restart is False
    rows = ops.install_windows_features.parse_result(
        '[{"Name":"A","Success":true,"RestartNeeded":"Yes","ExitCode":"SuccessRestartRequired"},'
        '{"Name":"B","Success":true,"RestartNeeded":"Maybe","ExitCode":"Success"},'
        '{"Name":"C","Success":false,"RestartNeeded":"Yes","ExitCode":"Failed","Error":"no source"}]')
    assert [r.needs_restart for r in rows] == [True, True, False]  # Maybe counts; a failure restarts nothing
    enabled = ops.enable_optional_features.parse_result('{"FeatureName":"X","Success":true,"RestartNeeded":true}')
    assert enabled[0].needs_restart is True
    volume = ops.suspend_bitlocker.parse_result('{"MountPoint":"C:","VolumeStatus":"FullyEncrypted",'
                                                '"ProtectionStatus":"Off"}')
    assert volume.protected is False and volume.mount_point == "C:"
