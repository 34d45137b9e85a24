"""Outbound HL7: messages built from the store, delivered over MLLP only on AA."""
from __future__ import annotations

import asyncio
import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from hl7apy.parser import parse_message
from temporalio.exceptions import ApplicationError

from activities.crypto.fields import ephemeral_cipher
from activities.hl7_outbound import Hl7OutboundActivities
from activities.storage import repository as repo
from activities.storage.db import make_session_factory
from api.hl7.handler import Hl7Handler
from api.hl7.listener import MllpListener
from workflows.hl7_contracts import Hl7Message, Hl7Outbound, Hl7OutboundRequest
from workflows.hl7_outbound import parse_destinations

pytestmark = pytest.mark.integration


async def test_adt_a01_built_from_the_store_is_delivered_and_parses(db_engine: sa.Engine) -> None:
    sessions = make_session_factory(db_engine)
    cipher = ephemeral_cipher()
    with sessions() as s, s.begin():
        pid, _ = repo.register_patient(s, cipher, str(uuid.uuid4()), "urn:hms:mrn",
                                       f"MRN-{uuid.uuid4().hex[:8]}", "Asha", "O|Brien", date(1980, 5, 17), "female")
        encounter_id = str(uuid.uuid4())
        repo.create_encounter(s, encounter_id, pid, f"journey-{encounter_id}", "medical", "outbound test")
    acts = Hl7OutboundActivities(sessions, cipher)
    text = acts.hl7_build_outbound(Hl7OutboundRequest(kind="ADT^A01", control_id="OUT-1", patient_id=pid,
                                                      encounter_id=encounter_id))
    msg = parse_message(text, find_groups=False)
    assert msg.msh.msh_10.to_er7() == "OUT-1" and msg.msh.msh_9.to_er7() == "ADT^A01^ADT_A01"
    assert msg.pv1.pv1_3.pl_1.to_er7() == "medical" and msg.pv1.pv1_19.to_er7() == encounter_id
    assert msg.pid.pid_5.to_er7() == "O\\F\\Brien^Asha"

    received: list[Hl7Message] = []

    async def sink(m: Hl7Message) -> None:
        received.append(m)

    listener = MllpListener(Hl7Handler(bytes(32), sink))
    port = await listener.start("127.0.0.1", 0)
    try:
        (dest,) = parse_destinations(f" 127.0.0.1:{port} ,")
        code = await asyncio.to_thread(acts.hl7_send, Hl7Outbound(destination=dest, message=text, control_id="OUT-1"))
        assert code == "AA" and received[0].control_id == "OUT-1" and received[0].family == "O|Brien"
        refused = text.replace("ADT^A01^ADT_A01", "ADT^A99^ADT_A01")
        with pytest.raises(ApplicationError) as info:
            await asyncio.to_thread(acts.hl7_send, Hl7Outbound(destination=dest, message=refused, control_id="X"))
        assert info.value.type == "Hl7NotAccepted"
    finally:
        await listener.close()
    with pytest.raises(ApplicationError) as down:
        acts.hl7_send(Hl7Outbound(destination=f"127.0.0.1:{port}", message=text, control_id="OUT-1"))
    assert down.value.type == "Hl7DestinationDown" and not down.value.non_retryable
