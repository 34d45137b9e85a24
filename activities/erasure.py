"""Activities of the erasure workflow: the hospital's checks, the ledger's record, the crypto-shredding.

Shredding is idempotent (a shredded key stays shredded; a retry finds it so) and checks
the blockers again in its own transaction, since a hold may have been placed or the
patient admitted while the approval was pending. Ledger entries carry ids and codes only.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session
from temporalio import activity

from activities.audit import worker_event
from activities.crypto.fields import FieldCipher, ephemeral_cipher
from activities.storage import erasure_repo
from ledger.base import Ledger
from workflows.erasure_contracts import (
    ErasureCheck,
    ErasureCheckResult,
    ErasureRecord,
    ShredRequest,
    ShredResult,
)


class ErasureActivities:
    def __init__(self, session_factory: Callable[[], Session], ledger: Ledger,
                 cipher: FieldCipher | None = None) -> None:
        self._sessions = session_factory
        self._ledger = ledger
        self._cipher = cipher or ephemeral_cipher()

    @activity.defn(name="check_erasure")
    def check_erasure(self, inp: ErasureCheck) -> ErasureCheckResult:
        with self._sessions() as s:
            return ErasureCheckResult(blockers=erasure_repo.erasure_blockers(s, inp.patient_id))

    @activity.defn(name="record_erasure")
    def record_erasure(self, inp: ErasureRecord) -> None:
        self._ledger.append(worker_event(inp.audit, subtype=f"erasure.{inp.status}", action="U",
                                         resource_type="ErasureRequest", resource_id=inp.erasure_id,
                                         patient_id=inp.patient_id))

    @activity.defn(name="shred_patient_key")
    def shred_patient_key(self, inp: ShredRequest) -> ShredResult:
        with self._sessions() as s, s.begin():
            blockers = erasure_repo.shred_patient(s, inp.patient_id, inp.erasure_id, inp.at)
        if blockers:
            return ShredResult(erased=False, blockers=blockers)
        self._cipher.forget(inp.patient_id)
        self._ledger.append(worker_event(inp.audit, subtype="patient.erase", action="D", resource_type="Patient",
                                         resource_id=inp.patient_id, patient_id=inp.patient_id))
        return ShredResult(erased=True)

    def all(self) -> list[Callable[..., object]]:
        return [self.check_erasure, self.record_erasure, self.shred_patient_key]
