"""Every activity a journey worker registers, built from the worker's dependencies."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from activities.admission import AdmissionActivities
from ledger.base import Ledger


def build_activities(session_factory: Callable[[], Session], ledger: Ledger, models: Any = None) -> list[Callable]:
    """The activity callables of all journeys; ``models`` is the ``ml.runtime.ModelRegistry`` (or None)."""
    acts: list[Callable] = []
    acts += AdmissionActivities(session_factory, ledger).all()
    return acts
