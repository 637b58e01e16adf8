"""What the solution-upgrade remedies share: their journal names, the node read they decide on (the readiness
read of ``ps/readiness.py``), what a node lacks, and the refusals every one of them makes first."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hcitui.core import model
from hcitui.core.journal import StepStatus
from hcitui.core.model.readiness import REQUIRED_OPTIONAL_FEATURES, REQUIRED_WINDOWS_FEATURES
from hcitui.ps import readiness as readiness_ops
from hcitui.remote import RemoteError
from hcitui.workflow import eta
from hcitui.workflow.context import Context
from hcitui.workflow.events import Progress, ProgressEvent, Stage
from hcitui.workflow.steps import Refused, StepFailed, target_nodes

# After phase 8: preparing the solution update (seed 001, "Step 2"). The RUNBOOK numbers phases 0 to 8;
# the journal keeps this work as phase 9.
PHASE = 9
FEATURES_RUN = "features-install"  # the run over the nodes (node None): its order and the nodes done
FEATURES = "features"  # one node's install (drain, install, restart or resume, proof)
BITLOCKER_SUSPEND = "bitlocker-suspend"  # one node's BitLocker volumes suspended
BITLOCKER_RESUME = "bitlocker-resume"  # one node's BitLocker volumes resumed

STRETCHED = ("the solution upgrade does not apply to a stretched cluster (seed 001: the Arc solution enablement "
             "will not be available for it), so there is nothing to prepare for it")

INSTALLED, INSTALL_PENDING = "installed", "installpending"
ENABLED, ENABLE_PENDING = "enabled", "enablepending"


def refuse_unless_allowed(ctx: Context, step: str, nodes: Iterable[str] | None, *,
                          stretched_too: bool = False) -> list[str]:
    """The nodes the step acts on. Refused before anything is sent in a read-only session, for a name that is
    no node of the cluster, and (unless ``stretched_too``) on a stretched cluster."""
    targets = target_nodes(ctx, nodes, step)
    if ctx.stretched and not stretched_too:
        raise Refused(step, [STRETCHED])
    return targets


async def read_node(ctx: Context, node: str, step: str) -> model.NodeReadiness:
    """The node's readiness read (features, optional features, BitLocker volumes, ...). A node that does not
    answer fails the step: a remedy is never decided on what could not be read."""
    try:
        return await ctx.client.invoke(node, readiness_ops.get_node_readiness, None)
    except RemoteError as exc:
        raise StepFailed(step, f"{node}: cannot read its features and BitLocker volumes: {exc.message}") from None


@dataclass
class Missing:
    """What a node lacks of seed 001's lists: Windows features to install, optional features to enable, and
    features installed or enabled that wait for a restart (InstallPending, EnablePending)."""

    windows: list[str] = field(default_factory=list)
    optional: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    @property
    def nothing(self) -> bool:
        return not (self.windows or self.optional or self.pending)

    def words(self) -> str:
        parts = []
        if self.windows:
            parts.append(f"{len(self.windows)} Windows feature{'s' if len(self.windows) != 1 else ''} to install "
                         f"({', '.join(self.windows)})")
        if self.optional:
            parts.append(f"{len(self.optional)} optional feature{'s' if len(self.optional) != 1 else ''} to enable "
                         f"({', '.join(self.optional)})")
        if self.pending:
            parts.append(f"waiting for a restart: {', '.join(self.pending)}")
        return "; ".join(parts) or "every required feature Installed and Enabled"


def missing_of(node: str, read: model.NodeReadiness, step: str) -> Missing:
    """What ``read`` shows missing on ``node``. A section that could not be read fails the step."""
    for section, error in (("Windows features", read.features_error),
                           ("optional features", read.optional_features_error)):
        if error:
            raise StepFailed(step, f"{node}: cannot read its {section}: {error}")
    windows = {f.name.lower(): (f.install_state or "").lower() for f in read.features}
    optional = {f.feature_name.lower(): (f.state or "").lower() for f in read.optional_features}
    out = Missing()
    for name in REQUIRED_WINDOWS_FEATURES:
        state = windows.get(name.lower(), "")
        if state == INSTALL_PENDING:
            out.pending.append(name)
        elif state != INSTALLED:
            out.windows.append(name)
    for name in REQUIRED_OPTIONAL_FEATURES:
        state = optional.get(name.lower(), "")
        if state == ENABLE_PENDING:
            out.pending.append(name)
        elif state != ENABLED:
            out.optional.append(name)
    return out


def protected_volumes(node: str, read: model.NodeReadiness, step: str) -> list[model.BitLockerVolume]:
    """The node's BitLocker volumes whose protection is On (a restart would ask for the recovery key)."""
    if read.bit_locker_error:
        raise StepFailed(step, f"{node}: cannot read its BitLocker volumes: {read.bit_locker_error}")
    return [v for v in read.bit_locker if (v.protection_status or "").strip().lower() == "on"]


def suspended_volumes(node: str, read: model.NodeReadiness, step: str) -> list[model.BitLockerVolume]:
    """The node's BitLocker volumes that are encrypted but not protected: suspended (ProtectionStatus Off on a
    volume BitLocker encrypted). A volume never encrypted (FullyDecrypted) is Off too, and is not one."""
    if read.bit_locker_error:
        raise StepFailed(step, f"{node}: cannot read its BitLocker volumes: {read.bit_locker_error}")
    return [v for v in read.bit_locker if (v.protection_status or "").strip().lower() == "off"
            and (v.volume_status or "").strip().lower() not in ("fullydecrypted", "")]


# ------------------------------------------------------------------ node i of n, and when the run ends


def at(progress: Progress, position: tuple[int, int],
       estimate: Callable[[ProgressEvent], datetime | None] | None = None, *, final: bool = False) -> Progress:
    """``progress`` with every event marked as the node's place in the run (node i of n) and the run's
    estimated finish. ``final`` False: the events come from a stage of the node's work (a drain, a resume),
    whose own "done" is not the node's: it is passed on as working."""

    def forward(event: ProgressEvent) -> None:
        if not final and event.stage is Stage.DONE:
            event = dataclasses.replace(event, stage=Stage.WORKING)
        progress(dataclasses.replace(event, position=position,
                                     eta=estimate(event) if estimate is not None else None))

    return forward


def finish_estimate(ctx: Context, step: str, order: list[str], completed: list[str], node: str,
                    started: datetime) -> Callable[[ProgressEvent], datetime | None]:
    """The run's finish for each of ``node``'s events: every node left takes the median of this run's nodes
    (the journal's times of ``step``), or before the first, of the runs the journal remembers."""

    def estimate(event: ProgressEvent) -> datetime | None:
        if event.stage is Stage.FAILED:
            return None
        done = [*completed, node] if event.stage is Stage.DONE else completed
        left = [n for n in order if n not in done]
        if not left:
            return None
        observed = [s for n in done if (s := eta.latest_duration(ctx.journal.step(PHASE, step, n))) is not None]
        history = eta.run_durations(r for r in ctx.journal.steps(PHASE) if r.step == step)
        found = eta.nodes_finish(observed, history, len(left), datetime.now(UTC),
                                 None if event.stage is Stage.DONE else started)
        return found if found is not None else eta.UNKNOWN

    return estimate


def started_at(ctx: Context, step: str, node: str) -> datetime:
    """When the node's part began: its interrupted run's start when it resumes one, else now."""
    record = ctx.journal.step(PHASE, step, node)
    if record is not None and record.status in (StepStatus.RUNNING, StepStatus.UNKNOWN) and record.started:
        try:
            return datetime.fromisoformat(record.started)
        except ValueError:
            pass
    return datetime.now(UTC)
