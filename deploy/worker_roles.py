"""Which task queue a worker polls and what it registers there (``hms worker --queue ROLE``).

On one machine a single worker polls ``HMS_TASK_QUEUE`` with every workflow and activity. A cluster
scales the work apart:

- ``journeys`` (the default): every workflow and activity on ``HMS_TASK_QUEUE``, as on one machine.
- ``inference``: only the model activities that workflows route to ``HMS_INFERENCE_TASK_QUEUE``
  (the imaging pre-screen), no workflows, so these pods can sit on GPU/CPU-heavy nodes and scale
  on their own backlog, down to zero.
- ``integration``: the journeys role under its own queue name. The MLLP listener starts its intake
  workflows on ``HMS_TASK_QUEUE``; giving the listener and these workers the same queue (e.g.
  ``hms-integration``) keeps HL7 traffic, the journeys it admits (children inherit the queue) and
  their HL7 outbound activities apart from the API's. No activity is routed here by name.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from temporalio.activity import _Definition

from deploy.settings import Settings

ROLES = ("journeys", "inference", "integration")
#: Activities a workflow sends to the inference queue when ``HMS_INFERENCE_TASK_QUEUE`` is set.
INFERENCE_ACTIVITIES = frozenset({"imaging_prescreen"})


class RoleError(ValueError):
    """The role cannot run with these settings (e.g. an inference worker without an inference queue)."""


@dataclass(frozen=True)
class WorkerRole:
    name: str
    task_queue: str
    #: Whether the role runs workflows; only ``journeys`` creates the schedules (``hms worker``).
    runs_workflows: bool


def resolve(role: str, settings: Settings) -> WorkerRole:
    """The queue and kind of a role; refuses an inference worker that nothing would ever route work to."""
    if role not in ROLES:
        raise RoleError(f"unknown worker role {role!r}: one of {', '.join(ROLES)}")
    if role == "inference":
        if not settings.inference_task_queue:
            raise RoleError("HMS_INFERENCE_TASK_QUEUE is unset: inference runs on the journeys queue, "
                            "so an inference worker would never receive a task")
        return WorkerRole(role, settings.inference_task_queue, runs_workflows=False)
    return WorkerRole(role, settings.task_queue, runs_workflows=True)


def activity_name(fn: Callable) -> str:
    """The registered name of an activity callable (``@activity.defn(name=...)``)."""
    defn = _Definition.from_callable(fn)
    if defn is None or defn.name is None:
        raise ValueError(f"{fn!r} is not an activity")
    return defn.name


def select_workflows(role: WorkerRole, workflows: Sequence[type]) -> list[type]:
    return list(workflows) if role.runs_workflows else []


def select_activities(role: WorkerRole, activities: Sequence[Callable]) -> list[Callable]:
    """All activities for a workflow role; only the routed model activities for the inference role."""
    if role.runs_workflows:
        return list(activities)
    chosen = [fn for fn in activities if activity_name(fn) in INFERENCE_ACTIVITIES]
    missing = INFERENCE_ACTIVITIES - {activity_name(fn) for fn in chosen}
    if missing:
        raise RoleError(f"inference activities not built: {', '.join(sorted(missing))}")
    return chosen
