"""Achievements, their completions, and the webhook outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 00:25:00.940211
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from plaudit.core.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("dispatched", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_webhook_events_scope_id_scopes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_events_pending",
            ["created"],
            unique=False,
            sqlite_where=sa.text("dispatched IS NULL"),
            postgresql_where=sa.text("dispatched IS NULL"),
        )

    op.create_table(
        "achievements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("badge_url", sa.Text(), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("metric_id", sa.Uuid(), nullable=True),
        sa.Column("metric_value", sa.BigInteger(), nullable=True),
        sa.Column("streak_length", sa.Integer(), nullable=True),
        sa.Column("anniversary_years", sa.Integer(), nullable=True),
        sa.Column(
            "achievement_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "user_attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "event_attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["metric_id"], ["metrics.id"], name=op.f("fk_achievements_metric_id_metrics")
        ),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_achievements_scope_id_scopes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_achievements")),
    )
    with op.batch_alter_table("achievements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_achievements_api_key",
            ["scope_id", "key"],
            unique=True,
            sqlite_where=sa.text("trigger = 'api' AND status <> 'archived'"),
            postgresql_where=sa.text("trigger = 'api' AND status <> 'archived'"),
        )

    op.create_table(
        "achievement_completions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("achievement_id", sa.Uuid(), nullable=False),
        sa.Column("user_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("achieved_at", UTCDateTime(), nullable=False),
        sa.Column("backdated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["achievement_id"],
            ["achievements.id"],
            name=op.f("fk_achievement_completions_achievement_id_achievements"),
        ),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_achievement_completions_scope_id_scopes")
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_achievement_completions_user_pk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_achievement_completions")),
    )
    with op.batch_alter_table("achievement_completions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_achievement_completions_once", ["achievement_id", "user_pk"], unique=True
        )
        batch_op.create_index("ix_achievement_completions_user", ["user_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("achievement_completions", schema=None) as batch_op:
        batch_op.drop_index("ix_achievement_completions_user")
        batch_op.drop_index("ix_achievement_completions_once")

    op.drop_table("achievement_completions")
    with op.batch_alter_table("achievements", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_achievements_api_key",
            sqlite_where=sa.text("trigger = 'api' AND status <> 'archived'"),
            postgresql_where=sa.text("trigger = 'api' AND status <> 'archived'"),
        )

    op.drop_table("achievements")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_webhook_events_pending",
            sqlite_where=sa.text("dispatched IS NULL"),
            postgresql_where=sa.text("dispatched IS NULL"),
        )

    op.drop_table("webhook_events")
