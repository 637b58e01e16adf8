"""Where an interrupted fast offline update stands: read, never changed. Done only when the closing checks pass
and the journal says the window ended; an open window is unknown until the update is run again (it resumes)."""

from __future__ import annotations

from hcitui.core.journal import StepRecord, StepStatus
from hcitui.workflow.context import Context
from hcitui.workflow.offline.checks import closing_checks
from hcitui.workflow.offline.common import STEP, stage_index
from hcitui.workflow.resume import register
from hcitui.workflow.steps import Unfinished


@register(STEP)
async def _reverify_offline_update(ctx: Context, record: StepRecord) -> StepStatus:
    from hcitui.workflow.offline.run import AGAIN

    report = await closing_checks(ctx, list(record.data.get("vms_before", [])))
    if report.passed and stage_index(record.data.get("stage")) >= stage_index("monitor"):
        return StepStatus.DONE
    if record.data.get("window_open"):
        at = record.data.get("stage_running") or record.data.get("stage")
        raise Unfinished(f"the fast offline update stopped at {at} with the window open ({report.summary()}): "
                         "run it again to go on from there", remedy=AGAIN)
    return StepStatus.DONE if report.passed else StepStatus.FAILED
