"""ORM^O01 / OML^O21 → the journey's imaging or pharmacy order, or a refusal that names the field.

An order starts what the task API's order routes start, so it is mapped onto their payloads
here, before the ACK: an imaging order (``ImagingOrderIn``: modality, body site, priority, reason
code) when OBR-4 is in the imaging catalogue, a medication order (``MedicationOrderIn``: RxNorm
code, dose, unit, route, frequency, number of doses or days) when the message has an RXE or RXO
segment. What does not map is refused ``AE`` (table 0357 code 103, "table value not found", with
the field) and nothing is handed over: the sender learns at once that no order was placed.
"""
from __future__ import annotations

import math
import re
from typing import Any

from activities.formulary import load_formulary
from api.hl7 import errors as E
from api.hl7.fields import segments, value
from workflows.hl7_contracts import Hl7Message
from workflows.imaging_contracts import CODE_PATTERN
from workflows.pharmacy_contracts import parse_order
from workflows.stages import StageInputError

#: ORC-1 (HL7 table 0119) codes acted on: a new order, and the two that stop one.
CONTROLS = frozenset({"NW", "CA", "DC"})
CANCELS = frozenset({"CA", "DC"})
#: OBR-24 diagnostic service sections (HL7 table 0074) that are radiology.
RADIOLOGY_SECTIONS = frozenset({"RAD", "RX", "CT", "NMR", "NMS", "RUS", "VUS", "OUS", "CUS"})
#: The imaging catalogue: LOINC radiology codes (OBR-4) → DICOM modality and SNOMED CT body site.
#: Comments give the display names as published (LOINC display name → SNOMED CT preferred term).
#: 24558-9 used 113345001 |Abdominal structure| until the SNOMED CT revision of the abdomen concepts
#: (January 2020 release), which made 818983003 the concept meant by "Abdomen".
IMAGING_CATALOGUE: dict[str, tuple[str, str]] = {
    "36643-5": ("CR", "51185008"),   # XR Chest 2 Views → Thoracic structure
    "24648-8": ("CR", "51185008"),   # XR Chest PA upright → Thoracic structure
    "24627-2": ("CT", "51185008"),   # CT Chest → Thoracic structure
    "24725-4": ("CT", "69536005"),   # CT Head → Head structure
    "24590-2": ("MR", "12738006"),   # MR Brain → Brain structure
    "24558-9": ("US", "818983003"),  # US Abdomen → Abdomen
    "24606-6": ("MG", "76752008"),   # MG Breast Screening → Breast structure
}
#: RXO-4 / RXE-5 give units (UCUM and common spellings) → the pharmacy order's units.
UNITS = {"mg": "mg", "mcg": "mcg", "ug": "mcg", "g": "g", "ml": "mL", "mL": "mL", "u": "units", "U": "units",
         "[iU]": "units", "[IU]": "units", "units": "units", "mmol": "mmol"}
#: RXR-1 route (HL7 table 0162) → the pharmacy order's routes.
ROUTES = {"PO": "PO", "IV": "IV", "IM": "IM", "SC": "SC", "SL": "SL", "PR": "PR", "IH": "INH", "INH": "INH",
          "TP": "TOP", "TOP": "TOP"}
#: Named repeat patterns (table 0335) → hours between doses.
PATTERNS = {"QD": 24, "DAILY": 24, "QAM": 24, "QPM": 24, "QHS": 24, "BID": 12, "TID": 8, "QID": 6, "QOD": 48}
_EVERY = re.compile(r"^Q(\d{1,3})(H|D)$")
_DURATION = re.compile(r"^([XDW])(\d{1,3})$")


def read_order(msg: Hl7Message, message: list[Any], enc: str) -> None:
    """ORC-1 control and, for a new order, its stage kind and payload; ``Hl7Error`` when it does not map."""
    orcs = segments(message, "ORC")
    control = (value(orcs[0], 1, 1, enc).upper() if orcs else "") or "NW"
    if control not in CONTROLS:
        raise E.error(E.TABLE_VALUE, "ORC-1 order control is not supported (NW, CA, DC)", E.Location("ORC", 1, 1))
    msg.order_control = control
    msg.order_namespace = (value(orcs[0], 2, 2, enc) if orcs else "")[:40]
    rx = segments(message, "RXE") or segments(message, "RXO")
    if rx:
        msg.order_kind = "pharmacy"
        if control == "NW":
            msg.order_payload = _medication(message, rx[0], enc)
            msg.order_code = msg.order_payload["drug_code"]
        return
    obrs = segments(message, "OBR")
    code = value(obrs[0], 4, 1, enc) if obrs else ""
    if code in IMAGING_CATALOGUE:
        msg.order_kind = "imaging"
    if control != "NW":
        return
    if not obrs:
        raise E.error(E.REQUIRED_MISSING, "an OBR (imaging) or RXE/RXO (medication) segment is required for a "
                      "new order", E.Location("OBR", 1, 0))
    if code not in IMAGING_CATALOGUE:
        section = value(obrs[0], 24, 1, enc).upper()
        what = "the imaging catalogue" if section in RADIOLOGY_SECTIONS else "the services orderable here (imaging)"
        raise E.error(E.TABLE_VALUE, f"OBR-4 universal service id is not in {what}", E.Location("OBR", 1, 4))
    modality, body_site = IMAGING_CATALOGUE[code]
    reason = value(obrs[0], 31, 1, enc)
    msg.order_payload = {"modality": modality, "body_site": body_site,
                         "priority": "urgent" if _priority(message, obrs[0], enc) in ("S", "A") else "routine",
                         "reason_code": reason if CODE_PATTERN.match(reason) else "unspecified"}


def _priority(message: list[Any], obr: Any, enc: str) -> str:
    tq1s, orcs = segments(message, "TQ1"), segments(message, "ORC")
    for found in (value(tq1s[0], 9, 1, enc) if tq1s else "", value(orcs[0], 7, 6, enc) if orcs else "",
                  value(obr, 27, 6, enc)):
        if found:
            return found.upper()
    return "R"


def _medication(message: list[Any], rx: Any, enc: str) -> dict[str, Any]:
    """RXE (2 give code, 3 amount, 5 units) or RXO (1, 2, 4), RXR-1 route, TQ1 / ORC-7 timing."""
    is_rxe = rx.name == "RXE"
    code_f, dose_f, unit_f = (2, 3, 5) if is_rxe else (1, 2, 4)

    def at(field: int, segment: str = rx.name) -> E.Location:
        return E.Location(segment, 1, field)

    drug_code = value(rx, code_f, 1, enc)
    drug = load_formulary().drug(drug_code) if drug_code else None
    if drug is None:
        raise E.error(E.TABLE_VALUE if drug_code else E.REQUIRED_MISSING,
                      f"{rx.name}-{code_f} give code is not an RxNorm code of the formulary", at(code_f))
    try:
        dose = float(value(rx, dose_f, 1, enc))
        if not math.isfinite(dose) or dose <= 0:
            raise ValueError
    except ValueError:
        raise E.error(E.DATA_TYPE, f"{rx.name}-{dose_f} give amount must be a number above 0", at(dose_f)) from None
    unit = UNITS.get(value(rx, unit_f, 1, enc))
    if unit != drug.dose_unit:
        raise E.error(E.TABLE_VALUE, f"{rx.name}-{unit_f} give units must be {drug.dose_unit} for this drug",
                      at(unit_f))
    if dose > drug.max_single_dose:
        raise E.error(E.DATA_TYPE, f"{rx.name}-{dose_f} give amount is above the formulary's maximum single dose",
                      at(dose_f))
    rxrs = segments(message, "RXR")
    route = ROUTES.get(value(rxrs[0], 1, 1, enc).upper()) if rxrs else None
    if route is None or route not in drug.routes:
        raise E.error(E.TABLE_VALUE if rxrs else E.REQUIRED_MISSING,
                      "RXR-1 route is not one this drug is stocked for", E.Location("RXR", 1, 1))
    payload: dict[str, Any] = {"drug_code": drug_code, "dose": dose, "unit": unit, "route": route,
                               "frequency_hours": _frequency(message, rx, enc), **_course(message, rx, enc)}
    try:
        parse_order(payload)
    except StageInputError as exc:
        raise E.error(E.DATA_TYPE, f"the order's timing does not make a course ({str(exc).split(':')[0]})",
                      E.Location("TQ1", 1, 0)) from None
    return payload


def _timing(message: list[Any], rx: Any, enc: str, tq1_field: int, tq_component: int) -> tuple[str, E.Location]:
    """A timing value from TQ1, else ORC-7 (TQ), else RXE-1 (TQ), with where it was read."""
    tq1s, orcs = segments(message, "TQ1"), segments(message, "ORC")
    if tq1_field and tq1s and value(tq1s[0], tq1_field, 1, enc):
        return value(tq1s[0], tq1_field, 1, enc).upper(), E.Location("TQ1", 1, tq1_field)
    if not tq_component:
        return "", E.Location("TQ1", 1, tq1_field)
    if orcs and value(orcs[0], 7, tq_component, enc):
        return value(orcs[0], 7, tq_component, enc).upper(), E.Location("ORC", 1, 7)
    if rx.name == "RXE" and value(rx, 1, tq_component, enc):
        return value(rx, 1, tq_component, enc).upper(), E.Location("RXE", 1, 1)
    return "", E.Location("TQ1", 1, tq1_field)


def _frequency(message: list[Any], rx: Any, enc: str) -> int:
    pattern, where = _timing(message, rx, enc, 3, 2)
    if not pattern:
        raise E.error(E.REQUIRED_MISSING, "TQ1-3 (or ORC-7.2) repeat pattern is required for a medication order",
                      where)
    if pattern in PATTERNS:
        return PATTERNS[pattern]
    m = _EVERY.match(pattern)
    hours = (int(m.group(1)) * (24 if m.group(2) == "D" else 1)) if m else 0
    if not 1 <= hours <= 168:
        raise E.error(E.TABLE_VALUE, "repeat pattern is not one taken here (Q<n>H, Q<n>D, QD, BID, TID, QID, QOD)",
                      where)
    return hours


def _course(message: list[Any], rx: Any, enc: str) -> dict[str, Any]:
    """How long: TQ1-14 total occurrences, else a TQ duration (``X4`` doses, ``D7`` days, ``W1`` weeks)."""
    total, where = _timing(message, rx, enc, 14, 0)
    if total:
        if not total.isdigit():
            raise E.error(E.DATA_TYPE, "TQ1-14 total occurrences must be a whole number", where)
        return {"doses": int(total)}
    duration, where = _timing(message, rx, enc, 0, 3)
    m = _DURATION.match(duration)
    if not m:
        raise E.error(E.REQUIRED_MISSING, "TQ1-14 total occurrences (or ORC-7.3 duration X<n>, D<n>, W<n>) is "
                      "required for a medication order", where if duration else E.Location("TQ1", 1, 14))
    n = int(m.group(2))
    return {"doses": n} if m.group(1) == "X" else {"duration_days": n * (7 if m.group(1) == "W" else 1)}
