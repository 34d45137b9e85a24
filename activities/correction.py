"""Activities of a correction request: record the registration clerk's decision, with a ledger entry.

The write is idempotent (a decided request is not decided again); the ledger entry carries
identifiers and the decision code, never the proposed value or the reason.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session
from temporalio import activity

from activities.audit import worker_event
from activities.crypto.fields import FieldCipher
from activities.storage import correction_repo
from ledger.base import Ledger
from workflows.correction_contracts import CorrectionDecision


class CorrectionActivities:
    def __init__(self, session_factory: Callable[[], Session], ledger: Ledger, cipher: FieldCipher) -> None:
        self._sessions = session_factory
        self._ledger = ledger
        self._cipher = cipher

    @activity.defn(name="decide_correction")
    def decide_correction(self, inp: CorrectionDecision) -> None:
        with self._sessions() as s, s.begin():
            correction_repo.decide(s, self._cipher, inp.request_id, decision=inp.decision, by=inp.by, at=inp.at,
                                   reason=inp.reason)
        self._ledger.append(worker_event(inp.audit, subtype=f"correction.{inp.decision}", action="U",
                                         resource_type="Task", resource_id=inp.request_id,
                                         patient_id=inp.patient_id))

    def all(self) -> list[Callable[..., object]]:
        return [self.decide_correction]
