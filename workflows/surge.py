"""SurgeWatch: the hourly ER surge check a Temporal Schedule starts.

It runs the arrival forecast (an activity: the model and the arrival history live outside
the workflow) and, when expected arrivals in some hour exceed the ward's capacity, opens a
task for the manager role. The task id is derived from the forecast's first hour, so a
retried or re-run check never opens a second task for the same hour; when no hour is over
capacity, surge tasks still open are resolved.
"""
from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.surge import SurgeActivities
    from workflows.options import STORAGE
    from workflows.surge_contracts import ALERT_TASK, SurgeAlert, SurgeCheckInput, SurgeResult

#: How long the manager has to act on a surge alert.
ALERT_DUE = timedelta(hours=1)


@workflow.defn
class SurgeWatch:
    @workflow.run
    async def run(self, inp: SurgeCheckInput) -> SurgeResult:
        now = workflow.now()
        start = inp.start or (now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
        check = SurgeCheckInput(ward=inp.ward, hours=inp.hours, start=start)
        assessment = await workflow.execute_activity_method(SurgeActivities.assess_surge, check, **STORAGE)
        if not assessment.exceeded:
            await workflow.execute_activity_method(SurgeActivities.resolve_surge_alerts, check, **STORAGE)
            return SurgeResult(assessment=assessment)
        alert = SurgeAlert(task_id=f"{ALERT_TASK}-{inp.ward}-{start:%Y%m%d%H}", workflow_id=workflow.info().workflow_id,
                           created_at=now, due=now + ALERT_DUE, assessment=assessment)
        await workflow.execute_activity_method(SurgeActivities.open_surge_alert, alert, **STORAGE)
        return SurgeResult(assessment=assessment, alert_task_id=alert.task_id)
