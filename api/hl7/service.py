"""``hms mllp``: the MLLP listener as a service (plain on HMS_MLLP_PORT, TLS 1.3 on HMS_MLLP_TLS_PORT)."""
from __future__ import annotations

import asyncio
import logging
import signal

from activities.storage import repository as repo
from activities.storage.db import make_session_factory
from api.hl7.batching import make_hand_over
from api.hl7.handler import Hl7Handler, WardCache
from api.hl7.listener import MllpListener
from api.hl7.order_gate import OrderGate
from deploy import telemetry, wiring
from deploy.settings import Settings
from deploy.tls import ensure_tls, server_ssl_context
from workflows.hl7_outbound import parse_destinations

log = logging.getLogger("hms.hl7")


def run_mllp(settings: Settings) -> int:
    """Listen until SIGTERM/SIGINT; every ``AA`` means the message is durably in Temporal."""
    telemetry.setup(settings, "hms-mllp")  # logs in HMS_LOG_FORMAT, tracing per HMS_OTEL_TRACES

    async def main() -> None:
        client = await wiring.connect_temporal(settings)
        sessions = make_session_factory(wiring.database_engine(settings, pool_size=2))

        def load_wards() -> list[str]:
            with sessions() as s:
                return repo.ward_ids(s)

        hand_over = make_hand_over(client, settings.task_queue, settings.hl7_intake_shards)
        handler = Hl7Handler(wiring.index_key(settings), hand_over, WardCache(load_wards),
                             OrderGate(sessions, wiring.field_cipher(settings)),
                             parse_destinations(settings.hl7_destinations))
        listener = MllpListener(handler)
        port = await listener.start(settings.host, settings.mllp_port)
        log.info("mllp listening on %s:%s", settings.host, port)
        if settings.mllp_tls_port:
            tls_port = await listener.start(settings.host, settings.mllp_tls_port,
                                            server_ssl_context(ensure_tls(settings)))
            log.info("mllp over TLS 1.3 listening on %s:%s", settings.host, tls_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await listener.close()
        log.info("mllp stopped")

    asyncio.run(main())
    return 0
