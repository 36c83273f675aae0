"""The container, Compose, Kubernetes and monitoring files parse and agree with the services."""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from shared import natsauth
from shared.launcher import find_nats_server
from shared.settings import Environment, Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
CLUSTER_CONF = DEPLOY / "nats" / "nats-cluster.conf"
SINGLE_CONF = DEPLOY / "nats" / "nats-single.conf"
APP_SERVICES = ("intake", "matching", "scheduling", "feedback")
WOMENTO_METRICS = (
    "womento_events_published_total",
    "womento_events_consumed_total",
    "womento_outbox_pending",
    "womento_outbox_oldest_pending_seconds",
    "womento_dead_letters_total",
    "womento_http_requests_total",
    "womento_http_request_duration_seconds",
    "womento_forged_events_total",
    "womento_forged_commands_total",
    "womento_webhook_attempts_total",
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


def k8s_objects(folder: Path = K8S) -> list[dict[str, Any]]:
    return [doc for path in sorted(folder.glob("*.yaml")) for doc in load_yaml_documents(path)]


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
    assert set(compose_services()) == {
        "nats-credentials",
        "nats",
        "nats-streams",
        "postgres",
        *APP_SERVICES,
    }


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
    # NATS is up and its streams are made (the services may not make them).
    assert service["depends_on"]["nats-streams"]["condition"] == ("service_completed_successfully")
    assert service["depends_on"]["nats-credentials"]["condition"] == (
        "service_completed_successfully"
    )
    assert "healthcheck" in service
    assert f"nats-credentials:{env['WOMENTO_NATS_CREDENTIALS_DIR']}:ro" in service["volumes"]


def test_compose_publishes_only_intake() -> None:
    services = compose_services()
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"intake"}
    assert "8000:8000" in services["intake"]["ports"]


def test_compose_runs_official_nats_with_jetstream_and_postgres_16() -> None:
    nats, postgres = compose_services()["nats"], compose_services()["postgres"]
    conf = parse_nats_conf(SINGLE_CONF.read_text())

    assert nats["image"].split(":")[0] == "nats"
    assert nats_image_version(nats["image"]) >= (2, 10), "auth callout needs nats-server 2.10"
    assert conf["jetstream"]["store_dir"] == "/data"
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
    assert config["NATS_URL"] == "tls://nats:4222"
    assert set(secret["stringData"]) == {"DATABASE_URL", "WOMENTO_SECRET_KEY"}
    for template in load_yaml_documents(K8S / "secret.template.yaml"):
        assert template["kind"] == "Secret"
        assert not any(template["stringData"].values()), "the Secret template must hold no values"
    assert statefulset["spec"]["replicas"] == 3


def test_nats_statefulset_uses_the_cluster_config_verbatim() -> None:
    conf = CLUSTER_CONF.read_text()
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


# --- NATS: authentication and TLS (issue 11, points 1 and 6) ---------------------------------


def parse_nats_conf(text: str) -> dict[str, Any]:
    """The subset of the NATS configuration format these files use: `key: value`, blocks
    `key { ... }`, one string per line in `key: [ ... ]`, `include path`, `#` comments.
    Repeated `include`s are collected in a list."""
    root: dict[str, Any] = {}
    stack = [root]
    array: list[str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if array is not None:
            if line == "]":
                array = None
            else:
                array.append(line.strip('"'))
            continue
        if line == "}":
            stack.pop()
            continue
        if line.startswith("include "):
            stack[-1].setdefault("include", []).append(line.split(None, 1)[1].strip('"'))
            continue
        key, value = re.split(r"\s*:\s*|\s+", line, maxsplit=1)
        if value == "{":
            stack[-1][key] = {}
            stack.append(stack[-1][key])
        elif value == "[":
            array = stack[-1][key] = []
        else:
            assert not value.endswith(("{", "[")), f"line {number}: unsupported form {raw!r}"
            stack[-1][key] = value.strip('"')
    assert len(stack) == 1 and array is None, "unbalanced block"
    return root


def nats_image_version(image: str) -> tuple[int, ...]:
    found = re.match(r"[^:]+:(\d+)\.(\d+)", image)
    assert found, f"{image}: pin a version"
    return tuple(int(part) for part in found.groups())


def nats_server_version() -> tuple[int, ...] | None:
    try:
        out = subprocess.run(
            [find_nats_server(), "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (FileNotFoundError, subprocess.CalledProcessError):
        return None
    found = re.search(r"v(\d+)\.(\d+)", out)
    return tuple(int(part) for part in found.groups()) if found else None


def assert_refuses_anonymous(conf: dict[str, Any], accounts: dict[str, Any]) -> None:
    keys: set[str] = set()
    pending: list[Any] = [conf, accounts]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            keys |= set(value)
            pending += value.values()
        elif isinstance(value, list):
            pending += value
    assert "no_auth_user" not in keys
    assert not {"authorization", "accounts"} & set(conf), "users come from accounts.conf alone"
    users = [user for account in accounts["accounts"].values() for user in account["users"]]
    assert users and all("nkey" in user and "password" not in user for user in users)
    assert accounts["authorization"]["auth_callout"]["auth_users"]


@pytest.fixture(scope="module")
def generated_accounts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real accounts.conf, as `python -m shared.natsauth` writes it."""
    directory = tmp_path_factory.mktemp("natsauth")
    credentials = natsauth.ensure_credentials(directory / "credentials")
    return natsauth.write_server_config(
        directory / "accounts.conf", credentials, natsauth.service_definitions()
    )


def test_cluster_conf_requires_credentials_and_tls_on_every_listener(
    generated_accounts: Path,
) -> None:
    conf = parse_nats_conf(CLUSTER_CONF.read_text())
    cluster = conf["cluster"]
    listeners = {"port", "cluster", "leafnodes", "gateway", "websocket", "mqtt"} & set(conf)

    assert conf["include"] == ["accounts.conf"]
    assert_refuses_anonymous(conf, json.loads(generated_accounts.read_text()))
    assert listeners == {"port", "cluster"}, "a new listener needs its own tls block"
    for block in (conf["tls"], cluster["tls"]):
        assert {"cert_file", "key_file", "ca_file"} <= set(block)
    assert "verify" not in conf["tls"], "clients authenticate with nkeys, not certificates"
    assert cluster["tls"]["verify_cert_and_check_known_urls"] == "true"
    assert "authorization" not in cluster, "routes are authorized by their certificates"
    assert all(route.startswith("nats://") for route in cluster["routes"])
    assert conf["http_port"] == "8222", "monitoring: reachable only in the pod (NetworkPolicy)"


def test_compose_nats_loads_the_generated_accounts(generated_accounts: Path) -> None:
    services = compose_services()
    init, nats = services["nats-credentials"], services["nats"]
    command = shlex.split(init["command"][-1]) if init["command"][0] == "sh" else init["command"]
    credentials_dir, accounts_path = command[command.index("shared.natsauth") + 1 :][:2]
    conf_mount = next(v for v in nats["volumes"] if v.endswith(":ro") and "nats-single.conf" in v)
    host_conf, container_conf = conf_mount.split(":")[:2]
    conf = parse_nats_conf((ROOT / host_conf).read_text())
    (include,) = conf["include"]
    included = PurePosixPath(container_conf).parent / include
    mounts = {v.split(":")[1]: v.split(":")[0] for v in nats["volumes"]}
    init_mounts = {v.split(":")[1]: v.split(":")[0] for v in init["volumes"]}

    assert nats["command"] == ["--config", container_conf]
    assert nats["depends_on"]["nats-credentials"]["condition"] == "service_completed_successfully"
    assert init.get("restart") == "no" and "build" in init
    assert mounts[str(included.parent)] == init_mounts[str(PurePosixPath(accounts_path).parent)]
    assert PurePosixPath(accounts_path).name == included.name
    assert init_mounts[credentials_dir] == "nats-credentials"
    assert "nats-credentials" not in mounts, "NATS needs no seed"
    assert "ports" not in nats
    assert_refuses_anonymous(conf, json.loads(generated_accounts.read_text()))
    for name in APP_SERVICES:
        env = as_mapping(services[name]["environment"])
        assert env["WOMENTO_NATS_CREDENTIALS_DIR"] == credentials_dir


def certificate_files(directory: Path, dns_names: Iterable[str]) -> None:
    """A CA and a server certificate for `dns_names` as cert-manager writes them."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def builder(issuer: str, subject: str, key: ec.EllipticCurvePrivateKey, serial: int) -> Any:
        return x509.CertificateBuilder(
            issuer_name=name(issuer),
            subject_name=name(subject),
            public_key=key.public_key(),
            serial_number=serial,
            not_valid_before=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
            not_valid_after=datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC),
        )

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        builder("test CA", "test CA", ca_key, 1)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        builder("test CA", "nats", key, 2)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    directory.mkdir(parents=True)
    (directory / "ca.crt").write_bytes(ca.public_bytes(pem))
    (directory / "tls.crt").write_bytes(cert.public_bytes(pem))
    (directory / "tls.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def nats_server_check(conf: Path, **env: str) -> subprocess.CompletedProcess[str]:
    version = nats_server_version()
    if version is None or version < (2, 10):
        pytest.skip(f"needs nats-server >= 2.10 (auth callout), found {version}")
    return subprocess.run(
        [find_nats_server(), "-t", "-c", str(conf)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=30,
        check=False,
    )


def test_nats_server_accepts_the_cluster_conf_as_mounted(
    tmp_path: Path, generated_accounts: Path
) -> None:
    """The projected volume's layout (nats.yaml) with a certificate for cert-manager's names."""
    volume = next(
        mount["mountPath"]
        for mount in find_object("StatefulSet", "nats")["spec"]["template"]["spec"]["containers"][
            0
        ]["volumeMounts"]
        if mount["name"] == "config"
    )
    config_dir = tmp_path / "nats-config"
    certificate_files(config_dir / "tls", cert_manager_certificate()["spec"]["dnsNames"])
    (config_dir / "accounts.conf").write_text(generated_accounts.read_text())
    text = CLUSTER_CONF.read_text().replace(f"{volume}/", f"{config_dir}/")
    text = text.replace('"/data"', f'"{tmp_path / "data"}"')
    text = text.replace("/var/run/nats/nats.pid", str(tmp_path / "nats.pid"))
    (config_dir / "nats.conf").write_text(text)

    result = nats_server_check(config_dir / "nats.conf", SERVER_NAME="nats-0")
    assert result.returncode == 0, result.stderr + result.stdout


def test_nats_server_accepts_the_compose_conf(tmp_path: Path, generated_accounts: Path) -> None:
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "accounts.conf").write_text(generated_accounts.read_text())
    conf = tmp_path / "nats.conf"
    conf.write_text(SINGLE_CONF.read_text().replace('"/data"', f'"{tmp_path / "data"}"'))

    result = nats_server_check(conf)
    assert result.returncode == 0, result.stderr + result.stdout


def test_nats_statefulset_mounts_accounts_and_certificate_where_the_conf_reads_them() -> None:
    pod = find_object("StatefulSet", "nats")["spec"]["template"]["spec"]
    containers = {container["name"]: container for container in pod["containers"]}
    (config_volume,) = [volume for volume in pod["volumes"] if volume["name"] == "config"]
    mount = next(m for m in containers["nats"]["volumeMounts"] if m["name"] == "config")
    files = {
        f"{mount['mountPath']}/{item['path']}": (kind, source[kind]["name"], item["key"])
        for source in config_volume["projected"]["sources"]
        for kind in source
        for item in source[kind]["items"]
    }
    conf = parse_nats_conf(CLUSTER_CONF.read_text())
    tls_files = {conf["tls"][key] for key in ("cert_file", "key_file", "ca_file")}
    reloaded = containers["reloader"]["args"]

    assert containers["nats"]["args"] == ["--config", f"{mount['mountPath']}/nats.conf"]
    assert files[f"{mount['mountPath']}/nats.conf"] == ("configMap", "nats-config", "nats.conf")
    assert files[f"{mount['mountPath']}/accounts.conf"] == (
        "secret",
        "nats-accounts",
        "accounts.conf",
    )
    assert {conf["cluster"]["tls"][key] for key in ("cert_file", "key_file", "ca_file")} == (
        tls_files
    )
    for path in tls_files:
        assert files[path][:2] == ("secret", "nats-tls")
    assert set(files) <= {reloaded[i + 1] for i, arg in enumerate(reloaded) if arg == "-config"}
    assert pod["shareProcessNamespace"] is True


def cert_manager_certificate() -> dict[str, Any]:
    (certificate,) = [
        o
        for o in k8s_objects(K8S / "optional")
        if o["kind"] == "Certificate" and o["spec"]["secretName"] == "nats-tls"
    ]
    return certificate


def dns_name_covers(pattern: str, host: str) -> bool:
    """RFC 6125 as nats-server and Python check it: `*` stands for the leftmost label only."""
    want, have = pattern.lower().split("."), host.lower().split(".")
    return len(want) == len(have) and all(
        w == h or (i == 0 and w == "*") for i, (w, h) in enumerate(zip(want, have, strict=True))
    )


def test_cert_manager_issues_the_names_clients_and_routes_verify() -> None:
    certificate = cert_manager_certificate()
    names = certificate["spec"]["dnsNames"]
    issuer = certificate["spec"]["issuerRef"]["name"]
    issuers = {
        o["metadata"]["name"]: o for o in k8s_objects(K8S / "optional") if o["kind"] == "Issuer"
    }
    nats_host = re.match(
        r"tls://([^:]+):", find_object("ConfigMap", "womento-config")["data"]["NATS_URL"]
    )
    routes = parse_nats_conf(CLUSTER_CONF.read_text())["cluster"]["routes"]

    assert nats_host and any(dns_name_covers(n, nats_host.group(1)) for n in names)
    for route in routes:
        host = route.split("//", 1)[1].rsplit(":", 1)[0]
        assert any(dns_name_covers(n, host) for n in names), route
    assert {"server auth", "client auth"} <= set(certificate["spec"]["usages"])
    assert "ca" in issuers[issuer]["spec"], "issued by the NATS CA, not self-signed"
    assert "optional/cert-manager.yaml" not in load_yaml(K8S / "kustomization.yaml")["resources"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_deployment_mounts_only_its_own_seeds_and_the_ca(name: str) -> None:
    pod = find_object("Deployment", name)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {item["name"]: item["value"] for item in container.get("env", [])}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    secrets = {v["secret"]["secretName"]: v for v in volumes.values() if "secret" in v}
    seeds = secrets[f"nats-seed-{name}"]
    ca = secrets["nats-ca"]

    assert {item["key"] for item in seeds["secret"]["items"]} == set(
        natsauth.seed_files_by_service()[name]
    )
    assert all(item["key"] == item["path"] for item in seeds["secret"]["items"])
    assert set(secrets) == {f"nats-seed-{name}", "nats-ca"}
    assert [item["key"] for item in ca["secret"]["items"]] == ["ca.crt"]
    assert mounts[seeds["name"]]["mountPath"] == env["WOMENTO_NATS_CREDENTIALS_DIR"]
    assert mounts[seeds["name"]]["readOnly"] is True
    assert f"{mounts[ca['name']]['mountPath']}/ca.crt" == env["WOMENTO_NATS_TLS_CA_FILE"]
    # The files are root's; the service's user reads them as the volume's group.
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    assert seeds["secret"]["defaultMode"] & 0o040 and not seeds["secret"]["defaultMode"] & 0o007


def test_seed_secret_templates_hold_exactly_the_files_each_service_mounts() -> None:
    templates = {
        doc["metadata"]["name"]: doc for doc in load_yaml_documents(K8S / "secret.template.yaml")
    }
    for name, files in natsauth.seed_files_by_service().items():
        assert set(templates[f"nats-seed-{name}"]["stringData"]) == set(files)
    assert set(templates["nats-accounts"]["stringData"]) == {"accounts.conf"}
    assert set(templates["nats-tls"]["stringData"]) == {"tls.crt", "tls.key", "ca.crt"}
    assert set(templates["nats-ca"]["stringData"]) == {"ca.crt"}


def test_kubernetes_settings_pass_the_production_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    config = find_object("ConfigMap", "womento-config")["data"]
    for name in APP_SERVICES:
        (container,) = find_object("Deployment", name)["spec"]["template"]["spec"]["containers"]
        environment = {
            **config,
            **{item["name"]: item["value"] for item in container["env"]},
            "DATABASE_URL": "postgresql+asyncpg://u:p@db:5432/womento",
            "WOMENTO_SECRET_KEY": "k" * 48,
            "WOMENTO_SERVICE": name,
        }
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        assert settings.env is Environment.PRODUCTION
        assert settings.nats_credentials_dir is not None and settings.nats_tls_ca_file is not None


# --- NetworkPolicy --------------------------------------------------------------------------

ANYONE = ("anyone",)


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", "extend the test for other operators"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def peer(source: dict[str, Any]) -> tuple[str, ...]:
    """One `from` entry as a comparable value: pods (of this namespace), a namespace, a CIDR."""
    if "ipBlock" in source:
        return ("cidr", source["ipBlock"]["cidr"])
    if "namespaceSelector" in source:
        assert "podSelector" not in source
        return (
            "namespace",
            source["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        )
    pods = [
        n
        for n in (*APP_SERVICES, "nats", "postgresql")
        if selects(source["podSelector"], pod_labels(n))
    ]
    return ("pods", *sorted(pods))


def pod_labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "womento"}


def admitted(policies: list[dict[str, Any]], pod: str, port: int) -> set[tuple[str, ...]]:
    """Who may open `port` on `pod`, by the union of the policies that select it."""
    sources: set[tuple[str, ...]] = set()
    for policy in policies:
        if not selects(policy["spec"]["podSelector"], pod_labels(pod)):
            continue
        for rule in policy["spec"].get("ingress", []):
            ports = rule.get("ports")
            if ports is not None and port not in {p["port"] for p in ports}:
                continue
            sources |= {peer(source) for source in rule["from"]} if "from" in rule else {ANYONE}
    return sources


@pytest.fixture
def policies() -> list[dict[str, Any]]:
    return [o for o in k8s_objects() if o["kind"] == "NetworkPolicy"]


def test_network_policy_denies_all_ingress_by_default(policies: list[dict[str, Any]]) -> None:
    defaults = [
        p for p in policies if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]
    ]
    assert len(defaults) == 1 and defaults[0]["spec"]["policyTypes"] == ["Ingress"]
    assert all(p["metadata"]["namespace"] == "womento" for p in policies)
    assert all("Ingress" in p["spec"]["policyTypes"] for p in policies)
    assert "networkpolicy.yaml" in load_yaml(K8S / "kustomization.yaml")["resources"]


def test_only_the_services_reach_nats_and_postgres(policies: list[dict[str, Any]]) -> None:
    services = ("pods", *sorted(APP_SERVICES))
    assert admitted(policies, "nats", 4222) == {services}
    assert admitted(policies, "nats", 6222) == {("pods", "nats")}
    assert admitted(policies, "nats", 8222) == set(), "monitoring stays inside the pod"
    assert admitted(policies, "postgresql", 5432) == {services}


def test_only_intakes_port_is_open_to_the_outside(policies: list[dict[str, Any]]) -> None:
    assert admitted(policies, "intake", 8000) == {ANYONE}
    for name in ("matching", "scheduling", "feedback"):
        assert admitted(policies, name, 8000) == {("namespace", "monitoring")}
    assert admitted(policies, "nats", 7777) == {("namespace", "monitoring")}
    for pod in (*APP_SERVICES, "nats", "postgresql"):
        for port in (4222, 5432, 6222, 7777, 8000, 8222, 9999):
            if (pod, port) != ("intake", 8000):
                assert ANYONE not in admitted(policies, pod, port), (pod, port)
                assert not any(p[0] == "cidr" for p in admitted(policies, pod, port))


def test_optional_partner_access_opens_only_the_nats_client_port() -> None:
    optional = k8s_objects(K8S / "optional")
    policies = [o for o in optional if o["kind"] == "NetworkPolicy"]
    (service,) = [o for o in optional if o["kind"] == "Service"]

    assert admitted(policies, "nats", 4222) == {("cidr", "0.0.0.0/0")}
    for port in (6222, 8222, 7777):
        assert admitted(policies, "nats", port) == set()
    assert [p["port"] for p in service["spec"]["ports"]] == [4222]


def test_compose_provisions_the_streams_as_the_provisioner_once_nats_is_healthy() -> None:
    job = compose_services()["nats-streams"]
    assert job["command"] == ["python", "-m", "shared.provision"]
    assert job["restart"] == "no"
    assert job["depends_on"]["nats"]["condition"] == "service_healthy"
    assert job["depends_on"]["nats-credentials"]["condition"] == "service_completed_successfully"
    env = as_mapping(job["environment"])
    assert f"nats-credentials:{env['WOMENTO_NATS_CREDENTIALS_DIR']}:ro" in job["volumes"]


def test_kubernetes_provisions_the_streams_with_only_the_provisioners_seed() -> None:
    [job] = [
        d for d in load_yaml_documents(DEPLOY / "k8s" / "nats-streams.yaml") if d["kind"] == "Job"
    ]
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] == ["python", "-m", "shared.provision"]
    seeds = {v["name"]: v for v in pod["volumes"]}["nats-credentials"]["secret"]
    assert seeds["secretName"] == "nats-seed-provisioner"
    assert [item["key"] for item in seeds["items"]] == ["provisioner.nk"]
    assert "nats-streams.yaml" in load_yaml(DEPLOY / "k8s" / "kustomization.yaml")["resources"]
