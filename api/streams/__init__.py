"""Real-time WebSocket streams of patients' and wards' events (see ``routes``)."""
from api.streams.routes import router, start_listener, stop_listener

__all__ = ["router", "start_listener", "stop_listener"]
