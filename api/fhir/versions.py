"""Versions and validation of resources: ``meta.versionId``, ETags, ``If-Match`` and R4 model checks."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from api.fhir.errors import FhirError, validation_error
from api.fhir.registry import ResourceType

Resource = dict[str, Any]


def content_version(resource: Resource) -> str:
    """A version id for stores without version counters: a digest of the content (meta excluded)."""
    body = {k: v for k, v in resource.items() if k != "meta"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def finish(resource: Resource) -> tuple[Resource, dict[str, Any]]:
    """The resource ready to serve (``meta.versionId`` set) and the policy extras it carried."""
    extra = resource.pop("_policy", None) or {}
    meta = dict(resource.get("meta") or {})
    if not meta.get("versionId"):
        meta["versionId"] = content_version(resource)
    resource["meta"] = meta
    return resource, extra


def etag(resource: Resource) -> str:
    return f'W/"{resource["meta"]["versionId"]}"'


def matches_if_match(header: str | None, resource: Resource) -> bool:
    """True when there is no ``If-Match`` or it names the current version (weak or strong form)."""
    if header is None:
        return True
    wanted = header.strip().removeprefix("W/").strip('"')
    return wanted == str((resource.get("meta") or {}).get("versionId"))


def validate(rt: ResourceType, body: Any, where: str = "") -> Resource:
    """Check a request body is a valid R4 resource of ``rt`` (400 wrong shape/type, 422 invalid)."""
    if not isinstance(body, dict):
        raise FhirError(400, f"{where}the body must be a JSON object (a FHIR resource)")
    if body.get("resourceType") != rt.name:
        raise FhirError(400, f"{where}resourceType must be {rt.name!r}, got {body.get('resourceType')!r}")
    try:
        rt.model.model_validate(body)
    except Exception as exc:  # pydantic ValidationError, or a model's own ValueError
        raise validation_error(exc, where) from None
    if not rt.stores_labels and (body.get("meta") or {}).get("security"):
        # A label that would not be kept could not protect anything: refuse rather than drop it.
        raise FhirError(422, f"{where}{rt.name} does not keep meta.security labels; label the clinical resources",
                        expression=[f"{rt.name}.meta.security"])
    return body
