"""Settings: development defaults, per-service ports, and refusal of unsafe production."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from shared.settings import (
    DEFAULT_PORTS,
    DEV_DATABASE_URL,
    DEV_NATS_URL,
    DEV_SECRET_KEY,
    Environment,
    Settings,
)

PROD_DATABASE = "postgresql+asyncpg://womento:pw@db.internal:5432/womento"
PROD_NATS = "nats://nats.internal:4222"
PROD_SECRET = "k" * 40


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting leaks in from the shell or the test suite's own environment."""
    for key in list(os.environ):
        if key.upper().startswith("WOMENTO_") or key.upper() in {"NATS_URL", "DATABASE_URL"}:
            monkeypatch.delenv(key)


def set_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOMENTO_ENV", "production")
    monkeypatch.setenv("WOMENTO_SECRET_KEY", PROD_SECRET)
    monkeypatch.setenv("DATABASE_URL", PROD_DATABASE)
    monkeypatch.setenv("NATS_URL", PROD_NATS)
    monkeypatch.setenv("WOMENTO_MAIL_BACKEND", "smtp")
    monkeypatch.setenv("WOMENTO_PUBLIC_BASE_URL", "https://womento.example.org")
    monkeypatch.setenv("WOMENTO_NATS_CREDENTIALS_DIR", "/run/secrets/nats")
    monkeypatch.setenv("WOMENTO_NATS_TLS_CA_FILE", "/run/secrets/nats-ca/ca.crt")


def test_defaults_are_development() -> None:
    s = Settings()
    assert s.env is Environment.DEVELOPMENT
    assert s.service == "intake"
    assert s.secret_key == DEV_SECRET_KEY
    assert s.database_url == DEV_DATABASE_URL
    assert s.nats_url == DEV_NATS_URL
    assert s.crashpoints == frozenset()
    assert s.max_deliver >= 1


@pytest.mark.parametrize(
    ("service", "port"),
    [("intake", 8000), ("matching", 8001), ("scheduling", 8002), ("feedback", 8003)],
)
def test_port_defaults_per_service(
    monkeypatch: pytest.MonkeyPatch, service: str, port: int
) -> None:
    monkeypatch.setenv("WOMENTO_SERVICE", service)
    s = Settings()
    assert s.service == service
    assert s.http_port is None
    assert s.port == port == DEFAULT_PORTS[service]


def test_default_ports_are_distinct() -> None:
    assert len(set(DEFAULT_PORTS.values())) == len(DEFAULT_PORTS)


def test_http_port_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOMENTO_SERVICE", "scheduling")
    monkeypatch.setenv("WOMENTO_HTTP_PORT", "9123")
    assert Settings().port == 9123


def test_http_port_must_be_a_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOMENTO_HTTP_PORT", "eighty")
    with pytest.raises(ValidationError):
        Settings()


def test_production_with_defaults_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOMENTO_ENV", "production")
    with pytest.raises(ValidationError) as info:
        Settings()
    message = str(info.value)
    assert "WOMENTO_SECRET_KEY" in message
    assert "DATABASE_URL" in message
    assert "NATS_URL" in message
    assert "WOMENTO_CRASHPOINTS" not in message
    assert "WOMENTO_NATS_CREDENTIALS_DIR" in message
    assert "TLS" in message


@pytest.mark.parametrize(
    ("variable", "named"),
    [
        ("WOMENTO_NATS_CREDENTIALS_DIR", "WOMENTO_NATS_CREDENTIALS_DIR"),
        ("WOMENTO_NATS_TLS_CA_FILE", "TLS"),
    ],
)
def test_production_refuses_nats_without_credentials_or_tls(
    monkeypatch: pytest.MonkeyPatch, variable: str, named: str
) -> None:
    set_production(monkeypatch)
    monkeypatch.delenv(variable)
    with pytest.raises(ValidationError) as info:
        Settings()
    assert named in str(info.value)


def test_production_accepts_a_tls_url_without_a_ca_file(monkeypatch: pytest.MonkeyPatch) -> None:
    set_production(monkeypatch)
    monkeypatch.delenv("WOMENTO_NATS_TLS_CA_FILE")
    monkeypatch.setenv("NATS_URL", "tls://nats.womento.svc:4222")
    assert Settings().nats_url.startswith("tls://")


def test_production_with_everything_set_works(monkeypatch: pytest.MonkeyPatch) -> None:
    set_production(monkeypatch)
    s = Settings()
    assert s.env is Environment.PRODUCTION
    assert s.secret_key == PROD_SECRET
    assert s.database_url == PROD_DATABASE
    assert s.nats_url == PROD_NATS


def test_production_refuses_a_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    set_production(monkeypatch)
    monkeypatch.setenv("WOMENTO_SECRET_KEY", "k" * 31)
    with pytest.raises(ValidationError, match="WOMENTO_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("WOMENTO_SECRET_KEY", "k" * 32)
    assert len(Settings().secret_key) == 32


def test_production_names_only_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    set_production(monkeypatch)
    monkeypatch.delenv("NATS_URL")
    with pytest.raises(ValidationError) as info:
        Settings()
    message = str(info.value)
    assert "NATS_URL" in message
    assert "DATABASE_URL" not in message
    assert "WOMENTO_SECRET_KEY" not in message


def test_production_refuses_crashpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    set_production(monkeypatch)
    monkeypatch.setenv("WOMENTO_CRASHPOINTS", '["outbox.after_publish"]')
    with pytest.raises(ValidationError, match="WOMENTO_CRASHPOINTS"):
        Settings()


def test_crashpoints_read_from_env_outside_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOMENTO_ENV", "test")
    monkeypatch.setenv("WOMENTO_CRASHPOINTS", '["outbox.after_publish", "inbox.after_commit"]')
    s = Settings()
    assert s.env is Environment.TEST
    assert s.crashpoints == frozenset({"outbox.after_publish", "inbox.after_commit"})


def test_server_urls_read_from_conventional_env_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", PROD_NATS)
    monkeypatch.setenv("DATABASE_URL", PROD_DATABASE)
    s = Settings()
    assert s.nats_url == PROD_NATS
    assert s.database_url == PROD_DATABASE


def test_prefixed_server_url_names_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOMENTO_NATS_URL", PROD_NATS)
    monkeypatch.setenv("WOMENTO_DATABASE_URL", PROD_DATABASE)
    s = Settings()
    assert s.nats_url == DEV_NATS_URL
    assert s.database_url == DEV_DATABASE_URL


def test_numeric_settings_from_env_and_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOMENTO_MAX_DELIVER", "4")
    monkeypatch.setenv("WOMENTO_RETRY_BACKOFF_SECONDS", "0.2")
    s = Settings()
    assert s.max_deliver == 4
    assert s.retry_backoff_seconds == pytest.approx(0.2)
    monkeypatch.setenv("WOMENTO_MAX_DELIVER", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_unknown_environment_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOMENTO_ENV", "staging")
    with pytest.raises(ValidationError):
        Settings()


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValidationError):
        s.service = "matching"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WOMENTO_MAIL_BACKEND", "mailbox"),
        ("WOMENTO_PUBLIC_BASE_URL", "http://womento.example.org"),
    ],
)
def test_production_refuses_the_mailbox_and_plain_http(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    set_production(monkeypatch)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable):
        Settings()


@pytest.mark.parametrize(
    "url", ["nats://bus.example.org:4222", "bus.example.org:4222", "ws://bus.example.org"]
)
def test_production_refuses_a_partner_address_without_tls(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """Partners connect with a password: never in clear."""
    set_production(monkeypatch)
    monkeypatch.setenv("WOMENTO_PARTNER_NATS_URL", url)
    with pytest.raises(ValidationError, match="WOMENTO_PARTNER_NATS_URL"):
        Settings()


def test_production_accepts_a_tls_partner_address_or_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_production(monkeypatch)
    assert Settings().partner_nats_url is None
    monkeypatch.setenv("WOMENTO_PARTNER_NATS_URL", "")  # empty: the services' address is used
    assert not Settings().partner_nats_url
    monkeypatch.setenv("WOMENTO_PARTNER_NATS_URL", "tls://bus.example.org:4222")
    assert Settings().partner_nats_url == "tls://bus.example.org:4222"
