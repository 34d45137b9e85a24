"""Every activity a journey worker registers, built from the worker's dependencies."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from activities.admission import AdmissionActivities
from activities.audit import WorkerLedger
from activities.billing import BillingActivities
from activities.break_glass import BreakGlassActivities
from activities.correction import CorrectionActivities
from activities.crypto.fields import FieldCipher, ephemeral_cipher
from activities.discharge import DischargeActivities
from activities.erasure import ErasureActivities
from activities.hl7_ingest import Hl7IngestActivities
from activities.hl7_outbound import Hl7OutboundActivities
from activities.imaging import ImagingActivities
from activities.pharmacy import PharmacyActivities
from activities.surge import SurgeActivities
from activities.triage import IntakeActivities, TriageActivities
from ledger.base import Ledger


def build_activities(session_factory: Callable[[], Session], ledger: Ledger, models: Any = None,
                     cipher: FieldCipher | None = None) -> list[Callable]:
    """The activity callables of all journeys; ``models`` is the ``ml.runtime.ModelRegistry`` (or None).

    ``cipher`` encrypts patient fields at rest; None uses the process's ephemeral keys (tests only:
    ``deploy.services.build_worker`` passes the key-file cipher of ``$HMS_HOME/keys``).
    """
    ledger = WorkerLedger(ledger)  # type: ignore[assignment]
    cipher = cipher or ephemeral_cipher()
    acts: list[Callable] = []
    acts += AdmissionActivities(session_factory, ledger, cipher).all()
    acts += ImagingActivities(session_factory, ledger, models, cipher).all()
    acts += DischargeActivities(session_factory, ledger).all()
    acts += BillingActivities(session_factory, ledger).all()
    acts += PharmacyActivities(session_factory, ledger, cipher=cipher).all()
    acts += TriageActivities(session_factory, ledger, models, cipher).all()
    acts += IntakeActivities(session_factory, ledger, cipher).all()
    acts += BreakGlassActivities(session_factory, ledger, cipher).all()
    acts += ErasureActivities(session_factory, ledger, cipher).all()
    acts += CorrectionActivities(session_factory, ledger, cipher).all()
    acts += Hl7IngestActivities(session_factory, ledger, cipher).all()
    acts += Hl7OutboundActivities(session_factory, cipher).all()
    acts += SurgeActivities(session_factory, models).all()
    return acts
