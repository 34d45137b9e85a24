"""``hms worker --queue ROLE``: which queue each role polls and what it registers there."""
from __future__ import annotations

import pytest

from activities.registry import build_activities
from deploy.cli import build_parser
from deploy.settings import Settings
from deploy.worker_roles import (
    INFERENCE_ACTIVITIES,
    ROLES,
    RoleError,
    activity_name,
    resolve,
    select_activities,
    select_workflows,
)
from workflows.registry import WORKFLOWS


@pytest.fixture(scope="module")
def activities() -> list:
    # Built with no database: constructing the activity classes touches nothing.
    return build_activities(lambda: None, object())  # type: ignore[arg-type, return-value]


def test_journeys_is_the_default_and_registers_everything(activities: list) -> None:
    args = build_parser().parse_args(["worker"])
    assert args.queue == "journeys"
    role = resolve(args.queue, Settings(task_queue="q-main"))
    assert role.task_queue == "q-main" and role.runs_workflows
    assert select_workflows(role, WORKFLOWS) == WORKFLOWS
    assert select_activities(role, activities) == activities


def test_inference_registers_only_the_routed_model_activities(activities: list) -> None:
    role = resolve("inference", Settings(task_queue="q-main", inference_task_queue="q-infer"))
    assert role.task_queue == "q-infer" and not role.runs_workflows
    assert select_workflows(role, WORKFLOWS) == []
    chosen = select_activities(role, activities)
    assert {activity_name(fn) for fn in chosen} == INFERENCE_ACTIVITIES == {"imaging_prescreen"}


def test_inference_without_its_queue_is_refused() -> None:
    with pytest.raises(RoleError, match="HMS_INFERENCE_TASK_QUEUE"):
        resolve("inference", Settings())


def test_inference_refuses_a_registry_without_the_model_activities(activities: list) -> None:
    role = resolve("inference", Settings(inference_task_queue="q-infer"))
    others = [fn for fn in activities if activity_name(fn) not in INFERENCE_ACTIVITIES]
    with pytest.raises(RoleError, match="imaging_prescreen"):
        select_activities(role, others)


def test_integration_is_the_journeys_role_on_the_configured_queue(activities: list) -> None:
    role = resolve("integration", Settings(task_queue="hms-integration"))
    assert role.task_queue == "hms-integration" and role.runs_workflows
    assert select_activities(role, activities) == activities


def test_cli_offers_exactly_the_roles() -> None:
    worker = build_parser()._subparsers._group_actions[0].choices["worker"]  # type: ignore[union-attr]
    queue = next(a for a in worker._actions if a.dest == "queue")
    assert tuple(queue.choices) == ROLES
    with pytest.raises(SystemExit):
        build_parser().parse_args(["worker", "--queue", "gpu"])
    with pytest.raises(RoleError, match="unknown worker role"):
        resolve("gpu", Settings())


def test_cli_refuses_inference_without_a_queue(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from deploy.cli import main

    monkeypatch.delenv("HMS_INFERENCE_TASK_QUEUE", raising=False)
    assert main(["worker", "--queue", "inference"]) == 2
    assert "HMS_INFERENCE_TASK_QUEUE is unset" in capsys.readouterr().err


def test_temporal_mtls_settings() -> None:
    from deploy.wiring import temporal_tls

    assert temporal_tls(Settings()) is False
    with pytest.raises(ValueError, match="together"):
        temporal_tls(Settings(temporal_tls_cert="/x/cert.pem"))  # type: ignore[arg-type]


def test_temporal_mtls_reads_the_pem_files(tmp_path) -> None:  # noqa: ANN001
    from deploy.wiring import temporal_tls

    for name in ("cert", "key", "ca"):
        (tmp_path / f"{name}.pem").write_bytes(f"-- {name} --".encode())
    tls = temporal_tls(Settings(temporal_tls_cert=tmp_path / "cert.pem", temporal_tls_key=tmp_path / "key.pem",
                                temporal_tls_ca=tmp_path / "ca.pem"))
    assert not isinstance(tls, bool)
    assert (tls.client_cert, tls.client_private_key, tls.server_root_ca_cert) == (b"-- cert --", b"-- key --",
                                                                                 b"-- ca --")


def test_the_order_carries_the_inference_queue_into_the_imaging_input() -> None:
    from workflows.imaging import build_input
    from workflows.stages import JourneyContext, StageRequest

    ctx = JourneyContext(journey_id="j", patient_id="p", encounter_id="e", ward="medical")
    order = {"modality": "CR", "body_site": "51185008", "reason_code": "R05"}
    assert build_input(ctx, StageRequest("imaging", "o-1", "attending-1", order)).inference_task_queue is None
    routed = build_input(ctx, StageRequest("imaging", "o-1", "attending-1", order, inference_task_queue="q-inf"))
    assert routed.inference_task_queue == "q-inf"
