"""The fast offline update's operations: declared, admitted by the front door, their results parse."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hcitui.lab import frontdoor
from hcitui.ps import OPERATIONS
from hcitui.ps import iso as iso_ops
from hcitui.ps import offline as offline_ops

NEW = [*offline_ops.OFFLINE_OPS, iso_ops.get_file_hash]


@pytest.mark.parametrize("op", NEW, ids=lambda op: op.name)
def test_declared_and_admitted_by_the_front_door(op):
    assert OPERATIONS[op.name] is op
    assert frontdoor.check(op.script) == []


def test_stop_cluster_without_force_would_prompt_and_is_refused():
    refusals = frontdoor.check("Stop-Cluster")
    assert refusals and refusals[0].kind == "prompt"
    assert "-Force" in offline_ops.stop_cluster.script


def test_only_the_two_start_types_and_kb_numbers_are_accepted():
    offline_ops.set_cluster_service_startup.make_params({"StartupType": "Disabled", "HotFixes": ["KB5048654"]})
    with pytest.raises(ValidationError):
        offline_ops.set_cluster_service_startup.make_params({"StartupType": "Manual"})
    with pytest.raises(ValidationError):
        offline_ops.get_offline_node.make_params({"HotFixes": ["KB5048654; Restart-Computer"]})
    with pytest.raises(ValidationError):
        offline_ops.install_update_package.make_params({"PackagePath": "C:\\u.msu", "HotFixId": "5048654"})


def test_results_parse():
    node = offline_ops.get_offline_node.parse_result(
        '{"Service":{"Name":"ClusSvc","Status":"Stopped","StartType":"Disabled"},"CurrentBuildNumber":25398,'
        '"UBR":2032,"LastBootUpTime":"2025-01-01T00:00:00.0000000Z","HotFixes":["KB5048654"],"PendingPackages":0}')
    assert node.service.stopped and node.build == "25398.2032" and node.hot_fixes == ["KB5048654"]
    installed = offline_ops.install_update_package.parse_result(
        '{"PackagePath":"C:\\\\u.msu","HotFixId":"KB5048654","RestartNeeded":true,"HotFixListed":false,'
        '"PendingPackages":1}')
    assert installed.restart_needed and installed.pending_packages == 1
    rows = offline_ops.stop_csv_resources.parse_result('[{"Name":"Cluster Virtual Disk (Data01)","State":"Offline"}]')
    assert rows[0].online is False
    assert offline_ops.get_csv_resources.parse_result("[]") == []
    volumes = offline_ops.get_volumes.parse_result('[{"FileSystemLabel":"Data01","FileSystem":"CSVFS",'
                                                   '"HealthStatus":"Healthy"}]')
    assert volumes[0].healthy
    found = iso_ops.get_file_hash.parse_result('{"Path":"C:\\\\u.msu","Exists":true,"Length":3,"Hash":"AB"}')
    assert found.exists and found.hash == "AB"
