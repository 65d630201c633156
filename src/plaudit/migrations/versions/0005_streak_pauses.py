"""Streak pauses on record: found by id for deletion, archived when deleted.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plaudit.core.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "streak_pauses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", _ID, nullable=False),
        sa.Column("user_pk", _ID, nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_streak_pauses_scope_id_scopes")
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_streak_pauses_user_pk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_streak_pauses")),
    )
    with op.batch_alter_table("streak_pauses", schema=None) as batch_op:
        batch_op.create_index("ix_streak_pauses_user", ["user_pk", "start"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("streak_pauses", schema=None) as batch_op:
        batch_op.drop_index("ix_streak_pauses_user")
    op.drop_table("streak_pauses")
