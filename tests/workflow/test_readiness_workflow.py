"""Solution-upgrade readiness (hcitui/workflow/readiness.py): the pure evaluate() on hand-built reads, check
by check (pass, fail, warn, unknown, and each one's severity), the stretched cluster, and a run on the lab."""

from __future__ import annotations

import asyncio

import pytest

from hcitui.cli.context import context_for_lab
from hcitui.core import model
from hcitui.core.errors import Action
from hcitui.core.journal import StepStatus
from hcitui.core.model.readiness import REQUIRED_OPTIONAL_FEATURES, REQUIRED_WINDOWS_FEATURES
from hcitui.lab import Lab
from hcitui.remote import OperationFailed
from hcitui.workflow import readiness as rd
from hcitui.workflow.checks import Status
from hcitui.workflow.observe import ClusterState

NODES = ["HCI-N1", "HCI-N2"]


def good_node(**changes) -> model.NodeReadiness:
    data = {
        "current_build_number": 25398, "ubr": 1913, "display_version": "23H2",
        "features": [{"Name": n, "InstallState": "Installed"} for n in REQUIRED_WINDOWS_FEATURES],
        "optional_features": [{"FeatureName": n, "State": "Enabled"} for n in REQUIRED_OPTIONAL_FEATURES],
        "bit_locker": [{"MountPoint": "C:", "VolumeStatus": "FullyEncrypted", "ProtectionStatus": "Off"}],
        "device_guard": {"CodeIntegrityPolicyEnforcementStatus": 0, "UsermodeCodeIntegrityPolicyEnforcementStatus": 0},
        "language": {"OSLanguage": 1033, "SystemLocale": "en-US", "Culture": "en-US"},
        "tpm": {"TpmPresent": True, "TpmReady": True, "TpmEnabled": True, "TpmActivated": True,
                "OwnerClearDisabled": False, "ManagedAuthLevel": "Full", "AutoProvisioning": "Enabled",
                "LockedOut": False, "LockoutCount": 0},
    }
    data.update(changes)
    return model.NodeReadiness.model_validate(data)


def good_cluster(**changes) -> model.ClusterReadiness:
    data = {"name": "HCI01", "functional_level": 12,
            "pools": [{"FriendlyName": "S2D on HCI01", "Version": "Windows Server 2025", "Size": 4 * 10**12,
                       "AllocatedSize": 2 * 10**12}],
            "virtual_disks": ["Volume01", "ClusterPerformanceHistory"]}
    data.update(changes)
    return model.ClusterReadiness.model_validate(data)


def state(nodes=None, reads=None, registration="Registered", sites=("Site:Room1",)) -> ClusterState:
    names = NODES
    observed = ClusterState(nodes=nodes if nodes is not None else [
        model.ClusterNode(name=n, state="Up", fault_domain=[sites[i % len(sites)]]) for i, n in enumerate(names)])
    for name in names:
        observed.per_node[name] = {
            "registration": model.AzureRegistration(registration_status=registration, connection_status="Connected"),
            "extra": (reads or {}).get(name, good_node()),
        }
    return observed


def judge(observed=None, cluster=None, stretched=False):
    return rd.evaluate(observed or state(), cluster if cluster is not None else good_cluster(), NODES,
                       stretched=stretched)


def one(results, name, node=None):
    found = [c for c in results if c.name == name and c.node == node]
    assert len(found) == 1, (name, node, found)
    return found[0]


def test_a_ready_cluster_passes_every_check_once():
    results = judge()
    assert all(c.status is Status.PASS for c in results), [c for c in results if c.status is not Status.PASS]
    names = [(c.name, c.node) for c in results]
    assert len(names) == len(set(names)) == len(rd.NODE_CHECKS) * 2 + len(rd.CLUSTER_CHECKS)
    assert {c.severity for c in results if c.name in rd.TPM_CHECKS} == {rd.WARNING}
    assert {c.severity for c in results if c.name not in rd.TPM_CHECKS} == {rd.CRITICAL}


@pytest.mark.parametrize(("changes", "name", "reason", "action"), [
    ({"current_build_number": 20349, "ubr": 2655, "display_version": "22H2"}, rd.OS_23H2, "20349.2655 (22H2)",
     Action.NODE_UPGRADE),
    ({"features": [{"Name": "NetworkATC", "InstallState": "Available"}]}, rd.WINDOWS_FEATURES,
     "missing: Failover-Clustering (not present)", Action.FEATURES_INSTALL),
    ({"features": [{"Name": "NetworkATC", "InstallState": "Available"}]}, rd.NETWORK_ATC_INSTALLED,
     "NetworkATC Available", Action.FEATURES_INSTALL),
    ({"optional_features": [{"FeatureName": "BitLocker", "State": "Enabled"}]}, rd.OPTIONAL_FEATURES,
     "missing: Server-Core (not present)", Action.FEATURES_INSTALL),
    ({"bit_locker": [{"MountPoint": "C:", "ProtectionStatus": "On"}, {"MountPoint": "D:", "ProtectionStatus": "Off"}]},
     rd.BITLOCKER, "protection On: C:", Action.BITLOCKER_SUSPEND),
    ({"device_guard": {"CodeIntegrityPolicyEnforcementStatus": 2}}, rd.WDAC, "a WDAC policy is enforced", None),
    ({"language": {"OSLanguage": 1031, "SystemLocale": "de-DE"}}, rd.LANGUAGE, "LCID 1031", None),
    ({"aks_modules": [{"Name": "AksHci", "Version": "1.2.16"}]}, rd.AKS, "AksHci module 1.2.16 installed", None),
    ({"aks_modules": [{"Name": "Moc"}]}, rd.MOC_INSTALL, "Moc module installed", None),
    ({"moc_services": [{"Name": "wssdagent", "Status": "Running"}]}, rd.MOC_SERVICES, "running: wssdagent", None),
])
def test_each_node_check_fails_with_what_was_read_and_its_remedy(changes, name, reason, action):
    results = judge(state(reads={"HCI-N2": good_node(**changes)}))
    check = one(results, name, "HCI-N2")
    assert check.status is Status.FAIL and check.severity == rd.CRITICAL
    assert reason in check.reason and check.remediation
    assert (check.remedy.action if check.remedy else None) is action
    if action is not None:
        assert check.remedy.node == "HCI-N2"
    assert one(results, name, "HCI-N1").status is Status.PASS
    assert not rd.ReadinessReport("HCI01", results, None, None).passed


def test_bitlocker_fix_says_reboot_count_zero():
    check = one(judge(state(reads={"HCI-N1": good_node(bit_locker=[{"MountPoint": "C:", "ProtectionStatus": "On"}])})),
                rd.BITLOCKER, "HCI-N1")
    assert "-RebootCount 0" in check.remediation


@pytest.mark.parametrize(("changes", "name", "pending"), [
    ({"features": [{"Name": n, "InstallState": "InstallPending" if n == "NetworkATC" else "Installed"}
                   for n in REQUIRED_WINDOWS_FEATURES]}, rd.WINDOWS_FEATURES, "restart pending: NetworkATC"),
    ({"features": [{"Name": n, "InstallState": "InstallPending" if n == "NetworkATC" else "Installed"}
                   for n in REQUIRED_WINDOWS_FEATURES]}, rd.NETWORK_ATC_INSTALLED, "restart pending"),
    ({"optional_features": [{"FeatureName": n, "State": "EnablePending" if n == "Windows-Defender" else "Enabled"}
                            for n in REQUIRED_OPTIONAL_FEATURES]}, rd.OPTIONAL_FEATURES,
     "restart pending: Windows-Defender (EnablePending)"),
])
def test_a_feature_waiting_for_a_restart_fails_as_restart_pending(changes, name, pending):
    check = one(judge(state(reads={"HCI-N1": good_node(**changes)})), name, "HCI-N1")
    assert check.status is Status.FAIL and pending in check.reason
    assert check.remedy.action is Action.NODE_RESTART


def test_nodes_on_different_update_levels_fail_the_odd_one():
    results = judge(state(reads={"HCI-N1": good_node(), "HCI-N2": good_node(ubr=1700)}))
    # two nodes, two levels: the most common is either; one of them fails, naming the other's level
    statuses = sorted(one(results, rd.OS_23H2, n).status.value for n in NODES)
    assert statuses == ["fail", "pass"]
    failed = next(c for c in results if c.name == rd.OS_23H2 and c.status is Status.FAIL)
    assert "most nodes on 25398." in failed.reason


def test_wdac_audit_mode_passes():
    check = one(judge(state(reads={"HCI-N1": good_node(device_guard={"CodeIntegrityPolicyEnforcementStatus": 1})})),
                rd.WDAC, "HCI-N1")
    assert check.status is Status.PASS and "audit" in check.reason


def test_a_tpm_property_off_is_a_warning_that_does_not_block():
    results = judge(state(reads={"HCI-N1": good_node(tpm={"TpmPresent": True, "TpmReady": True, "TpmEnabled": True,
                                                          "TpmActivated": True, "OwnerClearDisabled": False,
                                                          "ManagedAuthLevel": "Full",
                                                          "AutoProvisioning": "Enabled", "LockedOut": False,
                                                          "LockoutCount": 2})}))
    check = one(results, "TPM LockoutCount is 0", "HCI-N1")
    assert check.status is Status.WARN and check.severity == rd.WARNING and "LockoutCount 2" in check.reason
    report = rd.ReadinessReport("HCI01", results, None, None)
    assert report.passed and report.summary() == "PASSED with 1 warning"


def test_an_unreadable_section_is_unknown_and_blocks_but_others_are_judged():
    read = good_node(features=[], features_error="The term 'Get-WindowsFeature' is not recognized", tpm=None,
                     tpm_error="Access denied")
    results = judge(state(reads={"HCI-N1": read}))
    for name in (rd.WINDOWS_FEATURES, rd.NETWORK_ATC_INSTALLED):
        check = one(results, name, "HCI-N1")
        assert check.status is Status.UNKNOWN and "Get-WindowsFeature" in check.reason
    assert {one(results, n, "HCI-N1").status for n in rd.TPM_CHECKS} == {Status.WARN}  # a warning stays a warning
    assert one(results, rd.BITLOCKER, "HCI-N1").status is Status.PASS
    assert not rd.ReadinessReport("HCI01", results, None, None).passed


def test_a_node_whose_read_failed_is_unknown_everywhere():
    failure = OperationFailed("HCI-N2", "get_node_readiness", "Access is denied.")
    results = judge(state(reads={"HCI-N2": failure}))
    node_checks = [c for c in results if c.node == "HCI-N2" and c.name not in (rd.NODE_UP, rd.REGISTERED)]
    assert node_checks and all(c.status in (Status.UNKNOWN, Status.WARN) for c in node_checks)
    assert all("Access is denied" in c.reason for c in node_checks)


def test_node_up_and_registration():
    nodes = [model.ClusterNode(name="HCI-N1", state="Paused"), model.ClusterNode(name="HCI-N2", state="Up")]
    results = judge(state(nodes=nodes, registration="NotYet"))
    up = one(results, rd.NODE_UP, "HCI-N1")
    assert up.status is Status.FAIL and up.remedy.action is Action.NODE_RESUME
    assert one(results, rd.REGISTERED, "HCI-N1").status is Status.FAIL


def test_a_node_outside_the_cluster_fails_same_cluster():
    results = judge(state(nodes=[model.ClusterNode(name="HCI-N1", state="Up")]))
    assert one(results, rd.SAME_CLUSTER).status is Status.FAIL and "HCI-N2" in one(results, rd.SAME_CLUSTER).reason
    assert one(results, rd.NODE_UP, "HCI-N2").status is Status.FAIL


@pytest.mark.parametrize(("cluster", "name", "reason"), [
    (good_cluster(functional_level=11), rd.FUNCTIONAL_LEVEL, "11, not 12"),
    (good_cluster(name="A-VERY-LONG-CLUSTER"), rd.CLUSTER_NAME, "19 characters"),
    (good_cluster(pools=[{"FriendlyName": "P", "Version": "Windows Server 2022", "Size": 4 * 10**12,
                          "AllocatedSize": 10**12}]), rd.STORAGE_POOL, "version Windows Server 2022"),
    (good_cluster(pools=[{"FriendlyName": "P", "Version": "Windows Server 2025", "Size": 4 * 10**12,
                          "AllocatedSize": 4 * 10**12 - 10**11}]), rd.STORAGE_POOL, "needs 250 GB"),
    (good_cluster(pools=[]), rd.STORAGE_POOL, "0 pools"),
    (good_cluster(virtual_disks=["Infrastructure_1"]), rd.STORAGE_VOLUME, "Infrastructure_1 exists"),
    (good_cluster(name=None, cluster_error="The cluster service is not running."), rd.CLUSTER_EXISTS,
     "cluster service is not running"),
])
def test_each_cluster_check_fails_with_its_reason(cluster, name, reason):
    check = one(judge(cluster=cluster), name)
    assert check.status is Status.FAIL and reason in check.reason and check.severity == rd.CRITICAL


def test_post_upgrade_failures_name_the_post_upgrade_step():
    results = judge(cluster=good_cluster(functional_level=11))
    assert "hcitui post-upgrade" in one(results, rd.FUNCTIONAL_LEVEL).remediation


def test_an_unreadable_cluster_read_is_unknown():
    failure = OperationFailed("HCI01", "get_cluster_readiness", "Access is denied.")
    results = judge(cluster=failure)
    for name in (rd.CLUSTER_EXISTS, rd.CLUSTER_NAME, rd.FUNCTIONAL_LEVEL, rd.STORAGE_POOL, rd.STORAGE_VOLUME):
        assert one(results, name).status is Status.UNKNOWN


def test_a_stretched_cluster_fails_and_the_report_does_not_apply():
    results = judge(state(sites=("Site:SiteA", "Site:SiteB")), stretched=True)
    check = one(results, rd.STRETCHED)
    assert check.status is Status.FAIL and "does not apply to a stretched cluster" in check.reason
    assert "SiteA, SiteB" in check.reason and check.severity == rd.CRITICAL
    report = rd.ReadinessReport("HCI01", results, None, None, applies=False)
    assert report.summary().startswith("DOES NOT APPLY")
    assert report.as_json()["applies"] is False and report.as_json()["passed"] is False


def test_json_shape_is_exactly_the_documented_one():
    results = judge(state(reads={"HCI-N1": good_node(bit_locker=[{"MountPoint": "C:", "ProtectionStatus": "On"}])}))
    payload = rd.ReadinessReport("HCI01", results, None, None).as_json()
    assert set(payload) == {"cluster", "passed", "applies", "checks"}
    for row in payload["checks"]:
        assert set(row) == {"name", "node", "status", "severity", "reason", "remedy"}
    failed = next(r for r in payload["checks"] if r["status"] == "fail")
    assert "-RebootCount 0" in failed["remedy"]
    assert next(r for r in payload["checks"] if r["status"] == "pass")["remedy"] is None


def test_read_plan_is_read_only_and_says_what_is_unconfirmed(tmp_path):
    lab = Lab.create(2, sites=1)
    ctx = context_for_lab(lab, read_only=True, state_root=tmp_path)
    try:
        plan = rd.read_plan(ctx)
    finally:
        asyncio.run(ctx.close())
    assert not plan.mutates
    text = plan.preview()
    assert "get_node_readiness" in text and "get_cluster_readiness" in text and "UNCONFIRMED" in text


@pytest.mark.parametrize("sites", [1, 2])
def test_a_run_on_the_lab_journals_its_outcome(tmp_path, sites):
    lab = Lab.create(4, sites=sites)
    ctx = context_for_lab(lab, read_only=True, state_root=tmp_path)

    async def go():
        try:
            return await rd.run_readiness(ctx)
        finally:
            await ctx.close()

    report = asyncio.run(go())
    assert not report.passed and report.applies is (sites == 1)
    record = ctx.journal.step(rd.PHASE, rd.STEP)
    assert record.status is StepStatus.FAILED and record.detail == report.summary()
    bitlocker = [c for c in report.checks if c.name == rd.BITLOCKER]
    assert len(bitlocker) == 4 and all(c.status is Status.FAIL for c in bitlocker)
