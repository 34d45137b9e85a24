"""One message in, one ACK out: parse, check, hand over durably, answer.

``AA`` is answered only after ``hand_over`` returned, i.e. after Temporal has persisted
the message (signal-with-start of the patient's ingestion workflow). A hand-over that fails
answers ``AR`` with code 207 so the sender resends; nothing about the message is logged
beyond its control id and type.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from api.hl7 import errors as E
from api.hl7.ack import build_ack
from api.hl7.header import Header, best_effort_header, decode
from api.hl7.order_gate import OrderGate
from api.hl7.parse import parse
from workflows.hl7_contracts import Hl7Message

log = logging.getLogger("hms.hl7")
HandOver = Callable[[Hl7Message], Awaitable[None]]


class WardCache:
    """Known ward ids, reloaded at most every ``ttl`` seconds when an unknown one is asked for."""

    def __init__(self, load: Callable[[], list[str]], ttl: float = 30.0) -> None:
        self._load, self._ttl = load, ttl
        self._wards: set[str] = set()
        self._loaded_at = float("-inf")

    async def known(self, ward: str) -> bool:
        if ward in self._wards:
            return True
        if time.monotonic() - self._loaded_at >= self._ttl:
            self._wards = set(await asyncio.to_thread(self._load))
            self._loaded_at = time.monotonic()
        return ward in self._wards


class Hl7Handler:
    """The parse → hand-over → ACK step shared by the plain and the TLS listener."""

    def __init__(self, index_key: bytes, hand_over: HandOver | None, wards: WardCache | None = None,
                 orders: OrderGate | None = None, destinations: list[str] | None = None) -> None:
        self._key = index_key
        self._hand_over = hand_over
        self._wards = wards
        self._orders = orders
        #: ``HMS_HL7_DESTINATIONS``: an admission's journey sends its outbound HL7 there.
        self._destinations = list(destinations or [])

    async def handle(self, data: bytes) -> bytes:
        """The ACK (ER7, unframed) for one frame's payload; never raises."""
        header: Header | None = None
        try:
            parsed, msg = await asyncio.to_thread(parse, data, self._key, datetime.now(UTC))
            header = parsed
            if msg.kind == "ADT^A01" and self._wards is not None and not await self._wards.known(msg.ward or ""):
                raise E.error(E.TABLE_VALUE, "PV1-3 ward is not a ward of this hospital", E.Location("PV1", 1, 3))
            if msg.kind == "ADT^A01":
                msg.hl7_destinations = list(self._destinations)
            if msg.order_control and self._orders is not None:
                await self._orders.check(msg)
            if self._hand_over is not None:
                try:
                    await self._hand_over(msg)
                except Exception as exc:  # noqa: BLE001 - any failure means "not durable": the sender resends
                    log.warning("hl7 %s %s not handed over: %s", msg.kind, msg.control_id, type(exc).__name__)
                    raise E.reject(E.INTERNAL, "the message could not be stored durably; resend it later") from None
            if self._orders is not None:
                self._orders.handed_over(msg)
            log.info("hl7 %s %s accepted", msg.kind, msg.control_id)
            return build_ack(parsed, "AA").encode()
        except E.Hl7Error as err:
            header = header or best_effort_header(decode(data))
            log.info("hl7 %s %s refused (%s %s)", header.message_type or "?", header.control_id or "?",
                     err.ack_code, err.code)
            return build_ack(header, err.ack_code, err).encode()
        except Exception as exc:  # noqa: BLE001 - a bug must cost one message an AR, not the listener
            log.error("hl7 handler failed: %s", type(exc).__name__)  # no traceback: it may quote content
            header = header or best_effort_header(decode(data))
            return build_ack(header, "AR", E.reject(E.INTERNAL, "internal error; resend the message later")).encode()
