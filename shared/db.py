"""Database factories, the messaging tables every service has, and migrations.

Each service owns one PostgreSQL schema (named after the service) with its own Alembic
version table inside it; no service reads another's tables.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)

from shared.settings import Settings

VERSION_TABLE = "alembic_version"


def make_engine(settings: Settings, *, pool_size: int = 5) -> AsyncEngine:
    return create_async_engine(
        settings.database_url, pool_size=pool_size, pool_pre_ping=True, pool_recycle=1800
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL as a plain libpq/asyncpg DSN."""
    return (
        sa.make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def add_messaging_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """The outbox and inbox tables, in the service's own schema."""
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("id", UUID(as_uuid=True), primary_key=True, comment="event id = Nats-Msg-Id"),
        sa.Column("position", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Index(
            "outbox_unpublished", "position", postgresql_where=sa.text("published_at IS NULL")
        ),
    )
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", JSONB, nullable=True),
    )
    return outbox, inbox


def alembic_config(
    migrations_dir: Path, database_url: str, schema: str, secret_key: str | None = None
) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["schema"] = schema
    cfg.attributes["secret_key"] = secret_key
    return cfg


async def migrate(
    migrations_dir: Path, database_url: str, schema: str, *, secret_key: str | None = None
) -> None:
    """Apply the service's migrations up to its heads (in a thread: Alembic runs its own loop).

    `secret_key` is the service's, for a step that encrypts existing rows under each
    person's key (`shared.migrations_env.migration_vault`); without it such a step fails
    when it finds rows to encrypt."""
    cfg = alembic_config(migrations_dir, database_url, schema, secret_key)
    await asyncio.to_thread(command.upgrade, cfg, "heads")


async def migrations_current(conn: AsyncConnection, migrations_dir: Path, schema: str) -> bool:
    """True when the schema's recorded revisions are the newest ones the code knows."""
    heads = set(ScriptDirectory(str(migrations_dir)).get_heads())

    def current(sync_conn: sa.Connection) -> set[str]:
        ctx = MigrationContext.configure(
            sync_conn, opts={"version_table_schema": schema, "version_table": VERSION_TABLE}
        )
        return set(ctx.get_current_heads())

    return await conn.run_sync(current) == heads
