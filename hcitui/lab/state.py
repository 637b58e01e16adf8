"""The lab cluster's state: plain data, persisted as JSON between runs.

Everything that happens "later" (a node finishing its reboot, joining the cluster, a repair
job ending) is a :class:`Timer` stored in the state, not a closure, so a lab saved in the
middle of a reboot comes back in the middle of that reboot.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from hcitui.core.model.readiness import REQUIRED_OPTIONAL_FEATURES, REQUIRED_WINDOWS_FEATURES

GIB = 1024**3
TIB = 1024**4

OLD_BUILD = 20349
OLD_UBR = 2655
NEW_BUILD = 25398
NEW_UBR = 1913

# The lab's CAU coordinator: a management server outside the cluster (no node), which runs the CAU run as
# the update guide does. It is always there; hcitui uses it when its config names it (--lab does unless
# --lab-no-coordinator). The per-node fault knobs take its name (unreachable, http_500, auth_failure, hang).
COORDINATOR = "LAB-MGMT"


class Timings(BaseModel):
    """How long things take in the lab, in real seconds (fast time)."""

    reboot: float = 6.0  # restart until WinRM answers again
    cluster_join: float = 3.0  # WinRM answering until the cluster shows the node
    repair: float = 8.0  # repair storage job after a node rejoins
    sr_initial_sync: float = 12.0
    drain_step: float = 0.4  # live-migrating one role off a draining node
    os_install: float = 5.0  # setup.exe installing 23H2 before it restarts the node
    test_cluster: float = 3.0  # Test-Cluster validating everything
    stage_iso: float = 4.0  # mount, copy the ISO's contents, dismount
    cau_stage: float = 1.5  # one stage of a CAU run on a node (scan, stage; monthly updates install)
    cau_orchestrator_move: float = 2.0  # the CAU role moving nodes: Get-CauRun throws meanwhile


class Faults(BaseModel):
    """Fault knobs (RUNBOOK 5 and WINRM-LAB): set from tests and from ``lab serve``."""

    unreachable: list[str] = Field(default_factory=list)  # nodes that do not answer at all
    latency: float = 0.0  # seconds added to every request (WinRM endpoint)
    pool_open_delay: float = 0.0  # seconds to open a RunspacePool (WinRM endpoint)
    http_500: list[str] = Field(default_factory=list)
    auth_failure: list[str] = Field(default_factory=list)
    hang: list[str] = Field(default_factory=list)
    cau_fail_node: str | None = None
    # The manual upgrade (hcitui.lab.upgrade): setup on this node exits with setup_fail_code (unsigned, as
    # Windows writes it; default 0xC1900208 MOSETUP_E_COMPAT_INSTALLREQ_BLOCK) and the node is not upgraded.
    setup_fail_node: str | None = None
    setup_fail_code: int = 0xC1900208
    # Nodes where setup and the task's runner die before an exit code is recorded (the node never restarts).
    setup_dies: list[str] = Field(default_factory=list)
    # Solution-upgrade readiness: sections of get_node_readiness that fail on a node, as "NODE:Section"
    # ("LAB-A1:Tpm"; sections: Os, Features, OptionalFeatures, BitLocker, DeviceGuard, Language, Tpm, AksModules,
    # MocServices), as a missing module fails them on a real node.
    readiness_unreadable: list[str] = Field(default_factory=list)


class Timer(BaseModel):
    at: float
    kind: str
    node: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


SMALL_FILE_BYTES = 2 * 1024 * 1024  # files up to this size keep their content in the lab (Get-FileHash)
ISO_SIZE = 8 * 1024 * 1024  # the lab's stand-in for the 2509 ISO (a real one is ~6 GiB)
ISO_FILE_COUNT = 1187  # what the ISO holds once extracted
ISO_TOTAL_BYTES = 6_174_015_488


class StagedMedia(BaseModel):
    file_count: int
    total_bytes: int
    has_setup: bool = True


class LabSetupTask(BaseModel):
    """The "hcitui OS upgrade" scheduled task on one node, and what its runner recorded (hcitui.lab.upgrade)."""

    media: str
    state: str = "Running"  # Get-ScheduledTask State: Running while the runner waits on setup, then Ready
    last_run: float
    last_result: int = 0x41301  # Get-ScheduledTaskInfo LastTaskResult: SCHED_S_TASK_RUNNING while it runs
    runner_started: float | None = None
    exit_code: int | None = None  # setup's exit code as the runner records it (a signed Int32)
    finished: float | None = None


# Solution-upgrade readiness (the environment checker's checks, seed 001 "Step 2: prepare for the solution update"):
# every node starts with seed 001's Windows features installed and its optional features enabled.
# What installing one needs in the lab: these come into force only at the node's next boot (RestartNeeded Yes).
# UNCONFIRMED which of seed 001's features need a restart on a real node (seed 001 says only "Some of them do
# require a restart"); the lab takes the Microsoft Defender Antivirus feature as one (Microsoft's "reinstall
# Microsoft Defender Antivirus on Windows Server" guidance restarts the server after Install-WindowsFeature).
RESTART_FEATURES = ("Windows-Defender", "Microsoft-Hyper-V", "Microsoft-Hyper-V-Online", "BitLocker")


class LabBitLocker(BaseModel):
    """One BitLocker volume of a node (Get-BitLockerVolume)."""

    volume_status: str = "FullyEncrypted"
    protection_status: str = "On"  # On, Off (Suspend-BitLocker turns protection Off)
    volume_type: str = "OperatingSystem"
    suspended_reboots: int | None = None  # None: not suspended; 0: suspended until Resume-BitLocker


class LabTpm(BaseModel):
    """Get-Tpm's nine properties the environment checker warns on (seed 001's TPM Warning table)."""

    tpm_present: bool = True
    tpm_ready: bool = True
    tpm_enabled: bool = True
    tpm_activated: bool = True
    owner_clear_disabled: bool = False
    managed_auth_level: str = "Full"
    auto_provisioning: str = "Enabled"
    locked_out: bool = False
    lockout_count: int = 0


def _installed_features() -> dict[str, str]:
    return {name: "Installed" for name in REQUIRED_WINDOWS_FEATURES}


def _enabled_optional_features() -> dict[str, str]:
    return {name: "Enabled" for name in REQUIRED_OPTIONAL_FEATURES}


def _bitlocker_on() -> dict[str, LabBitLocker]:
    return {"C:": LabBitLocker()}


class LabNode(BaseModel):
    name: str
    id: str
    site: str
    build: int = OLD_BUILD
    ubr: int = OLD_UBR
    display_version: str = "22H2"
    product_name: str = "Azure Stack HCI"
    power: Literal["on", "rebooting"] = "on"
    upgrading: bool = False  # setup is installing the new OS; the next boot comes up on it
    cluster_state: str = "Up"  # Up, Down, Paused, Joining
    drain_status: str = "NotInitiated"
    last_boot: float = 0.0
    # Registry as configured now, and as the running kernel read it at last boot.
    refs_metadata_validation: int | None = None
    vid_parameters_key: bool = False
    skip_small_local_allocations: int | None = None
    refs_effective: int | None = None
    skip_effective: int | None = None
    secure_boot: str = "On"
    registration_status: str = "Registered"
    connection_status: str = "Connected"
    files: dict[str, int] = Field(default_factory=dict)  # path -> size in bytes (-1 = folder)
    staged: dict[str, StagedMedia] = Field(default_factory=dict)  # staging folder -> what was extracted there
    setup_task: LabSetupTask | None = None  # the manual upgrade's scheduled task (hcitui.lab.upgrade)
    setup_errors: list[str] = Field(default_factory=list)  # setuperr.log in $WINDOWS.~BT\Sources\Panther
    # Solution-upgrade readiness (hcitui.lab.readiness answers the reads and the remedies).
    features: dict[str, str] = Field(default_factory=_installed_features)  # Get-WindowsFeature Name -> InstallState
    optional_features: dict[str, str] = Field(default_factory=_enabled_optional_features)  # FeatureName -> State
    bitlocker: dict[str, LabBitLocker] = Field(default_factory=_bitlocker_on)  # mount point ("C:") -> volume
    wdac_enforcement: int = 0  # Win32_DeviceGuard CodeIntegrityPolicyEnforcementStatus: 0 off, 1 audit, 2 enforced
    system_locale: str = "en-US"  # Get-WinSystemLocale Name
    ui_language: str = "en-US"  # the OS install language (Win32_OperatingSystem OSLanguage; Get-Culture)
    tpm: LabTpm = Field(default_factory=LabTpm)
    aks_modules: list[str] = Field(default_factory=list)  # AKS hybrid leftovers: AksHci, Moc (Get-Module)
    moc_services: dict[str, str] = Field(default_factory=dict)  # MOC service name -> Status (Get-Service)
    # Features installed whose install said RestartNeeded: Installed/Enabled at the node's next boot.
    restart_pending_features: list[str] = Field(default_factory=list)
    # Fast offline update (hcitui.lab.offline): the cluster service's start type (a node that boots with it
    # Disabled stays out of the cluster), the update packages by KB ("InstallPending" until the next boot, then
    # "Installed"; Get-HotFix lists only those), and the content of small files copied to the node (base64, up
    # to SMALL_FILE_BYTES) so Get-FileHash can answer for them.
    cluster_service_start: str = "Automatic"
    updates: dict[str, str] = Field(default_factory=dict)
    small_files: dict[str, str] = Field(default_factory=dict)


class LabGroup(BaseModel):
    name: str
    group_type: str
    owner: str
    preferred_owner: str | None = None
    state: str = "Online"
    dynamic_memory: bool = False  # virtual machines only
    vm_version: str = "10.0"  # virtual machines only: configuration version


class LabCsv(BaseModel):
    name: str  # "Cluster Virtual Disk (SiteA-Data01)"
    friendly: str  # "SiteA-Data01"
    site: str
    refs: bool = True
    unavailable: bool = False  # the ReFS trap


class LabDisk(BaseModel):
    friendly_name: str
    site: str


class LabPool(BaseModel):
    friendly_name: str
    site: str
    version: str = "Windows Server 2022"
    # Solution-upgrade readiness: Get-StoragePool Size and AllocatedSize (room for the 250 GB infrastructure volume).
    size: int = 16 * TIB
    allocated_size: int = 9 * TIB


class LabReplica(BaseModel):
    data_volume: str
    partition_id: str
    partition_size: int


class LabSRGroup(BaseModel):
    name: str
    site: str
    id: str
    replication_mode: str = "Synchronous"
    log_size_in_bytes: int = 8 * GIB
    log_volume: str
    async_rpo: int = 30
    is_primary: bool
    replicas: list[LabReplica]
    status: str = "ContinuouslyReplicating"
    sync_started: float | None = None  # initial block copy under way since
    is_encrypted: bool = False
    consistency_groups: bool = False  # Get-SRGroup's IsWriteConsistency


class LabPartnership(BaseModel):
    source_rg: str
    destination_rg: str
    id: str


class LabStorageJob(BaseModel):
    name: str
    site: str
    started: float
    duration: float
    bytes_total: int


class LabCauStatus(BaseModel):
    node: str
    status: str  # Waiting, Scanning, Staging, Suspending, Installing, Restarting, Resuming, Succeeded, ...
    timestamp: float


class LabCauResult(BaseModel):
    node: str
    status: str  # Succeeded, Failed, Canceled
    error: str | None = None


class LabCauRun(BaseModel):
    """One Cluster-Aware Updating run in the lab (hcitui.lab.cau drives it with timers)."""

    run_id: str
    plugin: str  # RollingUpgrade, WindowsUpdate
    media_path: str | None = None
    update_functional_level: bool = False
    max_failed_nodes: int = 1
    max_retries_per_node: int = 3
    started: float
    finished: float | None = None
    state: str = "RunInProgress"  # RunInProgress, RunFailed (stale until -ForceRecovery), RunNotInProgress
    outcome: str | None = None  # as the report says: Succeeded, Failed, Canceled
    orchestrator: str | None = None
    orchestrator_moving_until: float = 0.0
    coordinator: str | None = None  # started from the CAU coordinator (remote-updating): it orchestrates
    cancel_pending: bool = False
    order: list[str] = Field(default_factory=list)
    current: str | None = None  # the node being updated
    stage: str | None = None
    attempt: int = 0
    statuses: list[LabCauStatus] = Field(default_factory=list)
    results: list[LabCauResult] = Field(default_factory=list)


class LabCau(BaseModel):
    remoting: list[str] = Field(default_factory=list)  # nodes where Enable-PSRemoting has run
    run: LabCauRun | None = None  # in progress, or failed and stale
    reports: list[LabCauRun] = Field(default_factory=list)  # finished runs, oldest first (Get-CauReport)


class LabState(BaseModel):
    schema_version: int = 1
    cluster_name: str = "LAB-STRETCH"  # STRETCHED_CLUSTER, or SINGLE_CLUSTER for the one-site lab
    timings: Timings = Field(default_factory=Timings)
    faults: Faults = Field(default_factory=Faults)
    nodes: dict[str, LabNode]
    groups: list[LabGroup]
    csvs: list[LabCsv]
    disks: list[LabDisk]
    pools: list[LabPool]
    sr_groups: list[LabSRGroup]
    partnerships: list[LabPartnership]
    storage_jobs: list[LabStorageJob] = Field(default_factory=list)
    timers: list[Timer] = Field(default_factory=list)
    sr_volumes: dict[str, str] = Field(default_factory=dict)  # SR-usable volume path -> site (lab/sr.py)
    cau_role: bool = True
    cau_self_updating: bool = True  # the role's self-updating mode (the manual path disables it)
    cau: LabCau = Field(default_factory=LabCau)  # remoting and the CAU runs (hcitui.lab.cau)
    functional_level: int = 11  # 22H2; every node on 23H2 supports 12
    # Fast offline update (hcitui.lab.offline): the cluster stopped (Stop-Cluster), the CSV resources taken
    # offline, the groups that were Online when it stopped (they come back when it starts), the VMs whose
    # storage went offline with the CSVs (back when the CSVs are online again), the pool unhealthy after a start.
    cluster_stopped: bool = False
    offline_csvs: list[str] = Field(default_factory=list)
    groups_before_stop: list[str] = Field(default_factory=list)
    vms_without_storage: list[str] = Field(default_factory=list)
    pool_settling_until: float = 0.0
    iso_path: str = r"C:\ISO\AzureLocal-2509-25398.iso"
    staging_path: str = r"C:\SetupFiles\AzureLocal-23H2"

    @property
    def stretched(self) -> bool:
        """Nodes in two sites (the stretched lab); one site: no Site fault domain, no Storage Replica."""
        return len({n.site for n in self.nodes.values()}) > 1


def _guid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "hcitui-lab:" + seed))


def _volume_path(seed: str) -> str:
    return "\\\\?\\Volume{" + _guid(seed) + "}\\"


STRETCHED_CLUSTER = "LAB-STRETCH"  # the two-site lab (SiteA, SiteB, Storage Replica between them)
SINGLE_CLUSTER = "LAB-SINGLE"  # the one-site lab: one pool, no Storage Replica
SINGLE_SITE = "Site1"  # the one-site lab's site, as the lab keeps it (no node reports a Site fault domain)


def cluster_name(sites: int = 2) -> str:
    """The lab cluster's name for ``sites`` (1 or 2): its lab file and journal are named after it."""
    if sites not in (1, 2):
        raise ValueError("the lab has one site or two")
    return SINGLE_CLUSTER if sites == 1 else STRETCHED_CLUSTER


def node_names(count: int, sites: int = 2) -> list[str]:
    """Two sites: ``LAB-A1..`` then ``LAB-B1..``, split evenly (``count`` even, 2 to 16). One site:
    ``LAB-N1..LAB-Nn`` (``count`` 2 to 16)."""
    cluster_name(sites)
    if sites == 1:
        if count < 2 or count > 16:
            raise ValueError("the one-site lab takes 2 to 16 nodes")
        return [f"LAB-N{i}" for i in range(1, count + 1)]
    if count < 2 or count > 16 or count % 2:
        raise ValueError("the lab takes an even number of nodes from 2 to 16")
    half = count // 2
    return [f"LAB-A{i}" for i in range(1, half + 1)] + [f"LAB-B{i}" for i in range(1, half + 1)]


def _readiness_faults(nodes: dict[str, LabNode], names: list[str]) -> None:
    """The designed readiness failures of a fresh lab (single-site and stretched alike): BitLocker protection On
    on every node's C: (LabNode's default; critical), on the second node the Windows feature NetworkATC missing
    (Available: installed without a restart; the optional feature of the same name follows it) and the optional
    feature Windows-Defender Disabled (its install needs a restart: RESTART_FEATURES), and on the first node a TPM
    LockoutCount of 2 (a warning only). Everything else passes."""
    second = nodes[names[1]]
    second.features["NetworkATC"] = "Available"
    second.optional_features["NetworkATC"] = "Disabled"
    second.optional_features["Windows-Defender"] = "Disabled"
    nodes[names[0]].tpm.lockout_count = 2


def build_lab(node_count: int = 4, *, now: float = 0.0, iso_missing_on: str | None = "last",
              sites: int = 2) -> LabState:
    """A fresh cluster on 22H2. Two sites (the default): stretched, CSVs per site, VMs, two SR partnerships.
    One site: LAB-SINGLE, one pool, CSVs and VMs, no Storage Replica."""
    if sites == 1:
        return _build_single(node_count, now=now, iso_missing_on=iso_missing_on)
    names = node_names(node_count)
    site_a = [n for n in names if n.startswith("LAB-A")]
    site_b = [n for n in names if n.startswith("LAB-B")]
    state_iso = LabState.model_fields["iso_path"].default
    nodes = {}
    for index, name in enumerate(names, start=1):
        nodes[name] = LabNode(
            name=name,
            id=str(index),
            site="SiteA" if name in site_a else "SiteB",
            last_boot=now - 86400 * 12,
            files={state_iso: ISO_SIZE},
        )
    # The ISO is missing on one node: the operator must notice and copy it (RUNBOOK 5).
    if iso_missing_on == "last":
        nodes[names[-1]].files.pop(state_iso)
    _readiness_faults(nodes, names)

    groups = [
        LabGroup(name="Cluster Group", group_type="Cluster", owner=site_a[0]),
        LabGroup(name="Available Storage", group_type="AvailableStorage", owner=site_b[0]),
        LabGroup(name="Cloud Management", group_type="GenericService", owner=site_a[0]),
        LabGroup(name="LAB-STRETCH-CAU", group_type="ClusterAwareUpdatingResource", owner=site_b[0]),
    ]
    vm_plan = [
        ("VM-A01", "SiteA", True),
        ("VM-A02", "SiteA", False),
        ("VM-A03", "SiteA", True),
        ("VM-B01", "SiteB", True),
        ("VM-B02", "SiteB", False),
    ]
    for index, (vm, site, dynamic) in enumerate(vm_plan):
        pool = site_a if site == "SiteA" else site_b
        owner = pool[index % len(pool)]
        groups.append(
            LabGroup(name=vm, group_type="VirtualMachine", owner=owner, preferred_owner=owner, dynamic_memory=dynamic)
        )

    csvs = [
        LabCsv(name="Cluster Virtual Disk (SiteA-Data01)", friendly="SiteA-Data01", site="SiteA"),
        LabCsv(name="Cluster Virtual Disk (SiteA-Data02)", friendly="SiteA-Data02", site="SiteA"),
        LabCsv(name="Cluster Virtual Disk (SiteB-Data01)", friendly="SiteB-Data01", site="SiteB"),
    ]
    disks = [LabDisk(friendly_name=c.friendly, site=c.site) for c in csvs] + [
        LabDisk(friendly_name=name, site=site)
        for name, site in [
            ("SiteA-Log01", "SiteA"),
            ("SiteA-Log02", "SiteA"),
            ("SiteB-Replica01", "SiteB"),
            ("SiteB-Replica02", "SiteB"),
            ("SiteB-Log01", "SiteB"),
            ("SiteB-Log02", "SiteB"),
        ]
    ]
    pools = [LabPool(friendly_name="Pool-SiteA", site="SiteA"), LabPool(friendly_name="Pool-SiteB", site="SiteB")]

    sr_groups, partnerships = [], []
    for number in ("01", "02"):
        size = 2 * TIB
        source = LabSRGroup(
            name=f"SiteA-Data{number}-RG",
            site="SiteA",
            id=_guid(f"rg-a-{number}"),
            log_volume=_volume_path(f"log-a-{number}"),
            is_primary=True,
            replicas=[
                LabReplica(
                    data_volume=f"C:\\ClusterStorage\\SiteA-Data{number}",
                    partition_id=_guid(f"part-a-{number}"),
                    partition_size=size,
                )
            ],
        )
        destination = LabSRGroup(
            name=f"SiteB-Replica{number}-RG",
            site="SiteB",
            id=_guid(f"rg-b-{number}"),
            log_volume=_volume_path(f"log-b-{number}"),
            is_primary=False,
            replicas=[
                LabReplica(
                    data_volume=_volume_path(f"data-b-{number}"),
                    partition_id=_guid(f"part-b-{number}"),
                    partition_size=size,
                )
            ],
        )
        sr_groups += [source, destination]
        partnerships.append(
            LabPartnership(source_rg=source.name, destination_rg=destination.name, id=_guid(f"partnership-{number}"))
        )

    return LabState(
        nodes=nodes,
        groups=groups,
        csvs=csvs,
        disks=disks,
        pools=pools,
        sr_groups=sr_groups,
        partnerships=partnerships,
    )


def _build_single(node_count: int, *, now: float, iso_missing_on: str | None) -> LabState:
    """The one-site lab: every node in one site, one pool, CSVs and VMs spread over the nodes, no SR."""
    names = node_names(node_count, sites=1)
    state_iso = LabState.model_fields["iso_path"].default
    nodes = {name: LabNode(name=name, id=str(index), site=SINGLE_SITE, last_boot=now - 86400 * 12,
                           files={state_iso: ISO_SIZE})
             for index, name in enumerate(names, start=1)}
    if iso_missing_on == "last":
        nodes[names[-1]].files.pop(state_iso)
    _readiness_faults(nodes, names)
    groups = [
        LabGroup(name="Cluster Group", group_type="Cluster", owner=names[0]),
        LabGroup(name="Available Storage", group_type="AvailableStorage", owner=names[-1]),
        LabGroup(name="Cloud Management", group_type="GenericService", owner=names[0]),
        LabGroup(name=f"{SINGLE_CLUSTER}-CAU", group_type="ClusterAwareUpdatingResource", owner=names[-1]),
    ]
    for index, (vm, dynamic) in enumerate([("VM-01", True), ("VM-02", False), ("VM-03", True), ("VM-04", False)]):
        owner = names[index % len(names)]
        groups.append(LabGroup(name=vm, group_type="VirtualMachine", owner=owner, preferred_owner=owner,
                               dynamic_memory=dynamic))
    csvs = [LabCsv(name=f"Cluster Virtual Disk (Data0{i})", friendly=f"Data0{i}", site=SINGLE_SITE) for i in (1, 2)]
    return LabState(
        cluster_name=SINGLE_CLUSTER,
        nodes=nodes,
        groups=groups,
        csvs=csvs,
        disks=[LabDisk(friendly_name=c.friendly, site=SINGLE_SITE) for c in csvs],
        pools=[LabPool(friendly_name="Pool-01", site=SINGLE_SITE)],
        sr_groups=[],
        partnerships=[],
    )
