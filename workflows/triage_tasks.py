"""The task-inbox half of the triage and intake workflows: open, close and project tasks.

The workflow keeps its tasks (the source of truth) and projects each change into the
``hms.tasks`` inbox through the idempotent ``upsert_task`` activity.
"""
from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.admission import AdmissionActivities
    from workflows import search_attributes as sa
    from workflows.contracts import TaskRecord
    from workflows.options import STORAGE


class TaskInbox:
    def __init__(self) -> None:
        self._tasks: dict[str, TaskRecord] = {}

    async def _open_task(self, task: TaskRecord) -> None:
        self._tasks[task.id] = task
        await self._upsert(task)

    async def _close_task(self, task: TaskRecord, status: str, by: str | None) -> None:
        task.status, task.completed_by, task.completed_at = status, by, workflow.now()
        await self._upsert(task)

    async def _close_open(self, status: str, by: str | None) -> None:
        for task in [t for t in self._tasks.values() if t.status == "open"]:
            await self._close_task(task, status, by)

    async def _upsert(self, task: TaskRecord) -> None:
        await workflow.execute_activity_method(AdmissionActivities.upsert_task, task, **STORAGE)
        roles = sorted({t.role for t in self._tasks.values() if t.status == "open"})
        workflow.upsert_search_attributes([sa.OPEN_TASK_ROLES.value_set(roles)])

    def _open_of(self, task_type: str) -> list[TaskRecord]:
        return [t for t in self._tasks.values() if t.type == task_type and t.status == "open"]
