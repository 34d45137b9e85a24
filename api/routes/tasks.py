"""The task inbox: clinical staff list their tasks and complete them (a workflow update)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query
from starlette.concurrency import run_in_threadpool

from activities.storage import tasks as task_store
from api.access import authorize, authorized_read
from api.deps import CurrentUser, Services
from api.routes.resources import patient_resource
from api.schemas import TaskCompleteOut, TaskOut
from api.services import ApiServices
from api.updates import run_update
from workflows.contracts import TaskCompletion, TaskCompletionResult

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

#: How a refused update maps to HTTP: the validator's and the handler's error types.
UPDATE_ERRORS = {"InvalidTaskPayload": 422, "TaskNotOpen": 409, "TaskNotFound": 404, "WrongRole": 403,
                 "BedNotFree": 409, "NotAssignee": 403, "InsufficientStock": 409}


@router.get("", response_model=list[TaskOut])
async def list_tasks(user: CurrentUser, services: Services, patient: str | None = None,
                     role: str | None = None, ward: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[TaskOut]:
    """Open tasks of the caller's role, on the caller's wards (ward staff) or all wards."""
    subject = services.directory.cached(user) or await run_in_threadpool(services.directory.subject, user)
    wards = list(subject.wards) if subject.wards and subject.role in ("nurse", "triage_nurse") else None
    resource = {"type": "Task", "patient_id": patient, "ward": ward, "task_role": role}
    if role and role != subject.role or ward and wards is not None and ward not in wards:
        # Refused by the policy, or by the inbox's own rule below: either way on the record first.
        await authorize(services, user, action="list", subtype="task.list", resource=resource)
        if role and role != subject.role:
            raise HTTPException(403, f"tasks of the {role} role are not in your inbox")
        raise HTTPException(403, f"ward {ward!r} is not one of your wards")
    return await authorized_read(services, user, lambda: _list(services, subject.role, ward, wards, patient, limit),
                                 action="list", subtype="task.list", resource=resource)


def _list(services: ApiServices, role: str, ward: str | None, wards: list[str] | None, patient: str | None,
          limit: int) -> list[TaskOut]:
    with services.sessions() as s:
        return [TaskOut(id=t.id, type=t.type, role=t.role, patient_id=t.patient_id, journey_id=t.journey_id,
                        ward=t.ward_id, status=t.status, due=t.due, created_at=t.created_at, details=t.details)
                for t in task_store.opened(s, services.field_cipher, task_store.list_open_tasks(
                    s, role=role, ward=ward, wards=wards, patient_id=patient, limit=limit))]


@router.post("/{task_id}/complete", response_model=TaskCompleteOut)
async def complete_task(task_id: str, user: CurrentUser, services: Services,
                        payload: Annotated[dict[str, Any], Body()] | None = None) -> TaskCompleteOut:
    """Complete a task with its task-specific payload; a bad payload is a 422 and changes nothing."""
    task = await run_in_threadpool(_get, services, task_id)
    if task is None:
        raise HTTPException(404, f"task {task_id} not found")
    resource = await run_in_threadpool(patient_resource, services, "Task", task["patient_id"], task_id,
                                       default_ward=task["ward"], task_role=task["role"])
    resource["ward"] = task["ward"] or resource["ward"]
    await authorize(services, user, action="complete", resource=resource, subtype=f"task.complete.{task['type']}")
    if task["status"] != "open":
        raise HTTPException(409, f"task {task_id} is already {task['status']}")
    handle = services.client().get_workflow_handle(task["workflow_id"])
    result = await run_update(
        handle, "complete_task",
        TaskCompletion(task_id=task_id, actor=user.user_id, role=user.role, payload=payload or {}),
        errors=UPDATE_ERRORS, ended=f"task {task_id} belongs to a process that has ended",
        result_type=TaskCompletionResult)
    return TaskCompleteOut(task_id=result.task_id, status=result.status, result=result.result)


def _get(services: ApiServices, task_id: str) -> dict[str, Any] | None:
    with services.sessions() as s:
        t = task_store.get_task(s, task_id)
        if t is None:
            return None
        return {"patient_id": t.patient_id, "ward": t.ward_id, "role": t.role, "type": t.type,
                "status": t.status, "workflow_id": t.workflow_id}
