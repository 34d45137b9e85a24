"""Bundles: searchset rendering, and ``transaction`` / ``batch`` posted at the base.

A transaction is all or nothing: every entry is validated and authorized first, ids are
assigned and ``urn:uuid`` references rewritten, then every write runs in ONE database
transaction (Patients first); any failure rolls all of it back and answers with the
failing entry's status. A batch runs each entry as its own interaction.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool

from api.auth import Principal
from api.fhir import guard, interactions, journey_writes, orders
from api.fhir import registry as reg
from api.fhir.errors import FhirError
from api.fhir.journey_notify import notify_results
from api.fhir.registry import Accepted, Resource, WriteContext, Written
from api.fhir.versions import etag, finish, validate
from api.services import ApiServices

MAX_ENTRIES = 1000


def searchset(base: str, self_url: str, matches: list[Resource], included: list[Resource],
              next_url: str | None, prev_url: str | None) -> Resource:
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    if prev_url:
        links.append({"relation": "previous", "url": prev_url})
    entries = [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": mode}}
               for mode, group in (("match", matches), ("include", included)) for r in group]
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "searchset", "link": links, "entry": entries}


def _entries(body: Any) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise FhirError(400, "POST at the base takes a Bundle of type transaction or batch")
    kind = body.get("type")
    if kind not in ("transaction", "batch"):
        raise FhirError(400, f"Bundle.type must be transaction or batch, not {kind!r}")
    entries = body.get("entry") or []
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        raise FhirError(400, f"Bundle.entry must be a list of at most {MAX_ENTRIES} entries")
    if not all(isinstance(e, dict) for e in entries):
        raise FhirError(400, "every Bundle.entry must be an object")
    return kind, entries


def _request(entry: dict[str, Any], i: int) -> tuple[str, list[str]]:
    req = entry.get("request")
    if not isinstance(req, dict) or not isinstance(req.get("url"), str) or req.get("method") not in (
            "GET", "POST", "PUT"):
        raise FhirError(400, f"entry[{i}].request: needs method GET, POST or PUT and a url")
    path = req["url"].split("?")[0].strip("/").split("/")
    return req["method"], path


async def process(services: ApiServices, user: Principal, body: Any, base: str) -> Resource:
    kind, entries = _entries(body)
    if kind == "batch":
        return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "batch-response",
                "entry": [await _batch_entry(services, user, e, i, base) for i, e in enumerate(entries)]}
    return await _transaction(services, user, entries)


async def _batch_entry(services: ApiServices, user: Principal, entry: dict[str, Any], i: int,
                       base: str) -> dict[str, Any]:
    try:
        method, path = _request(entry, i)
        if method == "POST" and len(path) == 1 and interactions.resource_type(path[0]).stage is not None:
            accepted = await orders.submit(services, user, interactions.resource_type(path[0]), entry.get("resource"))
            return {"response": {"status": "202 Accepted", "location": f"{accepted.rtype}/{accepted.id}",
                                 "outcome": accepted.outcome}}
        rt = interactions.resource_type(path[0]) if method in ("POST", "PUT") and path else None
        if rt is not None and method == "POST" and len(path) == 1 and journey_writes.handles_create(rt):
            return _journey_response(await journey_writes.create(services, user, rt, entry.get("resource")), "201 Created")
        if rt is not None and method == "PUT" and len(path) == 2 and journey_writes.handles_update(rt):
            return _journey_response(await journey_writes.update(
                services, user, rt, path[1], entry.get("resource"), (entry.get("request") or {}).get("ifMatch")),
                "200 OK")
        if method == "POST" and len(path) == 1:
            resource, created = await interactions.create(services, user, path[0], entry.get("resource"))
            return _response(resource, "201 Created" if created else "200 OK")
        if method == "PUT" and len(path) == 2:
            resource = await interactions.update(services, user, path[0], path[1], entry.get("resource"),
                                                 (entry.get("request") or {}).get("ifMatch"))
            return _response(resource, "200 OK")
        if method == "GET" and len(path) == 2:
            return _response(await interactions.read(services, user, path[0], path[1]), "200 OK", body=True)
        raise FhirError(400, f"entry[{i}].request: {method} {'/'.join(path)} is not supported in a batch")
    except FhirError as exc:
        return {"response": {"status": str(exc.status), "outcome": exc.outcome()}}


def _journey_response(written: Written, created_status: str) -> dict[str, Any]:
    if isinstance(written, Accepted):
        return {"response": {"status": "202 Accepted", "location": f"{written.rtype}/{written.id}",
                             "outcome": written.outcome}}
    resource, created = written
    return _response(resource, created_status if created else "200 OK")


def _response(resource: Resource, status: str, body: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"response": {"status": status, "etag": etag(resource),
                                        "location": f"{resource['resourceType']}/{resource['id']}/_history/"
                                                    f"{resource['meta']['versionId']}"}}
    if body:
        out["resource"] = resource
    return out


def _rewrite(value: Any, ids: dict[str, str]) -> Any:
    """Replace ``urn:uuid:`` references to entries of this Bundle with ``Type/id``."""
    if isinstance(value, dict):
        return {k: (ids.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, ids))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, ids) for v in value]
    return value


async def _transaction(services: ApiServices, user: Principal, entries: list[dict[str, Any]]) -> Resource:
    ctx = WriteContext(user.user_id, services.index_key, services.field_cipher)
    plan: list[tuple[int, str, Any, Resource, str | None]] = []  # (index, method, type, resource, ifMatch)
    ids: dict[str, str] = {}
    for i, entry in enumerate(entries):
        method, path = _request(entry, i)
        if method == "GET" or (method == "POST" and len(path) != 1) or (method == "PUT" and len(path) != 2):
            raise FhirError(400, f"entry[{i}].request: only POST [type] and PUT [type]/[id] go in a transaction")
        rt = interactions.resource_type(path[0])
        resource = dict(validate(rt, entry.get("resource"), f"entry[{i}].resource: "))
        if method == "POST":
            if rt.stage is not None or journey_writes.handles_create(rt):
                raise FhirError(400, f"entry[{i}]: a {rt.name} create is carried out by the patient's journey and "
                                     "cannot be part of a transaction; post it alone or in a batch")
            interactions.need(rt, rt.create, "create")
            resource["id"] = rt.new_id(resource, ctx) if rt.new_id else str(uuid.uuid4())
            full = entry.get("fullUrl")
            if isinstance(full, str) and full:
                ids[full] = f"{rt.name}/{resource['id']}"
        else:
            if journey_writes.handles_update(rt):
                raise FhirError(400, f"entry[{i}]: a {rt.name} update is carried out by the patient's journey and "
                                     "cannot be part of a transaction; put it alone or in a batch")
            interactions.need(rt, rt.update, "update")
            if resource.get("id") != path[1]:
                raise FhirError(400, f"entry[{i}]: the resource id must equal the id in request.url")
        plan.append((i, method, rt, resource, (entry.get("request") or {}).get("ifMatch")))
    plan = [(i, m, rt, _rewrite(r, ids), im) for i, m, rt, r, im in plan]
    unresolved = [i for i, _, _, r, _ in plan if "urn:uuid:" in json.dumps(r)]
    if unresolved:
        raise FhirError(400, f"entry[{unresolved[0]}]: a urn:uuid reference names no entry of this Bundle")
    await _authorize(services, user, plan)
    results = await run_in_threadpool(interactions.session_call, services, _write_all, plan, ctx, write=True)
    await notify_results(services, [r for r, _ in results])
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "transaction-response",
            "entry": [_response(finish(r)[0], s) for r, s in results]}


async def _authorize(services: ApiServices, user: Principal, plan: list[Any]) -> None:
    """Every entry decided and recorded before anything is written: one policy decision per
    (action, type, patient, labels), one ledger entry per resource."""
    groups: dict[str, tuple[str, Any, str | None, list[str], list[str]]] = {}
    for _i, method, rt, resource, _ in plan:
        action = "create" if method == "POST" else "update"
        patient_id, labels = reg.patient_of(rt, resource), reg.labels_of(resource)
        group = groups.setdefault(repr((action, rt.name, patient_id, labels)), (action, rt, patient_id, labels, []))
        group[4].append(resource["id"])
    for action, rt, patient_id, labels, ids in groups.values():
        await guard.check_alike(services, user, rt, action, patient_id=patient_id, security=labels, resource_ids=ids)


def _write_all(session: Any, cipher: Any, plan: list[Any], ctx: WriteContext) -> list[tuple[Resource, str]]:
    order = sorted(range(len(plan)), key=lambda k: (plan[k][2].write_rank, k))
    results: dict[int, tuple[Resource, str]] = {}
    for k in order:
        i, method, rt, resource, if_match = plan[k]
        try:
            if method == "POST":
                stored, created = rt.create(session, cipher, resource, ctx)
                results[k] = (stored, "201 Created" if created else "200 OK")
            else:
                stored = interactions.guarded_update(session, cipher, rt, rt.update, resource["id"], resource,
                                                      ctx, if_match)
                results[k] = (stored, "200 OK")
        except FhirError as exc:
            raise FhirError(exc.status, f"entry[{i}]: {exc.diagnostics}", code=exc.code) from None
        session.flush()
    return [results[k] for k in range(len(plan))]
