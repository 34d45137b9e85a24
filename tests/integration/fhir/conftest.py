"""The real app over ASGI for FHIR tests: real policy engine, ledger and PostgreSQL; no workflow engine
(the FHIR facade reads and writes the store directly). Patients and stays are set up in the store."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fhir.resources.R4B import get_fhir_model_class

from activities.storage import repository as repo
from activities.storage.db import make_session_factory
from api.app import create_app
from api.auth import TokenVerifier
from api.services import ApiServices
from deploy.settings import Settings
from deploy.tokens import issue_token, issuer_key
from ledger.embedded import EmbeddedLedger
from policies.embedded import EmbeddedPolicyEngine

BASE = "https://hms.test/fhir/r4"
FHIR = "application/fhir+json"


@pytest.fixture(scope="session")
def fhir_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(home=Path(tmp_path_factory.mktemp("hms-fhir-home")))


@pytest.fixture(scope="session")
def fhir_services(db_engine: sa.Engine, ledger: EmbeddedLedger, fhir_settings: Settings) -> ApiServices:
    return ApiServices(
        sessions=make_session_factory(db_engine), policy=EmbeddedPolicyEngine(), ledger=ledger,
        verifier=TokenVerifier(issuer=fhir_settings.token_issuer, audience=fhir_settings.token_audience,
                               public_key=issuer_key(fhir_settings).public_key()),
        index_key=b"f" * 32, task_queue="unused")


@pytest.fixture
async def fhir(fhir_services: ApiServices) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(fhir_services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://hms.test") as client:
        yield client


@pytest.fixture
def token(fhir_settings: Settings) -> Callable[[str, str], str]:
    return lambda user, role: issue_token(fhir_settings, user, role)


@pytest.fixture
def auth(token: Callable[[str, str], str]) -> Callable[..., dict[str, str]]:
    def headers(user: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(user, role)}", "Accept": FHIR}
    return headers


@dataclass(frozen=True)
class Stay:
    patient_id: str
    encounter_id: str
    identifier: str


@pytest.fixture
def admitted(fhir_services: ApiServices) -> Callable[..., Stay]:
    """A registered patient in an in-progress stay on ``ward`` under ``attending`` (store set-up only)."""

    def make(ward: str = "medical", attending: str = "attending-1", family: str = "Rao") -> Stay:
        mrn = f"MRN-{uuid.uuid4().hex[:10]}"
        encounter_id = str(uuid.uuid4())
        with fhir_services.sessions() as s, s.begin():
            pid, _ = repo.register_patient(s, fhir_services.field_cipher, str(uuid.uuid4()), "urn:hms:mrn", mrn,
                                           "Asha", family, date(1980, 5, 17), "female")
            repo.create_encounter(s, encounter_id, pid, f"journey-{encounter_id}", ward, "chest pain")
            repo.assign_care_team(s, encounter_id, ward, attending)
            repo.set_encounter_status(s, encounter_id, "in-progress", datetime.now(UTC))
        return Stay(pid, encounter_id, mrn)

    return make


def valid(resource: dict) -> dict:
    """Assert the server's output is a valid R4 resource (R4B models)."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def observation(patient_id: str, encounter_id: str | None = None, *, code: str = "2345-7", value: float = 5.4,
                identifier: str | None = None, when: str = "2026-11-20T10:00:00Z", security: list[str] | None = None,
                category: str = "laboratory") -> dict:
    obs: dict = {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": category}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": "Glucose"}]},
        "subject": {"reference": f"Patient/{patient_id}"}, "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                          "code": "mmol/L"},
    }
    if encounter_id:
        obs["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    if identifier:
        obs["identifier"] = [{"system": "urn:lab:accession", "value": identifier}]
    if security:
        obs["meta"] = {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": c}
                                    for c in security]}
    return obs
