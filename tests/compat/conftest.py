"""Each compat test gets a tenant of its own on the live server, and clients scoped to it."""

from __future__ import annotations

import pytest
from trophy import TrophyApi
from trophy.types import (
    AdminTenant,
    CreatedMetric,
    CreateMetricRequestItem,
    CreateTenantRequestItem,
)

from tests.compat.sdk import sdk_client, unique
from tests.support.server import LiveServer


@pytest.fixture
def environment_admin(live: LiveServer) -> TrophyApi:
    """The bootstrap admin key without a tenant: the environment's own scope."""
    return sdk_client(live)


@pytest.fixture
def tenant(environment_admin: TrophyApi) -> AdminTenant:
    customer_id = unique("tenant")
    response = environment_admin.admin.tenants.create(
        request=[CreateTenantRequestItem(customer_id=customer_id, name=f"Tenant {customer_id}")]
    )
    assert response.issues == []
    [created] = response.created
    assert created.customer_id == customer_id
    return created


@pytest.fixture
def client(live: LiveServer, tenant: AdminTenant) -> TrophyApi:
    """Admin key + `Tenant-ID`: both APIs, confined to this test's tenant."""
    return sdk_client(live, tenant=tenant.customer_id)


@pytest.fixture
def lessons(client: TrophyApi) -> CreatedMetric:
    """A metric `lessons` in the test's tenant."""
    response = client.admin.metrics.create(
        request=[CreateMetricRequestItem(name="Lessons", key="lessons")]
    )
    [created] = response.created
    return created
