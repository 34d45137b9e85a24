"""Observations as FHIR R4 dicts: record (idempotent), read, update and search.

One source of truth for results and measurements: lab results posted over FHIR or HL7
land in ``hms.observations`` (the resource encrypted per patient); vitals that triage
recorded in ``hms.vital_signs`` are served read-only as Observations of category
``vital-signs`` with ids ``vs-<vital signs id>`` (a panel with one component per vital).
Callers pass FHIR dicts already validated against the R4 model.
"""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.fields import DataErased, FieldCipher
from activities.crypto.kms import KeyUnavailable
from activities.storage.models import Encounter, Patient
from activities.storage.models_observations import Observation
from activities.storage.models_triage import VitalSigns

TABLE = "observations"
VITALS_PREFIX = "vs-"
VITALS_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
#: Triage vital -> (LOINC code, display, UCUM unit or None for a non-quantity value).
VITALS = {
    "respiratory_rate": ("9279-1", "Respiratory rate", "/min"),
    "spo2": ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%"),
    "systolic_bp": ("8480-6", "Systolic blood pressure", "mm[Hg]"),
    "heart_rate": ("8867-4", "Heart rate", "/min"),
    "temperature": ("8310-5", "Body temperature", "Cel"),
    "consciousness": ("80288-4", "Level of consciousness (AVPU)", None),
    "on_oxygen": ("3150-0", "Inhaled oxygen", None),
}
_STRIPPED = ("id", "meta")


class InvalidObservation(ValueError):
    """The Observation cannot be stored as given (bad subject, encounter, label or date)."""


class ReadOnlyObservation(Exception):
    """The Observation is a projection (triage vitals) and cannot be changed here."""


def _ref_id(ref: Any, rtype: str) -> str | None:
    value = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(value, str) or not value.startswith(f"{rtype}/"):
        return None
    return value.split("/", 1)[1] or None


def parse_instant(value: str) -> datetime:
    """A FHIR date/dateTime/instant as an aware datetime (partial dates take their start; no zone is UTC)."""
    text = value.strip()
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _effective(obs: dict[str, Any]) -> datetime | None:
    raw = (obs.get("effectiveDateTime") or obs.get("effectiveInstant")
           or (obs.get("effectivePeriod") or {}).get("start") or obs.get("issued"))
    if not raw:
        return None
    try:
        return parse_instant(str(raw))
    except ValueError as exc:
        raise InvalidObservation(f"effective: not a FHIR dateTime: {raw!r}") from exc


def tokens(concepts: list[dict[str, Any]]) -> list[str]:
    """``system|code`` and bare ``code`` tokens of codeable concepts, as token search matches them."""
    out: list[str] = []
    for concept in concepts:
        for coding in (concept or {}).get("coding") or []:
            code = coding.get("code")
            if code:
                out += [f"{coding.get('system') or ''}|{code}", str(code)]
    return sorted(set(out))


def _labels(obs: dict[str, Any]) -> list[str]:
    codes = sorted({str(s.get("code")) for s in (obs.get("meta") or {}).get("security") or [] if s.get("code")})
    if any(len(c) > 10 for c in codes):
        raise InvalidObservation("meta.security: label codes are at most 10 characters")
    return codes


def _tx_cache(session: Session, name: str) -> dict[Any, Any]:
    """A memo that lives as long as the session's current transaction (a rollback forgets it)."""
    tx = session.get_transaction()
    held = session.info.get(name)
    if held is None or held[0] is not tx:
        held = session.info[name] = (tx, {})
    return held[1]


def _known(session: Session, model: Any, ident: str) -> str | None:
    """The patient id of a Patient or Encounter row (None if unknown), remembered for the transaction:
    a Bundle of results for one stay checks its subject once."""
    seen = _tx_cache(session, "observation_refs")
    key = (model.__tablename__, ident)
    if key not in seen:
        row = session.get(model, ident)
        seen[key] = None if row is None else (row.id if model is Patient else row.patient_id)
    return seen[key]


def _columns(session: Session, obs: dict[str, Any]) -> dict[str, Any]:
    """The clear search columns of an Observation, after checking its subject and encounter."""
    patient_id = _ref_id(obs.get("subject"), "Patient")
    if patient_id is None:
        raise InvalidObservation("subject: must reference a Patient (Patient/<id>)")
    if len(patient_id) > 36 or not _known(session, Patient, patient_id):
        raise InvalidObservation(f"subject: Patient/{patient_id} is not known")
    encounter_id = None
    if obs.get("encounter") is not None:
        encounter_id = _ref_id(obs.get("encounter"), "Encounter")
        owner = _known(session, Encounter, encounter_id) if encounter_id and len(encounter_id) <= 36 else None
        if owner is None:
            raise InvalidObservation("encounter: must reference a known Encounter (Encounter/<id>)")
        if owner != patient_id:
            raise InvalidObservation("encounter: the Encounter belongs to another patient")
    return {"patient_id": patient_id, "encounter_id": encounter_id, "status": str(obs.get("status") or "unknown"),
            "categories": tokens(obs.get("category") or []), "codes": tokens([obs.get("code") or {}]),
            "effective_at": _effective(obs), "security": _labels(obs)}


def _body(obs: dict[str, Any]) -> dict[str, Any]:
    """What is sealed of an Observation: all but its id and meta, and its security labels."""
    body = {k: v for k, v in obs.items() if k not in _STRIPPED}
    body["meta"] = {"security": (obs.get("meta") or {}).get("security") or []}
    return body


def _seal(cipher: FieldCipher, session: Session, obs_id: str, patient_id: str, body: dict[str, Any]) -> bytes:
    keys = _tx_cache(session, "observation_keys")  # one key lookup per patient per transaction
    key = keys.get(patient_id) or keys.setdefault(patient_id, cipher.data_key(session, patient_id, create=True))
    return cipher.encrypt(key, TABLE, "body", obs_id, json.dumps(body, sort_keys=True, separators=(",", ":")))


def identifier_index(cipher: FieldCipher, obs: dict[str, Any]) -> bytes | None:
    idents = obs.get("identifier") or []
    first = idents[0] if idents and isinstance(idents[0], dict) else {}
    if not first.get("value"):
        return None
    return cipher.blind_index(f"observation|{first.get('system') or ''}", str(first["value"]))


def record_observation(session: Session, cipher: FieldCipher, obs: dict[str, Any], *,
                       recorded_by: str | None = None) -> tuple[str, bool]:
    """Store a FHIR Observation; returns (id, created). Idempotent by its first identifier (system|value):
    a resent result returns the id already stored. Without an identifier, ``obs["id"]`` (or a new uuid) names it."""
    stored, created = store_observation(session, cipher, obs, recorded_by=recorded_by)
    return (stored["id"] if stored else str(obs.get("id"))), created


def store_observation(session: Session, cipher: FieldCipher, obs: dict[str, Any], *,
                      recorded_by: str | None = None) -> tuple[dict[str, Any], bool]:
    """``record_observation`` answering the stored resource (a new one is not read back: it is what was sealed)."""
    cols = _columns(session, obs)
    index = identifier_index(cipher, obs)
    # With an identifier the id is derived from it, so a resend conflicts on insert (no lookup first).
    obs_id = str(uuid.UUID(bytes=index[:16], version=4)) if index is not None else str(obs.get("id") or uuid.uuid4())
    body = _body(obs)
    row = session.execute(
        insert(Observation).values(id=obs_id, identifier_index=index, recorded_by=recorded_by,
                                   body=_seal(cipher, session, obs_id, cols["patient_id"], body), **cols)
        .on_conflict_do_nothing().returning(Observation.id, Observation.version, Observation.updated_at)).first()
    if row is not None:
        return _resource(row.id, row.version, row.updated_at, dict(body)), True
    found_id = obs_id
    if index is not None:
        found_id = session.scalar(sa.select(Observation.id).where(Observation.identifier_index == index)) or obs_id
    found = get_observation(session, cipher, found_id)
    return (found if found is not None else _resource(obs_id, 1, datetime.now(UTC), dict(body))), False


def update_observation(session: Session, cipher: FieldCipher, obs_id: str, obs: dict[str, Any]) -> dict[str, Any] | None:
    """Replace a stored Observation (new version); None if unknown, ``ReadOnlyObservation`` for triage vitals."""
    if obs_id.startswith(VITALS_PREFIX):
        raise ReadOnlyObservation("vital signs recorded at triage are read-only here")
    row = session.get(Observation, obs_id, with_for_update=True)
    if row is None:
        return None
    cols = _columns(session, obs)
    if cols["patient_id"] != row.patient_id:
        raise InvalidObservation("subject: an Observation cannot move to another patient")
    for name, value in cols.items():
        setattr(row, name, value)
    row.identifier_index = identifier_index(cipher, obs) or row.identifier_index
    row.body = _seal(cipher, session, obs_id, row.patient_id, _body(obs))
    row.version += 1
    row.updated_at = datetime.now(UTC)
    session.flush()
    return _open(session, cipher, row)


def _open(session: Session, cipher: FieldCipher, row: Observation) -> dict[str, Any]:
    keys = _tx_cache(session, "observation_keys")  # one key lookup per patient per transaction
    key = keys.get(row.patient_id) or keys.setdefault(row.patient_id, cipher.data_key(session, row.patient_id))
    return _resource(row.id, row.version, row.updated_at, json.loads(cipher.decrypt(key, TABLE, "body", row.id, row.body)))


def _resource(obs_id: str, version: int, updated_at: datetime, body: dict[str, Any]) -> dict[str, Any]:
    security = (body.pop("meta", None) or {}).get("security") or []
    meta: dict[str, Any] = {"versionId": str(version),
                            "lastUpdated": updated_at.astimezone(UTC).isoformat().replace("+00:00", "Z")}
    if security:
        meta["security"] = security
    return {"resourceType": "Observation", "id": obs_id, "meta": meta, **body}


def get_observation(session: Session, cipher: FieldCipher, obs_id: str) -> dict[str, Any] | None:
    """One Observation as a FHIR dict (stored results, or triage vitals by ``vs-`` id); None if unknown."""
    if len(obs_id) > 130:
        return None
    if obs_id.startswith(VITALS_PREFIX):
        vitals = session.get(VitalSigns, obs_id[len(VITALS_PREFIX):])
        return None if vitals is None else vitals_observation(vitals)
    row = session.get(Observation, obs_id)
    return None if row is None else _open(session, cipher, row)


def search_observations(session: Session, cipher: FieldCipher, *, patient_id: str | None = None,
                        encounter_id: str | None = None, category: str | None = None, code: str | None = None,
                        status: str | None = None, since: datetime | None = None, until: datetime | None = None,
                        ids: list[str] | None = None, limit: int = 1000, include_vitals: bool = True,
                        ) -> list[dict[str, Any]]:
    """Matching Observations, newest first (stored results and triage vitals merged), at most ``limit``.

    ``since`` is inclusive and ``until`` exclusive on the effective time; tokens match ``system|code``
    or a bare ``code``.
    """
    q = sa.select(Observation)
    for column, value in ((Observation.patient_id, patient_id), (Observation.encounter_id, encounter_id),
                          (Observation.status, status)):
        if value is not None:
            q = q.where(column == value)
    if category is not None:
        q = q.where(Observation.categories.contains([category]))
    if code is not None:
        q = q.where(Observation.codes.contains([code]))
    if since is not None:
        q = q.where(Observation.effective_at >= since)
    if until is not None:
        q = q.where(Observation.effective_at < until)
    if ids is not None:
        q = q.where(Observation.id.in_(ids))
    rows = session.scalars(q.order_by(Observation.effective_at.desc().nulls_last(), Observation.id).limit(limit))
    found = []
    for r in rows:
        try:
            found.append((r.effective_at, _open(session, cipher, r)))
        except (DataErased, KeyUnavailable):  # an erased patient's results are gone for good
            continue
    if include_vitals:
        found += _vitals(session, patient_id=patient_id, encounter_id=encounter_id, category=category, code=code,
                         status=status, since=since, until=until, ids=ids, limit=limit)
    found.sort(key=lambda pair: (-(pair[0].timestamp() if pair[0] else float("-inf")), pair[1]["id"]))
    return [obs for _, obs in found[:limit]]


def _vitals(session: Session, *, patient_id: str | None, encounter_id: str | None, category: str | None,
            code: str | None, status: str | None, since: datetime | None, until: datetime | None,
            ids: list[str] | None, limit: int) -> list[tuple[datetime | None, dict[str, Any]]]:
    if category is not None and category not in ("vital-signs", f"{VITALS_CATEGORY_SYSTEM}|vital-signs"):
        return []
    q = sa.select(VitalSigns)
    for column, value in ((VitalSigns.patient_id, patient_id), (VitalSigns.encounter_id, encounter_id),
                          (VitalSigns.status, status)):
        if value is not None:
            q = q.where(column == value)
    if since is not None:
        q = q.where(VitalSigns.effective_at >= since)
    if until is not None:
        q = q.where(VitalSigns.effective_at < until)
    if ids is not None:
        q = q.where(VitalSigns.id.in_([i[len(VITALS_PREFIX):] for i in ids if i.startswith(VITALS_PREFIX)]))
    out: list[tuple[datetime | None, dict[str, Any]]] = []
    for row in session.scalars(q.order_by(VitalSigns.effective_at.desc()).limit(limit)):
        obs = vitals_observation(row)
        if code is None or code in tokens([obs["code"]] + [c["code"] for c in obs.get("component", [])]):
            out.append((row.effective_at, obs))
    return out


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def vitals_observation(row: VitalSigns) -> dict[str, Any]:
    """A triage vitals record as a FHIR vital-signs panel Observation (read-only projection)."""
    components = []
    for name, (code, display, unit) in VITALS.items():
        value = (row.values or {}).get(name)
        if value is None:
            continue
        component: dict[str, Any] = {"code": {"coding": [{"system": LOINC, "code": code, "display": display}]}}
        if isinstance(value, bool):
            component["valueBoolean"] = value
        elif unit is not None and isinstance(value, int | float):
            component["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
        else:
            component["valueString"] = str(value)
        components.append(component)
    obs: dict[str, Any] = {
        "resourceType": "Observation", "id": f"{VITALS_PREFIX}{row.id}",
        "meta": {"versionId": "1", "lastUpdated": _iso(row.effective_at),
                 "tag": [{"system": "urn:hms:source", "code": "triage"}]},
        "status": row.status,
        "category": [{"coding": [{"system": VITALS_CATEGORY_SYSTEM, "code": "vital-signs",
                                  "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": "85353-1", "display": "Vital signs panel"}]},
        "subject": {"reference": f"Patient/{row.patient_id}"},
        "effectiveDateTime": _iso(row.effective_at),
        "performer": [{"identifier": {"system": "urn:hms:user", "value": row.recorded_by}}],
        "component": components,
    }
    if row.encounter_id:
        obs["encounter"] = {"reference": f"Encounter/{row.encounter_id}"}
    return obs
