"""Activities of the break-glass review: end a grant, record a review or escalation, with ledger entries.

Each write is idempotent (an ended grant is not ended again, a finished review is not
overwritten); the ledger entries carry identifiers and codes only, never the reason text.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session
from temporalio import activity

from activities.audit import worker_event
from activities.crypto.fields import FieldCipher
from activities.storage import security_repo
from ledger.base import Ledger
from workflows.break_glass_contracts import GrantEnd, ReviewRecord


class BreakGlassActivities:
    def __init__(self, session_factory: Callable[[], Session], ledger: Ledger,
                 cipher: FieldCipher | None = None) -> None:
        self._sessions = session_factory
        self._ledger = ledger
        self._cipher = cipher

    @activity.defn(name="end_break_glass")
    def end_break_glass(self, inp: GrantEnd) -> None:
        """A revoked grant is ended in the store; an expired one already is (the store compares times)."""
        if inp.revoked_by is not None:
            with self._sessions() as s, s.begin():
                security_repo.revoke_grant(s, inp.grant_id, inp.revoked_by, inp.at)
        self._ledger.append(worker_event(inp.audit, subtype="break-glass.revoke" if inp.revoked_by else
                                         "break-glass.expire", action="U", resource_type="BreakGlass",
                                         resource_id=inp.grant_id, patient_id=inp.patient_id))

    @activity.defn(name="record_break_glass_review")
    def record_break_glass_review(self, inp: ReviewRecord) -> None:
        with self._sessions() as s, s.begin():
            security_repo.record_review(s, inp.grant_id, status=inp.status, outcome=inp.outcome, by=inp.by, at=inp.at,
                                        comment=inp.comment, cipher=self._cipher)
        self._ledger.append(worker_event(inp.audit, subtype=f"break-glass.{inp.status}", action="U",
                                         resource_type="BreakGlass", resource_id=inp.grant_id,
                                         patient_id=inp.patient_id))

    def all(self) -> list[Callable[..., object]]:
        return [self.end_break_glass, self.record_break_glass_review]
