"""What FHIR updates that amend a clinical record share: which elements may change, the record as served.

An amendment changes what the record says (its status, its text), never what it is about: an
element outside the few an update may change must come back as the server serves it, or the
update is refused (422 naming the element) rather than silently ignored. Both sides are compared
in their normalised R4 form, so an instant written ``+00:00`` equals the served ``Z``.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from api.fhir.errors import FhirError
from api.fhir.registry import Resource, read_stored
from api.fhir.versions import finish

#: Elements no comparison looks at: the server sets them (meta) or does not keep them (text).
IGNORED = {"resourceType", "id", "meta", "text"}


def served(session: Session, cipher: FieldCipher, rtype: str, rid: str) -> Resource | None:
    """The resource as a read serves it (``meta.versionId`` set, policy extras dropped); None if unknown."""
    raw = read_stored(session, cipher, rtype, rid)
    return None if raw is None else finish(dict(raw))[0]


def _normalized(model: Any, resource: Resource) -> dict[str, Any]:
    clean = {k: v for k, v in resource.items() if not k.startswith("_")}
    return model.model_validate(clean).model_dump(mode="json", exclude_none=True)


def refuse_other_changes(rtype: str, model: Any, body: Resource, current: Resource, allowed: Iterable[str],
                         why: str) -> None:
    """422 naming the first element outside ``allowed`` whose value differs from the served record."""
    new, old = _normalized(model, body), _normalized(model, current)
    for name in sorted((set(new) | set(old)) - set(allowed) - IGNORED):
        if new.get(name) != old.get(name):
            raise FhirError(422, f"{rtype}.{name} cannot change in an update: {why}", expression=[f"{rtype}.{name}"])


def version_of(resource: Resource) -> int:
    """The numeric ``meta.versionId`` of a served record."""
    return int(str((resource.get("meta") or {}).get("versionId") or "1"))


def plain_text(attachment: Any, where: str, max_chars: int) -> str:
    """The UTF-8 ``text/plain`` content of an Attachment (base64 ``data``), or a 422 naming ``where``."""
    attachment = attachment if isinstance(attachment, dict) else {}
    ctype = str(attachment.get("contentType") or "text/plain").split(";")[0].strip().lower()
    if ctype != "text/plain":
        raise FhirError(422, f"{where}: text/plain is the content this record keeps", expression=[where])
    try:
        text = base64.b64decode(str(attachment.get("data") or ""), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise FhirError(422, f"{where}: data must be base64 of UTF-8 text", expression=[where]) from None
    if not text.strip() or len(text) > max_chars:
        raise FhirError(422, f"{where}: text of 1 to {max_chars} characters", expression=[where])
    return text


def text_attachment(text: str) -> dict[str, Any]:
    return {"contentType": "text/plain; charset=utf-8", "data": base64.b64encode(text.encode()).decode()}
