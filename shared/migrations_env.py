"""The body of every service's Alembic `env.py`: online, async, own schema and version table.

Concurrent starts of several copies of one service are serialised by an advisory lock.
"""

from __future__ import annotations

import asyncio
import zlib

import sqlalchemy as sa
from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from shared.crypto import PersonalDataVault, vault_for
from shared.db import VERSION_TABLE, add_messaging_tables


def run(target_metadata: sa.MetaData) -> None:
    config = context.config
    schema = config.attributes["schema"]
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    lock_key = zlib.crc32(f"womento-migrations-{schema}".encode())

    def do_run(connection: sa.Connection) -> None:
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key})
        connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=VERSION_TABLE,
            version_table_schema=schema,
            include_schemas=False,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=sa.NullPool)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(do_run)
        finally:
            await engine.dispose()

    asyncio.run(main())


def create_messaging_tables(schema: str) -> None:
    """Migration step: the outbox and inbox every service has, as `shared.db` defines them.

    The tables' shape is part of the shared contract; a change to it ships as a new
    migration step in every service, never as an edit of this first one's result.
    """
    from alembic import op

    metadata = sa.MetaData(schema=schema)
    add_messaging_tables(metadata)
    metadata.create_all(op.get_bind())


def migration_vault(what: str) -> PersonalDataVault:
    """Migration step: the vault of the service's secret key (`shared.db.migrate(...,
    secret_key=...)`, as every service passes at start), to encrypt existing `what` under
    each person's key. Without the key the step fails rather than drop or keep the text."""
    from alembic import context

    secret_key = context.config.attributes.get("secret_key")
    if not secret_key:
        raise RuntimeError(
            f"this migration encrypts {what} and needs the service's secret key: "
            "run it through the service (shared.db.migrate with secret_key)"
        )
    return vault_for(secret_key)
