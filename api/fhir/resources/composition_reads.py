"""Composition reads over both stores: the discharge journey's summaries and clinicians' documents.

A clinician's document, or an amended summary, is read from ``clinical_documents`` (opened with
the patient's key); a summary never amended is served as the journey stored it, version 1. The
type's read and search (``read_only`` over the summaries) are extended here, so the policy, paging
and sorting of the framework apply to both alike.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from activities.crypto.fields import DataErased, FieldCipher
from activities.storage import clinical_documents as documents
from activities.storage.models_versions import ClinicalDocument
from api.fhir.params import SearchQuery
from api.fhir.registry import Resource, ResourceType
from api.fhir.resources import composition_writes
from api.fhir.resources.common import iso, ref_ids

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"


def document(session: Session, cipher: FieldCipher, doc: ClinicalDocument) -> Resource:
    """A stored document as served: its sealed content opened, meta from the row."""
    security = [{"system": CONFIDENTIALITY_SYSTEM if code in composition_writes.CONFIDENTIALITY else ACT_CODE,
                 "code": code} for code in doc.security]
    meta: dict[str, Any] = {"versionId": str(doc.version), "lastUpdated": iso(doc.updated_at)}
    if security:
        meta["security"] = security
    return {"resourceType": "Composition", "id": doc.id, "meta": meta,
            **documents.opened(session, cipher, doc), "status": doc.status}


def _first_version(resource: Resource) -> Resource:
    return {**resource, "meta": {**(resource.get("meta") or {}), "versionId": "1"}}


def _ids(q: SearchQuery) -> list[str] | None:
    out: list[str] | None = None
    for raw in q.filters.get("_id", []):
        ids = raw.split(",")
        out = ids if out is None else [i for i in out if i in ids]
    return out


def extend(rt: ResourceType) -> ResourceType:
    """``rt`` (read-only over the journey's summaries) reading clinicians' documents too, and writing them."""
    base_read, base_search = rt.read, rt.search
    assert base_read is not None and base_search is not None

    def read(session: Session, cipher: FieldCipher, rid: str) -> Resource | None:
        doc = documents.get(session, rid)
        if doc is not None:
            return document(session, cipher, doc)
        found = base_read(session, cipher, rid)
        return None if found is None else _first_version(found)

    def search(session: Session, cipher: FieldCipher, q: SearchQuery) -> list[Resource]:
        docs = documents.find(session, patients=ref_ids(q, ("patient", "subject"), "Patient"),
                              encounters=ref_ids(q, ("encounter",), "Encounter"), ids=_ids(q))
        out = []
        for doc in docs:
            try:
                out.append(document(session, cipher, doc))
            except DataErased:  # an erased patient's documents are gone with their key
                continue
        dates = q.dates("date")
        if dates is not None:
            from activities.storage.observations_repo import parse_instant
            out = [r for r in out if r.get("date") and dates.matches(parse_instant(str(r["date"])))]
        mine = {doc.id for doc in docs}
        return [_first_version(r) for r in base_search(session, cipher, q) if r["id"] not in mine] + out

    return replace(rt, read=read, search=search, create=composition_writes.create, update=composition_writes.update,
                   new_id=composition_writes.new_id, stores_labels=True)
