"""Solution-upgrade readiness: the environment checker's upgrade checks (seed 001, "Step 2: prepare for the
solution update"), read with plain cmdlets and judged here. Read-only: nothing is installed on the nodes.

:func:`evaluate` is pure: what was read in, check results out, each with its severity (``critical`` blocks,
``warning`` does not: a failed warning is ``WARN``), the reason (what was read, per node) and the remediation,
with hcitui's remedy where it has one (install the features, suspend BitLocker). :func:`run_readiness` reads
(per node: ``get_node_readiness`` and the Azure registration; cluster-wide: the nodes, ``get_cluster_readiness``)
and journals the outcome (phase 9, after the RUNBOOK's phase 8). A check whose read failed is ``UNKNOWN`` and
blocks, except a warning, which stays a warning.

On a stretched cluster the solution upgrade does not apply (seed 001: "the Arc solution enablement will not be
available"): the ``Stretched cluster`` check fails and :attr:`ReadinessReport.applies` is False.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hcitui.core import model
from hcitui.core.errors import Action, Remedy
from hcitui.core.journal import StepStatus
from hcitui.core.model.readiness import (
    INFRASTRUCTURE_VOLUME_BYTES,
    INFRASTRUCTURE_VOLUME_NAME,
    NETWORK_ATC,
    REQUIRED_OPTIONAL_FEATURES,
    REQUIRED_WINDOWS_FEATURES,
)
from hcitui.core.units import human_bytes
from hcitui.ps import Operation, reads
from hcitui.ps import readiness as readiness_ops
from hcitui.remote import NodeCall, NodeEvent, RemoteError
from hcitui.workflow import observe as observe_mod
from hcitui.workflow.checks import CheckResult, ChecksReport, Status
from hcitui.workflow.context import Context
from hcitui.workflow.observe import ClusterState, problem
from hcitui.workflow.steps import Plan
from hcitui.workflow.verify import checks_plan

# After phase 8 (the RUNBOOK numbers phases 0 to 8): the journal keeps the solution-upgrade preparation as 9.
PHASE = 9
STEP = "readiness"
CRITICAL, WARNING = "critical", "warning"

# Check names: the environment checker's (seed 001), and hcitui's own where it reads more.
OS_23H2 = "Windows OS is 23H2"
WINDOWS_FEATURES = "Required Windows features"
OPTIONAL_FEATURES = "Required optional features"
NETWORK_ATC_INSTALLED = "Network ATC feature is installed"
BITLOCKER = "BitLocker suspension"
WDAC = "WDAC enablement"
LANGUAGE = "Language is English"
AKS = "AKS HCI install state"
MOC_INSTALL = "MOC install state"
MOC_SERVICES = "MOC services running"
NODE_UP = "Cluster node is up"
REGISTERED = "Azure registration"
CLUSTER_EXISTS = "Cluster exists"
SAME_CLUSTER = "All nodes in same cluster"
STRETCHED = "Stretched cluster"
CLUSTER_NAME = "Cluster name length"
FUNCTIONAL_LEVEL = "Cluster functional level"
STORAGE_POOL = "Storage pool"
STORAGE_VOLUME = "Storage volume"
# The nine TPM warnings: Get-Tpm property -> (what it should be, its model field).
TPM_EXPECTED: dict[str, tuple[Any, str]] = {
    "OwnerClearDisabled": (False, "owner_clear_disabled"),
    "TpmReady": (True, "tpm_ready"),
    "TpmPresent": (True, "tpm_present"),
    "LockoutCount": (0, "lockout_count"),
    "TpmActivated": (True, "tpm_activated"),
    "ManagedAuthLevel": ("Full", "managed_auth_level"),
    "AutoProvisioning": ("Enabled", "auto_provisioning"),
    "LockedOut": (False, "locked_out"),
    "TpmEnabled": (True, "tpm_enabled"),
}
TPM_CHECKS = tuple(f"TPM {prop} is {expected}" for prop, (expected, _f) in TPM_EXPECTED.items())
NODE_CHECKS = (OS_23H2, NODE_UP, REGISTERED, WINDOWS_FEATURES, OPTIONAL_FEATURES, NETWORK_ATC_INSTALLED, BITLOCKER,
               WDAC, LANGUAGE, AKS, MOC_INSTALL, MOC_SERVICES, *TPM_CHECKS)
CLUSTER_CHECKS = (CLUSTER_EXISTS, SAME_CLUSTER, STRETCHED, CLUSTER_NAME, FUNCTIONAL_LEVEL, STORAGE_POOL,
                  STORAGE_VOLUME)
# One short word per node check, for a node table's columns (the TPM checks share one column).
READINESS_COLUMNS: dict[str, str] = {
    OS_23H2: "OS", NODE_UP: "Up", REGISTERED: "Azure", WINDOWS_FEATURES: "Feat", OPTIONAL_FEATURES: "OptF",
    NETWORK_ATC_INSTALLED: "ATC", BITLOCKER: "BitLk", WDAC: "WDAC", LANGUAGE: "Lang", AKS: "AKS", MOC_INSTALL: "MOC",
    MOC_SERVICES: "MOCsv", **{name: "TPM" for name in TPM_CHECKS},
}

NEW_BUILD, NEW_DISPLAY = model.UPGRADE_TO_BUILD, "23H2"
NEW_LEVEL = 12  # the functional level of 23H2, after Update-ClusterFunctionalLevel
# UNCONFIRMED: the Version string Get-StoragePool shows before and after Update-StoragePool on 23H2 (no public
# page shows it): a pool still on one of these was not updated.
OLD_POOL_VERSIONS = ("windows server 2012", "windows server 2012 r2", "windows server 2016", "windows server 2019",
                     "windows server 2022")
# NetBIOS names "consist of up to 15 bytes" (MicrosoftDocs/win32 desktop-src/SysInfo/computer-names.md).
NETBIOS_MAX = 15

READ_NOTES = (
    "Read with plain cmdlets, nothing installed on the nodes (the environment checker is not used).",
    "UNCONFIRMED: 'Language is English' is judged on the OS install language (Win32_OperatingSystem OSLanguage); "
    "the environment checker's own criterion is not public.",
    "UNCONFIRMED: the MOC service names (wssdagent, wssdcloudagent) and the pool Version strings before and after "
    "Update-StoragePool have no public source.",
    f"The 23H2 solution upgrade creates a {INFRASTRUCTURE_VOLUME_BYTES // 1000**3} GB infrastructure volume "
    f"({INFRASTRUCTURE_VOLUME_NAME}) in the pool (validate-solution-upgrade-readiness.md): the pool needs that much "
    "free space.",
)

POST_UPGRADE = Remedy("run the post-upgrade steps (Update-ClusterFunctionalLevel, then Update-StoragePool): "
                      "8) Post-upgrade or hcitui post-upgrade")
AKS_REMOVE = ("remove AKS hybrid and all its settings before the solution upgrade: Uninstall-AksHci "
              "(Kubernetes versions are incompatible between 22H2 and 23H2)")
NOT_STRETCHED_REASON = ("the solution upgrade does not apply to a stretched cluster: the Arc solution enablement "
                        "will not be available for it (seed 001)")


def _shorten(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _low(value: Any) -> str:
    return str(value or "").strip().lower()


def _features(rows: list[Any], wanted: tuple[str, ...], attr: str, state: str, ok: str,
              pending: str) -> tuple[list[str], list[str]]:
    """(missing with their state, pending a restart) of ``wanted`` in the rows read."""
    by_name = {_low(getattr(r, attr)): str(getattr(r, state) or "") for r in rows}
    missing, waiting = [], []
    for name in wanted:
        got = by_name.get(name.lower())
        if _low(got) == ok:
            continue
        if _low(got) == pending:
            waiting.append(name)
        else:
            missing.append(f"{name} ({got or 'not present'})")
    return missing, waiting


class _Judge:
    """Collects the check results of one evaluation."""

    def __init__(self) -> None:
        self.results: list[CheckResult] = []

    def add(self, name: str, node: str | None, status: Status, reason: str, remediation: str | None = None,
            remedy: Remedy | None = None, severity: str = CRITICAL) -> None:
        if severity == WARNING and status in (Status.FAIL, Status.UNKNOWN):
            status = Status.WARN
        self.results.append(CheckResult(name, node, status, reason, remediation, remedy=remedy, severity=severity))

    def unreadable(self, names: tuple[str, ...] | list[str], node: str | None, why: str, how: str,
                   severity: str = CRITICAL) -> None:
        for name in names:
            self.add(name, node, Status.UNKNOWN, why, how, severity=severity)


def _judge_node(j: _Judge, name: str, read: Any, levels: Counter[str]) -> None:
    """Every per-node check of ``get_node_readiness`` on one node."""
    err = problem(read)
    if err:
        j.unreadable([OS_23H2, WINDOWS_FEATURES, OPTIONAL_FEATURES, NETWORK_ATC_INSTALLED, BITLOCKER, WDAC, LANGUAGE,
                      AKS, MOC_INSTALL, MOC_SERVICES], name, err, "check that the node answers over WinRM")
        j.unreadable(list(TPM_CHECKS), name, err, "run Get-Tpm on the node", severity=WARNING)
        return
    # ---- OS, and the same update level on every node
    if read.os_error or read.current_build_number is None:
        j.add(OS_23H2, name, Status.UNKNOWN, f"could not read: {read.os_error or 'no build'}",
              "the build is read from the registry (CurrentVersion)")
    elif read.current_build_number == NEW_BUILD and _low(read.display_version) == NEW_DISPLAY.lower():
        common = levels.most_common(1)[0][0] if levels else read.build
        if len(levels) > 1 and read.build != common:
            j.add(OS_23H2, name, Status.FAIL, f"{read.build} (23H2), most nodes on {common}",
                  "bring every node to the same update level (the same cumulative update on each)")
        else:
            j.add(OS_23H2, name, Status.PASS, f"{read.build} ({read.display_version})")
    else:
        j.add(OS_23H2, name, Status.FAIL,
              f"{read.build} ({read.display_version or '?'}), not {NEW_BUILD} (23H2)",
              "upgrade the OS to 23H2 first: the CAU rolling upgrade (menu 5, CAU run), or this node by hand",
              Remedy(action=Action.NODE_UPGRADE, node=name))
    # ---- Windows features, optional features, Network ATC
    install = Remedy(action=Action.FEATURES_INSTALL, node=name)
    restart = Remedy(action=Action.NODE_RESTART, node=name)
    if read.features_error:
        j.unreadable([WINDOWS_FEATURES, NETWORK_ATC_INSTALLED], name, f"could not read: {read.features_error}",
                     "run Get-WindowsFeature on the node")
    else:
        missing, waiting = _features(read.features, REQUIRED_WINDOWS_FEATURES, "name", "install_state",
                                     "installed", "installpending")
        if missing:
            j.add(WINDOWS_FEATURES, name, Status.FAIL, f"missing: {_shorten(missing)}",
                  "install them (Install-WindowsFeature, some need a restart: drain the node first)", install)
        elif waiting:
            j.add(WINDOWS_FEATURES, name, Status.FAIL, f"restart pending: {_shorten(waiting)} (InstallPending)",
                  "restart the node (drained) to finish the install", restart)
        else:
            j.add(WINDOWS_FEATURES, name, Status.PASS, f"all {len(REQUIRED_WINDOWS_FEATURES)} installed")
        atc = next((str(f.install_state or "") for f in read.features if _low(f.name) == NETWORK_ATC.lower()), "")
        if _low(atc) == "installed":
            j.add(NETWORK_ATC_INSTALLED, name, Status.PASS, "NetworkATC Installed")
        elif _low(atc) == "installpending":
            j.add(NETWORK_ATC_INSTALLED, name, Status.FAIL, "NetworkATC InstallPending: restart pending",
                  "restart the node (drained) to finish the install", restart)
        else:
            j.add(NETWORK_ATC_INSTALLED, name, Status.FAIL, f"NetworkATC {atc or 'not present'}",
                  "install the NetworkATC feature (Install-WindowsFeature -Name NetworkATC)", install)
    if read.optional_features_error:
        j.add(OPTIONAL_FEATURES, name, Status.UNKNOWN, f"could not read: {read.optional_features_error}",
              "run Get-WindowsOptionalFeature -Online on the node")
    else:
        missing, waiting = _features(read.optional_features, REQUIRED_OPTIONAL_FEATURES, "feature_name", "state",
                                     "enabled", "enablepending")
        if missing:
            j.add(OPTIONAL_FEATURES, name, Status.FAIL, f"missing: {_shorten(missing)}",
                  "enable them (Enable-WindowsOptionalFeature -Online -All; some need a restart: drain first)",
                  install)
        elif waiting:
            j.add(OPTIONAL_FEATURES, name, Status.FAIL, f"restart pending: {_shorten(waiting)} (EnablePending)",
                  "restart the node (drained) to finish enabling them", restart)
        else:
            j.add(OPTIONAL_FEATURES, name, Status.PASS, f"all {len(REQUIRED_OPTIONAL_FEATURES)} enabled")
    # ---- BitLocker
    if read.bit_locker_error:
        j.add(BITLOCKER, name, Status.UNKNOWN, f"could not read: {read.bit_locker_error}",
              "run Get-BitLockerVolume on the node")
    else:
        protected = [v.mount_point for v in read.bit_locker if _low(v.protection_status) == "on"]
        if protected:
            j.add(BITLOCKER, name, Status.FAIL, f"protection On: {_shorten(protected)}",
                  f"suspend it with -RebootCount 0 (Suspend-BitLocker -MountPoint {protected[0]} -RebootCount 0) so "
                  "a restart during the upgrade does not stop at the recovery screen",
                  Remedy(action=Action.BITLOCKER_SUSPEND, node=name))
        elif read.bit_locker:
            j.add(BITLOCKER, name, Status.PASS,
                  "suspended: " + _shorten([f"{v.mount_point} {v.protection_status}" for v in read.bit_locker]))
        else:
            j.add(BITLOCKER, name, Status.PASS, "no BitLocker volumes")
    # ---- WDAC
    guard = read.device_guard
    if read.device_guard_error or guard is None:
        j.add(WDAC, name, Status.UNKNOWN, f"could not read: {read.device_guard_error or 'no Win32_DeviceGuard'}",
              "run Get-CimInstance -Namespace root\\Microsoft\\Windows\\DeviceGuard -ClassName Win32_DeviceGuard")
    else:
        kernel = guard.code_integrity_policy_enforcement_status
        user = guard.usermode_code_integrity_policy_enforcement_status
        if 2 in (kernel, user):
            j.add(WDAC, name, Status.FAIL, f"a WDAC policy is enforced (code integrity {kernel}, user mode {user})",
                  "remove the WDAC policies before the solution upgrade (Remove Windows Defender Application Control "
                  "policies); enable the 23H2 WDAC policies after it")
        elif 1 in (kernel, user):
            j.add(WDAC, name, Status.PASS, f"audit mode only (code integrity {kernel}, user mode {user})")
        else:
            j.add(WDAC, name, Status.PASS, "no WDAC policy enforced")
    # ---- Language
    lang = read.language
    if read.language_error or lang is None or lang.english is None:
        j.add(LANGUAGE, name, Status.UNKNOWN, f"could not read: {read.language_error or 'no OS language'}",
              "read Win32_OperatingSystem OSLanguage on the node")
    elif lang.english:
        j.add(LANGUAGE, name, Status.PASS,
              f"installed in English (LCID {lang.os_language}, locale {lang.system_locale})")
    else:
        j.add(LANGUAGE, name, Status.FAIL,
              f"installed in LCID {lang.os_language} (locale {lang.system_locale}), not English "
              "(criterion UNCONFIRMED)",
              "only clusters installed in English are eligible for the solution upgrade")
    # ---- AKS hybrid and MOC leftovers
    if read.aks_modules_error:
        j.unreadable([AKS, MOC_INSTALL], name, f"could not read: {read.aks_modules_error}",
                     "run Get-Module -ListAvailable AksHci, Moc on the node")
    else:
        modules = {_low(m.name): m for m in read.aks_modules}
        for check, module in ((AKS, "akshci"), (MOC_INSTALL, "moc")):
            found = modules.get(module)
            if found:
                version = f" {found.version}" if found.version else ""
                j.add(check, name, Status.FAIL, f"{found.name} module{version} installed", AKS_REMOVE)
            else:
                j.add(check, name, Status.PASS, f"no {'AksHci' if module == 'akshci' else 'Moc'} module")
    if read.moc_services_error:
        j.add(MOC_SERVICES, name, Status.UNKNOWN, f"could not read: {read.moc_services_error}",
              "run Get-Service wssdagent, wssdcloudagent on the node")
    else:
        running = [s.name for s in read.moc_services if _low(s.status) == "running"]
        if running:
            j.add(MOC_SERVICES, name, Status.FAIL, f"running: {_shorten(running)} (names UNCONFIRMED)", AKS_REMOVE)
        elif read.moc_services:
            j.add(MOC_SERVICES, name, Status.PASS,
                  "present, not running: " + _shorten([f"{s.name} {s.status}" for s in read.moc_services]))
        else:
            j.add(MOC_SERVICES, name, Status.PASS, "no MOC services")
    # ---- TPM (warnings)
    tpm = read.tpm
    for check, (prop, (expected, field)) in zip(TPM_CHECKS, TPM_EXPECTED.items(), strict=True):
        if read.tpm_error or tpm is None:
            j.add(check, name, Status.UNKNOWN, f"could not read: {read.tpm_error or 'no TPM data'}",
                  "run Get-Tpm on the node", severity=WARNING)
            continue
        value = getattr(tpm, field)
        good = _low(value) == _low(expected) if isinstance(expected, str) else value == expected
        if good:
            j.add(check, name, Status.PASS, f"{prop} {value}", severity=WARNING)
        else:
            j.add(check, name, Status.FAIL, f"{prop} {value}, not {expected}",
                  "address it after the upgrade to use 23H2's TPM-based capabilities (Get-Tpm)", severity=WARNING)


def evaluate(observed: ClusterState, cluster: Any, node_names: list[str], *, stretched: bool,
             members_expected: list[str] | None = None) -> list[CheckResult]:
    """Judge every readiness check. ``observed`` holds the nodes (``nodes``), and per node its ``registration``
    and its readiness read (``extra``); ``cluster`` is the ``get_cluster_readiness`` read (or its error).
    ``node_names`` are the nodes judged; ``members_expected`` every node of the config (default: the same),
    which "All nodes in same cluster" looks for in Get-ClusterNode."""
    j = _Judge()
    reads_by_node = {name: observed.node_part(name, "extra") for name in node_names}
    levels = Counter(r.build for r in reads_by_node.values()
                     if isinstance(r, model.NodeReadiness) and r.current_build_number == NEW_BUILD)
    nodes_err = problem(observed.nodes)
    members = {} if nodes_err else {n.name.lower(): n for n in observed.nodes}
    for name in node_names:
        _judge_node(j, name, reads_by_node[name], levels)
        # ---- Cluster node is up
        if nodes_err:
            j.add(NODE_UP, name, Status.UNKNOWN, nodes_err, "check that the cluster service answers (Get-ClusterNode)")
        else:
            node = members.get(name.lower())
            if node is None:
                j.add(NODE_UP, name, Status.FAIL, "not a member of the cluster",
                      "check the node list in the config against Get-ClusterNode")
            elif node.state == model.NodeState.UP:
                j.add(NODE_UP, name, Status.PASS, "Up")
            elif node.state == model.NodeState.PAUSED:
                j.add(NODE_UP, name, Status.FAIL, "Paused", "resume it", Remedy(action=Action.NODE_RESUME, node=name))
            else:
                j.add(NODE_UP, name, Status.FAIL, f"state {node.state}",
                      "bring the node back into the cluster (Start-ClusterNode) and wait until it is Up")
        # ---- Azure registration
        registration = observed.node_part(name, "registration")
        err = problem(registration)
        if err:
            j.add(REGISTERED, name, Status.UNKNOWN, err, "run Get-AzureStackHCI on the node")
        elif registration.registration_status == model.RegistrationStatus.REGISTERED:
            j.add(REGISTERED, name, Status.PASS, "Registered")
        else:
            j.add(REGISTERED, name, Status.FAIL, f"RegistrationStatus {registration.registration_status or 'empty'}",
                  "register the cluster with Azure (Register-AzStackHCI) before the solution upgrade")
    _judge_cluster(j, cluster, members_expected or node_names, members, nodes_err, stretched, observed)
    return j.results


def _judge_cluster(j: _Judge, cluster: Any, node_names: list[str], members: dict[str, Any], nodes_err: str | None,
                   stretched: bool, observed: ClusterState) -> None:
    err = problem(cluster)
    # ---- Cluster exists, all nodes in it, its name
    if err:
        j.unreadable([CLUSTER_EXISTS, CLUSTER_NAME, FUNCTIONAL_LEVEL], None, err, "run Get-Cluster on a node")
    elif cluster.cluster_error or not cluster.name:
        j.add(CLUSTER_EXISTS, None, Status.FAIL, f"Get-Cluster: {cluster.cluster_error or 'no cluster name'}",
              "the solution upgrade needs the nodes in a failover cluster")
        j.unreadable([CLUSTER_NAME, FUNCTIONAL_LEVEL], None, "Get-Cluster did not answer", "run Get-Cluster")
    else:
        j.add(CLUSTER_EXISTS, None, Status.PASS, cluster.name)
        length = len(cluster.name)
        if length <= NETBIOS_MAX:
            j.add(CLUSTER_NAME, None, Status.PASS, f"{cluster.name}: {length} characters")
        else:
            j.add(CLUSTER_NAME, None, Status.FAIL, f"{cluster.name}: {length} characters, more than a NetBIOS name's "
                  f"{NETBIOS_MAX}", "the cluster's name must be a valid NetBIOS name (15 characters at most)")
        level = cluster.functional_level
        if level is not None and level >= NEW_LEVEL:
            j.add(FUNCTIONAL_LEVEL, None, Status.PASS, f"{level}")
        else:
            j.add(FUNCTIONAL_LEVEL, None, Status.FAIL,
                  f"{level}, not {NEW_LEVEL} (after Update-ClusterFunctionalLevel)", POST_UPGRADE.text, POST_UPGRADE)
    if nodes_err:
        j.add(SAME_CLUSTER, None, Status.UNKNOWN, nodes_err, "run Get-ClusterNode")
    else:
        outside = [n for n in node_names if n.lower() not in members]
        if outside:
            j.add(SAME_CLUSTER, None, Status.FAIL, f"not in the cluster: {_shorten(outside)}",
                  "every node must be a member of the one cluster (Get-ClusterNode)")
        else:
            j.add(SAME_CLUSTER, None, Status.PASS, f"all {len(node_names)} nodes are members")
    # ---- Stretched cluster
    sites = sorted({s for n in (observed.nodes or []) if not nodes_err and (s := getattr(n, "site", None))})
    if stretched:
        where = f" (sites {', '.join(sites)})" if len(sites) > 1 else ""
        j.add(STRETCHED, None, Status.FAIL, f"stretched cluster{where}: {NOT_STRETCHED_REASON}",
              "stay on the 23H2 OS with Storage Replica; there is nothing to prepare")
    else:
        j.add(STRETCHED, None, Status.PASS, "not stretched (one site)")
    # ---- Storage pool: one non-primordial pool, updated, with room for the infrastructure volume
    if err or cluster.pools_error:
        j.add(STORAGE_POOL, None, Status.UNKNOWN, err or f"could not read: {cluster.pools_error}",
              "run Get-StoragePool -IsPrimordial $false")
    else:
        problems, facts = [], []
        pools = cluster.pools
        if len(pools) != 1:
            problems.append(f"{len(pools)} pools ({_shorten([p.friendly_name for p in pools])}), not exactly one")
        for pool in pools:
            if _low(pool.version) in OLD_POOL_VERSIONS or not pool.version:
                problems.append(f"{pool.friendly_name} version {pool.version or '?'} (not updated; UNCONFIRMED)")
            free = pool.free
            if free is None:
                problems.append(f"{pool.friendly_name} free space unknown")
            elif free < INFRASTRUCTURE_VOLUME_BYTES:
                problems.append(f"{pool.friendly_name} {human_bytes(free, '?')} free, the infrastructure volume "
                                f"needs {INFRASTRUCTURE_VOLUME_BYTES // 1000**3} GB")
            else:
                facts.append(f"{pool.friendly_name} {pool.version}, {human_bytes(free, '?')} free")
        if problems:
            updating = any("version" in p for p in problems)
            j.add(STORAGE_POOL, None, Status.FAIL, _shorten(problems, 2),
                  POST_UPGRADE.text if updating else "free space in the pool (thin-provision volumes, or add drives)",
                  POST_UPGRADE if updating else None)
        else:
            j.add(STORAGE_POOL, None, Status.PASS, "; ".join(facts))
    # ---- Storage volume: the name of the infrastructure volume is free
    if err or cluster.virtual_disks_error:
        j.add(STORAGE_VOLUME, None, Status.UNKNOWN, err or f"could not read: {cluster.virtual_disks_error}",
              "run Get-VirtualDisk")
    elif any(_low(d) == INFRASTRUCTURE_VOLUME_NAME.lower() for d in cluster.virtual_disks):
        j.add(STORAGE_VOLUME, None, Status.FAIL, f"a volume named {INFRASTRUCTURE_VOLUME_NAME} exists",
              f"rename it (Set-VirtualDisk -FriendlyName {INFRASTRUCTURE_VOLUME_NAME} -NewFriendlyName NAME); "
              "its VMs' paths change with the mount point")
    else:
        j.add(STORAGE_VOLUME, None, Status.PASS, f"no volume named {INFRASTRUCTURE_VOLUME_NAME}")


@dataclass
class ReadinessReport(ChecksReport):
    """Readiness passes with warnings (the TPM); on a stretched cluster it does not apply."""

    applies: bool = True

    def summary(self) -> str:
        if not self.applies:
            return "DOES NOT APPLY: " + NOT_STRETCHED_REASON
        if not self.passed:
            return super().summary()
        warn = self.counts()["warn"]
        return "PASSED" + (f" with {warn} warning{'s' if warn != 1 else ''}" if warn else "")

    def as_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "passed": self.passed,
            "applies": self.applies,
            "checks": [{"name": c.name, "node": c.node, "status": c.status.value, "severity": c.severity,
                        "reason": c.reason, "remedy": c.remediation or None} for c in self.checks],
        }


NODE_READS: list[Operation] = [readiness_ops.get_node_readiness, reads.get_azure_registration]
CLUSTER_READS: list[Operation] = [reads.get_cluster_nodes, readiness_ops.get_cluster_readiness]
OPERATIONS: list[Operation] = [*CLUSTER_READS, *NODE_READS]


def read_plan(ctx: Context, nodes: list[str] | None = None) -> Plan:
    """What the readiness checks read, as PowerShell: read-only, nothing installed."""
    plan = checks_plan(ctx, "Solution-upgrade readiness", CLUSTER_READS, [reads.get_azure_registration], nodes,
                       [(readiness_ops.get_node_readiness, readiness_ops.get_node_readiness.make_params({}))])
    plan.notes.extend(READ_NOTES)
    return plan


def _readiness_reader(timeout: float) -> Callable[[NodeCall], Any]:
    """observe()'s ``node_extra``: the node's readiness read (an error that leaves the node up is kept)."""

    async def read(call: NodeCall) -> Any:
        try:
            return await call.invoke(readiness_ops.get_node_readiness, None, timeout=timeout)
        except RemoteError as exc:
            if exc.outcome in ("unreachable", "rebooting", "timeout"):
                raise
            return exc

    return read


async def _cluster_read(ctx: Context) -> Any:
    try:
        return await ctx.client.invoke_cluster(readiness_ops.get_cluster_readiness,
                                               timeout=readiness_ops.get_cluster_readiness.timeout)
    except RemoteError as exc:
        return exc


async def run_readiness(ctx: Context, on_event: Callable[[NodeEvent], None] | None = None,
                        nodes: list[str] | None = None) -> ReadinessReport:
    """Read, judge, journal. Never raises for a node's or a read's failure: those become ``unknown``.
    ``nodes`` limits the per-node reads (and checks) to those nodes; the cluster-wide checks are always read."""
    started = datetime.now(UTC)
    names = list(nodes) if nodes else ctx.client.node_names
    ctx.journal.set_step(PHASE, STEP, None, StepStatus.RUNNING)
    try:
        timeout = max(ctx.cluster.timeouts.operation, readiness_ops.get_node_readiness.timeout)
        observed, cluster = await asyncio.gather(
            observe_mod.observe(ctx, ("nodes",), ("registration",), nodes=names, on_event=on_event,
                                node_extra=_readiness_reader(timeout)),
            _cluster_read(ctx))
        stretched = ctx.note_read(observed)
        checks = evaluate(observed, cluster, names, stretched=stretched, members_expected=ctx.client.node_names)
    except BaseException:
        ctx.journal.set_step(PHASE, STEP, None, StepStatus.UNKNOWN, "interrupted")
        raise
    report = ReadinessReport(ctx.name, checks, started, datetime.now(UTC), observed, applies=not stretched)
    ctx.journal.set_step(PHASE, STEP, None, StepStatus.DONE if report.passed else StepStatus.FAILED, report.summary())
    return report
