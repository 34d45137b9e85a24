"""ACK messages: MSH, MSA (AA/AE/AR with the control id) and, for a refusal, an ERR segment.

Built by hand rather than through hl7apy: an ACK must be producible for any input, even
one whose header hl7apy cannot read, and every echoed value is escaped so a hostile
sender cannot inject segments into the reply.
"""
from __future__ import annotations

import itertools
from datetime import UTC, datetime

from api.hl7.errors import CODE_TEXT, Hl7Error
from api.hl7.header import VERSIONS, Header

RECEIVING_APPLICATION = "HMS"
RECEIVING_FACILITY = "HMS"
ACK_VERSION = "2.5"
_counter = itertools.count(1)


def escape(value: str, field_sep: str = "|", encoding: str = "^~\\&") -> str:
    """HL7 escape sequences for the delimiters; control characters are dropped."""
    comp, rep, esc, sub = encoding[0], encoding[1], encoding[2], encoding[3]
    out = []
    for ch in value:
        if ch == esc:
            out.append(f"{esc}E{esc}")
        elif ch == field_sep:
            out.append(f"{esc}F{esc}")
        elif ch == comp:
            out.append(f"{esc}S{esc}")
        elif ch == sub:
            out.append(f"{esc}T{esc}")
        elif ch == rep:
            out.append(f"{esc}R{esc}")
        elif ch.isprintable():
            out.append(ch)
    return "".join(out)


def build_ack(header: Header, ack_code: str, err: Hl7Error | None = None, text: str = "") -> str:
    """The ACK of ``header``'s message as ER7 text (segments ended by CR, no MLLP framing)."""
    e = escape
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    version = header.version if header.version in VERSIONS else ACK_VERSION
    trigger = header.trigger if header.trigger.isalnum() and len(header.trigger) <= 3 else ""
    msh = "|".join([
        "MSH", "^~\\&", RECEIVING_APPLICATION, RECEIVING_FACILITY, e(header.sending_application[:180]),
        e(header.sending_facility[:180]), now, "", f"ACK^{trigger}^ACK" if trigger else "ACK",
        f"ACK{now}{next(_counter):06d}", header.processing_id if header.processing_id in ("P", "T", "D") else "P",
        e(version)])
    note = err.text if err is not None else text
    msa = "|".join(["MSA", ack_code, e(header.control_id[:199]), e(note[:80])])
    segments = [msh, msa]
    if err is not None:
        loc = err.location
        location = "^".join([loc.segment, str(loc.sequence) if loc.sequence else "",
                             str(loc.field) if loc.field else ""]).rstrip("^")
        code = f"{err.code}^{e(CODE_TEXT.get(err.code, ''))}^HL70357"
        # ERR-1 (2.3 style) left empty; ERR-2 location, ERR-3 code, ERR-4 severity, ERR-8 user message.
        segments.append("|".join(["ERR", "", location, code, "E", "", "", "", e(err.text[:250])]))
    return "\r".join(segments) + "\r"
