"""Request and response bodies of the task API (pydantic: a bad body is a 422 naming the field)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_IDENTIFIER_SYSTEM = "urn:hms:mrn"


class Identifier(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system: str = Field(DEFAULT_IDENTIFIER_SYSTEM, min_length=1, max_length=200)
    value: str = Field(min_length=1, max_length=200)


class PatientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    identifier: Identifier | str
    given: str = Field(min_length=1, max_length=200)
    family: str = Field(min_length=1, max_length=200)
    birth_date: date
    gender: Literal["male", "female", "other", "unknown"]

    @field_validator("identifier")
    @classmethod
    def _identifier(cls, v: Identifier | str) -> Identifier:
        if isinstance(v, str):
            if not v.strip():
                raise ValueError("must not be empty")
            return Identifier(value=v.strip())
        return v

    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, v: date) -> date:
        today = date.today()
        if v > today:
            raise ValueError("must not be in the future")
        if v.year < today.year - 130:
            raise ValueError("is more than 130 years ago")
        return v


class AdmissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    patient: PatientIn
    ward: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=500)
    attending: str | None = Field(None, max_length=60)
    consent: bool

    @field_validator("consent")
    @classmethod
    def _consent(cls, v: bool) -> bool:
        if v is not True:
            raise ValueError("the patient's consent to treatment is required to admit")
        return v


class AdmissionOut(BaseModel):
    journey_id: str
    patient_id: str
    encounter_id: str
    status: Literal["started", "existing"]


class TaskOut(BaseModel):
    id: str
    type: str
    role: str
    patient_id: str
    journey_id: str
    ward: str | None
    status: str
    due: datetime | None
    created_at: datetime
    details: dict[str, Any]


class StageOut(BaseModel):
    """One stage child of a journey (imaging, pharmacy, triage, discharge); ``result`` holds codes only."""

    kind: str
    stage_id: str
    workflow_id: str
    status: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    failure: str | None = None
    result: dict[str, Any] = {}


class ResultOut(BaseModel):
    """A result that reached the journey: ids and codes (the value is read as a FHIR Observation)."""

    observation_id: str
    code: str
    status: str
    interpretation: str | None = None
    source: str
    received_at: datetime | None = None


class JourneyOut(BaseModel):
    journey_id: str
    patient_id: str
    encounter_id: str
    stage: str
    status: str
    ward: str
    bed_id: str | None
    attending: str | None
    failure: str | None
    tasks: list[TaskOut]
    stages: list[StageOut] = []
    discharge: StageOut | None = None
    billing_workflow_id: str | None = None
    results: list[ResultOut] = []


class TaskCompleteOut(BaseModel):
    task_id: str
    status: str
    result: dict[str, Any]


class EncounterOut(BaseModel):
    id: str
    status: str
    ward: str
    bed_id: str | None
    attending: str | None
    reason: str
    admitted_at: datetime | None
    journey_id: str


class PatientOut(BaseModel):
    id: str
    identifiers: list[Identifier]
    given: str
    family: str
    birth_date: date
    gender: str
    encounter: EncounterOut | None


class DischargeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("discharged", min_length=1, max_length=200)
