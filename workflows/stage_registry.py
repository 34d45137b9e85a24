"""Every stage kind a journey can start (one import and one entry per stage module)."""
from __future__ import annotations

from workflows.imaging import IMAGING_STAGE
from workflows.pharmacy import PHARMACY_STAGE
from workflows.result_review import RESULT_REVIEW_STAGE
from workflows.stages import StageSpec
from workflows.triage_stage import TRIAGE_STAGE

STAGE_SPECS: dict[str, StageSpec] = {"imaging": IMAGING_STAGE, "triage": TRIAGE_STAGE, "pharmacy": PHARMACY_STAGE,
                                     "result-review": RESULT_REVIEW_STAGE}
