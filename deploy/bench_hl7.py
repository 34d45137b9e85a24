"""``hms bench hl7``: ADT messages/s with durable ACKs vs parse-and-ACK without durability, same run.

Two listeners run in this process on ephemeral ports with the same parser and ACK builder: one
hands every message to the stack's Temporal (signal-with-start of the patient's inbox) before
answering ``AA``, the other answers ``AA`` right after parsing. The same ADT^A01 messages (one
synthetic patient each: every message starts an inbox, the worst case) are sent over
``CONNECTIONS`` MLLP connections to each, alternating for ``ROUNDS`` rounds. The inboxes go to a
task queue of their own with no worker, so nothing is admitted; they are terminated afterwards.
Goal: ≥ 200 messages/s with durable ACKs.
"""
from __future__ import annotations

import asyncio
import statistics
import time
import uuid

from temporalio.client import Client

from api.hl7.batching import make_hand_over
from api.hl7.framing import frame
from api.hl7.handler import Hl7Handler
from api.hl7.listener import MllpListener
from api.hl7.parse import derived_patient_id
from deploy import wiring
from deploy.settings import Settings
from workflows.hl7_ingest import ingest_workflow_id
from workflows.hl7_intake import intake_workflow_id

CONNECTIONS = 32
ROUNDS = 3
GOAL = 200.0


def _adt(i: int, tag: str) -> bytes:
    return ("\r".join([
        f"MSH|^~\\&|BENCH|BENCHFAC|HMS|HMS|20261125120000||ADT^A01^ADT_A01|{tag}-{i}|P|2.5",
        "EVN|A01|20261125120000",
        f"PID|1||{tag}-{i}^^^HMS^MR||Bench^Patient{i}||19800517|F",
        "PV1|1|I|medical^^^HMS||||attending-1^Doctor^Attending",
    ]) + "\r").encode()


async def _drive(port: int, messages: list[bytes]) -> float:
    """Seconds to send every message and read its ACK (each must be AA), over CONNECTIONS connections."""
    async def one_connection(share: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for m in share:
                writer.write(frame(m))
                await writer.drain()
                ack = await reader.readuntil(b"\x1c\r")
                if b"MSA|AA|" not in ack:
                    raise SystemExit(f"bench hl7: a message was not accepted: {ack[:200]!r}")
        finally:
            writer.close()
            await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.gather(*(one_connection(messages[c::CONNECTIONS]) for c in range(CONNECTIONS)))
    return time.perf_counter() - start


async def bench_hl7(settings: Settings, n: int, rounds: int = ROUNDS) -> str:
    client: Client = await wiring.connect_temporal(settings)
    key = wiring.index_key(settings)
    queue = f"bench-hl7-{uuid.uuid4()}"
    hand_over = make_hand_over(client, queue, settings.hl7_intake_shards)
    durable = MllpListener(Hl7Handler(key, hand_over))
    bare = MllpListener(Hl7Handler(key, None))
    durable_port, bare_port = await durable.start("127.0.0.1", 0), await bare.start("127.0.0.1", 0)
    project: list[float] = []
    baseline: list[float] = []
    tags: list[str] = []
    try:
        await _drive(bare_port, [_adt(i, "warm") for i in range(CONNECTIONS)])
        for _ in range(rounds):
            tag = f"B{uuid.uuid4().hex[:8]}"
            tags.append(tag)
            messages = [_adt(i, tag) for i in range(n)]
            project.append(await _drive(durable_port, messages))
            baseline.append(await _drive(bare_port, messages))
    finally:
        await durable.close()
        await bare.close()
        await _terminate(client, key, tags, n, queue, settings.hl7_intake_shards)
    p_rate, b_rate = n / statistics.median(project), n / statistics.median(baseline)
    return "\n".join([
        f"| measure (n={n} ADT^A01 per round, {rounds} alternating rounds, {CONNECTIONS} MLLP connections) "
        "| project | baseline | ratio |",
        "|---|---|---|---|",
        f"| messages/s: durable ACK (signal-with-start persisted, then AA) vs parse-and-ACK (median round) "
        f"| {p_rate:.0f} | {b_rate:.0f} | {p_rate / b_rate:.2f} "
        f"(goal ≥ {GOAL:.0f}/s: {'met' if p_rate >= GOAL else 'NOT met'}) |",
        f"| durable messages/s per round | {', '.join(f'{n / t:.0f}' for t in project)} | "
        f"{', '.join(f'{n / t:.0f}' for t in baseline)} | |",
    ])


async def _terminate(client: Client, key: bytes, tags: list[str], n: int, queue: str, shards: int) -> None:
    """The bench's inboxes and intake shards never had a worker: end them so they do not wait forever."""
    gate = asyncio.Semaphore(16)

    async def end(workflow_id: str) -> None:
        async with gate:
            try:
                await client.get_workflow_handle(workflow_id).terminate("hms bench hl7 cleanup")
            except Exception:  # noqa: BLE001 - an inbox that never started has nothing to end
                pass

    inboxes = [ingest_workflow_id(derived_patient_id(key, "urn:hms:mrn", f"{tag}-{i}")) for tag in tags for i in range(n)]
    await asyncio.gather(*(end(w) for w in [*inboxes, *(intake_workflow_id(queue, s) for s in range(shards))]))


def run_bench_hl7(settings: Settings, n: int) -> int:
    print(asyncio.run(bench_hl7(settings, n)))
    return 0
