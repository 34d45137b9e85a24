"""The scale-out manifests (deploy/k8s, deploy/compose, Dockerfile) are valid and true to the code.

Valid: every YAML parses and every Kubernetes object of a built-in kind passes the API schema of a
pinned Kubernetes version (CRDs such as ExternalSecret or ScaledObject get a shape check). True:
every HMS_* variable is a field of ``Settings``, every ``hms`` command a container runs parses with
the real CLI, every container runs as non-root on a read-only root with limits, and the OPA sidecar's
ConfigMap holds exactly the policy bundle of ``policies/``.
"""
from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy.cli import build_parser
from deploy.settings import Settings
from deploy.worker_roles import ROLES

ROOT = Path(__file__).resolve().parents[3]
K8S, COMPOSE = ROOT / "deploy" / "k8s", ROOT / "deploy" / "compose"
K8S_VERSION = "1.34.0"
#: Not Kubernetes objects: the kustomizations and the values of the Temporal Helm chart.
NOT_OBJECTS = {"kustomization.yaml", "temporal-values.yaml"}
CRD_GROUPS = ("external-secrets.io/", "keda.sh/")
HMS_IMAGE = "ghcr.io/hms/hms"
SETTINGS_ENV = {f"HMS_{name.upper()}" for name in Settings.model_fields}


def _yaml_files() -> list[Path]:
    return sorted([*K8S.rglob("*.yaml"), *COMPOSE.rglob("*.yaml")])


def _k8s_objects() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name in NOT_OBJECTS:
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                yield path, doc


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    spec = obj.get("spec", {})
    if obj["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
        return spec["template"]["spec"]
    return None


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    pod = _pod_spec(obj)
    return [] if pod is None else [*pod.get("initContainers", []), *pod["containers"]]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((COMPOSE / "compose.yaml").read_text())


def _hms_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in _compose()["services"].items() if "hms" in str(svc.get("image", ""))
            and svc.get("image", "").startswith("${HMS_IMAGE")}


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_parses(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs and all(isinstance(d, dict) for d in docs)


def test_every_kubernetes_object_validates() -> None:
    seen = 0
    for path, obj in _k8s_objects():
        where = f"{path.relative_to(ROOT)}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        assert {"apiVersion", "kind", "metadata"} <= set(obj), where
        assert obj["metadata"].get("name"), where
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "hms", where
        if obj["apiVersion"].startswith(CRD_GROUPS):
            assert obj.get("spec"), where  # a custom resource: no schema shipped, shape only
        else:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        seen += 1
    assert seen >= 30


def test_kustomization_lists_every_manifest() -> None:
    for kustomization in K8S.rglob("kustomization.yaml"):
        listed = set(yaml.safe_load(kustomization.read_text())["resources"])
        present = {p.name for p in kustomization.parent.glob("*.yaml")} - NOT_OBJECTS
        assert listed == present, kustomization


def test_every_container_is_non_root_read_only_and_limited() -> None:
    checked = 0
    for _path, obj in _k8s_objects():
        pod = _pod_spec(obj)
        if pod is None:
            continue
        pod_ctx = pod.get("securityContext", {})
        assert pod.get("automountServiceAccountToken") is False, obj["metadata"]["name"]
        for c in _containers(obj):
            where = f"{obj['metadata']['name']}/{c['name']}"
            ctx = c.get("securityContext", {})
            assert ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is True, where
            assert ctx.get("runAsUser", pod_ctx.get("runAsUser", 1)) != 0, where
            assert ctx.get("readOnlyRootFilesystem") is True, where
            assert ctx.get("allowPrivilegeEscalation") is False, where
            assert ctx.get("capabilities", {}).get("drop") == ["ALL"], where
            limits = c.get("resources", {}).get("limits", {})
            assert {"cpu", "memory"} <= set(limits), where
            assert {"cpu", "memory"} <= set(c["resources"].get("requests", {})), where
            checked += 1
    assert checked >= 10


def _k8s_env_names() -> set[str]:
    return {e["name"] for _, obj in _k8s_objects() for c in _containers(obj) for e in c.get("env", [])}


def _compose_env_names() -> set[str]:
    names = {k for svc in _compose()["services"].values() for k in (svc.get("environment") or {})}
    script = (COMPOSE / "hms-entry.sh").read_text()
    return names | set(re.findall(r"\b(HMS_[A-Z0-9_]+)=", script))


def test_every_hms_variable_is_a_setting() -> None:
    dockerfile_env = set(re.findall(r"\b(HMS_[A-Z0-9_]+)=", (ROOT / "Dockerfile").read_text()))
    used = {n for n in _k8s_env_names() | _compose_env_names() | dockerfile_env if n.startswith("HMS_")}
    assert used - SETTINGS_ENV == set()
    # The cluster needs these: external engines, mTLS to Temporal, the inference queue.
    assert {"HMS_DATABASE_URL", "HMS_TEMPORAL_ADDRESS", "HMS_TEMPORAL_TLS_CERT", "HMS_TEMPORAL_TLS_KEY",
            "HMS_TEMPORAL_TLS_CA", "HMS_OPA_URL", "HMS_IMMUDB_URL", "HMS_INFERENCE_TASK_QUEUE"} <= used


def test_config_map_keys_feed_settings() -> None:
    refs = {e["valueFrom"]["configMapKeyRef"]["key"]: e["name"] for _, obj in _k8s_objects()
            for c in _containers(obj) for e in c.get("env", []) if "configMapKeyRef" in e.get("valueFrom", {})}
    config = next(obj for _, obj in _k8s_objects() if obj["kind"] == "ConfigMap"
                  and obj["metadata"]["name"] == "hms-config")
    assert set(refs) <= set(config["data"])


def _hms_commands() -> list[tuple[str, list[str]]]:
    found = []
    for _, obj in _k8s_objects():
        for c in _containers(obj):
            if c["image"].startswith(HMS_IMAGE) and "command" not in c:  # the image's ENTRYPOINT is `hms`
                found.append((f"{obj['metadata']['name']}/{c['name']}", [str(a) for a in c["args"]]))
    for name, svc in _hms_services().items():
        found.append((f"compose:{name}", [str(a) for a in svc["command"]]))
    return found


def test_every_hms_command_exists_in_the_cli() -> None:
    commands = _hms_commands()
    assert {argv[0] for _, argv in commands} >= {"api", "worker", "mllp", "console", "migrate"}
    parser = build_parser()
    for where, argv in commands:
        args = parser.parse_args(argv)  # SystemExit on an unknown command or option
        assert callable(args.handler), where
    queues = {argv[argv.index("--queue") + 1] for _, argv in commands if "--queue" in argv}
    assert queues == set(ROLES)


def test_compose_entrypoint_runs_hms_and_secrets_are_files() -> None:
    compose = _compose()
    assert "exec hms \"$@\"" in (COMPOSE / "hms-entry.sh").read_text()
    for name, svc in compose["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if re.search(r"PASSWORD|PWD|SECRET|_KEY$|DATABASE_URL", key) and not key.endswith(("_FILE", "TLS_KEY")):
                assert value in ("", None) or str(value).startswith("/run/secrets/"), (
                    f"{name}: {key} must come from a secret file")
    assert all("file" in s and s["file"].startswith("./secrets/") for s in compose["secrets"].values())
    images = {svc["image"] for svc in compose["services"].values()}
    for wanted in ("postgres:16", "temporalio/auto-setup:", "temporalio/ui:", "openpolicyagent/opa:",
                   "codenotary/immudb:"):
        assert any(i.startswith(wanted) for i in images), wanted
    for name, svc in _hms_services().items():
        assert svc["read_only"] is True and svc["user"] == "10001:10001" and svc["cap_drop"] == ["ALL"], name


def test_api_is_probed_on_healthz_over_https_with_an_opa_sidecar() -> None:
    api = next(obj for _, obj in _k8s_objects() if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "hms-api")
    containers = {c["name"]: c for c in api["spec"]["template"]["spec"]["containers"]}
    probe = containers["api"]["readinessProbe"]["httpGet"]
    assert (probe["path"], probe["scheme"]) == ("/healthz", "HTTPS")
    assert containers["opa"]["image"].startswith("openpolicyagent/opa:")
    assert {"name": "HMS_OPA_URL", "value": "http://127.0.0.1:8181"} in containers["api"]["env"]


def test_every_long_running_workload_has_a_disruption_budget() -> None:
    objects = [obj for _, obj in _k8s_objects()]
    covered = {tuple(sorted(o["spec"]["selector"]["matchLabels"].items())) for o in objects
               if o["kind"] == "PodDisruptionBudget"}
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet") and obj["metadata"]["name"] != "hms-worker-inference":
            assert tuple(sorted(obj["spec"]["selector"]["matchLabels"].items())) in covered, obj["metadata"]["name"]


def test_network_policies_deny_by_default() -> None:
    policies = [obj for _, obj in _k8s_objects() if obj["kind"] == "NetworkPolicy"]
    default = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert len(default) == 1 and set(default[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert default[0]["spec"]["ingress"] == [] and default[0]["spec"]["egress"] == []


def test_inference_scales_to_zero_on_its_queue() -> None:
    scaled = next(obj for _, obj in _k8s_objects() if obj["kind"] == "ScaledObject")
    assert scaled["spec"]["minReplicaCount"] == 0
    assert scaled["spec"]["triggers"][0]["metadata"]["taskQueue"] == "hms-inference"
    config = next(obj for _, obj in _k8s_objects() if obj["metadata"]["name"] == "hms-config")
    assert config["data"]["inference_task_queue"] == "hms-inference"


def test_no_secret_values_are_committed() -> None:
    for _, obj in _k8s_objects():
        assert obj["kind"] != "Secret", "secrets come from the external store (ExternalSecret)"


def test_policy_bundle_config_map_matches_policies() -> None:
    spec = importlib.util.spec_from_file_location("policy_bundle", K8S / "policy_bundle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (K8S / "opa-policy-bundle.yaml").read_text() == module.render(), (
        "regenerate: .venv/bin/python deploy/k8s/policy_bundle.py > deploy/k8s/opa-policy-bundle.yaml")
    committed = yaml.safe_load((K8S / "opa-policy-bundle.yaml").read_text())["data"]
    assert "hms.authz.authz.rego" in committed and "hms.authz.data.json" in committed
    assert not any(k.endswith("_test.rego") for k in committed)


def test_temporal_values_enable_mtls_on_postgresql() -> None:
    values = yaml.safe_load((K8S / "temporal-values.yaml").read_text())
    config = values["server"]["config"]
    assert config["tls"]["frontend"]["server"]["requireClientAuth"] is True
    assert config["tls"]["internode"]["server"]["requireClientAuth"] is True
    stores = config["persistence"]["datastores"]
    assert {s["sql"]["pluginName"] for s in stores.values()} == {"postgres12"}
    assert not values["cassandra"]["enabled"] and not values["postgresql"]["enabled"]


def test_dockerfile_is_slim_pinned_and_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base.group(1))
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) >= 2 and all(s.startswith("${PYTHON_IMAGE}") for s in stages)
    final = stages[-1]
    user = re.search(r"^USER (\S+)$", final, re.M)
    assert user and user.group(1).split(":")[0] not in ("0", "root")
    assert not re.search(r"apt-get install|build-essential|gcc", final)
    assert 'ENTRYPOINT ["hms"]' in final and "HMS_HOME=/var/lib/hms" in final
    assert "pip install --no-cache-dir" in text and "SOURCE_DATE_EPOCH" in text
    assert "PYTHONDONTWRITEBYTECODE=1" in final
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".hms", "tests"} <= set(ignored)
