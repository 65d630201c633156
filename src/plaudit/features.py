"""Imports every feature's routes, jobs and sweeps so that their registrations happen.

The app factory, the worker and the tests import this one module.
"""

from __future__ import annotations

from plaudit.achievements import anniversary as achievement_anniversaries
from plaudit.achievements import jobs as achievement_jobs
from plaudit.achievements import references as achievement_references
from plaudit.achievements import routes as achievement_routes
from plaudit.attributes import routes as attribute_routes
from plaudit.events import batch as event_batch
from plaudit.events import jobs as event_jobs
from plaudit.events import routes as event_routes
from plaudit.jobs import sweeps as job_sweeps
from plaudit.leaderboards import routes as leaderboard_routes
from plaudit.leaderboards import sweep as leaderboard_sweep
from plaudit.metrics import routes as metric_routes
from plaudit.notifications import sweep as notification_sweep
from plaudit.platform import routes as platform_routes
from plaudit.points import references as points_references
from plaudit.points import routes as points_routes
from plaudit.points import service as points_service
from plaudit.points import sweep as points_sweep
from plaudit.streaks import routes as streak_routes
from plaudit.streaks import sweep as streak_sweep
from plaudit.users import routes as user_routes
from plaudit.webhooks import routes as webhook_routes
from plaudit.webhooks import worker as webhook_worker

APPLICATION_ROUTERS = [
    achievement_routes.app_router,
    event_routes.app_router,
    leaderboard_routes.app_router,
    streak_routes.app_router,
    user_routes.app_router,
    metric_routes.app_router,
    points_routes.app_router,
]
ADMIN_ROUTERS = [
    achievement_routes.admin_router,
    attribute_routes.admin_router,
    event_routes.admin_router,
    leaderboard_routes.admin_router,
    metric_routes.admin_router,
    platform_routes.admin_router,
    points_routes.admin_router,
    streak_routes.admin_router,
    webhook_routes.admin_router,
]
TEST_CLOCK_ROUTER = platform_routes.test_clock_router

__all__ = [
    "ADMIN_ROUTERS",
    "APPLICATION_ROUTERS",
    "TEST_CLOCK_ROUTER",
    "achievement_anniversaries",
    "achievement_jobs",
    "achievement_references",
    "event_batch",
    "event_jobs",
    "job_sweeps",
    "leaderboard_sweep",
    "notification_sweep",
    "points_references",
    "points_service",
    "points_sweep",
    "streak_sweep",
    "webhook_worker",
]
