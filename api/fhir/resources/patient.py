"""Patient over ``hms.patients`` / ``hms.patient_identifiers`` (demographics encrypted per patient).

A create registers the patient exactly as the registration desk does: the id is derived
from the first identifier (``patient_id_for``) and ``repository.register_patient`` stores it;
an identifier already registered is a 409. String searches decrypt, so they scan.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from fhir.resources.R4B.patient import Patient as FhirPatient
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.fields import DataErased, FieldCipher, NoDataKey
from activities.crypto.kms import KeyUnavailable
from activities.storage import repository as repo
from activities.storage.identity import patient_id_for
from activities.storage.models import Patient, PatientIdentifier
from api.fhir.errors import FhirError
from api.fhir.params import SearchQuery, date_filter, date_range, token_values
from api.fhir.registry import Resource, ResourceType, WriteContext, register
from api.fhir.resources.common import iso, string_match, token_match

GENDERS = ("male", "female", "other", "unknown")
SCAN_LIMIT = 10_000


def to_fhir(p: repo.PatientRecord) -> Resource:
    return {
        "resourceType": "Patient", "id": p.id, "meta": {"lastUpdated": iso(p.created_at)},
        "identifier": [{"system": s, "value": v} for s, v in p.identifiers],
        "name": [{"use": "official", "family": p.family, "given": p.given.split()}],
        "gender": p.gender, "birthDate": p.birth_date.isoformat(),
    }


def _demographics(body: Resource) -> dict[str, Any]:
    """given, family, birth date and gender from the body (422 when any is missing or unusable)."""
    names = body.get("name") or []
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    given = " ".join(str(g) for g in name.get("given") or []).strip()
    family = str(name.get("family") or "").strip()
    if not given or not family or len(given) > 200 or len(family) > 200:
        raise FhirError(422, "Patient.name needs a family and a given name (each up to 200 characters)",
                        expression=["Patient.name"])
    if body.get("gender") not in GENDERS:
        raise FhirError(422, f"Patient.gender must be one of {', '.join(GENDERS)}", expression=["Patient.gender"])
    try:
        birth = date.fromisoformat(str(body.get("birthDate")))
    except ValueError:
        raise FhirError(422, "Patient.birthDate must be a full date (YYYY-MM-DD)",
                        expression=["Patient.birthDate"]) from None
    if birth > date.today() or birth.year < date.today().year - 130:
        raise FhirError(422, "Patient.birthDate is in the future or more than 130 years ago",
                        expression=["Patient.birthDate"])
    return {"given": given, "family": family, "birth_date": birth, "gender": body["gender"]}


def _identifiers(body: Resource) -> list[tuple[str, str]]:
    out = [(str(i.get("system") or ""), str(i.get("value") or "")) for i in body.get("identifier") or []]
    if not out or any(not s or not v or len(s) > 200 or len(v) > 200 for s, v in out):
        raise FhirError(422, "Patient.identifier: at least one identifier with a system and a value is required",
                        expression=["Patient.identifier"])
    return out


def new_id(body: Resource, ctx: WriteContext) -> str:
    system, value = _identifiers(body)[0]
    return patient_id_for(ctx.index_key, system, value)


def read(session: Session, cipher: FieldCipher, pid: str) -> Resource | None:
    if len(pid) > 36:
        return None
    record = repo.read_patient(session, cipher, pid)
    return None if record is None else to_fhir(record)


def create(session: Session, cipher: FieldCipher, body: Resource, ctx: WriteContext) -> tuple[Resource, bool]:
    demo, idents = _demographics(body), _identifiers(body)
    for system, value in idents:
        owner = repo.find_patient_by_identifier(session, cipher, system, value)
        if owner is not None:
            raise FhirError(409, f"a Patient with identifier {system}|… is already registered (Patient/{owner})")
    pid, _ = repo.register_patient(session, cipher, repo.unerased_id(session, cipher, body["id"]), *idents[0], **demo)
    _add_identifiers(session, cipher, pid, idents[1:])
    session.flush()
    found = read(session, cipher, pid)
    assert found is not None
    return found, True


def _add_identifiers(session: Session, cipher: FieldCipher, pid: str, idents: list[tuple[str, str]]) -> None:
    key = cipher.data_key(session, pid, create=True)
    for system, value in idents:
        if repo.find_patient_by_identifier(session, cipher, system, value) not in (None, pid):
            raise FhirError(409, f"identifier {system}|… belongs to another Patient")
        index = cipher.blind_index(system, value)
        session.execute(insert(PatientIdentifier).values(
            patient_id=pid, system=system, value_index=index,
            value=cipher.encrypt(key, repo.IDENTIFIERS, "value", index.hex(), value),
        ).on_conflict_do_nothing(constraint="uq_patient_identifiers_system_value_index"))


def update(session: Session, cipher: FieldCipher, pid: str, body: Resource, ctx: WriteContext) -> Resource | None:
    """New demographics (re-encrypted) and any new identifiers; identifiers are never removed here."""
    row = session.get(Patient, pid, with_for_update=True)
    if row is None:
        return None
    demo = _demographics(body)
    key = cipher.data_key(session, pid)
    plain = {"given": demo["given"], "family": demo["family"], "birth_date": demo["birth_date"].isoformat(),
             "gender": demo["gender"]}
    for column, value in plain.items():
        setattr(row, column, cipher.encrypt(key, repo.PATIENTS, column, pid, value))
    _add_identifiers(session, cipher, pid, _identifiers(body))
    session.flush()
    session.expire(row)
    return read(session, cipher, pid)


def search(session: Session, cipher: FieldCipher, q: SearchQuery) -> list[Resource]:
    ids: list[str] | None = None
    if "_id" in q.filters:
        ids = [v for raw in q.filters["_id"] for v in raw.split(",")]
    if "identifier" in q.filters:
        found = _by_identifier(session, cipher, q.filters["identifier"])
        ids = found if ids is None else [i for i in ids if i in found]
    stmt = sa.select(Patient.id).order_by(Patient.created_at, Patient.id).limit(SCAN_LIMIT)
    if ids is not None:
        stmt = stmt.where(Patient.id.in_(ids))
    born = date_filter(q.filters["birthdate"], "birthdate") if "birthdate" in q.filters else None
    out = []
    for pid in list(session.scalars(stmt)):
        try:
            resource = read(session, cipher, pid)
        except (DataErased, KeyUnavailable, NoDataKey):  # erased, or sealed under a key this process lacks
            continue
        if resource is None:
            continue
        name = resource["name"][0]
        if not string_match(q, "family", [name["family"]]) or \
                not string_match(q, "name", [name["family"], *name["given"]]) or \
                not string_match(q, "given", name["given"]) or not token_match(q, "gender", [resource["gender"]]):
            continue
        if born is not None:
            if not born.matches(date_range(resource["birthDate"])[0]):
                continue
        out.append(resource)
    return out


def _by_identifier(session: Session, cipher: FieldCipher, values: list[str]) -> list[str]:
    """Patients holding every given identifier (commas OR); a bare value is tried under every known system."""
    systems = list(session.scalars(sa.select(PatientIdentifier.system).distinct()))
    result: set[str] | None = None
    for raw in values:
        matched: set[str] = set()
        for token in token_values(raw, "identifier"):
            system, sep, value = token.partition("|")
            if not sep:
                system, value = "", system
            for s in ([system] if sep and system else systems):
                owner = repo.find_patient_by_identifier(session, cipher, s, value)
                if owner:
                    matched.add(owner)
        result = matched if result is None else result & matched
    return sorted(result or set())


def _family(r: Resource) -> str:
    return r["name"][0]["family"].casefold()


register(ResourceType(
    name="Patient", policy_type="Patient", model=FhirPatient, read=read, search=search, create=create,
    update=update, new_id=new_id, patient_element=None, write_rank=0,
    params={"_id": "token", "identifier": "token", "name": "string", "family": "string", "given": "string",
            "birthdate": "date", "gender": "token"},
    sorts={"_id": lambda r: r["id"], "family": _family, "birthdate": lambda r: r.get("birthDate"),
           "_lastUpdated": lambda r: r["meta"].get("lastUpdated")},
    documentation="Demographics encrypted at rest; create registers the patient as the registration desk does "
                  "(id derived from the first identifier; a known identifier is a 409). Identifiers are never "
                  "removed by an update.",
))
