"""The FHIR interactions over the registry: read, search, create, update, ``$everything``.

Each one authorizes through ``guard`` before any data leaves or changes, runs storage in
a worker thread, and raises ``FhirError`` for every refusal. Writes of one interaction run
in one database transaction.
"""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError
from starlette.concurrency import run_in_threadpool

from activities.crypto.fields import DataErased
from api.auth import Principal
from api.fhir import guard
from api.fhir import registry as reg
from api.fhir.errors import FhirError
from api.fhir.journey_notify import notify_results
from api.fhir.params import SearchQuery, parse_search, reference_id, sort_value, valid_id
from api.fhir.registry import Resource, ResourceType, WriteContext
from api.fhir.versions import finish, matches_if_match, validate
from api.services import ApiServices

PATIENT_PARAMS = ("patient", "subject", "beneficiary")
MAX_CANDIDATES = 10_000


def resource_type(name: str) -> ResourceType:
    rt = reg.get(name)
    if rt is None or rt.external:
        raise FhirError(404, f"unknown or unsupported resource type {name!r}")
    return rt


def need(rt: ResourceType, fn: Any, interaction: str) -> Any:
    if fn is None:
        raise FhirError(405, f"{rt.name} does not support {interaction} here (see /fhir/r4/metadata)")
    return fn


def session_call(services: ApiServices, fn: Any, *args: Any, write: bool = False) -> Any:
    """Run a handler in one session (one transaction for writes), mapping store errors to FHIR statuses."""
    try:
        with services.sessions() as s:
            if not write:
                return fn(s, services.field_cipher, *args)
            with s.begin():
                return fn(s, services.field_cipher, *args)
    except DataErased as exc:
        raise FhirError(410, str(exc)) from None
    except IntegrityError:
        raise FhirError(409, "the write conflicts with stored data (a duplicate or a missing reference)") from None
    except DataError:
        raise FhirError(422, "a value does not fit the store (too long or out of range)") from None


async def read(services: ApiServices, user: Principal, rtype: str, rid: str) -> Resource:
    rt = resource_type(rtype)
    fn = need(rt, rt.read, "read")
    if not valid_id(rid):
        raise FhirError(404, f"{rtype}/{rid[:80]} not found")
    found = await run_in_threadpool(session_call, services, fn, rid)
    if found is None:
        raise FhirError(404, f"{rtype}/{rid} not found")
    resource, extra = finish(found)
    await guard.check(services, user, rt, "read", patient_id=reg.patient_of(rt, resource), resource_id=rid,
                      security=reg.labels_of(resource), extra=extra)
    return resource


def parse(rt: ResourceType, items: list[tuple[str, str]]) -> SearchQuery:
    return parse_search(rt.name, items, rt.params, set(rt.sorts), set(rt.includes))


def scoped_patients(rt: ResourceType, q: SearchQuery) -> list[str]:
    """The patients a search names (``patient``/``subject``, or ``_id`` of Patient): checked up front."""
    names = ("_id",) if rt.name == "Patient" else PATIENT_PARAMS
    out: list[str] = []
    for name in names:
        for value in q.filters.get(name, []):
            out += [reference_id(v, "Patient", name) for v in value.split(",")]
    return out


async def search(services: ApiServices, user: Principal, rt: ResourceType, q: SearchQuery,
                 ) -> tuple[list[Resource], list[Resource], bool]:
    """(matches on this page, included resources, whether there is a next page)."""
    fn = need(rt, rt.search, "search")
    scoped = scoped_patients(rt, q)
    for patient_id in scoped:
        await guard.check(services, user, rt, "search", patient_id=patient_id)
    candidates = (await run_in_threadpool(session_call, services, fn, q))[:MAX_CANDIDATES]
    for key, descending in reversed(q.sort):  # stable passes, last key first; missing values always last
        present = [r for r in candidates if rt.sorts[key](r) is not None]
        present.sort(key=lambda r: sort_value(rt.sorts[key](r)), reverse=descending)
        candidates = present + [r for r in candidates if rt.sorts[key](r) is None]
    page = candidates[q.offset:q.offset + q.count]
    if not candidates and not scoped:
        await guard.allowed(services, user, rt, "search", patient_id=None, security=[])  # recorded all the same
    matches = await permitted(services, user, rt, "search", page, set(scoped))
    included = await include(services, user, rt, q, matches)
    return matches, included, q.offset + q.count < len(candidates)


async def permitted(services: ApiServices, user: Principal, rt: ResourceType, action: str,
                    resources: list[Resource], cleared: set[str]) -> list[Resource]:
    """The resources the caller may see: one decision per (patient, labels, extras) group."""
    decided: dict[str, bool] = {}
    out = []
    for raw in resources:
        resource, extra = finish(raw)
        patient_id, labels = reg.patient_of(rt, resource), reg.labels_of(resource)
        if patient_id in cleared and not labels and not extra:
            out.append(resource)
            continue
        key = repr((patient_id, labels, sorted(extra.items())))
        if key not in decided:
            decided[key] = await guard.allowed(services, user, rt, action, patient_id=patient_id, security=labels,
                                               resource_id=resource.get("id"), extra=extra)
        if decided[key]:
            out.append(resource)
    return out


async def include(services: ApiServices, user: Principal, rt: ResourceType, q: SearchQuery,
                  matches: list[Resource]) -> list[Resource]:
    """Resources named by ``_include`` (each read is authorized like a read)."""
    seen: set[str] = set()
    out: list[Resource] = []
    for _source, param in q.include:
        element = rt.includes[param]
        for resource in matches:
            ref = resource.get(element)
            value = ref.get("reference") if isinstance(ref, dict) else None
            if not isinstance(value, str) or value in seen or value.count("/") != 1:
                continue
            seen.add(value)
            target, rid = value.split("/")
            try:
                out.append(await read(services, user, target, rid))
            except FhirError as exc:
                if exc.status not in (403, 404, 405, 410):
                    raise
    return out


async def create(services: ApiServices, user: Principal, rtype: str, body: Any) -> tuple[Resource, bool]:
    rt = resource_type(rtype)
    fn = need(rt, rt.create, "create")
    body = validate(rt, body)
    ctx = WriteContext(user.user_id, services.index_key, services.field_cipher)
    body = {**body, "id": rt.new_id(body, ctx) if rt.new_id else str(uuid.uuid4())}
    await guard.check(services, user, rt, "create", patient_id=reg.patient_of(rt, body), resource_id=body["id"],
                      security=reg.labels_of(body))
    stored, created = await run_in_threadpool(session_call, services, fn, body, ctx, write=True)
    await notify_results(services, [stored])
    return finish(stored)[0], created


async def update(services: ApiServices, user: Principal, rtype: str, rid: str, body: Any,
                 if_match: str | None) -> Resource:
    rt = resource_type(rtype)
    fn = need(rt, rt.update, "update")
    body = validate(rt, body)
    if body.get("id") != rid:
        raise FhirError(400, f"the body's id ({body.get('id')!r}) must equal the id in the URL ({rid!r})")
    current = await read(services, user, rtype, rid)  # 404, and the caller must be able to read it
    labels = sorted(set(reg.labels_of(current)) | set(reg.labels_of(body)))
    extra = await policy_extra(services, rt, current)
    await guard.check(services, user, rt, "update", patient_id=reg.patient_of(rt, current), resource_id=rid,
                      security=labels, extra=extra)
    ctx = WriteContext(user.user_id, services.index_key, services.field_cipher)
    stored = await run_in_threadpool(session_call, services, guarded_update, rt, fn, rid, body, ctx, if_match,
                                     write=True)
    await notify_results(services, [stored])
    return finish(stored)[0]


async def policy_extra(services: ApiServices, rt: ResourceType, resource: Any) -> dict[str, Any] | None:
    """The type's facts for the policy about ``resource`` for a write decision (None when the type has none)."""
    if rt.policy_extra is None:
        return None
    return await run_in_threadpool(session_call, services, rt.policy_extra, resource)


def guarded_update(session: Any, cipher: Any, rt: ResourceType, fn: Any, rid: str, body: Resource,
                    ctx: WriteContext, if_match: str | None) -> Resource:
    """The ``If-Match`` check and the write in one transaction (412 when another write came first)."""
    assert rt.read is not None
    current = rt.read(session, cipher, rid)
    if current is None:
        raise FhirError(404, f"{rt.name}/{rid} not found")
    if not matches_if_match(if_match, finish(current)[0]):
        raise FhirError(412, f"If-Match {if_match} is not the current version of {rt.name}/{rid}")
    stored = fn(session, cipher, rid, body, ctx)
    if stored is None:
        raise FhirError(404, f"{rt.name}/{rid} not found")
    return stored


async def everything(services: ApiServices, user: Principal, patient_id: str) -> list[Resource]:
    """``Patient/{id}/$everything``: the patient and every resource of theirs the caller may see."""
    out = [await read(services, user, "Patient", patient_id)]
    for rt in reg.all_types():
        if rt.external or rt.search is None or rt.name == "Patient":
            continue
        param = next((p for p in PATIENT_PARAMS if p in rt.params), None)
        if param is None:
            continue
        q = SearchQuery(filters={param: [patient_id]}, count=1000)
        found = await run_in_threadpool(session_call, services, rt.search, q)
        out += await permitted(services, user, rt, "read", found[:1000], set())
    return out
