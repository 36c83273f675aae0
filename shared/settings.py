"""One settings object for every service, read from the environment."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
DEV_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/womento"
DEV_NATS_URL = "nats://127.0.0.1:4222"

DEFAULT_PORTS = {"intake": 8000, "matching": 8001, "scheduling": 8002, "feedback": 8003}


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Configuration of one service process.

    Every field can be set from the environment: `WOMENTO_<FIELD>`, except the
    two server addresses, which use the conventional `NATS_URL` and `DATABASE_URL`.
    """

    model_config = SettingsConfigDict(env_prefix="WOMENTO_", extra="ignore", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    service: Literal["intake", "matching", "scheduling", "feedback"] = "intake"
    nats_url: str = Field(default=DEV_NATS_URL, validation_alias="NATS_URL")
    database_url: str = Field(default=DEV_DATABASE_URL, validation_alias="DATABASE_URL")
    secret_key: str = DEV_SECRET_KEY
    nats_credentials_dir: Path | None = None
    """Directory of nkey seeds (`<identity>.nk`, see `shared.natsauth`): the service connects
    as its own NATS user from `<service>.nk`. Unset: no credentials (refused by a server
    that requires them, as every server this project starts does)."""
    nats_tls_ca_file: Path | None = None
    """CA bundle that signed the NATS servers' certificates; set, the connection uses TLS
    and verifies the server (a `tls://` NATS_URL also turns TLS on)."""
    http_host: str = "127.0.0.1"
    http_port: int | None = None
    log_level: str = "INFO"

    stream_replicas: int = Field(default=1, ge=1, le=5)
    duplicate_window_seconds: float = Field(default=120.0, gt=0)
    ack_wait_seconds: float = Field(default=30.0, gt=0)
    max_deliver: int = Field(default=6, ge=1)
    retry_backoff_seconds: float = Field(default=1.0, ge=0)
    outbox_batch_size: int = Field(default=100, ge=1)
    outbox_poll_seconds: float = Field(default=2.0, gt=0)
    command_timeout_seconds: float = Field(default=5.0, gt=0)
    retention_sweep_seconds: float = Field(default=60.0, gt=0)
    """How often intake's retention sweep looks for people due for erasure."""

    public_base_url: str = "http://127.0.0.1:8000"
    """Where people reach intake; used in e-mailed links."""
    session_idle_minutes: float = Field(default=30, gt=0)
    session_max_hours: float = Field(default=12, gt=0)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: float = Field(default=15, gt=0)
    mail_backend: Literal["mailbox", "smtp"] = "mailbox"
    """`mailbox`: mail is kept for the development mailbox page; `smtp`: sent."""
    mail_from: str = "Womento <womento@example.org>"
    mail_retry_seconds: float = Field(default=30, gt=0)
    """First delay after a failed delivery; doubles per attempt, at most an hour."""
    mail_poll_seconds: float = Field(default=5, gt=0)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    max_request_bytes: int = Field(default=1_000_000, ge=1024)
    forwarded_allow_ips: str = "127.0.0.1"
    """Proxies whose X-Forwarded-For is trusted (client addresses drive login and form
    throttling); set to the ingress' addresses in a deployment."""

    partner_credential_days: int = Field(default=365, ge=1, le=3 * 365)
    """How long a partner's NATS credential is valid when issued (an admin may choose less)."""
    partner_session_minutes: float = Field(default=10, gt=0, le=24 * 60)
    """How long one partner connection is admitted before the server asks the callout again."""
    partner_nats_tls_ca_file: Path | None = None
    """The CA certificate partners verify `partner_nats_url` with, copied into their
    credentials file; default `nats_tls_ca_file`. Leave both unset when partners' NATS
    address has a publicly trusted certificate."""
    partner_nats_url: str | None = None
    """The NATS address partners are given in their credentials file, where it differs from
    the services' own (`nats_url`, often an internal name); e.g. `tls://bus.example.org:4222`."""
    webhook_allow_private: bool = False
    """Development and tests: allow webhooks to loopback and private addresses."""
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60)
    """One webhook request, from resolving the name to the response's status line."""
    webhook_retry_seconds: float = Field(default=5, gt=0)
    """First retry delay of a failed webhook delivery; the later ones keep the proportions of
    `partners.domain.WEBHOOK_RETRY_SCHEDULE` (5 s, 5 min, 30 min, ... about 3 days in all)."""
    webhook_scan_seconds: float = Field(default=5, gt=0)
    """How often the webhook worker re-reads partners' webhooks (added, changed, removed)."""

    clock_file: Path | None = None
    """Simulations and tests: system time plus the offset in this file (`FileClock`)."""

    crashpoints: frozenset[str] = frozenset()
    """Names of `shared.faults.crashpoint` places where the process kills itself (fault tests)."""

    @property
    def port(self) -> int:
        return (
            self.http_port if self.http_port is not None else DEFAULT_PORTS.get(self.service, 8000)
        )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.env is not Environment.PRODUCTION:
            return self
        problems = []
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
            problems.append("WOMENTO_SECRET_KEY must be set to a random value of 32+ characters")
        if self.database_url == DEV_DATABASE_URL:
            problems.append("DATABASE_URL must be set explicitly")
        if self.nats_url == DEV_NATS_URL:
            problems.append("NATS_URL must be set explicitly")
        if self.nats_credentials_dir is None:
            problems.append("WOMENTO_NATS_CREDENTIALS_DIR must be set (the service's nkey seed)")
        if self.nats_tls_ca_file is None and not self.nats_url.startswith("tls://"):
            problems.append("NATS must be reached over TLS (tls:// or WOMENTO_NATS_TLS_CA_FILE)")
        if self.partner_nats_url and not self.partner_nats_url.startswith("tls://"):
            problems.append(
                "WOMENTO_PARTNER_NATS_URL must be a tls:// address (partners send passwords)"
            )
        if self.crashpoints:
            problems.append("WOMENTO_CRASHPOINTS must be empty")
        if self.webhook_allow_private:
            problems.append("WOMENTO_WEBHOOK_ALLOW_PRIVATE must be off")
        if self.clock_file is not None:
            problems.append("WOMENTO_CLOCK_FILE must not be set")
        if self.mail_backend != "smtp":
            problems.append("WOMENTO_MAIL_BACKEND must be smtp")
        if not self.public_base_url.startswith("https://"):
            problems.append("WOMENTO_PUBLIC_BASE_URL must be an https:// address")
        if problems:
            raise ValueError("unsafe production settings: " + "; ".join(problems))
        return self
