"""HL7 v2 inbound messages to ``Hl7Message``: header checks, hl7apy parsing, per-event fields.

Refusals are ``Hl7Error``: AR for what the interface will not process (type, event, version,
processing id, an unreadable structure), AE for content errors (a required field missing, a
bad date or code), each with the ERR location. Error texts name fields, never their values.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_segments

from activities.storage.identity import patient_id_for
from api.hl7 import errors as E
from api.hl7.extract import observations, order, patient_fields, visit_fields
from api.hl7.fields import parse_ts, segments, value
from api.hl7.header import VERSIONS, Header, decode, read_header
from api.hl7.orders import read_order
from workflows.hl7_contracts import Hl7Message

#: Message types and events the hospital takes in.
SUPPORTED: dict[str, frozenset[str]] = {
    "ADT": frozenset({"A01", "A03", "A04", "A08"}),
    "ORM": frozenset({"O01"}),
    "OML": frozenset({"O21"}),
    "ORU": frozenset({"R01"}),
}
MAX_IDENTIFIER = 100


def check_header(header: Header) -> None:
    if header.message_type not in SUPPORTED:
        raise E.reject(E.UNSUPPORTED_TYPE, "MSH-9 message type is not supported (ADT, ORM, OML, ORU)",
                       E.Location("MSH", 1, 9))
    if header.trigger not in SUPPORTED[header.message_type]:
        events = ", ".join(sorted(SUPPORTED[header.message_type]))
        raise E.reject(E.UNSUPPORTED_EVENT, f"MSH-9 event is not supported for {header.message_type} ({events})",
                       E.Location("MSH", 1, 9))
    if header.version not in VERSIONS:
        raise E.reject(E.UNSUPPORTED_VERSION, "MSH-12 version is not supported (2.3 to 2.8.2)", E.Location("MSH", 1, 12))
    if header.processing_id not in ("P", "T", "D"):
        raise E.reject(E.UNSUPPORTED_PROCESSING, "MSH-11 processing id must be P, T or D", E.Location("MSH", 1, 11))


def identifier_system(authority: str) -> str:
    """PID-3.4 assigning authority → identifier system; the hospital's own MRNs share the task API's system."""
    if authority in ("", "HMS"):
        return "urn:hms:mrn"
    if authority.startswith(("urn:", "http://", "https://")):
        return authority
    if authority.replace(".", "").isdigit():
        return f"urn:oid:{authority}"
    return f"urn:hms:hl7:aa:{authority}"


def derived_patient_id(index_key: bytes, system: str, value_: str) -> str:
    """The id the task API gives a new patient with this identifier (``activities.storage.identity``)."""
    return patient_id_for(index_key, system, value_)


def parse(data: bytes, index_key: bytes, received_at: datetime | None = None) -> tuple[Header, Hl7Message]:
    """Parse and validate one message; returns its header and payload or raises ``Hl7Error``."""
    text = decode(data)
    header = read_header(text)
    check_header(header)
    try:
        message = parse_segments(_content(text, header), version=header.version, encoding_chars=_encoding(header))
    except HL7apyException as exc:
        raise E.reject(E.SEGMENT_SEQUENCE, f"the message structure could not be parsed ({type(exc).__name__})",
                       E.Location("MSH", 1, 0)) from None
    except Exception as exc:  # noqa: BLE001 - hl7apy raises plain errors on some malformed input
        raise E.reject(E.SEGMENT_SEQUENCE, f"the message could not be parsed ({type(exc).__name__})") from None
    return header, _payload(header, message, index_key, received_at or datetime.now(UTC))


#: The segments the hospital reads; others (EVN, NK1, Z-segments, …) are not parsed at all.
CONTENT_SEGMENTS = frozenset({"PID", "PV1", "ORC", "OBR", "OBX", "RXO", "RXE", "RXR", "TQ1"})
#: Versions without the TQ1 segment (timing is in ORC-7 there).
NO_TQ1 = frozenset({"2.3", "2.3.1", "2.4"})


def _content(text: str, header: Header) -> str:
    """The segments hl7apy parses: those we read (MSH was read by hand; parsing the rest costs time)."""
    keep = [line for line in text.split("\r")[1:]
            if line[:3] in CONTENT_SEGMENTS and (len(line) == 3 or line[3] == header.field_sep)
            and not (line[:3] == "TQ1" and header.version in NO_TQ1)]
    return "\r".join(keep)


def _encoding(header: Header) -> dict[str, str]:
    enc = header.encoding
    comp, rep, esc, sub = enc[0], enc[1], enc[2], enc[3]
    return {"FIELD": header.field_sep, "COMPONENT": comp, "REPETITION": rep, "ESCAPE": esc, "SUBCOMPONENT": sub,
            "GROUP": "\r", "SEGMENT": "\r"}


def _payload(header: Header, message: list[Any], index_key: bytes, received_at: datetime) -> Hl7Message:
    enc = header.encoding
    pids = segments(message, "PID")
    if not pids:
        raise E.error(E.REQUIRED_MISSING, "PID segment is required", E.Location("PID", 1, 0))
    pid = pids[0]
    ident = value(pid, 3, 1, enc)
    if not ident:
        raise E.error(E.REQUIRED_MISSING, "PID-3 patient identifier is required", E.Location("PID", 1, 3))
    if len(ident) > MAX_IDENTIFIER or not ident.isprintable():
        raise E.error(E.DATA_TYPE, "PID-3 patient identifier is not a valid identifier", E.Location("PID", 1, 3))
    system = identifier_system(value(pid, 3, 4, enc))
    kind = f"{header.message_type}^{header.trigger}"
    msg = Hl7Message(
        control_id=header.control_id, message_type=header.message_type, trigger=header.trigger,
        version=header.version, sending_application=header.sending_application,
        sending_facility=header.sending_facility or "unknown", received_at=received_at,
        identifier_system=system, identifier_value=ident,
        derived_patient_id=derived_patient_id(index_key, system, ident),
        message_time=parse_ts(header.message_time, E.Location("MSH", 1, 7)))
    demographics_required = kind in ("ADT^A01", "ADT^A04")
    patient_fields(msg, pid, enc, required=demographics_required)
    pv1s = segments(message, "PV1")
    if kind == "ADT^A01" and not pv1s:
        raise E.error(E.REQUIRED_MISSING, "PV1 segment is required for an admission", E.Location("PV1", 1, 0))
    if pv1s:
        visit_fields(msg, pv1s[0], enc, ward_required=kind == "ADT^A01")
    if header.message_type == "ORU":
        msg.observations = observations(message, enc)
    if header.message_type in ("ORM", "OML"):
        order(msg, message, enc)
        read_order(msg, message, enc)
    return msg
