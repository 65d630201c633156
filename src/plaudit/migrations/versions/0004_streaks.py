"""Streaks: each user's streak state and its history, one row per period.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from plaudit.core.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "user_streaks",
        sa.Column("user_pk", _ID, nullable=False),
        sa.Column("scope_id", _ID, nullable=False),
        sa.Column(
            "state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("longest", sa.Integer(), nullable=False),
        sa.Column("last_extended_at", UTCDateTime(), nullable=True),
        sa.Column("next_due", UTCDateTime(), nullable=True),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_user_streaks_scope_id_scopes")
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_user_streaks_user_pk_users")
        ),
        sa.PrimaryKeyConstraint("user_pk", name=op.f("pk_user_streaks")),
    )
    with op.batch_alter_table("user_streaks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_user_streaks_next_due",
            ["next_due"],
            unique=False,
            sqlite_where=sa.text("next_due IS NOT NULL"),
            postgresql_where=sa.text("next_due IS NOT NULL"),
        )
        batch_op.create_index("ix_user_streaks_scope_length", ["scope_id", "length"], unique=False)
        batch_op.create_index(
            "ix_user_streaks_scope_longest", ["scope_id", "longest"], unique=False
        )
    op.create_table(
        "streak_periods",
        sa.Column("user_pk", _ID, nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("used_freeze", sa.Boolean(), nullable=False),
        sa.Column("used_pause", sa.Boolean(), nullable=False),
        sa.Column("reset_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_streak_periods_user_pk_users")
        ),
        sa.PrimaryKeyConstraint("user_pk", "period_start", name=op.f("pk_streak_periods")),
    )


def downgrade() -> None:
    op.drop_table("streak_periods")
    with op.batch_alter_table("user_streaks", schema=None) as batch_op:
        batch_op.drop_index("ix_user_streaks_scope_longest")
        batch_op.drop_index("ix_user_streaks_scope_length")
        batch_op.drop_index(
            "ix_user_streaks_next_due",
            sqlite_where=sa.text("next_due IS NOT NULL"),
            postgresql_where=sa.text("next_due IS NOT NULL"),
        )
    op.drop_table("user_streaks")
