"""Request and result contracts of the triage model, with validation at the boundary.

Impossible values are refused here, naming the field, so neither the NEWS2 chart nor the
model ever sees a reading no monitor could produce.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

DECISION_SUPPORT = "decision support, not diagnosis"

# Inclusive physiological bounds: wide enough for arrest and extreme cases, narrow enough to catch typos.
_INT_BOUNDS: dict[str, tuple[int, int]] = {
    "age": (0, 120),
    "respiratory_rate": (0, 80),
    "spo2": (0, 100),
    "systolic_bp": (0, 300),
    "heart_rate": (0, 300),
}
_TEMP_BOUNDS = (25.0, 45.0)
_MAX_COMPLAINT = 500


class InvalidInput(ValueError):
    """A triage request field holds an impossible or malformed value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        else:
            raise InvalidInput(name, "must be an integer")
    lo, hi = _INT_BOUNDS[name]
    if not lo <= value <= hi:
        raise InvalidInput(name, f"must be between {lo} and {hi}, got {value}")
    return value


@dataclass(frozen=True, kw_only=True)
class TriageInput:
    """What the triage nurse records at the door: age in years, complaint, one set of vitals.

    Keyword-only, so a field can never be filled from the wrong position.
    """

    age: int
    complaint: str
    respiratory_rate: int
    spo2: int
    spo2_scale: int = 1
    on_oxygen: bool
    systolic_bp: int
    heart_rate: int
    consciousness: Literal["A", "C", "V", "P", "U"]
    temperature: float

    def __post_init__(self) -> None:
        for name in _INT_BOUNDS:
            object.__setattr__(self, name, _check_int(name, getattr(self, name)))
        if not isinstance(self.complaint, str) or not self.complaint.strip():
            raise InvalidInput("complaint", "must be a non-empty text")
        if len(self.complaint) > _MAX_COMPLAINT:
            raise InvalidInput("complaint", f"must be at most {_MAX_COMPLAINT} characters")
        if self.spo2_scale not in (1, 2) or isinstance(self.spo2_scale, bool):
            raise InvalidInput("spo2_scale", "must be 1 or 2")
        if not isinstance(self.on_oxygen, bool):
            raise InvalidInput("on_oxygen", "must be true or false")
        if self.consciousness not in ("A", "C", "V", "P", "U"):
            raise InvalidInput("consciousness", "must be one of A, C, V, P, U (ACVPU)")
        temp = self.temperature
        if isinstance(temp, bool) or not isinstance(temp, int | float) or not math.isfinite(temp):
            raise InvalidInput("temperature", "must be a finite number in degrees Celsius")
        if not _TEMP_BOUNDS[0] <= temp <= _TEMP_BOUNDS[1]:
            raise InvalidInput("temperature", f"must be between {_TEMP_BOUNDS[0]} and {_TEMP_BOUNDS[1]} °C")
        object.__setattr__(self, "temperature", float(temp))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TriageInput:
        """Build from a JSON body, turning missing or unknown keys into ``InvalidInput``."""
        names = {f.name for f in fields(cls)}
        for key in data:
            if key not in names:
                raise InvalidInput(str(key), "is not a triage field")
        for f in fields(cls):
            if f.name not in data and f.name != "spo2_scale":
                raise InvalidInput(f.name, "is required")
        return cls(**dict(data))


@dataclass(frozen=True)
class TriageResult:
    """NEWS2 plus an ESI suggestion: decision support for the triage nurse, not diagnosis."""

    news2: int
    news2_band: str
    esi_suggested: int
    red_flags: list[str]
    model_version: str
    parameter_scores: dict[str, int]
    esi_model: int = 0
    esi_rule_ceiling: int | None = None
    label: str = field(default=DECISION_SUPPORT)
