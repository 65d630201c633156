"""Notifications: the schedule of the `emails.*_due` webhooks per user and type, and the
achievement messages waiting for their local send time.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plaudit.core.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notification_schedule",
        sa.Column("user_pk", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scope_id", _ID, nullable=False),
        sa.Column("last_active", UTCDateTime(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("due", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_notification_schedule_scope_id_scopes")
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_notification_schedule_user_pk_users")
        ),
        sa.PrimaryKeyConstraint("user_pk", "kind", name=op.f("pk_notification_schedule")),
    )
    with op.batch_alter_table("notification_schedule", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_schedule_due",
            ["due"],
            unique=False,
            sqlite_where=sa.text("due IS NOT NULL"),
            postgresql_where=sa.text("due IS NOT NULL"),
        )
    op.create_table(
        "achievement_messages",
        sa.Column("completion_id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", _ID, nullable=False),
        sa.Column("user_pk", _ID, nullable=False),
        sa.Column("achievement_id", sa.Uuid(), nullable=False),
        sa.Column("achieved_at", UTCDateTime(), nullable=False),
        sa.Column("due", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_achievement_messages_scope_id_scopes")
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_achievement_messages_user_pk_users")
        ),
        sa.PrimaryKeyConstraint("completion_id", name=op.f("pk_achievement_messages")),
    )
    with op.batch_alter_table("achievement_messages", schema=None) as batch_op:
        batch_op.create_index("ix_achievement_messages_due", ["due"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("achievement_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_achievement_messages_due")
    op.drop_table("achievement_messages")
    with op.batch_alter_table("notification_schedule", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_notification_schedule_due",
            sqlite_where=sa.text("due IS NOT NULL"),
            postgresql_where=sa.text("due IS NOT NULL"),
        )
    op.drop_table("notification_schedule")
