"""The stages a journey can run as child workflows, by kind.

A clinical route asks the journey to start a stage with the ``start_stage`` update;
the journey looks the kind up in ``workflows.stage_registry``, builds the child's input from its own context and
the request's payload, and starts the child (``<kind>-<stage id>``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class JourneyContext:
    """What every stage may know about the stay it belongs to."""

    journey_id: str
    patient_id: str
    encounter_id: str
    ward: str
    attending: str | None = None
    care_team_id: str | None = None
    bed_id: str | None = None


@dataclass
class StageRequest:
    """The body of the ``start_stage`` update: which stage, under which id, with what."""

    kind: str
    stage_id: str
    requested_by: str
    payload: dict[str, Any] = field(default_factory=dict)
    #: Task queue of the inference workers (``HMS_INFERENCE_TASK_QUEUE``), set by the API that starts the
    #: stage; None keeps model activities on the journey's own queue. Part of the update's input, so replay-safe.
    inference_task_queue: str | None = None


@dataclass
class StageStatus:
    kind: str
    stage_id: str
    workflow_id: str
    status: str = "running"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    failure: str | None = None
    result: dict[str, Any] = field(default_factory=dict)


class StageInputError(ValueError):
    """The payload cannot start this stage; the update is rejected before it touches history."""


@dataclass(frozen=True)
class StageSpec:
    """How to start one kind of stage.

    ``build_input`` turns (context, request) into the child's input dataclass and raises
    ``StageInputError`` on a bad payload; it runs in the update validator, so it must be
    deterministic and free of I/O. ``summarize`` turns the child's result into a small dict
    of codes (no clinical text) for the journey state.
    """

    workflow_type: str
    build_input: Callable[[JourneyContext, StageRequest], Any]
    summarize: Callable[[Any], dict[str, Any]] = lambda result: {}
    #: Kinds that may run while the patient is admitted, in parallel and more than once.
    while_admitted: bool = True



def stage_workflow_id(kind: str, stage_id: str) -> str:
    return f"{kind}-{stage_id}"
