"""Reading values out of hl7apy segments: repetitions, components, escapes, dates.

hl7apy gives the structure (segments, fields, repetitions); components are split with the
message's own encoding characters and HL7 escapes are undone here, so names like
``O\\T\\Brien`` come out as written.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from api.hl7.errors import DATA_TYPE, Location, error


def segments(parsed: list[Any], name: str) -> list[Any]:
    """All segments called ``name``, in order (segments are parsed without groups)."""
    return [s for s in parsed if s.name == name]


def reps(segment: Any, position: int) -> list[str]:
    """The ER7 text of each repetition of field ``position``."""
    name = f"{segment.name}_{position}"
    return [f.to_er7() for f in segment.children if f.name == name]


def component(value: str, n: int, encoding: str = "^~\\&") -> str:
    parts = value.split(encoding[0])
    return unescape(parts[n - 1].split(encoding[3])[0], encoding) if len(parts) >= n else ""


def value(segment: Any, position: int, comp: int = 1, encoding: str = "^~\\&") -> str:
    """Component ``comp`` of the first repetition of field ``position`` ('' when absent)."""
    found = reps(segment, position)
    return component(found[0], comp, encoding).strip() if found else ""


def unescape(text: str, encoding: str = "^~\\&") -> str:
    esc = encoding[2]
    if esc not in text:
        return text
    table = {"F": "|", "S": encoding[0], "R": encoding[1], "E": esc, "T": encoding[3]}
    out, i = [], 0
    while i < len(text):
        if text[i] == esc:
            end = text.find(esc, i + 1)
            if end > i:
                out.append(table.get(text[i + 1:end], ""))
                i = end + 1
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


def parse_date(raw: str, where: Location) -> date | None:
    """A DT/DTM as a date (YYYY[MM[DD]]…); AE 102 when it is not one."""
    if not raw:
        return None
    digits = raw[:8]
    try:
        if len(digits) != 8 or not digits.isdigit():
            raise ValueError
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise error(DATA_TYPE, f"{where.segment}-{where.field} is not a valid date (YYYYMMDD)", where) from None


def parse_ts(raw: str, where: Location) -> datetime | None:
    """A TS/DTM (YYYYMMDD[HH[MM[SS[.S]]]][+/-ZZZZ]) as an aware datetime (UTC when no offset)."""
    if not raw:
        return None
    body, tz = raw, UTC
    for sign in "+-":
        if sign in body[8:]:
            idx = body.rindex(sign)
            body, off = body[:idx], body[idx + 1:]
            if len(off) != 4 or not off.isdigit():
                raise error(DATA_TYPE, f"{where.segment}-{where.field} has an invalid time zone offset", where)
            minutes = int(off[:2]) * 60 + int(off[2:])
            tz = timezone((1 if sign == "+" else -1) * timedelta(minutes=minutes))
    body = body.split(".")[0]
    try:
        if len(body) < 8 or len(body) % 2 or len(body) > 14 or not body.isdigit():
            raise ValueError
        parts = [int(body[i:i + 2]) for i in range(4, len(body), 2)]
        parts += [1] * (2 - min(len(parts), 2)) + [0] * 3
        return datetime(int(body[:4]), parts[0], parts[1], parts[2], parts[3], parts[4], tzinfo=tz)
    except ValueError:
        raise error(DATA_TYPE, f"{where.segment}-{where.field} is not a valid timestamp", where) from None
