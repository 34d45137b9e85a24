"""A journey that cannot answer a query or an update gets a clear 5xx with a reason, never a bare 500."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi import HTTPException
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateRPCTimeoutOrCancelledError

from api.routes.stages import journey_state
from api.updates import run_update


class Handle:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def query(self, *args, **kwargs):
        raise self.error

    async def execute_update(self, *args, **kwargs):
        raise self.error


def _services(handle: Handle) -> SimpleNamespace:
    client = SimpleNamespace(get_workflow_handle_for=lambda *a, **k: handle)
    return SimpleNamespace(client=lambda: client)


async def test_a_failed_journey_query_is_503_with_a_reason() -> None:
    with pytest.raises(HTTPException) as err:
        await journey_state(_services(Handle(WorkflowQueryFailedError("boom"))), "journey-1")
    assert err.value.status_code == 503 and "journey-1" in err.value.detail


async def test_an_update_the_workflow_did_not_answer_in_time_is_504() -> None:
    with pytest.raises(HTTPException) as err:
        await run_update(Handle(WorkflowUpdateRPCTimeoutOrCancelledError()), "u", None, errors={}, ended="gone")
    assert err.value.status_code == 504 and "may still apply" in err.value.detail
