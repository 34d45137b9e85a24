"""Encryption at rest on the real store: no plaintext in the database, bound ciphertexts, rotation while serving.

These tests run a stack of their own (a fresh database, the API and a worker each with
its own key-file cipher over one ``$HMS_HOME/keys``, as two processes would) so that
rotating the key-encryption key touches only data keys these key files wrap.
"""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.crypto.fields import FieldCipher, FieldIntegrityError, file_cipher
from activities.registry import build_activities
from activities.storage import repository as repo
from activities.storage.db import make_engine, make_session_factory
from activities.storage.migrate import alembic_config, upgrade
from api.app import create_app
from api.auth import TokenVerifier
from api.services import ApiServices
from deploy import keys_cli
from deploy.seed import seed_demo
from deploy.settings import Settings
from deploy.tokens import issue_token, issuer_key
from ledger.embedded import EmbeddedLedger
from ledger.keys import load_or_create_signing_key
from ml.runtime import ModelRegistry
from policies.embedded import EmbeddedPolicyEngine
from tests.conftest import create_database
from workflows.registry import WORKFLOWS

pytestmark = pytest.mark.integration

ATTENDING = ("attending-1", "attending_physician")
REGISTRATION = ("registration-1", "registration_clerk")
GIVEN, FAMILY, BIRTH = "Quillonne", "Vardebrekke", "1931-07-29"
NOTE = "Suspected Kessleborne syndrome after the Ulvik expedition."


@dataclass
class Stack:
    settings: Settings
    engine: sa.Engine
    ledger: EmbeddedLedger


@pytest.fixture(scope="module")
def stack(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    url = create_database(pg_server_url)
    upgrade(url)
    settings = Settings(home=tmp_path_factory.mktemp("hms-enc-home"), database_url=url)
    seed_demo(settings, url)
    engine = make_engine(url)
    key, key_id = load_or_create_signing_key(settings.keys_dir / "ledger.pem")
    yield Stack(settings, engine, EmbeddedLedger(engine, key, key_id))
    engine.dispose()


@pytest.fixture
async def api(stack: Stack, temporal_env: WorkflowEnvironment, task_queue: str,
              model_registry: ModelRegistry) -> AsyncIterator[httpx.AsyncClient]:
    s = stack.settings
    services = ApiServices(
        sessions=make_session_factory(stack.engine), policy=EmbeddedPolicyEngine(), ledger=stack.ledger,
        verifier=TokenVerifier(issuer=s.token_issuer, audience=s.token_audience, public_key=issuer_key(s).public_key()),
        index_key=b"k" * 32, task_queue=task_queue, temporal=temporal_env.client, models=model_registry,
        cipher=file_cipher(s.keys_dir))
    activities = build_activities(make_session_factory(stack.engine), stack.ledger, model_registry,
                                  file_cipher(s.keys_dir))
    async with Worker(temporal_env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=activities,
                      activity_executor=ThreadPoolExecutor(8)):
        transport = httpx.ASGITransport(app=create_app(services))
        async with httpx.AsyncClient(transport=transport, base_url="https://hms.test") as client:
            yield client


def as_user(stack: Stack) -> Callable[[str, str], dict[str, str]]:
    return lambda user, role: {"Authorization": f"Bearer {issue_token(stack.settings, user, role)}"}


async def admit(api: httpx.AsyncClient, auth: Callable[[str, str], dict[str, str]], identifier: str,
                given: str = GIVEN, family: str = FAMILY) -> str:
    body = {"patient": {"identifier": identifier, "given": given, "family": family, "birth_date": BIRTH,
                        "gender": "female"}, "ward": "medical", "reason": "observation", "consent": True}
    r = await api.post("/api/v1/admissions", json=body, headers=auth(*REGISTRATION))
    assert r.status_code in (200, 202), r.text
    for _ in range(300):
        j = await api.get(f"/api/v1/journeys/{r.json()['journey_id']}", headers=auth(*ATTENDING))
        if j.status_code == 200 and j.json()["stage"] == "admitted":
            return r.json()["patient_id"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"not admitted: {j.text}")


def scan(engine: sa.Engine, needles: list[str]) -> list[str]:
    """Every text-like and bytea column of every table (the clinical store, the audit ledger, any other
    schema but the catalogs), searched for each needle: where it was found."""
    found = []
    with engine.connect() as c:
        cols = c.execute(sa.text(
            "SELECT c.table_schema, c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
            "JOIN information_schema.tables t ON (t.table_schema, t.table_name) = (c.table_schema, c.table_name) "
            "WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema') "
            "AND c.data_type IN ('text', 'character varying', 'character', 'bytea', 'jsonb', 'json', 'ARRAY', "
            "'USER-DEFINED')")).all()
        assert len([col for col in cols if col.table_schema == "hms"]) > 20
        assert any(col.table_schema == "audit" for col in cols)
        for schema, table, column, dtype in cols:
            for needle in needles:
                where = (f'position(convert_to(:n, \'UTF8\') in "{column}") > 0' if dtype == "bytea"
                         else f'"{column}"::text ILIKE \'%\' || :n || \'%\'')
                if c.execute(sa.text(f'SELECT count(*) FROM "{schema}"."{table}" WHERE {where}'),
                             {"n": needle}).scalar():
                    found.append(f"{schema}.{table}.{column}: {needle}")
    return found


async def test_raw_database_holds_no_plaintext_of_names_identifiers_birth_dates_or_notes(
        api: httpx.AsyncClient, stack: Stack) -> None:
    auth = as_user(stack)
    identifier = f"MRN-QV-{uuid.uuid4().hex[:8]}"
    patient = await admit(api, auth, identifier)
    note = await api.post(f"/api/v1/patients/{patient}/notes", json={"text": NOTE}, headers=auth(*ATTENDING))
    assert note.status_code == 201

    # Through the API everything reads back in the clear, for those the policy allows.
    read = (await api.get(f"/api/v1/patients/{patient}", headers=auth(*ATTENDING))).json()
    assert (read["given"], read["family"], read["birth_date"]) == (GIVEN, FAMILY, BIRTH)
    assert read["identifiers"][0]["value"] == identifier
    assert (await api.get(f"/api/v1/notes/{note.json()['id']}", headers=auth(*ATTENDING))).json()["text"] == NOTE

    assert scan(stack.engine, [GIVEN, FAMILY, identifier, BIRTH, "Kessleborne", "Ulvik"]) == []
    # The scan does find what is stored in the clear (it is not blind): the ward of the stay.
    assert scan(stack.engine, ["Medical ward"])


async def test_blind_index_finds_the_patient_and_one_identifier_stays_one_patient(
        api: httpx.AsyncClient, stack: Stack) -> None:
    auth = as_user(stack)
    identifier = f"MRN-BI-{uuid.uuid4().hex[:8]}"
    first = await admit(api, auth, identifier, given="Orla", family="Brennock")
    cipher = file_cipher(stack.settings.keys_dir)
    with make_session_factory(stack.engine)() as s:
        assert repo.find_patient_by_identifier(s, cipher, "urn:hms:mrn", identifier) == first
        assert repo.find_patient_by_identifier(s, cipher, "urn:hms:mrn", identifier + "x") is None
        assert repo.find_patient_by_identifier(s, cipher, "urn:other", identifier) is None
        rows = s.execute(sa.text("SELECT value, value_index FROM hms.patient_identifiers WHERE patient_id = :p"),
                         {"p": first}).all()
    assert len(rows) == 1 and rows[0].value_index == cipher.blind_index("urn:hms:mrn", identifier)
    assert identifier.encode() not in bytes(rows[0].value)
    # Registering the same identifier again (any candidate id) converges on the one patient.
    with make_session_factory(stack.engine)() as s, s.begin():
        again = repo.register_patient(s, cipher, str(uuid.uuid4()), "urn:hms:mrn", identifier, "Orla", "Brennock",
                                      date(1931, 7, 29), "female")
    assert again == (first, False)


def test_a_ciphertext_copied_to_another_row_or_column_does_not_decrypt(stack: Stack) -> None:
    cipher: FieldCipher = file_cipher(stack.settings.keys_dir)
    sessions = make_session_factory(stack.engine)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    with sessions() as s, s.begin():
        for pid, family in ((a, "Aldous"), (b, "Bexley")):
            repo.register_patient(s, cipher, pid, "urn:hms:mrn", f"MRN-{pid[:8]}", "Given", family,
                                  date(1970, 1, 1), "male")
    with stack.engine.begin() as c:  # another row: a's family name pasted into b's row
        c.execute(sa.text("UPDATE hms.patients SET family = (SELECT family FROM hms.patients WHERE id = :a) "
                          "WHERE id = :b"), {"a": a, "b": b})
        c.execute(sa.text("UPDATE hms.patients SET given = family WHERE id = :a"), {"a": a})  # another column
    with sessions() as s:
        for pid in (a, b):
            with pytest.raises(FieldIntegrityError, match="failed authentication"):
                repo.read_patient(s, cipher, pid)


async def test_rotation_rewraps_every_data_key_while_reads_continue(api: httpx.AsyncClient, stack: Stack) -> None:
    auth = as_user(stack)
    patients = [await admit(api, auth, f"MRN-ROT-{uuid.uuid4().hex[:8]}", given=f"Rota{n}") for n in range(3)]
    stop, reads = asyncio.Event(), []

    async def reader() -> None:
        while not stop.is_set():
            for pid in patients:
                r = await api.get(f"/api/v1/patients/{pid}", headers=auth(*ATTENDING))
                reads.append((r.status_code, r.json().get("family")))
            await asyncio.sleep(0)

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.2)
    old = file_cipher(stack.settings.keys_dir).kms.active_id()
    report = await asyncio.to_thread(keys_cli.rotate, stack.settings)
    await asyncio.sleep(0.2)
    stop.set()
    await task
    assert report.kek_id != old and report.complete and report.rewrapped >= len(patients)
    assert reads and all(r == (200, FAMILY) for r in reads), {r for r in reads if r != (200, FAMILY)}
    with stack.engine.connect() as c:
        keks = {r.kek_id for r in c.execute(sa.text("SELECT kek_id FROM hms.patient_keys "
                                                    "WHERE wrapped_dek IS NOT NULL")).all()}
    assert keks == {report.kek_id}
    # After rotation: data still reads (through the running API, whose ring picked up the new key) ...
    for pid in patients:
        assert (await api.get(f"/api/v1/patients/{pid}", headers=auth(*ATTENDING))).json()["given"].startswith("Rota")
    # ... new patients are wrapped by the new key, and resuming finds nothing left to do.
    newcomer = await admit(api, auth, f"MRN-ROT-{uuid.uuid4().hex[:8]}")
    with stack.engine.connect() as c:
        assert c.execute(sa.text("SELECT kek_id FROM hms.patient_keys WHERE patient_id = :p"),
                         {"p": newcomer}).scalar() == report.kek_id
    resumed = await asyncio.to_thread(keys_cli.rotate, stack.settings, resume=True)
    assert resumed.kek_id == report.kek_id and resumed.rewrapped == 0 and resumed.complete
    assert keys_cli.status_command(stack.settings) == 0


def test_migration_refuses_a_database_with_plaintext_patients(pg_server_url: str, tmp_path: Path) -> None:
    url = create_database(pg_server_url)
    cfg = alembic_config(url)
    command.upgrade(cfg, "0501")
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO hms.patients (id, given, family, birth_date, gender) "
                          "VALUES ('p-old', 'Plain', 'Text', '1960-01-01', 'male')"))
    with pytest.raises(RuntimeError, match=r"hms\.patients: 1 row\(s\).*empty database"):
        upgrade(url)
    with engine.connect() as c:  # nothing changed: the name is still there, in the clear
        assert c.execute(sa.text("SELECT family FROM hms.patients")).scalar() == "Text"
    engine.dispose()
