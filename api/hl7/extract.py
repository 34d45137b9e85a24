"""Per-segment extraction for ``api.hl7.parse``: PID demographics, PV1 visit, OBX results, orders."""
from __future__ import annotations

from typing import Any

from api.hl7 import errors as E
from api.hl7.fields import parse_date, parse_ts, reps, segments, unescape, value
from workflows.hl7_contracts import Hl7Message, Hl7Observation

#: HL7 table 0001 (administrative sex) → FHIR gender.
GENDERS = {"F": "female", "M": "male", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}
#: OBX-2 value types taken in; NM must be numeric.
VALUE_TYPES = frozenset({"NM", "ST", "TX", "FT", "CE", "CWE", "CNE", "SN", "DT", "TS", "DTM", "ID", "IS"})
#: OBX-11 result status (table 0085) accepted.
RESULT_STATUS = frozenset({"F", "P", "C", "R", "S", "X", "I", "D", "W", "U", "A", "O", "N"})
MAX_NAME = 100
MAX_OBX = 200


def patient_fields(msg: Hl7Message, pid: Any, enc: str, *, required: bool) -> None:
    """PID-5 name, PID-7 birth date, PID-8 sex: required for registrations, optional otherwise."""
    msg.family, msg.given = value(pid, 5, 1, enc), value(pid, 5, 2, enc)
    if required and not (msg.family and msg.given):
        raise E.error(E.REQUIRED_MISSING, "PID-5 patient name (family and given) is required",
                      E.Location("PID", 1, 5))
    if len(msg.family) > MAX_NAME or len(msg.given) > MAX_NAME:
        raise E.error(E.DATA_TYPE, "PID-5 patient name is too long", E.Location("PID", 1, 5))
    msg.birth_date = parse_date(value(pid, 7, 1, enc), E.Location("PID", 1, 7))
    if required and msg.birth_date is None:
        raise E.error(E.REQUIRED_MISSING, "PID-7 date of birth is required", E.Location("PID", 1, 7))
    sex = value(pid, 8, 1, enc).upper()
    if sex and sex not in GENDERS:
        raise E.error(E.TABLE_VALUE, "PID-8 administrative sex is not in HL7 table 0001", E.Location("PID", 1, 8))
    msg.gender = GENDERS.get(sex, "unknown" if required else "")


def visit_fields(msg: Hl7Message, pv1: Any, enc: str, *, ward_required: bool) -> None:
    """PV1-2 patient class, PV1-3.1 ward (point of care), PV1-7.1 attending doctor's id."""
    msg.patient_class = value(pv1, 2, 1, enc)
    ward = value(pv1, 3, 1, enc)
    if ward_required and not ward:
        raise E.error(E.REQUIRED_MISSING, "PV1-3 assigned location (ward) is required", E.Location("PV1", 1, 3))
    if ward and (len(ward) > 60 or not ward.isprintable()):
        raise E.error(E.DATA_TYPE, "PV1-3 ward is not a valid location", E.Location("PV1", 1, 3))
    msg.ward = ward or None
    attending = value(pv1, 7, 1, enc)
    if attending and (len(attending) > 80 or not attending.isprintable()):
        raise E.error(E.DATA_TYPE, "PV1-7 attending doctor id is not valid", E.Location("PV1", 1, 7))
    msg.attending = attending or None
    msg.reason = "admitted via HL7 ADT^A01"


def observations(message: Any, enc: str) -> list[Hl7Observation]:
    """Every OBX of an ORU^R01; at least one, each coded, NM values numeric."""
    obxs = segments(message, "OBX")
    if not obxs:
        raise E.error(E.REQUIRED_MISSING, "OBX segment is required in an ORU^R01", E.Location("OBX", 1, 0))
    if len(obxs) > MAX_OBX:
        raise E.error(E.SEGMENT_SEQUENCE, f"at most {MAX_OBX} OBX segments per message", E.Location("OBX", 0, 0))
    obrs = segments(message, "OBR")
    fallback = parse_ts(value(obrs[0], 7, 1, enc), E.Location("OBR", 1, 7)) if obrs else None
    out: list[Hl7Observation] = []
    set_ids: set[str] = set()
    for n, obx in enumerate(obxs, start=1):
        def at(field: int, n: int = n) -> E.Location:
            return E.Location("OBX", n, field)
        vtype = value(obx, 2, 1, enc).upper()
        if vtype not in VALUE_TYPES:
            raise E.error(E.TABLE_VALUE, "OBX-2 value type is not supported", at(2))
        code = value(obx, 3, 1, enc)
        if not code or len(code) > 64:
            raise E.error(E.REQUIRED_MISSING, "OBX-3 observation identifier is required", at(3))
        raw = value(obx, 5, 1, enc) if vtype not in ("TX", "FT", "ST") else _text(obx, enc)
        if vtype == "NM":
            try:
                float(raw)
            except ValueError:
                raise E.error(E.DATA_TYPE, "OBX-5 value is not a number (OBX-2 is NM)", at(5)) from None
        status = value(obx, 11, 1, enc).upper() or "F"
        if status not in RESULT_STATUS:
            raise E.error(E.TABLE_VALUE, "OBX-11 result status is not in HL7 table 0085", at(11))
        set_id = value(obx, 1, 1, enc) or str(n)
        if set_id in set_ids or len(set_id) > 10:
            raise E.error(E.DATA_TYPE, "OBX-1 set id must be unique in the message", at(1))
        set_ids.add(set_id)
        out.append(Hl7Observation(
            set_id=set_id, value_type=vtype, code=code, code_system=value(obx, 3, 3, enc),
            display=value(obx, 3, 2, enc)[:200], value=raw[:4000], unit=value(obx, 6, 1, enc)[:40],
            reference_range=value(obx, 7, 1, enc)[:60], abnormal_flag=value(obx, 8, 1, enc)[:5], status=status,
            effective=parse_ts(value(obx, 14, 1, enc), at(14)) or fallback))
    return out


def _text(obx: Any, enc: str) -> str:
    return "\n".join(unescape(r, enc) for r in reps(obx, 5)).strip()


def order(msg: Hl7Message, message: Any, enc: str) -> None:
    """ORC-2/3 (or OBR-2/3) order number and OBR-4 (or ORC-?) universal service id."""
    orcs, obrs = segments(message, "ORC"), segments(message, "OBR")
    order_id = ""
    if orcs:
        order_id = value(orcs[0], 2, 1, enc) or value(orcs[0], 3, 1, enc)
    if not order_id and obrs:
        order_id = value(obrs[0], 2, 1, enc) or value(obrs[0], 3, 1, enc)
    if not order_id:
        raise E.error(E.REQUIRED_MISSING, "ORC-2 placer order number is required", E.Location("ORC", 1, 2))
    if len(order_id) > 80 or not order_id.isprintable():
        raise E.error(E.DATA_TYPE, "ORC-2 order number is not valid", E.Location("ORC", 1, 2))
    msg.order_id = order_id
    code = value(obrs[0], 4, 1, enc) if obrs else ""
    msg.order_code = code[:64] or None
