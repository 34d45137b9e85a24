"""Every stage kind a journey can start (one import and one entry per stage module)."""
from __future__ import annotations

from workflows.stages import StageSpec

STAGE_SPECS: dict[str, StageSpec] = {}
