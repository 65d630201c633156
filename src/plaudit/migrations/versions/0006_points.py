"""Points systems, triggers, levels, boosts, awards and balances.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from plaudit.core.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "points_systems",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", _ID, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("badge_url", sa.Text(), nullable=True),
        sa.Column("max_points", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_points_systems_scope_id_scopes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_systems")),
    )
    with op.batch_alter_table("points_systems", schema=None) as batch_op:
        batch_op.create_index(
            "ix_points_systems_key",
            ["scope_id", "key"],
            unique=True,
            sqlite_where=sa.text("status <> 'archived'"),
            postgresql_where=sa.text("status <> 'archived'"),
        )

    op.create_table(
        "points_balances",
        sa.Column("user_pk", _ID, nullable=False),
        sa.Column("system_id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", _ID, nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_points_balances_scope_id_scopes")
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["points_systems.id"],
            name=op.f("fk_points_balances_system_id_points_systems"),
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_points_balances_user_pk_users")
        ),
        sa.PrimaryKeyConstraint("user_pk", "system_id", name=op.f("pk_points_balances")),
    )
    with op.batch_alter_table("points_balances", schema=None) as batch_op:
        batch_op.create_index(
            "ix_points_balances_system_total", ["system_id", "total"], unique=False
        )

    op.create_table(
        "points_boosts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", _ID, nullable=False),
        sa.Column("system_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("multiplier", sa.Float(), nullable=False),
        sa.Column("rounding", sa.String(length=8), nullable=False),
        sa.Column("user_pk", _ID, nullable=True),
        sa.Column("user_attributes", _JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("announce_at", UTCDateTime(), nullable=True),
        sa.Column("announce", sa.String(length=16), nullable=True),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_points_boosts_scope_id_scopes")
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["points_systems.id"],
            name=op.f("fk_points_boosts_system_id_points_systems"),
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_points_boosts_user_pk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_boosts")),
    )
    with op.batch_alter_table("points_boosts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_points_boosts_announce_at",
            ["announce_at"],
            unique=False,
            sqlite_where=sa.text("announce_at IS NOT NULL"),
            postgresql_where=sa.text("announce_at IS NOT NULL"),
        )
        batch_op.create_index("ix_points_boosts_system", ["system_id"], unique=False)

    op.create_table(
        "points_levels",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", _ID, nullable=False),
        sa.Column("system_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("badge_url", sa.Text(), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_points_levels_scope_id_scopes")
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["points_systems.id"],
            name=op.f("fk_points_levels_system_id_points_systems"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_levels")),
    )
    with op.batch_alter_table("points_levels", schema=None) as batch_op:
        batch_op.create_index("ix_points_levels_system", ["system_id"], unique=False)

    op.create_table(
        "points_triggers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", _ID, nullable=False),
        sa.Column("system_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("user_attributes", _JSON, nullable=False),
        sa.Column("metric_id", sa.Uuid(), nullable=True),
        sa.Column("metric_threshold", sa.BigInteger(), nullable=True),
        sa.Column("event_attributes", _JSON, nullable=True),
        sa.Column("achievement_id", sa.Uuid(), nullable=True),
        sa.Column("streak_length", sa.Integer(), nullable=True),
        sa.Column("time_unit", sa.String(length=8), nullable=True),
        sa.Column("time_interval", sa.Integer(), nullable=True),
        sa.Column("block_if_out_of_points", sa.Boolean(), nullable=False),
        sa.Column("activated_at", UTCDateTime(), nullable=True),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_points_triggers_scope_id_scopes")
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["points_systems.id"],
            name=op.f("fk_points_triggers_system_id_points_systems"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_triggers")),
    )
    with op.batch_alter_table("points_triggers", schema=None) as batch_op:
        batch_op.create_index("ix_points_triggers_system", ["system_id"], unique=False)

    op.create_table(
        "points_awards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", _ID, nullable=False),
        sa.Column("system_id", sa.Uuid(), nullable=False),
        sa.Column("user_pk", _ID, nullable=False),
        sa.Column("trigger_id", sa.Uuid(), nullable=False),
        sa.Column("awarded", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("boosts", _JSON, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_points_awards_scope_id_scopes")
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["points_systems.id"],
            name=op.f("fk_points_awards_system_id_points_systems"),
        ),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["points_triggers.id"],
            name=op.f("fk_points_awards_trigger_id_points_triggers"),
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_points_awards_user_pk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_awards")),
    )
    with op.batch_alter_table("points_awards", schema=None) as batch_op:
        batch_op.create_index(
            "ix_points_awards_user_system", ["user_pk", "system_id", "created"], unique=False
        )

    op.create_table(
        "points_marks",
        sa.Column("user_pk", _ID, nullable=False),
        sa.Column("trigger_id", sa.Uuid(), nullable=False),
        sa.Column("acc", sa.BigInteger(), nullable=False),
        sa.Column("hwm", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["points_triggers.id"],
            name=op.f("fk_points_marks_trigger_id_points_triggers"),
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_points_marks_user_pk_users")
        ),
        sa.PrimaryKeyConstraint("user_pk", "trigger_id", name=op.f("pk_points_marks")),
    )
    op.create_table(
        "points_timers",
        sa.Column("user_pk", _ID, nullable=False),
        sa.Column("trigger_id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", _ID, nullable=False),
        sa.Column("next_due", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_points_timers_scope_id_scopes")
        ),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["points_triggers.id"],
            name=op.f("fk_points_timers_trigger_id_points_triggers"),
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_points_timers_user_pk_users")
        ),
        sa.PrimaryKeyConstraint("user_pk", "trigger_id", name=op.f("pk_points_timers")),
    )
    with op.batch_alter_table("points_timers", schema=None) as batch_op:
        batch_op.create_index("ix_points_timers_next_due", ["next_due"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("points_timers", schema=None) as batch_op:
        batch_op.drop_index("ix_points_timers_next_due")

    op.drop_table("points_timers")
    op.drop_table("points_marks")
    with op.batch_alter_table("points_awards", schema=None) as batch_op:
        batch_op.drop_index("ix_points_awards_user_system")

    op.drop_table("points_awards")
    with op.batch_alter_table("points_triggers", schema=None) as batch_op:
        batch_op.drop_index("ix_points_triggers_system")

    op.drop_table("points_triggers")
    with op.batch_alter_table("points_levels", schema=None) as batch_op:
        batch_op.drop_index("ix_points_levels_system")

    op.drop_table("points_levels")
    with op.batch_alter_table("points_boosts", schema=None) as batch_op:
        batch_op.drop_index("ix_points_boosts_system")
        batch_op.drop_index(
            "ix_points_boosts_announce_at",
            sqlite_where=sa.text("announce_at IS NOT NULL"),
            postgresql_where=sa.text("announce_at IS NOT NULL"),
        )

    op.drop_table("points_boosts")
    with op.batch_alter_table("points_balances", schema=None) as batch_op:
        batch_op.drop_index("ix_points_balances_system_total")

    op.drop_table("points_balances")
    with op.batch_alter_table("points_systems", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_points_systems_key",
            sqlite_where=sa.text("status <> 'archived'"),
            postgresql_where=sa.text("status <> 'archived'"),
        )

    op.drop_table("points_systems")
