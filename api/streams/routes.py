"""``/ws/patients/{id}`` and ``/ws/wards/{ward}``: live vitals, results, tasks and stages over wss.

Authentication is the API's bearer token — in the ``Authorization`` header, the
``access_token`` query parameter, or (for browsers, which cannot set headers on a
WebSocket) a first message ``{"access_token": ..., "last_event_id"?: ...}``. Refusals
close the socket with a code and a reason: 4401 no or bad token, 4403 the policy says
no (also later, at a re-check), 4404 no such patient or ward, 4400 a bad
``last_event_id``, 4429 the client read too slowly (resume with the id in the reason),
4503 the policy engine or the ledger cannot answer.
"""
from __future__ import annotations

from fastapi import APIRouter, FastAPI, WebSocket

from api.streams.access import StreamTarget
from api.streams.config import StreamConfig
from api.streams.hub import EventHub, conninfo_of
from api.streams.session import StreamSession

router = APIRouter(tags=["streams"])


@router.websocket("/ws/patients/{patient_id}")
async def patient_stream(websocket: WebSocket, patient_id: str) -> None:
    """Events of one patient, for whoever may read that patient's journey."""
    await StreamSession(websocket, await hub_of(websocket.app), StreamTarget(patient_id=patient_id),
                        config_of(websocket.app)).run()


@router.websocket("/ws/wards/{ward}")
async def ward_stream(websocket: WebSocket, ward: str) -> None:
    """Events of one ward's patients (each event decided for its own patient)."""
    await StreamSession(websocket, await hub_of(websocket.app), StreamTarget(ward=ward),
                        config_of(websocket.app)).run()


def config_of(app: FastAPI) -> StreamConfig:
    return getattr(app.state, "stream_config", None) or StreamConfig()


async def hub_of(app: FastAPI) -> EventHub:
    """The process's hub, started on first use when the lifespan did not start it (ASGI test clients)."""
    hub: EventHub | None = getattr(app.state, "stream_hub", None)
    if hub is None:
        services = app.state.services
        hub = EventHub(services.sessions, conninfo_of(services.sessions))
        app.state.stream_hub = hub
    await hub.start()
    return hub


async def start_listener(app: FastAPI) -> None:
    """Lifespan start: LISTEN from the start, so the first subscriber does not wait for it."""
    try:
        await hub_of(app)
    except Exception:  # a fake or missing store (unit tests): the streams start on first use instead
        app.state.stream_hub = None


async def stop_listener(app: FastAPI) -> None:
    hub: EventHub | None = getattr(app.state, "stream_hub", None)
    if hub is not None:
        await hub.stop()
        app.state.stream_hub = None
