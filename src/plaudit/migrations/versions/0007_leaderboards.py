"""Leaderboards, their participants' values per run, and daily snapshots.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from plaudit.core.db import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "leaderboards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", _ID, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rank_by", sa.String(length=16), nullable=False),
        sa.Column("metric_id", sa.Uuid(), nullable=True),
        sa.Column("points_system_id", sa.Uuid(), nullable=True),
        sa.Column("max_participants", sa.Integer(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("start_time", sa.String(length=8), nullable=True),
        sa.Column("end_time", sa.String(length=8), nullable=True),
        sa.Column("breakdown_attributes", _JSON, nullable=False),
        sa.Column("user_attributes", _JSON, nullable=False),
        sa.Column("run_unit", sa.String(length=8), nullable=True),
        sa.Column("run_interval", sa.Integer(), nullable=True),
        sa.Column("activated", sa.Boolean(), nullable=False),
        sa.Column("runs_started", sa.Integer(), nullable=False),
        sa.Column("runs_finished", sa.Integer(), nullable=False),
        sa.Column("next_due", UTCDateTime(), nullable=True),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_leaderboards_scope_id_scopes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leaderboards")),
    )
    with op.batch_alter_table("leaderboards", schema=None) as batch_op:
        batch_op.create_index(
            "ix_leaderboards_key",
            ["scope_id", "key"],
            unique=True,
            sqlite_where=sa.text("status <> 'archived'"),
            postgresql_where=sa.text("status <> 'archived'"),
        )
        batch_op.create_index(
            "ix_leaderboards_next_due",
            ["next_due"],
            unique=False,
            sqlite_where=sa.text("next_due IS NOT NULL"),
            postgresql_where=sa.text("next_due IS NOT NULL"),
        )
    op.create_table(
        "leaderboard_entries",
        sa.Column("leaderboard_id", sa.Uuid(), nullable=False),
        sa.Column("run_start", sa.Date(), nullable=False),
        sa.Column("user_pk", _ID, nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("user_key", sa.LargeBinary(), nullable=False),
        sa.Column("neg_value", sa.BigInteger(), nullable=False),
        sa.Column("reached_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["leaderboard_id"],
            ["leaderboards.id"],
            name=op.f("fk_leaderboard_entries_leaderboard_id_leaderboards"),
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_leaderboard_entries_user_pk_users")
        ),
        sa.PrimaryKeyConstraint(
            "leaderboard_id", "run_start", "user_pk", name=op.f("pk_leaderboard_entries")
        ),
    )
    with op.batch_alter_table("leaderboard_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_leaderboard_entries_rank",
            ["leaderboard_id", "run_start", "group_key", "neg_value", "reached_at", "user_key"],
            unique=False,
        )
    op.create_table(
        "leaderboard_days",
        sa.Column("leaderboard_id", sa.Uuid(), nullable=False),
        sa.Column("run_start", sa.Date(), nullable=False),
        sa.Column("user_pk", _ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["leaderboard_id"],
            ["leaderboards.id"],
            name=op.f("fk_leaderboard_days_leaderboard_id_leaderboards"),
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_leaderboard_days_user_pk_users")
        ),
        sa.PrimaryKeyConstraint(
            "leaderboard_id", "run_start", "user_pk", "day", name=op.f("pk_leaderboard_days")
        ),
    )


def downgrade() -> None:
    op.drop_table("leaderboard_days")
    with op.batch_alter_table("leaderboard_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_leaderboard_entries_rank")
    op.drop_table("leaderboard_entries")
    with op.batch_alter_table("leaderboards", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_leaderboards_next_due",
            sqlite_where=sa.text("next_due IS NOT NULL"),
            postgresql_where=sa.text("next_due IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_leaderboards_key",
            sqlite_where=sa.text("status <> 'archived'"),
            postgresql_where=sa.text("status <> 'archived'"),
        )
    op.drop_table("leaderboards")
