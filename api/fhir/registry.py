"""The resource-type registry: what each FHIR type supports and the functions that do it.

Handlers are synchronous and take a SQLAlchemy session and the field cipher; they return
FHIR dicts (``resourceType``, ``id``, ``meta``…) and raise ``FhirError`` for refusals. The
framework (``interactions``) authorizes, pages, sorts, includes and renders; the
CapabilityStatement is generated from this registry, so it cannot claim more than is here.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from api.fhir.params import SearchQuery

Resource = dict[str, Any]


@dataclass(frozen=True)
class WriteContext:
    """Who writes, and with what services (index key for derived ids)."""

    user_id: str
    index_key: bytes
    cipher: FieldCipher | None = None


ReadFn = Callable[[Session, FieldCipher, str], Resource | None]
SearchFn = Callable[[Session, FieldCipher, SearchQuery], list[Resource]]
#: create(session, cipher, resource with its id assigned, ctx) -> (stored resource, created?)
CreateFn = Callable[[Session, FieldCipher, Resource, WriteContext], tuple[Resource, bool]]
UpdateFn = Callable[[Session, FieldCipher, str, Resource, WriteContext], Resource | None]
#: new_id(resource, ctx) -> the id a create will store under (so transactions can rewrite urn:uuid refs)
NewIdFn = Callable[[Resource, WriteContext], str]
#: stage(resource) -> (journey stage kind, its payload): a create that starts a stage of the patient's journey
#: (``api.fhir.orders``) instead of writing the store; the stage records the resource, so it answers 202.
StageFn = Callable[[Resource], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Accepted:
    """A write handed to a journey that records it later: where the resource will be, what to tell the client
    (``202 Accepted`` with ``Content-Location`` and this OperationOutcome)."""

    rtype: str
    id: str
    outcome: dict[str, Any]


#: What a journey write answers: accepted for later, or (the stored resource, created?) once recorded.
Written = Accepted | tuple[Resource, bool]
#: journey_create(services, user, rt, body with its id assigned) -> Written. A create the patient's journey
#: carries out (an admission, a dose given, a report issued…): the framework has validated the body and
#: decided ``create`` (recorded in the ledger); the function checks the journey's own rules and hands it over.
JourneyCreateFn = Callable[[Any, Any, "ResourceType", Resource], Awaitable[Written]]
#: journey_update(services, user, rt, id, body, current) -> Written. An update the journey carries out (an
#: order cancelled, a payment recorded…): the framework has validated the body, checked ``If-Match`` against
#: ``current`` (the resource as the caller may read it) and decided ``update``.
JourneyUpdateFn = Callable[[Any, Any, "ResourceType", str, Resource, Resource], Awaitable[Written]]
#: policy_extra(session, cipher, resource) -> facts the policy decides a write with (e.g. ``assigned_to``, the
#: radiologist an imaging order is assigned to), from a create's body or the current resource of an update.
PolicyExtraFn = Callable[[Session, FieldCipher, Resource], dict[str, Any]]


@dataclass(frozen=True)
class ResourceType:
    name: str
    #: The policy's resource type (``policies/hms/authz/data.json``) this FHIR type is decided as.
    policy_type: str
    #: The ``fhir.resources.R4B`` model class that validates bodies and output.
    model: Any
    read: ReadFn | None = None
    search: SearchFn | None = None
    create: CreateFn | None = None
    update: UpdateFn | None = None
    new_id: NewIdFn | None = None
    stage: StageFn | None = None
    journey_create: JourneyCreateFn | None = None
    journey_update: JourneyUpdateFn | None = None
    policy_extra: PolicyExtraFn | None = None
    #: Search parameter name → FHIR type (token, date, reference, string).
    params: dict[str, str] = field(default_factory=dict)
    #: Sort parameter → value of a resource to sort by.
    sorts: dict[str, Callable[[Resource], Any]] = field(default_factory=dict)
    #: ``_include`` parameter → the reference element it follows.
    includes: dict[str, str] = field(default_factory=dict)
    #: Reference element naming the patient (``subject``, ``patient``…); None for Patient itself.
    patient_element: str | None = "subject"
    documentation: str = ""
    #: Write order inside a transaction (lower first: Patients before what refers to them).
    write_rank: int = 5
    #: Served by another router (listed in the CapabilityStatement only).
    external: bool = False
    #: Whether writes keep ``meta.security`` labels (where they do not, a labelled body is refused).
    stores_labels: bool = False

    def interactions(self) -> list[str]:
        names = [("read", self.read), ("search-type", self.search),
                 ("create", self.create or self.stage or self.journey_create),
                 ("update", self.update or self.journey_update)]
        if self.external:
            return ["read", "search-type"]
        return [n for n, fn in names if fn is not None]


_REGISTRY: dict[str, ResourceType] = {}


def register(rt: ResourceType) -> ResourceType:
    _REGISTRY[rt.name] = rt
    return rt


def get(name: str) -> ResourceType | None:
    _load()
    return _REGISTRY.get(name)


def read_stored(session: Session, cipher: FieldCipher, name: str, rid: str) -> Resource | None:
    """Resource ``name``/``rid`` as its type's read serves it (None if there is none)."""
    rt = get(name)
    assert rt is not None and rt.read is not None
    return rt.read(session, cipher, rid)


def read_written(session: Session, cipher: FieldCipher, name: str, rid: str) -> Resource:
    """A resource this transaction has just written, as its read serves it."""
    found = read_stored(session, cipher, name, rid)
    assert found is not None, f"{name}/{rid} was written but cannot be read back"
    return found


def all_types() -> list[ResourceType]:
    _load()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def _load() -> None:
    if not _REGISTRY:
        import api.fhir.resources  # noqa: F401  (each module registers its types)


def patient_of(rt: ResourceType, resource: Resource) -> str | None:
    """The id of the patient a resource belongs to (None when it names none)."""
    if rt.name == "Patient":
        return resource.get("id")
    ref = resource.get(rt.patient_element or "subject")
    value = ref.get("reference") if isinstance(ref, dict) else None
    if isinstance(value, str) and value.startswith("Patient/"):
        return value.split("/", 1)[1]
    return None


def labels_of(resource: Resource) -> list[str]:
    """The ``meta.security`` codes of a resource (HL7 v3 labels), as the policy takes them."""
    meta = resource.get("meta") or {}
    return sorted({str(s.get("code")) for s in meta.get("security") or [] if isinstance(s, dict) and s.get("code")})
