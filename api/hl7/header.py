"""The MSH header read by hand, before and independently of hl7apy.

An ACK must echo the control id (MSA-2) and address the sender even when the rest of the
message is unparseable, so the header is split with the message's own delimiters first.
"""
from __future__ import annotations

from dataclasses import dataclass

from api.hl7.errors import DATA_TYPE, REQUIRED_MISSING, SEGMENT_SEQUENCE, Location, reject

MAX_CONTROL_ID = 199
#: HL7 v2 versions taken in (hl7apy models each of them).
VERSIONS = frozenset({"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8", "2.8.1", "2.8.2"})


@dataclass(frozen=True)
class Header:
    field_sep: str = "|"
    encoding: str = "^~\\&"
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    message_time: str = ""
    message_type: str = ""
    trigger: str = ""
    control_id: str = ""
    processing_id: str = ""
    version: str = ""


def decode(data: bytes) -> str:
    """Bytes to text: UTF-8, else Latin-1 (which cannot fail), with segments ended by CR."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    text = text.replace("\r\n", "\r").replace("\n", "\r").strip("\r")
    return text


def read_header(text: str) -> Header:
    """The MSH fields; raises ``Hl7Error`` (AR) when there is no usable header at all."""
    if not text.startswith("MSH") or len(text) < 8:
        raise reject(SEGMENT_SEQUENCE, "the message does not start with an MSH segment", Location("MSH", 1, 0))
    sep = text[3]
    if sep.isalnum() or sep in "\r ":
        raise reject(SEGMENT_SEQUENCE, "MSH-1 field separator is invalid", Location("MSH", 1, 1))
    line = text.split("\r", 1)[0]
    fields = line.split(sep)
    encoding = fields[1] if len(fields) > 1 else ""
    if len(encoding) < 4 or len(set(encoding[:4])) < 4 or sep in encoding[:4] or any(c.isalnum() for c in encoding[:4]):
        raise reject(SEGMENT_SEQUENCE, "MSH-2 encoding characters are invalid", Location("MSH", 1, 2))
    comp = encoding[0]

    def f(n: int) -> str:  # MSH-n is fields[n-1] since MSH-1 is the separator itself
        return fields[n - 1] if len(fields) > n - 1 else ""

    msg_type = f(9).split(comp)
    header = Header(
        field_sep=sep, encoding=encoding[:4], sending_application=f(3).split(comp)[0],
        sending_facility=f(4).split(comp)[0], receiving_application=f(5).split(comp)[0],
        receiving_facility=f(6).split(comp)[0], message_time=f(7).split(comp)[0],
        message_type=msg_type[0].strip(), trigger=(msg_type[1] if len(msg_type) > 1 else "").strip(),
        control_id=f(10).split(comp)[0].strip(), processing_id=f(11).split(comp)[0].strip(),
        version=f(12).split(comp)[0].strip())
    if not header.control_id:
        raise reject(REQUIRED_MISSING, "MSH-10 message control id is required", Location("MSH", 1, 10))
    if len(header.control_id) > MAX_CONTROL_ID or not header.control_id.isprintable():
        raise reject(DATA_TYPE, "MSH-10 message control id is not a valid id",
                     Location("MSH", 1, 10))
    return header


def best_effort_header(text: str) -> Header:
    """Whatever header can be read, for addressing an ACK to a message that was refused."""
    try:
        return read_header(text)
    except Exception:  # noqa: BLE001 - any header at all is better than none here
        pass
    if text.startswith("MSH") and len(text) > 3:
        fields = text.split("\r", 1)[0].split(text[3])
        control = fields[9].split("^")[0] if len(fields) > 9 else ""
        if len(control) <= MAX_CONTROL_ID and control.isprintable():
            return Header(control_id=control, sending_application=fields[2][:60] if len(fields) > 2 else "",
                          sending_facility=fields[3][:60] if len(fields) > 3 else "")
    return Header()
