"""A coordinator's reason for overriding a mentee's outcome is free text about her: it moves
from the plain `outcomes.override_reason` into `override_reason_ciphertext`, encrypted under
her key (`feedback.person_keys`, created for her if she has none yet), so that erasing her
key erases it. The step needs the service's secret key (`shared.db.migrate` passes it).

Revision ID: 0006
Revises: 0004
Depends on: 0003
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID, insert

from shared.migrations_env import migration_vault

revision = "0006"
down_revision = "0004"
depends_on = "0003"
"""Her key lives in `person_keys` (0003, the surveys' branch)."""
SCHEMA = "feedback"
WHAT = "coordinators' reasons for overriding an outcome"

outcomes = sa.table(
    "outcomes",
    sa.column("person_id", UUID(as_uuid=True)),
    sa.column("cycle_id", UUID(as_uuid=True)),
    sa.column("organisation_id", UUID(as_uuid=True)),
    sa.column("override_reason", sa.Text),
    sa.column("override_reason_ciphertext", sa.LargeBinary),
    schema=SCHEMA,
)
person_keys = sa.table(
    "person_keys",
    sa.column("person_id", UUID(as_uuid=True)),
    sa.column("organisation_id", UUID(as_uuid=True)),
    sa.column("wrapped_key", sa.LargeBinary),
    schema=SCHEMA,
)


def _her_key(bind: sa.Connection, vault: Any, organisation_id: Any, person_id: Any) -> bytes:
    """As `services.feedback.keys.person_key`, on the migration's synchronous connection."""
    bind.execute(
        insert(person_keys)
        .values(
            person_id=person_id,
            organisation_id=organisation_id,
            wrapped_key=vault.new_wrapped_key(person_id),
        )
        .on_conflict_do_nothing(index_elements=["person_id"])
    )
    return bytes(
        bind.scalar(
            sa.select(person_keys.c.wrapped_key).where(person_keys.c.person_id == person_id)
        )
    )


def upgrade() -> None:
    op.add_column(
        "outcomes",
        sa.Column(
            "override_reason_ciphertext",
            sa.LargeBinary,
            comment="the override's reason, under the person's key (migration 0006)",
        ),
        schema=SCHEMA,
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(outcomes).where(outcomes.c.override_reason.is_not(None))).all()
    if rows:
        vault = migration_vault(WHAT)
        for row in rows:
            key = _her_key(bind, vault, row.organisation_id, row.person_id)
            bind.execute(
                outcomes.update()
                .where(outcomes.c.person_id == row.person_id, outcomes.c.cycle_id == row.cycle_id)
                .values(
                    override_reason_ciphertext=vault.encrypt(
                        key, row.person_id, {"reason": row.override_reason}
                    )
                )
            )
    op.drop_constraint("outcomes_reason", "outcomes", schema=SCHEMA)
    op.drop_column("outcomes", "override_reason", schema=SCHEMA)
    op.create_check_constraint(
        "outcomes_reason",
        "outcomes",
        "(override_outcome IS NULL) = (override_reason_ciphertext IS NULL)",
        schema=SCHEMA,
    )


def downgrade() -> None:
    """The reasons back in clear where her key still exists; an erased one's is lost (the
    override keeps a placeholder so that the old constraint holds)."""
    op.add_column("outcomes", sa.Column("override_reason", sa.Text), schema=SCHEMA)
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(outcomes, person_keys.c.wrapped_key)
        .outerjoin(person_keys, person_keys.c.person_id == outcomes.c.person_id)
        .where(outcomes.c.override_reason_ciphertext.is_not(None))
    ).all()
    vault = migration_vault(WHAT) if rows else None
    for row in rows:
        reason = "(erased)"
        if vault is not None and row.wrapped_key is not None:
            opened = vault.decrypt(
                bytes(row.wrapped_key), row.person_id, bytes(row.override_reason_ciphertext)
            )
            reason = str(opened["reason"])
        bind.execute(
            outcomes.update()
            .where(outcomes.c.person_id == row.person_id, outcomes.c.cycle_id == row.cycle_id)
            .values(override_reason=reason)
        )
    op.drop_constraint("outcomes_reason", "outcomes", schema=SCHEMA)
    op.drop_column("outcomes", "override_reason_ciphertext", schema=SCHEMA)
    op.create_check_constraint(
        "outcomes_reason",
        "outcomes",
        "(override_outcome IS NULL) = (override_reason IS NULL)",
        schema=SCHEMA,
    )
