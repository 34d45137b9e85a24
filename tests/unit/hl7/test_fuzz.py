"""Property-based fuzzing of the HL7 entry point: any input gets a well-formed ACK, never a crash,
and nothing is handed over unless the answer is AA (no partial write)."""
from __future__ import annotations

import asyncio

import hl7
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.hl7.ack import escape
from api.hl7.handler import Hl7Handler
from tests.unit.hl7.samples import adt, orm, oru
from workflows.hl7_contracts import Hl7Message

KEY = bytes(32)
VALID = [adt("A01", cid="F1"), adt("A03", cid="F2"), adt("A04", cid="F3"), adt("A08", cid="F4"), oru(cid="F5"),
         orm(cid="F6"), orm(cid="F7", trigger="OML^O21")]
HL7ISH = st.text(alphabet=st.sampled_from(list("|^~\\&\r\nMSHPIDOBX0123456789.AZaz -") + ["\x0b", "\x1c", "é"]),
                 max_size=40)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid message with a slice replaced, deleted or duplicated."""
    text = draw(st.sampled_from(VALID))
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 30)))
    op = draw(st.sampled_from(["replace", "delete", "duplicate"]))
    if op == "replace":
        text = text[:start] + draw(HL7ISH) + text[end:]
    elif op == "delete":
        text = text[:start] + text[end:]
    else:
        text = text[:end] + text[start:end] + text[end:]
    return text.encode("utf-8", errors="surrogatepass")


def check(data: bytes) -> None:
    handed: list[Hl7Message] = []

    async def sink(msg: Hl7Message) -> None:
        handed.append(msg)

    ack_text = asyncio.run(Hl7Handler(KEY, sink).handle(data)).decode()
    assert "\x0b" not in ack_text and "\x1c" not in ack_text
    segments = [s for s in ack_text.split("\r") if s]
    assert [s[:3] for s in segments][:2] == ["MSH", "MSA"]
    ack = hl7.parse(ack_text)
    code = str(ack.segment("MSA")[1])
    assert code in ("AA", "AE", "AR")
    if code == "AA":
        assert len(handed) == 1 and str(ack.segment("MSA")[2]) == escape(handed[0].control_id)
        assert len(segments) == 2
    else:
        assert handed == [] and [s[:3] for s in segments] == ["MSH", "MSA", "ERR"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_messages_always_get_a_well_formed_ack(data: bytes) -> None:
    check(data)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_always_get_a_well_formed_ack(data: bytes) -> None:
    check(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_after_a_valid_header(data: bytes) -> None:
    check(adt("A01", cid="H1").split("\r")[0].encode() + b"\r" + data)
