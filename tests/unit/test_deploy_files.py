"""The container, Compose, Kubernetes and monitoring files parse and agree with the services."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
APP_SERVICES = ("intake", "matching", "scheduling", "feedback")
WOMENTO_METRICS = (
    "womento_events_published_total",
    "womento_events_consumed_total",
    "womento_outbox_pending",
    "womento_outbox_oldest_pending_seconds",
    "womento_dead_letters_total",
    "womento_http_requests_total",
    "womento_http_request_duration_seconds",
)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def as_mapping(value: dict[str, Any] | list[str] | None) -> dict[str, str]:
    """Compose accepts environment and build args as a mapping or as KEY=VALUE strings."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {key: str(val) for key, val in value.items()}
    return dict(item.split("=", 1) for item in value)


def k8s_objects() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in load_yaml_documents(path)]


def find_object(kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name!r} in deploy/k8s, found {len(matches)}"
    return matches[0]


# --- Dockerfile -------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_runs_the_service_named_by_the_build_arg() -> None:
    instructions = dockerfile_instructions()
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    cmds = [args for keyword, args in instructions if keyword == "CMD"]

    assert froms and all(args.startswith("python:3.11-slim") for args in froms)
    assert ("ARG", "SERVICE=intake") in instructions
    assert any(k == "ENV" and "SERVICE=${SERVICE}" in args for k, args in instructions)
    assert len(cmds) == 1 and "python -m services.${SERVICE}" in cmds[0]
    assert any(k == "RUN" and "pip install ." in args for k, args in instructions)


def test_dockerfile_runs_as_non_root_with_a_healthz_healthcheck() -> None:
    instructions = dockerfile_instructions()
    users = [args for keyword, args in instructions if keyword == "USER"]
    healthchecks = [args for keyword, args in instructions if keyword == "HEALTHCHECK"]

    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert len(healthchecks) == 1
    assert "python" in healthchecks[0] and "/healthz" in healthchecks[0]


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".state", ".pytest_cache", "**/__pycache__"} <= ignored


# --- docker-compose.yml -----------------------------------------------------------------


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = load_yaml(ROOT / "docker-compose.yml")["services"]
    return services


def test_compose_names_exactly_the_platform_services() -> None:
    assert set(compose_services()) == {"nats", "postgres", *APP_SERVICES}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_compose_builds_each_service_from_the_dockerfile(name: str) -> None:
    service = compose_services()[name]
    build = service["build"]
    env = as_mapping(service["environment"])

    assert (ROOT / build["context"]).resolve() == ROOT
    assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
    assert as_mapping(build["args"]) == {"SERVICE": name}
    assert env["NATS_URL"] == "nats://nats:4222"
    assert env["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["WOMENTO_HTTP_HOST"] == "0.0.0.0"
    assert env["WOMENTO_ENV"] == "development"
    assert env["WOMENTO_SECRET_KEY"]
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert service["depends_on"]["nats"]["condition"] == "service_started"
    assert "healthcheck" in service


def test_compose_publishes_only_intake() -> None:
    services = compose_services()
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"intake"}
    assert "8000:8000" in services["intake"]["ports"]


def test_compose_runs_official_nats_with_jetstream_and_postgres_16() -> None:
    nats, postgres = compose_services()["nats"], compose_services()["postgres"]

    assert nats["image"].split(":")[0] == "nats"
    command = nats["command"]
    assert "-js" in command and command[command.index("-sd") + 1] == "/data"
    assert any(volume.endswith(":/data") for volume in nats["volumes"])
    assert postgres["image"] == "postgres:16"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in postgres["volumes"])


# --- deploy/ --------------------------------------------------------------------------------


def test_every_yaml_file_under_deploy_parses() -> None:
    paths = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert len(paths) >= 10
    for path in paths:
        assert load_yaml_documents(path), f"{path.relative_to(ROOT)} is empty"


def test_kustomization_lists_every_manifest_except_the_secret_template() -> None:
    resources = load_yaml(K8S / "kustomization.yaml")["resources"]
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(resources) == manifests - {"secret.template.yaml"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_has_deployment_service_and_disruption_budget(name: str) -> None:
    deployment = find_object("Deployment", name)
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    env_sources = {ref["name"] for source in container["envFrom"] for ref in source.values()}

    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"requests", "limits"} <= set(container["resources"])
    assert env_sources == {"womento-config", "womento-secrets"}
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True

    selector = deployment["spec"]["selector"]["matchLabels"]
    assert find_object("Service", name)["spec"]["selector"] == selector
    assert find_object("PodDisruptionBudget", name)["spec"]["selector"]["matchLabels"] == selector


def test_cluster_configuration_replicates_streams_on_three_nodes() -> None:
    config = find_object("ConfigMap", "womento-config")["data"]
    secret = find_object("Secret", "womento-secrets")
    statefulset = find_object("StatefulSet", "nats")

    assert config["WOMENTO_STREAM_REPLICAS"] == "3"
    assert config["WOMENTO_ENV"] == "production"
    assert config["NATS_URL"] == "nats://nats:4222"
    assert set(secret["stringData"]) == {"DATABASE_URL", "WOMENTO_SECRET_KEY"}
    assert not any(secret["stringData"].values()), "the Secret template must hold no values"
    assert statefulset["spec"]["replicas"] == 3


def test_nats_statefulset_uses_the_cluster_config_verbatim() -> None:
    conf = (DEPLOY / "nats" / "nats-cluster.conf").read_text()
    routes = re.findall(r"nats://(nats-\d)\.nats-headless:6222", conf)

    assert find_object("ConfigMap", "nats-config")["data"]["nats.conf"] == conf
    assert sorted(routes) == ["nats-0", "nats-1", "nats-2"]
    assert re.search(r"^jetstream\s*\{", conf, re.MULTILINE)
    assert find_object("Service", "nats-headless")["spec"]["clusterIP"] == "None"


def test_prometheus_scrapes_all_four_services() -> None:
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}

    assert set(APP_SERVICES) <= set(jobs)
    for name in APP_SERVICES:
        (discovery,) = jobs[name]["kubernetes_sd_configs"]
        assert discovery["selectors"][0]["label"] == f"app.kubernetes.io/name={name}"
    assert config["rule_files"] == ["alerts.yml"]


def test_alert_rules_cover_the_failure_modes() -> None:
    groups = load_yaml(DEPLOY / "prometheus" / "alerts.yml")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]

    assert groups and all(group["name"] and group["rules"] for group in groups)
    assert all(rule.get("alert") and rule.get("expr") for rule in rules)
    assert all(rule["labels"]["severity"] in ("warning", "critical") for rule in rules)
    expressions = " ".join(rule["expr"] for rule in rules)
    for needle in (
        "womento_dead_letters_total",
        "womento_outbox_oldest_pending_seconds",
        'status=~"5.."',
        "kube_pod_status_ready",
        *(f'up{{job="{name}"}}' for name in APP_SERVICES),
    ):
        assert needle in expressions, needle


def test_grafana_dashboard_charts_every_platform_metric() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "womento-dashboard.json").read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    expressions = " ".join(t["expr"] for panel in panels for t in panel["targets"])

    assert dashboard["uid"] and dashboard["title"]
    assert len(panels) >= len(WOMENTO_METRICS)
    assert all(panel["targets"] for panel in panels)
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    for metric in WOMENTO_METRICS:
        assert metric in expressions, metric
