"""Replay before deploy: the committed histories must replay on the current workflow code."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.unit.workflows.changed_admission import ChangedAdmissionWorkflow
from workflows.journey import PatientJourney
from workflows.payload_converter import data_converter
from workflows.registry import WORKFLOWS, workflow_runner

HISTORIES = Path(__file__).parents[2] / "replay" / "histories"


def load(name: str) -> WorkflowHistory:
    text = (HISTORIES / name).read_text()
    return WorkflowHistory.from_json(json.loads(text)["events"][0]["workflowExecutionStartedEventAttributes"]
                                     .get("workflowId", name), text)


@pytest.mark.parametrize("name", sorted(p.name for p in HISTORIES.glob("*.json")))
async def test_committed_history_replays(name: str) -> None:
    result = await Replayer(workflows=WORKFLOWS, data_converter=data_converter,
                            workflow_runner=workflow_runner()).replay_workflow(load(name))
    assert result.replay_failure is None


def test_every_workflow_type_has_a_history() -> None:
    types = set()
    for path in HISTORIES.glob("*.json"):
        first = json.loads(path.read_text())["events"][0]
        types.add(first["workflowExecutionStartedEventAttributes"]["workflowType"]["name"])
    assert {w.__temporal_workflow_definition.name for w in WORKFLOWS} <= types  # type: ignore[attr-defined]


async def test_incompatible_change_is_caught() -> None:
    replayer = Replayer(workflows=[ChangedAdmissionWorkflow, PatientJourney], data_converter=data_converter)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(load("admission_plain.json"))
