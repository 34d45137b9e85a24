"""``hms bench ledger``: group-commit throughput next to one-transaction-per-append, and proof cost at scale.

The benchmark never writes into the hospital's audit log: given a server URL it creates a scratch
database on that server, installs the ledger schema there and drops it afterwards.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import verify
from ledger.embedded import EmbeddedLedger, install_schema
from ledger.keys import key_id_for
from ledger.model import AuditEvent

THREADS = 32
GOAL_APPENDS = 2000.0
GOAL_PROOF_MS = 5.0
PROOF_TARGET = 1_000_000
BUILD_BUDGET_S = 150.0
_BASE = datetime(2026, 1, 1, tzinfo=UTC)


def synthetic_event(n: int) -> AuditEvent:
    """A made-up access (identifiers only, as every real entry)."""
    return AuditEvent(
        event_id=uuid.uuid4().hex, recorded=_BASE + timedelta(milliseconds=n), actor=f"user-{n % 40}",
        role="nurse", action="R", subtype="patient.read", outcome="0", resource_type="Patient",
        resource_id=f"pat-{n % 5000}", patient_id=f"pat-{n % 5000}", purpose="TREAT", decision="allow",
        reason="nurse may read Patient on their ward", source="bench")


@contextmanager
def scratch_engine(server_url: str) -> Iterator[sa.Engine]:
    """A fresh database on the server of ``server_url`` with the ledger schema; dropped at the end."""
    name = f"hms_ledger_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(sa.make_url(server_url).set(drivername="postgresql+psycopg"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(sa.make_url(server_url).set(drivername="postgresql+psycopg", database=name),
                              pool_size=THREADS + 4)
    try:
        with engine.begin() as conn:
            install_schema(conn)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _threaded_rate(ledger: EmbeddedLedger, n: int, threads: int, offset: int) -> float:
    """Appends/s with ``threads`` callers each appending one event at a time."""
    per = max(1, n // threads)
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        events = [synthetic_event(offset + t * per + i) for i in range(per)]
        barrier.wait()
        try:
            for event in events:
                ledger.append(event)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    barrier.wait()
    start = time.perf_counter()
    for th in pool:
        th.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return per * threads / elapsed


def _grow(ledger: EmbeddedLedger, target: int, budget: float) -> tuple[int, float]:
    """Bulk-append (10,000 per transaction) toward ``target`` entries within ``budget`` seconds."""
    start = time.perf_counter()
    size = ledger.size()
    while size < target and time.perf_counter() - start < budget:
        chunk = min(10_000, target - size)
        ledger.append_many([synthetic_event(size + i) for i in range(chunk)])
        size += chunk
    return size, time.perf_counter() - start


def _proof_times(ledger: EmbeddedLedger, size: int, samples: int = 200) -> tuple[float, float, int]:
    """Median ms to fetch a proof from the store and to verify it locally (path + head signature), and
    the path length. Medians, because on a shared machine a few descheduled samples skew a mean."""
    head = ledger.signed_head(size)
    key = ledger.public_key()
    rng = random.Random(7)
    picks = [rng.randrange(size) for _ in range(samples)]
    entries = {i: ledger.get(i).event.canonical_bytes() for i in picks}
    fetch, check, path_len = [], [], 0
    for i in picks:
        t0 = time.perf_counter()
        proof = ledger.inclusion_proof(i, size)
        t1 = time.perf_counter()
        ok = verify.verify_inclusion(entries[i], i, proof, head, key)
        t2 = time.perf_counter()
        if not ok:
            raise RuntimeError("an inclusion proof failed to verify during the benchmark")
        fetch.append(t1 - t0)
        check.append(t2 - t1)
        path_len = max(path_len, len(proof.path))
    return statistics.median(fetch) * 1000, statistics.median(check) * 1000, path_len


def bench_ledger(engine_or_url: sa.Engine | str, n: int = 20_000, *, proof_target: int = PROOF_TARGET,
                 budget: float = BUILD_BUDGET_S, threads: int = THREADS) -> str:
    """Run the benchmark; a URL gets a scratch database, an Engine is used as it is (it must be scratch)."""
    if isinstance(engine_or_url, str):
        with scratch_engine(engine_or_url) as engine:
            return bench_ledger(engine, n, proof_target=proof_target, budget=budget, threads=threads)
    key = Ed25519PrivateKey.generate()
    key_id = key_id_for(key.public_key())
    single = EmbeddedLedger(engine_or_url, key, key_id, group_commit=False)
    grouped = EmbeddedLedger(engine_or_url, key, key_id)
    baseline_n = max(threads * 20, n // 4)  # one transaction each: a smaller run says the same
    baseline = _threaded_rate(single, baseline_n, threads, 0)
    project = _threaded_rate(grouped, n, threads, baseline_n)
    per_batch = (n // threads * threads) / max(1, grouped.committed_batches)
    size, build = _grow(grouped, proof_target, budget)
    fetch_ms, check_ms, path_len = _proof_times(grouped, size)
    total_ms = fetch_ms + check_ms
    rows = [
        "| measure | project | baseline | ratio |",
        "|---|---|---|---|",
        f"| appends/s, {threads} threads: group commit (avg {per_batch:.0f} per transaction) vs one "
        f"transaction per append | {project:,.0f} | {baseline:,.0f} | {project / baseline:.1f}× "
        f"(goal ≥ {GOAL_APPENDS:,.0f}/s: {'met' if project >= GOAL_APPENDS else 'NOT met'}) |",
        f"| bulk build to {size:,} entries (10,000 per transaction) | {size / build:,.0f}/s | – | – |",
        f"| inclusion proof at {size:,} entries: fetch from PostgreSQL + verify locally (median ms) "
        f"| {total_ms:.3f} | {GOAL_PROOF_MS} (goal) | {total_ms / GOAL_PROOF_MS:.2f} |",
        f"| … of which local verification (path of {path_len} hashes + Ed25519 head signature) "
        f"| {check_ms:.3f} | – | – |",
    ]
    if size < proof_target:
        # Fetch is one indexed query for ~log2(n) rows and verification is linear in the path length.
        scale = (proof_target - 1).bit_length() / max(1, path_len)
        rows.append(
            f"| extrapolated to {proof_target:,} entries (path {(proof_target - 1).bit_length()} hashes; "
            f"×{scale:.2f} on fetch and check, not measured) | {total_ms * scale:.3f} | {GOAL_PROOF_MS} (goal) "
            f"| {total_ms * scale / GOAL_PROOF_MS:.2f} |"
        )
    return "\n".join(rows)
