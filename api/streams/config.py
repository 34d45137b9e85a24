"""Tunables of the streams (``app.state.stream_config`` overrides the defaults, e.g. in tests)."""
from __future__ import annotations

from dataclasses import dataclass

#: WebSocket close codes (4000-4999 are the application's), each sent with a reason.
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_SLOW = 4429
CLOSE_UNAVAILABLE = 4503


@dataclass(frozen=True)
class StreamConfig:
    #: How often a subscription (and the cached per-type push decisions) is decided again.
    recheck_seconds: float = 30.0
    #: How long a socket without a token in the header or query may take to send it as its first message.
    auth_timeout_seconds: float = 10.0
    #: Events queued for one socket before it is dropped as too slow.
    queue_size: int = 256
    #: How long one send may take before the client counts as too slow.
    send_timeout_seconds: float = 5.0
