"""Storage Replica: replication groups, their replicas and partnerships."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from hcitui.core.model.base import PSDateTime, PSEnum, PSModel, _as_list, open_enum


class ReplicationMode(PSEnum):
    SYNCHRONOUS = "Synchronous"
    ASYNCHRONOUS = "Asynchronous"


class ReplicationStatus(PSEnum):
    CONTINUOUSLY_REPLICATING = "ContinuouslyReplicating"
    WAITING_FOR_QUORUM = "WaitingForQuorum"
    RECOVERING_FROM_REPLICATION_LOG = "RecoveringFromReplicationLog"
    FAILED = "Failed"
    REPLICATION_SUSPENDED = "ReplicationSuspended"
    CONNECTING_TO_SOURCE = "ConnectingToSource"
    WAITING_FOR_DESTINATION = "WaitingForDestination"
    LOG_RECORD_COPY_FROM_SOURCE = "LogRecordCopyFromSource"
    BLOCK_COPY_FROM_SOURCE = "BlockCopyFromSource"
    INITIAL_BLOCK_COPY = "InitialBlockCopy"
    CONTINUOUSLY_REPLICATING_OUT_OF_RPO = "ContinuouslyReplicating_OutOfRPO"
    CONTINUOUSLY_REPLICATING_IN_RPO = "ContinuouslyReplicating_InRPO"
    LOG_RECORD_COPY_TO_DESTINATION = "LogRecordCopyToDestination"
    BLOCK_COPY_TO_DESTINATION = "BlockCopyToDestination"
    NOT_IN_PARTNERSHIP = "NotInPartnership"


REPLICATING_STATES = frozenset(
    {
        ReplicationStatus.CONTINUOUSLY_REPLICATING,
        ReplicationStatus.CONTINUOUSLY_REPLICATING_IN_RPO,
    }
)


INITIAL_SYNC_STATES = frozenset(
    {
        ReplicationStatus.INITIAL_BLOCK_COPY,
        ReplicationStatus.BLOCK_COPY_FROM_SOURCE,
        ReplicationStatus.BLOCK_COPY_TO_DESTINATION,
        ReplicationStatus.CONNECTING_TO_SOURCE,
        ReplicationStatus.WAITING_FOR_DESTINATION,
    }
)


class SRReplica(PSModel):
    data_volume: str
    partition_id: str | None = None
    partition_size: int | None = None
    replication_status: open_enum(ReplicationStatus) | None = None
    num_of_bytes_remaining: int | None = None
    last_in_sync_time: PSDateTime = None


class SRGroup(PSModel):
    name: str
    computer_name: str | None = None
    id: str | None = None
    replication_mode: open_enum(ReplicationMode) | None = None
    log_size_in_bytes: int | None = None
    log_volume: str | None = None
    async_rpo: int | None = Field(None, alias="AsyncRPO")
    is_primary: bool | None = None
    is_encrypted: bool | None = None
    is_cluster: bool | None = None
    is_write_consistency: bool | None = None  # New-SRPartnership -EnableConsistencyGroups
    replicas: Annotated[list[SRReplica], BeforeValidator(_as_list)] = Field(default_factory=list)

    @property
    def bytes_remaining(self) -> int:
        return sum(r.num_of_bytes_remaining or 0 for r in self.replicas)


class SRPartnership(PSModel):
    source_computer_name: str
    source_rg_name: str = Field(alias="SourceRGName")
    destination_computer_name: str
    destination_rg_name: str = Field(alias="DestinationRGName")
    id: str | None = None
