"""MLLP over TLS: TLS 1.3 with the local CA answers; TLS 1.2 is refused."""
from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path
from types import SimpleNamespace

import pytest

from api.hl7.framing import frame
from api.hl7.handler import Hl7Handler
from api.hl7.listener import MllpListener
from deploy.tls import client_ssl_context, ensure_tls, server_ssl_context
from tests.unit.hl7.samples import ack_fields, adt


async def _noop(msg: object) -> None:
    return None


async def test_tls13_answers_and_tls12_is_refused(tmp_path: Path) -> None:
    files = ensure_tls(SimpleNamespace(tls_dir=tmp_path / "tls", home_dir=tmp_path, host="127.0.0.1"))
    listener = MllpListener(Hl7Handler(bytes(32), _noop))
    port = await listener.start("127.0.0.1", 0, server_ssl_context(files))

    def tls13() -> str:
        ctx = client_ssl_context(files.ca_cert)
        with socket.create_connection(("127.0.0.1", port)) as raw, ctx.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.version() == "TLSv1.3"
            s.sendall(frame(adt().encode()))
            data = b""
            while not data.endswith(b"\x1c\r"):
                data += s.recv(4096)
            return data.decode().strip("\x0b\x1c\r")

    def tls12() -> None:
        ctx = ssl.create_default_context(cafile=str(files.ca_cert))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", port)) as raw, ctx.wrap_socket(raw, server_hostname="localhost"):
            pass

    try:
        assert ack_fields(await asyncio.to_thread(tls13))["MSA"][1] == "AA"
        with pytest.raises(ssl.SSLError):
            await asyncio.to_thread(tls12)
    finally:
        await listener.close()
