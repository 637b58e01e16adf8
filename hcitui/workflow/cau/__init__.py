"""Cluster-Aware Updating: the phase 2 preflight and the phase 5 run, watched live.

Preflight: ``Set-WSManQuickConfig`` and ``Enable-PSRemoting`` on every node (each proved by a
read of the node's remoting state, also when enabling it restarted WinRM and dropped the session),
then ``Test-CauSetup``, ``Test-Cluster`` (long: shown running, then where its report went) and an
``Invoke-CauScan`` preview that must offer every node the same update.

The run: refused unless every node is Up, storage is quiet, the staged ISO is proved on every node
and no run is in progress or left failed. ``start_cau_run`` hands the run to the node (it outlives
hcitui), and :func:`monitor` watches ``Get-CauRun``: one poll at a time, per-node status changes
as progress, the journal step (5, ``cau-run``) carrying the run id and the statuses. An error while
a node restarts or the orchestrator moves is a blip: the last good state stays on screen. The run's
outcome comes from its node results (``Get-CauReport`` once it has ended), and the step is done
only after a read of the cluster agrees. Everything is driven by observation, so a monitor started
after a kill (or on another machine) reattaches to the run in progress, or concludes the one that
ended meanwhile.

Where the run is coordinated: the update guide runs Invoke-CauRun from a management server outside the
cluster. With a CAU coordinator in the config, the run's operations go there (the ClusterClient routes
them, one mechanism for every caller), and the preflight proves it: the ClusterAwareUpdating module is
installed there and it reaches every node over WinRM. Without one, the run starts on a node as before,
and the preflight and the run's preview say what that risks.

The package, one concern a module: ``options`` (what a run is asked to do, where it is coordinated, the
journal's step names), ``plans`` (the PowerShell each step sends), ``preflight``, ``start``, ``watch``
(the run watched and concluded, where it is and when it should end, and the journal's record of it),
``failure`` (why a run failed, per node, from Get-CauReport -Detailed), ``control`` (stop, recover),
``summary`` (the menu's line) and ``reverify`` (after a kill). Callers use the names below:
``from hcitui.workflow import cau; cau.start(...)``.

Progress is one typed :class:`~hcitui.workflow.events.ProgressEvent` stream: each node's CAU status
as ``status`` and ``since``, a long remote command (Test-Cluster, Invoke-CauScan, a stop) as
``Stage.WAITING`` with ``since``, failures as ``Stage.FAILED``, the end as ``Stage.DONE``. Refusals
and failures carry a :class:`~hcitui.core.errors.Remedy`, never a key.
"""

from __future__ import annotations

from hcitui.workflow.cau import reverify as _reverify  # noqa: F401  (registers the re-verifiers)
from hcitui.workflow.cau.control import recover, stop
from hcitui.workflow.cau.failure import Explanation, NodeFailure, explain
from hcitui.workflow.cau.options import (
                                         CANCELED,
                                         COORDINATOR_CHECK,
                                         FAILED_STATE,
                                         IN_PROGRESS,
                                         NO_COORDINATOR_REMEDY,
                                         NO_COORDINATOR_RISK,
                                         PLUGIN_TITLE,
                                         PREFLIGHT,
                                         PREFLIGHT_PHASE,
                                         REACH_CHECK,
                                         RECOVER,
                                         REMOTING,
                                         ROLLING_UPGRADE,
                                         RUN,
                                         RUN_PHASE,
                                         STOP,
                                         SUCCEEDED,
                                         WINDOWS_UPDATE,
                                         RunOptions,
                                         coordinator_notes,
                                         force_self_update_note,
                                         form_note,
                                         short_id,
)
from hcitui.workflow.cau.plans import plan_preflight, plan_recover, plan_start, plan_stop
from hcitui.workflow.cau.preflight import (
                                         PreflightReport,
                                         enable_remoting,
                                         gate_checks,
                                         judge_coordinator,
                                         judge_remoting,
                                         judge_scan,
                                         judge_setup,
                                         judge_validation,
                                         preflight,
)
from hcitui.workflow.cau.start import StartState, read_start_state, run_blockers, start, start_blockers, start_remedy
from hcitui.workflow.cau.summary import menu_state
from hcitui.workflow.cau.watch import (
                                         RunOutcome,
                                         RunWatch,
                                         conclude,
                                         is_blip,
                                         kept_history,
                                         monitor,
                                         past_node_seconds,
                                         read_run,
                                         should_watch,
                                         status_event,
                                         watching,
                                         why,
)

__all__ = [
    "CANCELED", "COORDINATOR_CHECK", "FAILED_STATE", "IN_PROGRESS", "NO_COORDINATOR_REMEDY", "NO_COORDINATOR_RISK",
    "PLUGIN_TITLE", "PREFLIGHT", "PREFLIGHT_PHASE", "REACH_CHECK", "RECOVER", "REMOTING", "ROLLING_UPGRADE", "RUN",
    "RUN_PHASE", "STOP", "SUCCEEDED", "WINDOWS_UPDATE",
    "Explanation", "NodeFailure", "PreflightReport", "RunOptions", "RunOutcome", "RunWatch", "StartState",
    "conclude", "coordinator_notes", "enable_remoting", "explain", "force_self_update_note", "form_note",
    "gate_checks", "is_blip", "judge_coordinator", "judge_remoting", "judge_scan", "judge_setup", "judge_validation",
    "kept_history", "menu_state", "monitor", "past_node_seconds", "plan_preflight", "plan_recover", "plan_start",
    "plan_stop", "preflight", "read_run", "read_start_state", "recover", "run_blockers", "should_watch", "short_id",
    "start", "start_blockers", "start_remedy", "status_event", "stop", "watching", "why",
]
