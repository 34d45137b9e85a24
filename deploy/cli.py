"""The ``hms`` command line: the stack, its services one by one, tokens, audit, models, benchmarks."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from deploy.settings import Settings


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.supervisor import up

    return up(settings, detach=args.detach)


def _down(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.supervisor import down

    return down(settings)


def _status(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.supervisor import status

    return status(settings)


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.tokens import issue_token_for

    print(issue_token_for(settings, user=args.user, role=args.role))
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.services import run_worker
    from deploy.temporal_setup import ensure_schedules
    from deploy.worker_roles import RoleError, resolve

    try:
        role = resolve(args.queue, settings)
    except RoleError as exc:
        print(f"hms: {exc}", file=sys.stderr)
        return 2
    if role.name == "journeys":  # one role owns the schedules, so they always target the journeys queue
        ensure_schedules(settings)
    return run_worker(settings, role=role.name)


def _console(args: argparse.Namespace, settings: Settings) -> int:
    from console.service import run_console

    return run_console(settings)


def _api(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.services import run_api

    return run_api(settings)


def _mllp(args: argparse.Namespace, settings: Settings) -> int:
    from api.hl7.service import run_mllp

    return run_mllp(settings)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from activities.storage.migrate import upgrade
    from deploy import wiring

    # With the stack's field cipher, a migration that seals a plaintext column encrypts the rows
    # already stored (without it, such a migration refuses a database that holds them).
    upgrade(settings.resolved_database_url(), cipher=wiring.field_cipher(settings))
    return 0


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.seed import seed_demo

    seeded = seed_demo(settings)
    print("demo hospital seeded" if seeded else "demo hospital already present")
    return 0


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from deploy import audit_cli

    if args.audit_command == "verify":
        return audit_cli.verify(settings)
    if args.audit_command == "export":
        return audit_cli.export(settings, out=args.out, patient=args.patient, actor=args.actor, since=args.since,
                                until=args.until, action=args.action)
    return audit_cli.query(settings, patient=args.patient, actor=args.actor, since=args.since,
                           until=args.until, action=args.action)


def _keys(args: argparse.Namespace, settings: Settings) -> int:
    from deploy import keys_cli

    if args.keys_command == "rotate":
        return keys_cli.rotate_command(settings, resume=args.resume)
    return keys_cli.status_command(settings)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.demo import run_demo

    return run_demo(settings, patients=args.patients, seed=args.seed, concurrency=args.concurrency,
                    step_timeout=args.step_timeout, journey_timeout=args.timeout, report=args.report)


def _ml(args: argparse.Namespace, settings: Settings) -> int:
    from ml import cli as ml_cli

    if args.ml_command == "train":
        ml_cli.train_all(ml_cli.DEFAULT_MODELS_DIR, seed=args.seed)
    else:
        print(ml_cli.eval_all(ml_cli.DEFAULT_MODELS_DIR))
    return 0


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.bench import run_bench

    return run_bench(settings, args.name, n=args.n)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hms", description="Hospital Management System on durable workflows")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace, Settings], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.set_defaults(handler=handler)
        return p

    up = add("up", _up, "start the whole embedded stack (PostgreSQL, Temporal, workers, API)")
    up.add_argument("--detach", action="store_true", help="return once every service is healthy")
    add("down", _down, "stop the stack of this HMS_HOME")
    add("status", _status, "show the services of this HMS_HOME")
    token = add("token", _token, "print a short-lived JWT from the embedded issuer")
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--user")
    who.add_argument("--role")
    worker = add("worker", _worker, "run a Temporal worker for the journeys")
    worker.add_argument("--queue", choices=("journeys", "inference", "integration"), default="journeys",
                        help="worker role: journeys (everything, the default), inference (model activities on "
                             "HMS_INFERENCE_TASK_QUEUE), integration (everything, for the MLLP listener's queue)")
    add("api", _api, "run the HTTPS API (TLS 1.3 only)")
    add("mllp", _mllp, "run the HL7 v2 MLLP listener (durable ACKs; TLS 1.3 variant on HMS_MLLP_TLS_PORT)")
    add("console", _console, "serve the manager console (Streamlit, HTTPS with the stack's certificate)")
    add("migrate", _migrate, "apply database migrations")
    add("seed", _seed, "seed the demo hospital if it is not there yet")
    audit = add("audit", _audit, "verify and query the audit ledger")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="recompute the whole ledger; non-zero exit on any mismatch")
    q = audit_sub.add_parser("query", help="entries of a patient, with proofs verified locally")
    q.add_argument("--patient", required=True)
    q.add_argument("--actor")
    q.add_argument("--action")
    q.add_argument("--since")
    q.add_argument("--until")
    ex = audit_sub.add_parser("export", help="NDJSON with entries, inclusion proofs and the signed head")
    ex.add_argument("--out", required=True)
    for flag in ("--patient", "--actor", "--action", "--since", "--until"):
        ex.add_argument(flag)
    keys = add("keys", _keys, "encryption at rest: rotate the key-encryption key, show which key wraps what")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rot = keys_sub.add_parser("rotate", help="new key-encryption key; re-wrap every data key (no downtime)")
    rot.add_argument("--resume", action="store_true", help="only finish re-wrapping under the current key")
    keys_sub.add_parser("status", help="the active key-encryption key and how many data keys each wraps")
    demo = add("demo", _demo, "run N complete patient journeys through the API")
    demo.add_argument("--patients", type=int, default=5)
    demo.add_argument("--seed", type=int, default=None, help="scenario mix (deterministic; default fixed)")
    demo.add_argument("--concurrency", type=int, default=8, help="journeys at once (default 8)")
    demo.add_argument("--step-timeout", type=float, default=120.0, help="seconds to wait for any one step")
    demo.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per journey")
    demo.add_argument("--report", help="also write the summary as JSON to this file")
    ml = add("ml", _ml, "train or evaluate the decision-support models")
    ml_sub = ml.add_subparsers(dest="ml_command", required=True)
    tr = ml_sub.add_parser("train")
    tr.add_argument("--seed", type=int, default=7)
    ml_sub.add_parser("eval")
    bench = add("bench", _bench, "run a benchmark and print its ratio against a baseline")
    bench.add_argument("name")
    bench.add_argument("-n", type=int, default=None, help="size of the run")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"hms: invalid configuration: {exc}", file=sys.stderr)
        return 2
    return int(args.handler(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())
