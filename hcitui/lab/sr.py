"""Storage Replica changes in the lab: removal, and recreation with its initial block copy.

``Remove-SRPartnership`` takes the partnership and the destination group away; the source group
stays (NotInPartnership). ``New-SRPartnership`` validates like a real host (known volumes in the
right site, no partnership or group in the way, log size at least 512 MiB, AsyncRPO at least 30 s),
creates the destination group and starts its initial block copy: the destination is
InitialBlockCopy with NumOfBytesRemaining falling (computed by ``get_sr_groups`` from
``sync_started``), and ``timings.sr_initial_sync`` later both groups are ContinuouslyReplicating.

The prompt trap (RUNBOOK 5): ``Remove-SRPartnership`` without ``-Force`` asks for confirmation, and
a remote pipeline has no one to answer. The lab's front door (``lab.frontdoor``) refuses such a
script before this handler runs, as it does for every cmdlet whose page says it asks.
"""

from __future__ import annotations

import uuid
from typing import Any

from hcitui.lab.cluster import HANDLERS, Lab, LabNode, LabPowerShellError, Timer, handles, on_timer
from hcitui.lab.state import GIB, LabPartnership, LabReplica, LabSRGroup

MIN_LOG_SIZE = 512 * 1024**2
MIN_ASYNC_RPO = 30
DEFAULT_LOG_SIZE = 8 * GIB
CSV_PREFIX = "c:\\clusterstorage\\"
CSV_SIZE = 2 * 1024**4


def _norm(path: str) -> str:
    return path.strip().rstrip("\\").lower()


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").lower() == (b or "").lower()


def _volumes(lab: Lab) -> dict[str, str]:
    """Every volume SR may use, normalised path -> site: the CSVs, and the Available Storage volumes
    the lab's groups were built on (noted the first time so they stay known once a group is gone)."""
    known = lab.state.sr_volumes
    if not known:
        for group in lab.state.sr_groups:
            known[_norm(group.log_volume)] = group.site
            for replica in group.replicas:
                known[_norm(replica.data_volume)] = group.site
        lab.changed()
    out = dict(known)
    for csv in lab.state.csvs:
        out[_norm(f"C:\\ClusterStorage\\{csv.friendly}")] = csv.site
    return out


def _group(lab: Lab, name: str) -> LabSRGroup | None:
    return next((g for g in lab.state.sr_groups if _same(g.name, name)), None)


def _computer(lab: Lab, name: str, what: str) -> LabNode:
    node = next((n for n in lab.state.nodes.values() if _same(n.name, name)), None)
    if node is None:
        raise LabPowerShellError(f"{what} : The computer '{name}' could not be contacted or is not a member of "
                                 f"cluster {lab.state.cluster_name}.")
    return node


@handles("remove_sr_partnership")
def _remove_sr_partnership(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    source_rg, destination_rg = params["SourceRGName"], params["DestinationRGName"]
    what = "Remove-SRPartnership"
    source = _group(lab, source_rg)
    if source is None:
        raise LabPowerShellError(f"{what} : Unable to find replication group {source_rg}.")
    partnership = next((p for p in lab.state.partnerships
                        if _same(p.source_rg, source_rg) and _same(p.destination_rg, destination_rg)), None)
    if partnership is None:
        raise LabPowerShellError(f"{what} : There is no partnership between replication group {source_rg} and "
                                 f"replication group {destination_rg}.")
    destination = _group(lab, partnership.destination_rg)
    for key, group in (("SourceComputerName", source), ("DestinationComputerName", destination)):
        name = params.get(key)
        if name and group is not None and _computer(lab, name, what).site != group.site:
            raise LabPowerShellError(f"{what} : Replication group {group.name} is not on computer {name}.")
    _volumes(lab)  # note the destination's volumes before its group goes
    lab.changed()
    lab.state.partnerships.remove(partnership)
    if destination is not None:
        lab.state.sr_groups.remove(destination)
    source.status, source.sync_started = "NotInPartnership", None
    return HANDLERS["get_sr_partnerships"](lab, node, {})


def _check_volume(known: dict[str, str], path: str, site: str, role: str, what: str) -> None:
    where = known.get(_norm(path))
    if where is None:
        raise LabPowerShellError(f"{what} : The {role} volume {path} was not found.")
    if where != site:
        raise LabPowerShellError(f"{what} : The {role} volume {path} is not available on a node of {site}.")


def _in_use(lab: Lab, path: str, except_group: LabSRGroup | None) -> str | None:
    for group in lab.state.sr_groups:
        if group is except_group:
            continue
        if _norm(group.log_volume) == _norm(path) or any(_norm(r.data_volume) == _norm(path) for r in group.replicas):
            return group.name
    return None


@handles("new_sr_partnership")
def _new_sr_partnership(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    what = "New-SRPartnership"
    mode = str(params.get("ReplicationMode") or "Synchronous")
    mode = next((m for m in ("Synchronous", "Asynchronous") if _same(m, mode)), None) or ""
    if not mode:
        raise LabPowerShellError(f"{what} : Cannot convert value \"{params.get('ReplicationMode')}\" to type "
                                 "ReplicationMode: use Synchronous or Asynchronous.")
    log_size = int(params["LogSizeInBytes"]) if params.get("LogSizeInBytes") is not None else DEFAULT_LOG_SIZE
    if log_size < MIN_LOG_SIZE:
        raise LabPowerShellError(f"{what} : The log size {log_size} bytes is too small: the minimum is 512 MB "
                                 f"({MIN_LOG_SIZE} bytes).")
    rpo = params.get("AsyncRPO")
    if mode == "Asynchronous" and rpo is not None and int(rpo) < MIN_ASYNC_RPO:
        raise LabPowerShellError(f"{what} : AsyncRPO {rpo} is too small: the minimum is {MIN_ASYNC_RPO} seconds.")
    source_node = _computer(lab, params.get("SourceComputerName") or node.name, what)
    destination_node = _computer(lab, params["DestinationComputerName"], what)
    if source_node.site == destination_node.site:
        raise LabPowerShellError(f"{what} : {source_node.name} and {destination_node.name} are in the same site: "
                                 "a stretched partnership replicates from one site to the other.")
    source_rg, destination_rg = params["SourceRGName"], params["DestinationRGName"]
    for p in lab.state.partnerships:
        if _same(p.source_rg, source_rg) or _same(p.destination_rg, destination_rg) \
                or _same(p.source_rg, destination_rg) or _same(p.destination_rg, source_rg):
            raise LabPowerShellError(f"{what} : The partnership between {p.source_rg} and {p.destination_rg} "
                                     "already exists.")
    if _group(lab, destination_rg) is not None:
        raise LabPowerShellError(f"{what} : The replication group {destination_rg} already exists.")

    source_volumes, destination_volumes = list(params["SourceVolumeName"]), list(params["DestinationVolumeName"])
    if len(source_volumes) != len(destination_volumes):
        raise LabPowerShellError(f"{what} : {len(source_volumes)} source volumes and {len(destination_volumes)} "
                                 "destination volumes: each source volume needs its destination volume.")
    known = _volumes(lab)
    for path in source_volumes:
        _check_volume(known, path, source_node.site, "source data", what)
    _check_volume(known, params["SourceLogVolumeName"], source_node.site, "source log", what)
    for path in destination_volumes:
        _check_volume(known, path, destination_node.site, "destination data", what)
    _check_volume(known, params["DestinationLogVolumeName"], destination_node.site, "destination log", what)

    source = _group(lab, source_rg)
    if source is not None:
        same_volumes = sorted(_norm(r.data_volume) for r in source.replicas) == sorted(map(_norm, source_volumes))
        if not same_volumes or _norm(source.log_volume) != _norm(params["SourceLogVolumeName"]):
            raise LabPowerShellError(f"{what} : The replication group {source.name} already exists with other "
                                     "volumes.")
    for path in [*source_volumes, params["SourceLogVolumeName"], *destination_volumes,
                 params["DestinationLogVolumeName"]]:
        holder = _in_use(lab, path, source)
        if holder is not None:
            raise LabPowerShellError(f"{what} : The volume {path} is already in replication group {holder}.")

    lab.changed()
    if source is None:
        source = LabSRGroup(
            name=source_rg, site=source_node.site, id=str(uuid.uuid4()), log_volume=params["SourceLogVolumeName"],
            is_primary=True,
            replicas=[LabReplica(data_volume=v, partition_id=str(uuid.uuid4()), partition_size=CSV_SIZE)
                      for v in source_volumes])
        lab.state.sr_groups.append(source)
    sizes = {_norm(r.data_volume): r.partition_size for r in source.replicas}
    destination = LabSRGroup(
        name=destination_rg, site=destination_node.site, id=str(uuid.uuid4()),
        log_volume=params["DestinationLogVolumeName"], is_primary=False,
        replicas=[LabReplica(data_volume=d, partition_id=str(uuid.uuid4()),
                             partition_size=sizes.get(_norm(s), CSV_SIZE))
                  for s, d in zip(source_volumes, destination_volumes)])
    lab.state.sr_groups.append(destination)
    for group in (source, destination):
        group.replication_mode = mode
        group.log_size_in_bytes = log_size
        group.async_rpo = int(rpo) if mode == "Asynchronous" and rpo is not None else group.async_rpo
        group.is_encrypted = bool(params.get("EnableEncryption"))
        group.consistency_groups = bool(params.get("EnableConsistencyGroups"))
    seeded = bool(params.get("Seeded"))
    partnership = LabPartnership(source_rg=source.name, destination_rg=destination.name, id=str(uuid.uuid4()))
    lab.state.partnerships.append(partnership)
    if seeded:  # the destination already holds the data: only the differences are copied, at once here
        source.status = destination.status = "ContinuouslyReplicating"
        source.sync_started = destination.sync_started = None
    else:
        source.status = destination.status = "InitialBlockCopy"
        source.sync_started, destination.sync_started = None, lab.now
        lab.schedule(lab.state.timings.sr_initial_sync, "sr_initial_sync_done", None, group_id=destination.id,
                     source_id=source.id)
    rows = HANDLERS["get_sr_partnerships"](lab, node, {})
    return next(r for r in rows if r["Id"] == partnership.id)


@on_timer("sr_initial_sync_done")
def _initial_sync_done(lab: Lab, timer: Timer) -> None:
    for group in lab.state.sr_groups:
        if group.id in (timer.data.get("group_id"), timer.data.get("source_id")) and group.status == "InitialBlockCopy":
            group.status, group.sync_started = "ContinuouslyReplicating", None
