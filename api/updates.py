"""Running a workflow update from a route: the workflow's refusal becomes a 4xx with its reason."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException
from temporalio.client import (
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode


async def run_update(handle: WorkflowHandle, update: Any, arg: Any, *, errors: Mapping[str, int], ended: str,
                     result_type: type | None = None, ended_status: int = 409) -> Any:
    """Execute ``update`` and map its failure: the error type via ``errors`` (default 409).

    A validator's refusal never reaches history, so a 4xx here means nothing changed.
    ``ended`` is the message when the workflow no longer runs (answered ``ended_status``).
    """
    try:
        if result_type is None:
            return await handle.execute_update(update, arg)
        return await handle.execute_update(update, arg, result_type=result_type)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise HTTPException(errors.get(cause.type or "", 409), cause.message) from exc
        raise HTTPException(409, str(cause or exc)) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        # The server accepted the call but the workflow did not answer in time: the update may still
        # be applied (updates are idempotent by their id), so the caller can safely retry.
        raise HTTPException(504, "the workflow did not answer in time; the change may still apply: read the state "
                                 "before retrying") from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(ended_status, ended) from exc
        raise
