"""python-hl7's MLLPClient against the real listener, the dev server and PostgreSQL."""
from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from activities.crypto.fields import ephemeral_cipher
from activities.storage import repository as repo
from activities.storage.db import make_session_factory
from ledger.embedded import EmbeddedLedger
from tests.integration.hl7.conftest import Mllp
from tests.unit.hl7.samples import ack_fields, adt, control_id, orm, oru
from workflows.contracts import DischargeRequest
from workflows.journey import PatientJourney

pytestmark = pytest.mark.integration


def _mrn() -> str:
    return f"MRN{uuid.uuid4().hex[:10]}"


def _patient(db_engine: sa.Engine, mrn: str) -> str | None:
    with make_session_factory(db_engine)() as s:
        return repo.find_patient_by_identifier(s, ephemeral_cipher(), "urn:hms:mrn", mrn)


async def test_a01_admits_through_the_journey_and_a_resend_is_applied_once(
        mllp: Mllp, db_engine: sa.Engine, ledger: EmbeddedLedger) -> None:
    mrn, cid = _mrn(), control_id()
    first, again = await mllp.send(adt("A01", mrn=mrn, cid=cid), adt("A01", mrn=mrn, cid=cid))
    for ack in (first, again):
        f = ack_fields(ack)
        assert f["MSA"][1:3] == ["AA", cid] and "ERR" not in f
    state = await mllp.wait_processed(mrn, 1)
    applied = [o for o in state.outcomes if o.control_id == cid]
    assert [o.status for o in applied] == ["duplicate", "applied"]
    journey_id = applied[-1].ref
    assert journey_id and journey_id.startswith("journey-")
    patient_id = _patient(db_engine, mrn)
    assert patient_id is not None
    with db_engine.connect() as c:
        encounters = c.execute(sa.text("SELECT journey_id, ward_id FROM hms.encounters WHERE patient_id = :p"),
                               {"p": patient_id}).all()
    assert [(e.journey_id, e.ward_id) for e in encounters] == [(journey_id, "medical")]
    journey = await mllp.client.get_workflow_handle(journey_id).describe()
    assert journey.workflow_type == "PatientJourney"


async def test_a01_then_a03_in_order_discharges(mllp: Mllp, db_engine: sa.Engine) -> None:
    mrn = _mrn()
    acks = await mllp.send(adt("A01", mrn=mrn), adt("A03", mrn=mrn))
    assert [ack_fields(a)["MSA"][1] for a in acks] == ["AA", "AA"]
    state = await mllp.wait_processed(mrn, 2)
    assert [o.status for o in state.outcomes] == ["applied", "applied"]
    journey = mllp.client.get_workflow_handle_for(PatientJourney.run, state.outcomes[0].ref or "")
    final = await journey.result()
    assert final.stage == "discharged" and final.status == "completed"


async def test_malformed_messages_get_ae_or_ar_with_err(mllp: Mllp, db_engine: sa.Engine) -> None:
    mrn = _mrn()
    no_pid3 = adt("A01", mrn="").replace("PID|1||^^^HMS^MR", "PID|1||")
    acks = await mllp.send(no_pid3, adt("A01", mrn=mrn, dob="1980-05-17"), adt("A01", mrn=mrn, ward="nowhere"),
                           adt("A01", mrn=mrn).replace("ADT^A01^ADT_A01", "ADT^A99^ADT_A01"),
                           adt("A01", mrn=mrn, version="9.9"), "not hl7 at all")
    got = [(ack_fields(a)["MSA"][1], ack_fields(a)["ERR"][2], ack_fields(a)["ERR"][3].split("^")[0]) for a in acks]
    assert got == [("AE", "PID^1^3", "101"), ("AE", "PID^1^7", "102"), ("AE", "PV1^1^3", "103"),
                   ("AR", "MSH^1^9", "201"), ("AR", "MSH^1^12", "203"), ("AR", "MSH^1", "100")]
    assert _patient(db_engine, mrn) is None  # nothing was handed over, nothing written


async def test_a04_registers_an_outpatient_and_a08_updates_demographics(mllp: Mllp, db_engine: sa.Engine) -> None:
    mrn = _mrn()
    acks = await mllp.send(adt("A04", mrn=mrn), adt("A08", mrn=mrn, family="Sharma", dob="19800518"))
    assert [ack_fields(a)["MSA"][1] for a in acks] == ["AA", "AA"]
    state = await mllp.wait_processed(mrn, 2)
    assert [o.status for o in state.outcomes] == ["applied", "applied"]
    with make_session_factory(db_engine)() as s:
        pid = repo.find_patient_by_identifier(s, ephemeral_cipher(), "urn:hms:mrn", mrn)
        assert pid is not None
        record = repo.read_patient(s, ephemeral_cipher(), pid)
        assert record is not None and record.family == "Sharma" and str(record.birth_date) == "1980-05-18"
        assert repo.active_encounter(s, pid) is None


async def test_orders_for_an_outpatient_are_refused_and_nothing_is_handed_over(mllp: Mllp) -> None:
    mrn = _mrn()
    acks = await mllp.send(adt("A04", mrn=mrn), orm(mrn=mrn), orm(mrn=mrn, trigger="OML^O21"))
    got = [(ack_fields(a)["MSA"][1], ack_fields(a).get("ERR", ["", "", ""])[2]) for a in acks]
    assert got == [("AA", ""), ("AE", "PID^1^3"), ("AE", "PID^1^3")]
    assert ack_fields(acks[1])["ERR"][3].startswith("204^")
    state = await mllp.wait_processed(mrn, 1)
    assert [o.kind for o in state.outcomes] == ["ADT^A04"]


async def test_oru_results_become_observations_on_the_current_encounter(mllp: Mllp, db_engine: sa.Engine) -> None:
    observations_repo = pytest.importorskip("activities.storage.observations_repo")
    mrn, cid = _mrn(), control_id()
    acks = await mllp.send(adt("A01", mrn=mrn), oru(mrn=mrn, cid=cid), oru(mrn=mrn, cid=cid))
    assert [ack_fields(a)["MSA"][1:3] for a in acks][1:] == [["AA", cid], ["AA", cid]]
    state = await mllp.wait_processed(mrn, 2)
    admitted, result = [o for o in state.outcomes if o.status == "applied"]
    assert result.control_id == cid and result.note.startswith("2 observations (2 new)")
    assert [o.status for o in state.outcomes if o.control_id == cid] == ["duplicate", "applied"]
    with make_session_factory(db_engine)() as s:
        pid = repo.find_patient_by_identifier(s, ephemeral_cipher(), "urn:hms:mrn", mrn)
        assert pid is not None
        encounter = repo.active_encounter(s, pid)
        assert encounter is not None and encounter.journey_id == admitted.ref
        found = observations_repo.search_observations(s, ephemeral_cipher(), patient_id=pid)
    assert len(found) == 2
    by_code = {o["code"]["coding"][0]["code"]: o for o in found}
    hb = by_code["718-7"]
    assert hb["encounter"]["reference"] == f"Encounter/{encounter.id}"
    assert hb["valueQuantity"]["value"] == 13.2 and hb["status"] == "final"
    assert hb["identifier"][0] == {"system": "urn:hms:hl7:GENLAB", "value": f"{cid}-1"}


async def test_oru_results_reach_the_journey_and_a_critical_one_is_reviewed(mllp: Mllp) -> None:
    mrn, cid = _mrn(), control_id()
    critical = oru(mrn=mrn, cid=cid, value="5.1").replace("|12.0-16.0|N|", "|12.0-16.0|LL|")
    acks = await mllp.send(adt("A01", mrn=mrn), critical)
    assert [ack_fields(a)["MSA"][1] for a in acks] == ["AA", "AA"]
    state = await mllp.wait_processed(mrn, 2)
    admitted = state.outcomes[0]
    journey = mllp.client.get_workflow_handle_for(PatientJourney.run, admitted.ref or "")
    for _ in range(300):
        js = await journey.query(PatientJourney.state)
        if len(js.results) == 2 and js.stages:
            break
        await asyncio.sleep(0.1)
    assert {(r.code, r.interpretation, r.source) for r in js.results} == {("718-7", "LL", "hl7"),
                                                                         ("8867-4", "N", "hl7")}
    [review] = js.stages
    assert review.kind == "result-review" and review.status == "running"
    assert review.stage_id == next(r.observation_id for r in js.results if r.code == "718-7")
    await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
    final = await journey.result()
    assert final.stages[0].status == "cancelled"
