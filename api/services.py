"""What the API needs, built by the composition root (``deploy``) and handed to ``create_app``."""
from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.crypto.fields import FieldCipher, ephemeral_cipher
from activities.storage import repository as repo
from api.async_reads import AsyncReads
from api.auth import Principal, TokenVerifier
from ledger.base import Ledger
from policies.engine import PolicyEngine


@dataclass(frozen=True)
class Subject:
    """The policy's view of the caller: role plus the attributes the directory holds."""

    id: str
    role: str
    wards: tuple[str, ...] = ()
    care_teams: tuple[str, ...] = ()
    patient_id: str | None = None

    def as_input(self) -> dict[str, object]:
        return {"id": self.id, "role": self.role, "wards": list(self.wards), "care_teams": list(self.care_teams),
                "patient_id": self.patient_id}


class Directory:
    """User attributes from the store, cached briefly so each request costs no extra query."""

    def __init__(self, sessions: sessionmaker[Session], ttl_seconds: float = 30.0) -> None:
        self._sessions, self._ttl = sessions, ttl_seconds
        self._cache: dict[str, tuple[float, Subject]] = {}
        self._lock = Lock()

    def cached(self, principal: Principal) -> Subject | None:
        """The subject if a fresh copy is cached (no query: safe to call on the event loop)."""
        # The patient a ``patient`` token names is part of the key: it comes from the token, not the store.
        with self._lock:
            hit = self._cache.get(self._key(principal))
        return hit[1] if hit and time.monotonic() - hit[0] < self._ttl else None

    @staticmethod
    def _key(principal: Principal) -> str:
        return f"{principal.user_id}|{principal.role}|{principal.patient_id}"

    def subject(self, principal: Principal) -> Subject:
        hit = self.cached(principal)
        if hit is not None:
            return hit
        key = self._key(principal)
        with self._sessions() as s:
            found = repo.user_attributes(s, principal.user_id)
        if found and found[0].active and found[0].role == principal.role:
            user, teams = found
            subject = Subject(principal.user_id, principal.role, tuple(user.wards), tuple(teams), principal.patient_id)
        else:
            # Unknown to the directory (or role changed since the token): no ward, no team.
            subject = Subject(principal.user_id, principal.role, patient_id=principal.patient_id)
        with self._lock:
            self._cache[key] = (time.monotonic(), subject)
        return subject


@dataclass
class ApiServices:
    sessions: sessionmaker[Session]
    policy: PolicyEngine
    ledger: Ledger
    verifier: TokenVerifier
    index_key: bytes
    task_queue: str
    bed_wait_deadline_seconds: int = 1800
    #: ``HMS_INFERENCE_TASK_QUEUE``: where new imaging stages send their pre-screen (None: the journey's queue).
    inference_task_queue: str | None = None
    #: ``HMS_HL7_DESTINATIONS`` (``host:port``): each admission's journey sends its outbound HL7 v2 there.
    hl7_destinations: tuple[str, ...] = ()
    temporal: Client | None = None
    #: The decision-support models (``ml.runtime.ModelRegistry``), loaded once at start-up.
    models: Any = None
    #: The Temporal payload codec (``activities.crypto.payload_codec.EncryptionCodec``) behind ``/codec``.
    codec: Any = None
    #: Browser origins allowed to call ``/codec`` (the Temporal UI).
    codec_origins: tuple[str, ...] = ()
    #: Encryption at rest of patient fields; None builds the process's ephemeral cipher (tests only:
    #: ``deploy.services.run_api`` passes the key-file cipher of ``$HMS_HOME/keys``).
    cipher: FieldCipher | None = None
    directory: Directory = field(init=False)
    #: Autocommit connections for a single prebuilt Core statement: no BEGIN/ROLLBACK round trips around it.
    read_engine: sa.Engine | None = field(init=False)
    #: The hottest single-statement reads on the event loop (``api.async_reads``); None without an engine.
    async_reads: AsyncReads | None = field(init=False)

    def __post_init__(self) -> None:
        self.directory = Directory(self.sessions)
        bind = getattr(self.sessions, "kw", {}).get("bind")
        self.read_engine = None if bind is None else bind.execution_options(isolation_level="AUTOCOMMIT")
        self.async_reads = None if bind is None else AsyncReads(bind)
        if self.cipher is None:
            self.cipher = ephemeral_cipher()

    def read_connection(self) -> AbstractContextManager[sa.Connection | Session]:
        """An autocommit connection for one Core statement (a session where there is no engine, as in tests)."""
        return self.read_engine.connect() if self.read_engine is not None else self.sessions()

    @property
    def field_cipher(self) -> FieldCipher:
        """The field cipher (never None after construction)."""
        assert self.cipher is not None
        return self.cipher

    def client(self) -> Client:
        if self.temporal is None:
            raise RuntimeError("the workflow engine is not connected")
        return self.temporal
