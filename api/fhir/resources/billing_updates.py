"""What the billing updates share: "only the status changes" checks, and the one settlement path.

A FHIR update of a ChargeItem, Invoice or Claim changes its status and nothing else (the
rest is computed from the charges); any other element that differs from the stored resource
is a 422 naming it. A settlement (an invoice paid in full or cancelled, a claim withdrawn) goes
through the billing journey's settlement task while that task is open — the same
``complete_task`` update the billing clerk's task inbox sends — so the journey records it and
ends; once no task is open it is recorded directly in the store by the same repository function.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from activities.storage import billing_repo
from activities.storage import tasks as task_store
from api.auth import Principal
from api.fhir.errors import FhirError
from api.fhir.interactions import session_call
from api.fhir.registry import Resource, ResourceType
from api.services import ApiServices
from api.updates import run_update
from workflows.billing import SETTLEMENT
from workflows.contracts import TaskCompletion, TaskCompletionResult

#: Elements an update may carry differently from the stored resource (server-kept or the change itself).
FREE = frozenset({"resourceType", "id", "meta", "text", "status"})
#: The settlement task's refusals as HTTP statuses (its validator's and its handler's error types).
TASK_ERRORS = {"InvalidTaskPayload": 422, "TaskNotOpen": 409, "TaskNotFound": 409, "WrongRole": 403,
               "BillingConflict": 409}


def _normal(rt: ResourceType, resource: Resource) -> dict[str, Any]:
    """The resource as its R4 model reads it (so 900.0 and 900.00, or two spellings of an instant, are equal)."""
    try:
        return rt.model.model_validate(resource).model_dump(by_alias=True, exclude_none=True)
    except Exception:  # a stored resource always validates; compare as sent if one does not
        return dict(resource)


def status_change(rt: ResourceType, body: Resource, current: Resource) -> str | None:
    """The status the body asks for (None when it is the current one); 422 naming any other changed element."""
    new, old = _normal(rt, body), _normal(rt, current)
    changed = sorted(k for k in set(new) | set(old) if k not in FREE and new.get(k) != old.get(k))
    if changed:
        elements = [f"{rt.name}.{k}" for k in changed]
        raise FhirError(422, f"{', '.join(elements)}: only {rt.name}.status changes here; the rest is computed "
                             "from the charges (read the resource, change its status, put it back)",
                        expression=elements)
    wanted = body.get("status")
    return None if wanted == current.get("status") else str(wanted)


@dataclass(frozen=True)
class OpenTask:
    task_id: str
    workflow_id: str


def settlement_task(session: Any, encounter_id: str, key: str, value: str) -> OpenTask | None | bool:
    """The billing journey's settlement task of the stay if it is open and names ``key`` = ``value``;
    None when it is not open (or is another record's); False when the journey has not opened it yet."""
    task = task_store.get_task(session, f"{SETTLEMENT}-{encounter_id}")
    if task is None:
        return False
    if task.status != "open" or (task.details or {}).get(key) != value:
        return None
    return OpenTask(task.id, task.workflow_id)


async def through_task(services: ApiServices, user: Principal, task: OpenTask, payload: dict[str, Any]) -> None:
    """Complete the settlement task with ``payload``, as the billing clerk's inbox does."""
    if services.temporal is None:
        raise FhirError(503, "the workflow engine is not reachable; try again")
    handle = services.client().get_workflow_handle(task.workflow_id)
    try:
        await run_update(handle, "complete_task",
                         TaskCompletion(task_id=task.task_id, actor=user.user_id, role=user.role, payload=payload),
                         errors=TASK_ERRORS, ended=f"the billing journey of task {task.task_id} has ended",
                         result_type=TaskCompletionResult)
    except HTTPException as exc:
        raise FhirError(exc.status_code, str(exc.detail)) from None


async def in_store(services: ApiServices, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(session, *args)`` in one transaction; a billing conflict is a 409."""
    def call(session: Any, _cipher: Any) -> Any:
        try:
            return fn(session, *args)
        except billing_repo.BillingConflict as exc:
            raise FhirError(409, str(exc)) from None

    return await run_in_threadpool(session_call, services, call, write=True)


async def stored(services: ApiServices, rt: ResourceType, rid: str) -> tuple[Resource, bool]:
    """The resource as now stored (an update answers it with 200)."""
    assert rt.read is not None
    found = await run_in_threadpool(session_call, services, rt.read, rid)
    if found is None:
        raise FhirError(404, f"{rt.name}/{rid} not found")
    return found, False
