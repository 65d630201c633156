"""Imports every feature's routes, jobs and sweeps so that their registrations happen.

The app factory, the worker and the tests import this one module.
"""

from __future__ import annotations

from plaudit.attributes import routes as attribute_routes
from plaudit.events import batch as event_batch
from plaudit.events import jobs as event_jobs
from plaudit.events import routes as event_routes
from plaudit.jobs import sweeps as job_sweeps
from plaudit.metrics import routes as metric_routes
from plaudit.platform import routes as platform_routes
from plaudit.users import routes as user_routes

APPLICATION_ROUTERS = [
    event_routes.app_router,
    user_routes.app_router,
    metric_routes.app_router,
]
ADMIN_ROUTERS = [
    attribute_routes.admin_router,
    event_routes.admin_router,
    metric_routes.admin_router,
    platform_routes.admin_router,
]
TEST_CLOCK_ROUTER = platform_routes.test_clock_router

__all__ = [
    "ADMIN_ROUTERS",
    "APPLICATION_ROUTERS",
    "TEST_CLOCK_ROUTER",
    "event_batch",
    "event_jobs",
    "job_sweeps",
]
