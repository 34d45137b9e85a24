"""Pure triage rules the workflow applies: re-assessment intervals by acuity and payload checks.

Intervals: ESI 1–2 every 15 minutes, ESI 3 every 30, ESI 4–5 every 60 (ED practice);
NEWS2 (RCP 2017 monitoring frequency) can only shorten them: a high score (≥ 7) calls for
continuous monitoring, approximated by a re-assessment every 5 minutes while the rapid
response is under way; medium and low-medium at least hourly; low at least 4-hourly.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ml.triage.schema import InvalidInput, TriageInput

ESI_INTERVAL_MINUTES = {1: 15, 2: 15, 3: 30, 4: 60, 5: 60}
NEWS2_INTERVAL_MINUTES = {"high": 5, "medium": 60, "low-medium": 60, "low": 240}
#: NEWS2 at or above which a rapid-response task opens for the attending.
RAPID_RESPONSE_NEWS2 = 7
MAX_OVERRIDE_REASON = 500
TRIAGE_PAYLOAD_KEYS = {"vitals", "esi", "override_reason"}


def reassessment_interval(esi: int, news2_band: str) -> timedelta:
    """The shorter of the ESI interval and the NEWS2 monitoring interval."""
    minutes = min(ESI_INTERVAL_MINUTES[esi], NEWS2_INTERVAL_MINUTES.get(news2_band, 60))
    return timedelta(minutes=minutes)


def needs_rapid_response(news2: int) -> bool:
    return news2 >= RAPID_RESPONSE_NEWS2


class InvalidPayload(ValueError):
    """The task payload is malformed; the message names the field."""


@dataclass(frozen=True)
class TriagePayload:
    vitals: dict[str, Any]
    esi: int | None
    override_reason: str | None


def parse_triage_payload(payload: dict[str, Any], *, known_age: int | None, known_complaint: str | None
                         ) -> TriagePayload:
    """Check shape and physiological ranges deterministically (``TriageInput.from_mapping`` is pure).

    ``age`` may be left out when the workflow knows it from the demographics, and ``complaint`` on a
    re-assessment, when the first assessment recorded it.
    """
    extra = sorted(set(payload) - TRIAGE_PAYLOAD_KEYS)
    if extra:
        raise InvalidPayload(f"payload: unknown field(s) {', '.join(extra)}")
    vitals = payload.get("vitals")
    if not isinstance(vitals, dict):
        raise InvalidPayload("payload.vitals: an object with the vital signs and complaint is required")
    vitals = dict(vitals)
    if "age" not in vitals and known_age is not None:
        vitals["age"] = known_age
    if "complaint" not in vitals and known_complaint:
        vitals["complaint"] = known_complaint
    try:
        parsed = TriageInput.from_mapping(vitals)
    except InvalidInput as exc:
        raise InvalidPayload(f"payload.vitals.{exc.field}: {exc.message}") from exc
    except TypeError as exc:
        raise InvalidPayload(f"payload.vitals: {exc}") from exc
    esi = payload.get("esi")
    if esi is not None and (isinstance(esi, bool) or not isinstance(esi, int) or not 1 <= esi <= 5):
        raise InvalidPayload("payload.esi: an ESI level from 1 to 5")
    reason = payload.get("override_reason")
    if reason is not None:
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidPayload("payload.override_reason: a non-empty text")
        if len(reason) > MAX_OVERRIDE_REASON:
            raise InvalidPayload(f"payload.override_reason: at most {MAX_OVERRIDE_REASON} characters")
        if esi is None:
            raise InvalidPayload("payload.override_reason: only with payload.esi (the level you choose)")
    canonical = {
        "age": parsed.age, "complaint": parsed.complaint, "respiratory_rate": parsed.respiratory_rate,
        "spo2": parsed.spo2, "spo2_scale": parsed.spo2_scale, "on_oxygen": parsed.on_oxygen,
        "systolic_bp": parsed.systolic_bp, "heart_rate": parsed.heart_rate, "consciousness": parsed.consciousness,
        "temperature": parsed.temperature,
    }
    return TriagePayload(vitals=canonical, esi=esi, override_reason=reason.strip() if reason else None)


def final_esi(suggested: int, chosen: int | None, reason: str | None) -> tuple[int, bool]:
    """The confirmed ESI and whether it overrides the suggestion; an override needs a reason."""
    if chosen is None or chosen == suggested:
        return suggested, False
    if not reason:
        raise InvalidPayload(f"payload.override_reason: required to override the suggested ESI {suggested} "
                             f"with {chosen}")
    return chosen, True


ACK_PAYLOAD_KEYS = {"eta_minutes"}


def check_ack_payload(payload: dict[str, Any]) -> None:
    """A rapid-response acknowledgement carries at most an ETA in minutes (no free text)."""
    extra = sorted(set(payload) - ACK_PAYLOAD_KEYS)
    if extra:
        raise InvalidPayload(f"payload: unknown field(s) {', '.join(extra)} (only eta_minutes)")
    eta = payload.get("eta_minutes")
    if eta is not None and (isinstance(eta, bool) or not isinstance(eta, int) or not 0 <= eta <= 60):
        raise InvalidPayload("payload.eta_minutes: whole minutes from 0 to 60")
