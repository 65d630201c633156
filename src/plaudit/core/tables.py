"""Every table of every feature, imported once so that `metadata` is complete.

Alembic and the schema-drift test read `metadata` from here.
"""

from __future__ import annotations

from plaudit.achievements import tables as achievement_tables
from plaudit.attributes import tables as attribute_tables
from plaudit.core import clock
from plaudit.core.db import metadata
from plaudit.events import tables as event_tables
from plaudit.jobs import tables as job_tables
from plaudit.leaderboards import tables as leaderboard_tables
from plaudit.metrics import tables as metric_tables
from plaudit.platform import tables as platform_tables
from plaudit.points import tables as points_tables
from plaudit.streaks import tables as streak_tables
from plaudit.users import tables as user_tables
from plaudit.webhooks import tables as webhook_tables

__all__ = [
    "achievement_tables",
    "attribute_tables",
    "clock",
    "event_tables",
    "job_tables",
    "leaderboard_tables",
    "metadata",
    "metric_tables",
    "platform_tables",
    "points_tables",
    "streak_tables",
    "user_tables",
    "webhook_tables",
]
