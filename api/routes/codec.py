"""The remote codec the Temporal UI calls (``--ui-codec-endpoint``): decoding is a policy decision per patient.

``POST /codec/decode`` takes the UI's ``{"payloads": [...]}`` (protobuf JSON) and returns
them in the same order. A payload is returned decrypted only when it names at least one
patient (a ``patient_id`` anywhere in its JSON) and the policy lets the caller read every
patient it names (resource ``CodecDecode``: an attending of the patient's care team, for
instance); each distinct patient's decision is recorded in the ledger like any access.
Everything else comes back as it was, encrypted: without a token, or for an engineer,
the UI shows the workflow's structure and no patient data. ``POST /codec/encode``
seals payloads the UI sends (signals it starts), for any authenticated user.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from starlette.concurrency import run_in_threadpool
from temporalio.api.common.v1 import Payload, Payloads

from activities.crypto.payload_codec import PayloadDecryptionError
from api.access import authorize
from api.deps import CurrentUser, Services
from api.routes.resources import patient_resource
from api.services import ApiServices

router = APIRouter(prefix="/codec", tags=["codec"])

MAX_PAYLOADS = 2000
JSON_ENCODINGS = {b"json/plain", b"json/protobuf"}


@router.post("/decode")
async def decode(request: Request, user: CurrentUser, services: Services) -> dict[str, Any]:
    codec = _codec(services)
    payloads = await _payloads(request)
    opened: list[Payload | None] = []
    for p in payloads:
        try:
            opened.append(codec.open(p))
        except PayloadDecryptionError:
            opened.append(None)  # unknown key or altered: returned as it came
    wanted = [_patient_ids(p) if p is not None else set() for p in opened]
    allowed: dict[str, bool] = {}
    for pid in sorted(set().union(*wanted)) if wanted else []:
        resource = await run_in_threadpool(patient_resource, services, "CodecDecode", pid)
        try:
            await authorize(services, user, action="read", resource=resource, subtype="codec.decode")
            allowed[pid] = True
        except HTTPException as exc:
            if exc.status_code != 403:
                raise
            allowed[pid] = False
    out = [o if o is not None and ids and all(allowed[i] for i in ids) else p
           for p, o, ids in zip(payloads, opened, wanted, strict=True)]
    return MessageToDict(Payloads(payloads=out))


@router.post("/encode")
async def encode(request: Request, user: CurrentUser, services: Services) -> dict[str, Any]:
    codec = _codec(services)
    payloads = await _payloads(request)
    return MessageToDict(Payloads(payloads=[codec.seal(p) for p in payloads]))


def _codec(services: ApiServices) -> Any:
    if services.codec is None:
        raise HTTPException(503, "payload encryption is not configured on this server")
    return services.codec


async def _payloads(request: Request) -> list[Payload]:
    try:
        body = await request.json()
        parsed = ParseDict(body, Payloads())
    except (ValueError, ParseError) as exc:
        raise HTTPException(400, f"body: a JSON object {{\"payloads\": [...]}} of Temporal payloads ({exc})") from exc
    if len(parsed.payloads) > MAX_PAYLOADS:
        raise HTTPException(413, f"payloads: at most {MAX_PAYLOADS} per request")
    return list(parsed.payloads)


def _patient_ids(payload: Payload) -> set[str]:
    if payload.metadata.get("encoding") not in JSON_ENCODINGS:
        return set()
    try:
        value = json.loads(payload.data)
    except ValueError:
        return set()
    return set(_walk(value, 0))


def _walk(value: Any, depth: int) -> Iterator[str]:
    if depth > 8:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "patient_id" and isinstance(v, str) and v:
                yield v
            else:
                yield from _walk(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, depth + 1)
