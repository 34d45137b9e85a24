"""The open human tasks of one workflow, projected into the inbox through ``upsert_task``.

Shared by discharge and billing so both open, close, validate and cancel tasks the
same way the admission does (workflow state is the truth; the inbox is a projection).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.admission import AdmissionActivities
    from workflows import search_attributes as sa
    from workflows.contracts import TaskCompletion, TaskRecord
    from workflows.options import STORAGE


class TaskBook:
    def __init__(self) -> None:
        self.tasks: dict[str, TaskRecord] = {}
        #: Tasks whose completion is under way (an update handler awaiting its activities).
        self.completing: set[str] = set()

    async def open(self, *, task_id: str, type: str, role: str, patient_id: str, journey_id: str,
                   encounter_id: str | None, ward: str | None, due_minutes: float, details: dict[str, Any]) -> TaskRecord:
        """Open (or re-project, on replay-safe re-entry) a task; details carry codes and ids only."""
        now = workflow.now()
        task = self.tasks.get(task_id) or TaskRecord(
            id=task_id, type=type, role=role, patient_id=patient_id, journey_id=journey_id,
            workflow_id=workflow.info().workflow_id, created_at=now, ward=ward, encounter_id=encounter_id,
            due=now + timedelta(minutes=due_minutes), details=details)
        self.tasks[task_id] = task
        await workflow.execute_activity_method(AdmissionActivities.upsert_task, task, **STORAGE)
        self._publish()
        return task

    async def refresh(self, task: TaskRecord, *, due_minutes: float, details: dict[str, Any]) -> None:
        """Re-project an open task with new details and a new due time (an escalation)."""
        task.details, task.due = details, workflow.now() + timedelta(minutes=due_minutes)
        await workflow.execute_activity_method(AdmissionActivities.upsert_task, task, **STORAGE)
        self._publish()

    async def close(self, task: TaskRecord, status: str, by: str | None) -> None:
        task.status, task.completed_by, task.completed_at = status, by, workflow.now()
        await workflow.execute_activity_method(AdmissionActivities.upsert_task, task, **STORAGE)
        self._publish()

    async def cancel_open(self) -> None:
        """Compensation when the process is cancelled: nobody should be left working on its tasks."""
        for task in list(self.tasks.values()):
            if task.status == "open":
                await self.close(task, "cancelled", None)

    def claim(self, done: TaskCompletion) -> TaskRecord:
        """Called first in an update handler: a concurrent second completion of the task is refused."""
        task = self.require_open(done)
        self.completing.add(task.id)
        return task

    async def complete(self, task: TaskRecord, by: str) -> None:
        await self.close(task, "completed", by)
        self.completing.discard(task.id)

    def is_closed(self, task_id: str) -> bool:
        task = self.tasks.get(task_id)
        return task is not None and task.status != "open"

    def open_ids(self) -> list[str]:
        return sorted(t.id for t in self.tasks.values() if t.status == "open")

    def require_open(self, done: TaskCompletion) -> TaskRecord:
        """The validator's common part: the task exists here, is open, and is the caller's role."""
        task = self.tasks.get(done.task_id)
        if task is None:
            raise ApplicationError(f"task {done.task_id} is not open in this process", type="TaskNotFound")
        if task.status != "open" or done.task_id in self.completing:
            status = task.status if task.status != "open" else "being completed"
            raise ApplicationError(f"task {done.task_id} is already {status}", type="TaskNotOpen")
        if done.role != task.role:
            raise ApplicationError(f"task {done.task_id} is for the {task.role} role", type="WrongRole")
        return task

    def _publish(self) -> None:
        roles = sorted({t.role for t in self.tasks.values() if t.status == "open"})
        workflow.upsert_search_attributes([sa.OPEN_TASK_ROLES.value_set(roles)])


def only_fields(payload: dict[str, Any], allowed: set[str]) -> None:
    """Refuse unknown payload fields, naming them (a typo must not be silently ignored)."""
    extra = sorted(set(payload) - allowed)
    if extra:
        raise ApplicationError(f"payload: unknown field(s) {', '.join(extra)}", type="InvalidTaskPayload")


def invalid(message: str) -> ApplicationError:
    return ApplicationError(message, type="InvalidTaskPayload")
