"""Python SDK: `admin.*` — attributes, metrics, tenants, environments and settings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from trophy import TrophyApi, UpsertedUser
from trophy.errors import NotFoundError
from trophy.types import (
    AdminIssue,
    AdminTenant,
    CreateAttributeRequestItem,
    CreateMetricRequestItem,
    CreateTenantRequestItem,
    UpdateAdminSettingsBranding,
    UpdateAdminSettingsBrandingLogo,
    UpdateAdminSettingsExperimentation,
    UpdateAttributeRequestItem,
    UpdateMetricRequestItem,
    UpdateTenantRequestItem,
)

from tests.compat.sdk import api_error, sdk_client, unique
from tests.support.server import LiveServer

pytestmark = pytest.mark.compat


def messages(issues: Sequence[AdminIssue], by: str) -> dict[object, str]:
    """Issue messages keyed by `index` (creates) or `id` (updates, deletes); all are errors."""
    assert all(issue.severity == "error" for issue in issues), issues
    return {getattr(issue, by): issue.message for issue in issues}


def every_tenant(environment_admin: TrophyApi) -> dict[str, AdminTenant]:
    """All tenants of the environment by id, page by page (other tests add theirs too)."""
    found: dict[str, AdminTenant] = {}
    skip = 0
    while page := environment_admin.admin.tenants.list(limit=100, skip=skip):
        found.update((t.id, t) for t in page)
        skip += len(page)
    return found


def test_attributes_create_list_get_update_and_delete(client: TrophyApi) -> None:
    raw = client.admin.attributes.with_raw_response.create(
        request=[
            CreateAttributeRequestItem(name="Plan", key="plan", type="user"),
            CreateAttributeRequestItem(name="Source", key="source", type="event"),
            CreateAttributeRequestItem(name="Plan again", key="plan", type="user"),
        ]
    )
    assert raw.status_code == 201
    plan, source = raw.data.created
    assert [(a.key, a.type, a.name) for a in raw.data.created] == [
        ("plan", "user", "Plan"),
        ("source", "event", "Source"),
    ]
    assert messages(raw.data.issues, "index") == {
        2: "Key already in use by another attribute of this type"
    }
    nothing = client.admin.attributes.with_raw_response.create(
        request=[CreateAttributeRequestItem(name="Plan", key="plan", type="user")]
    )
    assert (nothing.status_code, nothing.data.created) == (200, [])

    assert client.admin.attributes.list() == [plan, source]
    assert client.admin.attributes.get(source.id) == source
    missing = str(uuid.uuid4())
    updated = client.admin.attributes.update(
        request=[
            UpdateAttributeRequestItem(id=plan.id, name="Pricing plan"),
            UpdateAttributeRequestItem(id=missing, name="x"),
        ]
    )
    assert [(a.id, a.key, a.name) for a in updated.updated] == [(plan.id, "plan", "Pricing plan")]
    assert messages(updated.issues, "id") == {missing: "Attribute not found by ID"}

    deleted = client.admin.attributes.delete(ids=[plan.id, missing])
    assert [d.id for d in deleted.deleted] == [plan.id]
    assert messages(deleted.issues, "id") == {missing: "Attribute not found by ID"}
    assert client.admin.attributes.list() == [source]
    api_error(404, lambda: client.admin.attributes.get(plan.id), NotFoundError)


def test_metrics_create_list_get_update_and_delete(client: TrophyApi) -> None:
    raw = client.admin.metrics.with_raw_response.create(
        request=[
            CreateMetricRequestItem(name="Lessons", key="lessons"),
            CreateMetricRequestItem(
                name="Revenue", key="revenue", unit_type="currency", units="usd"
            ),
            CreateMetricRequestItem(name="Duplicate", key="lessons"),
        ]
    )
    assert raw.status_code == 201
    lessons, revenue = raw.data.created
    assert (lessons.key, lessons.unit_type, lessons.units) == ("lessons", "number", "")
    assert (revenue.key, revenue.unit_type, revenue.units) == ("revenue", "currency", "USD")
    assert messages(raw.data.issues, "index") == {2: "Key already in use by another metric"}
    nothing = client.admin.metrics.with_raw_response.create(
        request=[CreateMetricRequestItem(name="Lessons", key="lessons")]
    )
    assert (nothing.status_code, nothing.data.created) == (200, [])
    assert messages(nothing.data.issues, "index") == {0: "Key already in use by another metric"}

    assert client.admin.metrics.list() == [lessons, revenue]
    assert client.admin.metrics.list(limit=1, skip=1) == [revenue]
    assert client.admin.metrics.get(lessons.id) == lessons
    missing = str(uuid.uuid4())
    updated = client.admin.metrics.update(
        request=[
            UpdateMetricRequestItem(id=lessons.id, name="Lessons done"),
            UpdateMetricRequestItem(id=missing, name="x"),
        ]
    )
    assert [(m.id, m.key, m.name) for m in updated.updated] == [
        (lessons.id, "lessons", "Lessons done")
    ]
    assert messages(updated.issues, "id") == {missing: "Metric not found by ID"}

    deleted = client.admin.metrics.delete(ids=[lessons.id, missing])
    assert [d.id for d in deleted.deleted] == [lessons.id]
    assert messages(deleted.issues, "id") == {missing: "Metric not found by ID"}
    assert client.admin.metrics.list() == [revenue]
    api_error(404, lambda: client.admin.metrics.get(lessons.id), NotFoundError)
    api_error(404, lambda: client.metrics.event("lessons", user=UpsertedUser(id="ada"), value=1))


def test_tenants_create_list_get_update_and_delete(
    live: LiveServer, environment_admin: TrophyApi, tenant: AdminTenant
) -> None:
    tenants = environment_admin.admin.tenants
    fresh_id = unique("tenant")
    raw = tenants.with_raw_response.create(
        request=[
            CreateTenantRequestItem(customer_id=fresh_id, name="Fresh"),
            CreateTenantRequestItem(customer_id=tenant.customer_id, name="Taken"),
        ]
    )
    assert raw.status_code == 201
    [fresh] = raw.data.created
    assert (fresh.customer_id, fresh.name, fresh.status) == (fresh_id, "Fresh", "active")
    assert messages(raw.data.issues, "index") == {
        1: f'Customer ID "{tenant.customer_id}" already exists in this environment'
    }
    assert tenants.get(tenant.id) == tenant
    assert every_tenant(environment_admin)[fresh.id] == fresh

    renamed_id = unique("renamed")
    missing = str(uuid.uuid4())
    updated = tenants.update(
        request=[
            UpdateTenantRequestItem(id=fresh.id, customer_id=renamed_id, name="Renamed"),
            UpdateTenantRequestItem(id=missing, name="x"),
        ]
    )
    assert [(t.customer_id, t.name) for t in updated.updated] == [(renamed_id, "Renamed")]
    assert messages(updated.issues, "id") == {missing: "Tenant not found by ID"}
    renamed = sdk_client(live, tenant=renamed_id)
    assert renamed.users.identify("ada").id == "ada"
    api_error(404, lambda: sdk_client(live, tenant=fresh_id).users.identify("ada"))

    deleted = tenants.delete(ids=[fresh.id, missing])
    assert [d.id for d in deleted.deleted] == [fresh.id]
    assert messages(deleted.issues, "id") == {missing: "Tenant not found by ID"}
    assert tenants.get(fresh.id).status == "archived"
    assert api_error(404, lambda: renamed.users.get("ada")) == f"Tenant '{renamed_id}' not found"
    api_error(404, lambda: tenants.get(missing), NotFoundError)


def test_tenants_do_not_see_each_others_data(
    live: LiveServer, client: TrophyApi, environment_admin: TrophyApi
) -> None:
    client.admin.metrics.create(request=[CreateMetricRequestItem(name="Lessons", key="lessons")])
    user_id = unique("user")
    client.metrics.event("lessons", user=UpsertedUser(id=user_id), value=1)
    [other] = environment_admin.admin.tenants.create(
        request=[CreateTenantRequestItem(customer_id=unique("other"), name="Other")]
    ).created
    neighbour = sdk_client(live, tenant=other.customer_id)
    assert neighbour.admin.metrics.list() == []
    api_error(404, lambda: neighbour.users.get(user_id))
    api_error(404, lambda: environment_admin.users.get(user_id))


def test_the_production_environment_is_listed(environment_admin: TrophyApi) -> None:
    [production] = environment_admin.admin.environments.list()
    assert (production.key, production.name, production.priority) == (
        "production",
        "Production",
        1,
    )


def test_settings_are_read_and_partially_updated_per_tenant(
    client: TrophyApi, environment_admin: TrophyApi
) -> None:
    before = client.admin.settings.get()
    assert before.experimentation.control_ratio == 0
    assert before.experimentation.user_activation_window == 7
    assert before.aggregation_period in ("weekly", "monthly")
    updated = client.admin.settings.update(
        branding=UpdateAdminSettingsBranding(
            app_name="Acme", logo=UpdateAdminSettingsBrandingLogo(url="https://acme.io/logo.png")
        ),
        experimentation=UpdateAdminSettingsExperimentation(user_activation_window=14),
        aggregation_period="monthly",
    )
    assert updated.branding.app_name == "Acme"
    assert updated.branding.logo is not None
    assert updated.branding.logo.url == "https://acme.io/logo.png"
    assert updated.branding.brand_color == before.branding.brand_color
    assert updated.experimentation.user_activation_window == 14
    assert updated.experimentation.control_ratio == 0
    assert updated.aggregation_period == "monthly"
    assert client.admin.settings.get() == updated
    assert environment_admin.admin.settings.get().branding.app_name != "Acme"
