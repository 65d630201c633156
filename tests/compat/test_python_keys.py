"""Python SDK: application API keys (`admin.application_api_keys`) and key authentication."""

from __future__ import annotations

import uuid

import pytest
from trophy import TrophyApi, UpsertedUser
from trophy.errors import UnauthorizedError
from trophy.types import (
    AdminTenant,
    CreateApplicationKeyRequestItem,
    CreatedApplicationKey,
    CreatedMetric,
)

from tests.compat.sdk import api_error, sdk_client, unique
from tests.support.server import LiveServer

pytestmark = pytest.mark.compat

NOT_THIS_USER = "API key is not authorized for this user"


def application_key(client: TrophyApi, user_id: str) -> CreatedApplicationKey:
    raw = client.admin.application_api_keys.with_raw_response.create(
        request=[CreateApplicationKeyRequestItem(user_id=user_id)]
    )
    assert raw.status_code == 201
    assert raw.data.issues == []
    [created] = raw.data.created
    assert created.user_id == user_id
    assert created.key.startswith(created.prefix + ".")
    return created


def test_an_application_key_needs_an_existing_user(client: TrophyApi) -> None:
    ghost = unique("ghost")
    raw = client.admin.application_api_keys.with_raw_response.create(
        request=[CreateApplicationKeyRequestItem(user_id=ghost)]
    )
    assert (raw.status_code, raw.data.created) == (200, [])
    [issue] = raw.data.issues
    assert (issue.index, issue.severity, issue.message) == (0, "error", "User does not exist")


def test_an_application_key_acts_for_its_own_user_only(
    live: LiveServer, client: TrophyApi, tenant: AdminTenant, lessons: CreatedMetric
) -> None:
    ada, bob = unique("ada"), unique("bob")
    client.users.create(id=ada)
    client.users.create(id=bob)
    created = application_key(client, ada)
    as_ada = sdk_client(live, api_key=created.key, tenant=tenant.customer_id)

    assert as_ada.users.get(ada).id == ada
    assert as_ada.metrics.event("lessons", user=UpsertedUser(id=ada), value=2).total == 2
    assert as_ada.users.single_metric(ada, "lessons").current == 2
    assert api_error(403, lambda: as_ada.users.get(bob)) == NOT_THIS_USER
    assert (
        api_error(403, lambda: as_ada.metrics.event("lessons", user=UpsertedUser(id=bob), value=1))
        == NOT_THIS_USER
    )
    assert (
        api_error(403, lambda: as_ada.admin.metrics.list())
        == "Application API keys cannot be used with the Admin API"
    )
    assert client.users.single_metric(bob, "lessons").current == 0


def test_a_deleted_application_key_is_401(
    live: LiveServer, client: TrophyApi, tenant: AdminTenant
) -> None:
    user_id = unique("user")
    client.users.create(id=user_id)
    created = application_key(client, user_id)
    as_user = sdk_client(live, api_key=created.key, tenant=tenant.customer_id)
    assert as_user.users.get(user_id).id == user_id

    missing = str(uuid.uuid4())
    deleted = client.admin.application_api_keys.delete(ids=[created.id, missing])
    assert [d.id for d in deleted.deleted] == [created.id]
    [issue] = deleted.issues
    assert (issue.id, issue.message) == (missing, "Application API key not found by ID")
    api_error(401, lambda: as_user.users.get_preferences(user_id), UnauthorizedError)


@pytest.mark.parametrize("key", ["nonsense", "abcdefgh.wrong-body"])
def test_unknown_keys_are_401_on_both_apis(live: LiveServer, key: str) -> None:
    stranger = sdk_client(live, api_key=key)
    api_error(401, lambda: stranger.users.identify("ada"), UnauthorizedError)
    api_error(401, lambda: stranger.admin.metrics.list(), UnauthorizedError)


def test_a_tampered_admin_key_is_401(live: LiveServer) -> None:
    # The right prefix with the wrong secret must not authenticate.
    tampered = sdk_client(live, api_key=live.admin_key + "x")
    api_error(401, lambda: tampered.admin.environments.list(), UnauthorizedError)
