"""Before an order's ``AA``: the patient is known here, has a current stay, and a cancel names their order.

The inbox applies the order only after the ACK, so what would make it impossible is checked
here, against the store, and refused ``AE`` 204 ("unknown key identifier") with the field: nothing
is handed over. An admission (ADT^A01) this listener has just handed over counts as a stay (its
journey may not have written the encounter yet when the order follows on the same connection),
and so does a new order it has just handed over for a cancel that follows it.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from activities import imaging as imaging_store
from activities.crypto.fields import FieldCipher
from activities.storage import pharmacy as pharmacy_store
from activities.storage import repository as repo
from api.hl7 import errors as E
from workflows.hl7_contracts import Hl7Message
from workflows.hl7_orders import order_stage_ids

UNKNOWN_KEY = E.UNKNOWN_KEY
#: How long a hand-over made here vouches for a stay or an order the store does not show yet.
RECENT_SECONDS = 600.0
MAX_RECENT = 20000


class OrderGate:
    def __init__(self, sessions: Callable[[], Session], cipher: FieldCipher,
                 recent_seconds: float = RECENT_SECONDS) -> None:
        self._sessions, self._cipher, self._recent = sessions, cipher, recent_seconds
        self._admitted: dict[str, float] = {}
        self._placed: dict[str, float] = {}

    def handed_over(self, msg: Hl7Message) -> None:
        """Remember an admission or a new order this listener has made durable."""
        now = time.monotonic()
        if msg.kind == "ADT^A01":
            self._remember(self._admitted, msg.derived_patient_id, now)
        elif msg.order_control == "NW":
            self._remember(self._placed, self._order_key(msg), now)

    async def check(self, msg: Hl7Message) -> None:
        """Raise ``Hl7Error`` (AE 204) unless the order can be applied."""
        patient_id, stay, orders = await asyncio.to_thread(self._lookup, msg)
        recently_admitted = self._fresh(self._admitted, msg.derived_patient_id)
        if patient_id is None and not recently_admitted:
            raise E.error(UNKNOWN_KEY, "PID-3 names no patient known here", E.Location("PID", 1, 3))
        if not stay and not recently_admitted:
            raise E.error(UNKNOWN_KEY, "the patient (PID-3) has no current stay; admit (ADT^A01) before ordering",
                          E.Location("PID", 1, 3))
        if msg.order_control != "NW" and not orders and not self._fresh(self._placed, self._order_key(msg)):
            raise E.error(UNKNOWN_KEY, "ORC-2 placer order number names no order of this patient",
                          E.Location("ORC", 1, 2))

    def _lookup(self, msg: Hl7Message) -> tuple[str | None, bool, bool]:
        with self._sessions() as s:
            pid = repo.find_patient_by_identifier(s, self._cipher, msg.identifier_system, msg.identifier_value)
            if pid is None:
                return None, False, False
            stay = repo.active_encounter(s, pid) is not None
            if msg.order_control == "NW":
                return pid, stay, False
            for order_id in order_stage_ids(pid, msg):
                found = pharmacy_store.get_order(s, order_id) or imaging_store.get_order(s, order_id)
                if found is not None and found.patient_id == pid:
                    return pid, stay, True
            return pid, stay, False

    @staticmethod
    def _order_key(msg: Hl7Message) -> str:
        return f"{msg.derived_patient_id}|{msg.order_namespace or msg.sending_facility}|{msg.order_id}"

    def _fresh(self, table: dict[str, float], key: str) -> bool:
        at = table.get(key)
        return at is not None and time.monotonic() - at < self._recent

    def _remember(self, table: dict[str, float], key: str, now: float) -> None:
        table[key] = now
        if len(table) > MAX_RECENT:
            for old in [k for k, t in table.items() if now - t >= self._recent] or list(table)[: len(table) // 2]:
                table.pop(old, None)


__all__ = ["OrderGate"]
