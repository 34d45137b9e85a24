"""The baseline server of ``hms bench read``: the same row over the same HTTPS stack, with nothing else.

Same framework (FastAPI), same server (uvicorn, TLS 1.3 with the stack's certificate), its own
process like the API: one route that SELECTs the patient's row and returns its columns as they
are stored (ciphertext, base64) — no token, no policy, no decryption, no ledger. The ratio of the
API's read to this one is what authentication, policy, decryption and audit add to a read.

Loopback only, started and stopped by the benchmark; it serves stored bytes (encrypted fields),
never plaintext. Run: ``python -m deploy.bench_bare_read PORT``.
"""
from __future__ import annotations

import base64
import sys
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, HTTPException

from deploy import wiring
from deploy.settings import Settings
from deploy.tls import ensure_tls, run_uvicorn_tls13

_SELECT = sa.text("SELECT * FROM hms.patients WHERE id = :id")


def bare_app(engine: sa.Engine) -> FastAPI:
    app = FastAPI(title="bench baseline")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/bare/patients/{patient_id}")
    def read(patient_id: str) -> dict[str, Any]:
        with engine.connect() as conn:
            row = conn.execute(_SELECT, {"id": patient_id}).mappings().first()
        if row is None:
            raise HTTPException(404, "not found")
        return {k: base64.b64encode(bytes(v)).decode() if isinstance(v, (bytes, memoryview)) else
                v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}

    return app


def main(argv: list[str]) -> int:
    settings = Settings()
    engine = wiring.database_engine(settings, pool_size=4)
    run_uvicorn_tls13(bare_app(engine), "127.0.0.1", int(argv[0]), ensure_tls(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
