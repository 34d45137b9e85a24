"""Why a message is refused, in HL7's own terms (table 0357 codes, ERR-2 locations).

``AE`` (application error) is for a message the interface understood but whose content is
wrong; ``AR`` (application reject) for one it will not process at all: unknown type or
version, a broken header, or the hospital unable to take it durably right now (resend).
"""
from __future__ import annotations

from dataclasses import dataclass

# HL7 table 0357 (message error condition codes).
SEGMENT_SEQUENCE = "100"
REQUIRED_MISSING = "101"
DATA_TYPE = "102"
TABLE_VALUE = "103"
UNSUPPORTED_TYPE = "200"
UNSUPPORTED_EVENT = "201"
UNSUPPORTED_PROCESSING = "202"
UNSUPPORTED_VERSION = "203"
UNKNOWN_KEY = "204"
INTERNAL = "207"

CODE_TEXT = {
    SEGMENT_SEQUENCE: "Segment sequence error",
    REQUIRED_MISSING: "Required field missing",
    DATA_TYPE: "Data type error",
    TABLE_VALUE: "Table value not found",
    UNSUPPORTED_TYPE: "Unsupported message type",
    UNSUPPORTED_EVENT: "Unsupported event code",
    UNSUPPORTED_PROCESSING: "Unsupported processing id",
    UNSUPPORTED_VERSION: "Unsupported version id",
    UNKNOWN_KEY: "Unknown key identifier",
    INTERNAL: "Application internal error",
}


@dataclass(frozen=True)
class Location:
    """ERR-2: segment id, segment sequence (1-based), field position; 0 means "not applicable"."""

    segment: str = ""
    sequence: int = 0
    field: int = 0


class Hl7Error(Exception):
    """A refusal: the ACK code, the table 0357 code, where, and a message without patient content."""

    def __init__(self, ack_code: str, code: str, text: str, location: Location | None = None) -> None:
        super().__init__(text)
        self.ack_code = ack_code
        self.code = code
        self.text = text
        self.location = location or Location()


def reject(code: str, text: str, location: Location | None = None) -> Hl7Error:
    return Hl7Error("AR", code, text, location)


def error(code: str, text: str, location: Location | None = None) -> Hl7Error:
    return Hl7Error("AE", code, text, location)
