"""Python SDK: achievements — `admin.achievements.*`, `achievements.*`, and the places a
completion shows up (`metrics.event`, `users.achievements`, `users.single_metric`)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import pytest
from pydantic import BaseModel
from trophy import TrophyApi, UpsertedUser
from trophy.errors import NotFoundError, UnprocessableEntityError
from trophy.types import (
    AdminAchievement,
    AdminAchievementBadge,
    AdminAchievementEventAttributesItem,
    AdminAchievementUserAttributesItem,
    AdminAttribute,
    AdminIssue,
    CreateAchievementRequestItem,
    CreateAchievementRequestItemBadge,
    CreateAchievementRequestItemEventAttributesItem,
    CreateAchievementRequestItemUserAttributesItem,
    CreateAttributeRequestItem,
    CreatedMetric,
    EventResponse,
    UpdateAchievementRequestItem,
    UpdateAchievementRequestItemBadge,
)

from tests.compat.sdk import api_error, eventually, unique

pytestmark = pytest.mark.compat

BADGE = "https://cdn.example.com/badges/lessons.png"
# Fields that belong to one trigger; every other trigger's responses leave them out.
OWN_FIELDS: dict[str, set[str]] = {
    "metric": {"metric_id", "metric_value", "event_attributes"},
    "streak": {"streak_length"},
    "api": {"key"},
    "achievement": {"achievement_ids"},
    "anniversary": {"anniversary_years"},
}
SPECIFIC = set().union(*OWN_FIELDS.values())


class Attributes(NamedTuple):
    plan: AdminAttribute  # a user attribute
    source: AdminAttribute  # an event attribute


@pytest.fixture
def attributes(client: TrophyApi) -> Attributes:
    response = client.admin.attributes.create(
        request=[
            CreateAttributeRequestItem(name="Plan", key="plan", type="user"),
            CreateAttributeRequestItem(name="Source", key="source", type="event"),
        ]
    )
    assert response.issues == []
    plan, source = response.created
    return Attributes(plan, source)


# --- building requests -------------------------------------------------------------------


def user_filter(
    attribute: AdminAttribute, value: str
) -> CreateAchievementRequestItemUserAttributesItem:
    return CreateAchievementRequestItemUserAttributesItem(
        attribute_id=attribute.id, attribute_value=value
    )


def event_filter(
    attribute: AdminAttribute, value: str
) -> CreateAchievementRequestItemEventAttributesItem:
    return CreateAchievementRequestItemEventAttributesItem(
        attribute_id=attribute.id, attribute_value=value
    )


def metric_tier(metric: CreatedMetric, value: float, **fields: Any) -> CreateAchievementRequestItem:
    """A metric achievement named after its threshold (`Lessons 5`) unless `name` is given."""
    fields.setdefault("name", f"{metric.name} {value:g}")
    return CreateAchievementRequestItem(
        trigger="metric", metric_id=metric.id, metric_value=value, **fields
    )


def api_unlock(key: str, **fields: Any) -> CreateAchievementRequestItem:
    fields.setdefault("name", key.replace("-", " ").title())
    return CreateAchievementRequestItem(trigger="api", key=key, **fields)


def composite(
    name: str, *prerequisites: AdminAchievement, **fields: Any
) -> CreateAchievementRequestItem:
    return CreateAchievementRequestItem(
        name=name, trigger="achievement", achievement_ids=[p.id for p in prerequisites], **fields
    )


# --- Admin API helpers -------------------------------------------------------------------


def create(client: TrophyApi, *items: CreateAchievementRequestItem) -> list[AdminAchievement]:
    """Create `items`, all of which must be accepted; the created achievements, in order."""
    response = client.admin.achievements.create(request=list(items))
    assert response.issues == []
    assert [a.name for a in response.created] == [item.name for item in items]
    return response.created


def create_issues(client: TrophyApi, *items: CreateAchievementRequestItem) -> dict[object, str]:
    """Create `items`, none of which may be accepted; the issue messages by index."""
    raw = client.admin.achievements.with_raw_response.create(request=list(items))
    assert (raw.status_code, raw.data.created) == (200, [])
    return messages(raw.data.issues, "index")


def update(client: TrophyApi, **fields: Any) -> AdminAchievement:
    """Apply one update that must succeed; `get` must read back what it answered."""
    response = client.admin.achievements.update(request=[UpdateAchievementRequestItem(**fields)])
    assert response.issues == []
    [updated] = response.updated
    assert updated.id == fields["id"]
    assert client.admin.achievements.get(updated.id) == updated
    return updated


def update_issue(client: TrophyApi, **fields: Any) -> str:
    """Apply one update that must be refused; its issue message (the item keeps its values)."""
    before = client.admin.achievements.list(limit=100)
    response = client.admin.achievements.update(request=[UpdateAchievementRequestItem(**fields)])
    assert response.updated == []
    assert client.admin.achievements.list(limit=100) == before
    return messages(response.issues, "id")[fields["id"]]


def set_status(client: TrophyApi, achievement: AdminAchievement, status: str) -> AdminAchievement:
    updated = update(client, id=achievement.id, status=status)
    assert updated == achievement.model_copy(update={"status": status})
    return updated


def messages(issues: Sequence[AdminIssue], by: str) -> dict[object, str]:
    """Issue messages keyed by `index` (creates) or `id` (updates, deletes); all are errors."""
    assert all(issue.severity == "error" for issue in issues), issues
    return {getattr(issue, by): issue.message for issue in issues}


def present(model: BaseModel) -> set[str]:
    """The fields whose key was in the JSON, null included (absent and null differ)."""
    return set(model.model_fields_set)


def assert_only_own_fields(achievement: BaseModel, trigger: str) -> None:
    """Common keys are always there (nullable ones as null); trigger-specific keys are there
    for their own trigger and omitted, not null, for the others (Admin and Application API)."""
    keys = present(achievement)
    assert {"id", "name", "trigger", "description", "user_attributes"} <= keys
    assert keys & {"badge", "badge_url"}
    own = OWN_FIELDS[trigger]
    foreign = SPECIFIC - own
    if trigger != "metric":
        foreign |= {"metric_name", "event_attribute"}
    assert own <= keys
    assert not keys & foreign, keys & foreign


# --- Application API helpers -------------------------------------------------------------


def new_users(client: TrophyApi, count: int, **profile: Any) -> list[str]:
    ids = [unique("user") for _ in range(count)]
    for user_id in ids:
        client.users.create(id=user_id, **profile)
    return ids


def record(client: TrophyApi, user_id: str, value: float, **attributes: str) -> EventResponse:
    """One `lessons` event for `user_id` (with event attributes if given)."""
    extra: dict[str, Any] = {"attributes": attributes} if attributes else {}
    return client.metrics.event("lessons", user=UpsertedUser(id=user_id), value=value, **extra)


def stats(client: TrophyApi, user_attributes: str | None = None) -> dict[str, tuple[int, float]]:
    """`achievements.all`: (completions, rarity) by achievement name."""
    listed = client.achievements.all_(user_attributes=user_attributes)
    return {a.name: (a.completions, a.rarity) for a in listed}


def completed(client: TrophyApi, user_id: str) -> dict[str, dt.datetime]:
    """`users.achievements` without incomplete ones: achievedAt by achievement name."""
    listed = client.users.achievements(user_id)
    assert all(a.achieved_at is not None for a in listed), listed
    return {a.name: a.achieved_at for a in listed if a.achieved_at is not None}


def progress(client: TrophyApi, user_id: str) -> list[tuple[str, bool]]:
    """`users.single_metric("lessons").achievements`: (name, achieved?) in the order listed."""
    metric = client.users.single_metric(user_id, "lessons")
    return [(a.name, a.achieved_at is not None) for a in metric.achievements]


# --- Admin API ---------------------------------------------------------------------------


def test_one_achievement_per_trigger_is_created_inactive_and_read_back(
    client: TrophyApi, lessons: CreatedMetric, attributes: Attributes
) -> None:
    raw = client.admin.achievements.with_raw_response.create(
        request=[
            metric_tier(
                lessons,
                2.5,
                description="Two and a half lessons in the app",
                badge=CreateAchievementRequestItemBadge(url=BADGE),
                event_attributes=[event_filter(attributes.source, "app")],
                user_attributes=[user_filter(attributes.plan, "pro")],
            ),
            CreateAchievementRequestItem(name="Week streak", trigger="streak", streak_length=7),
            api_unlock("finish-onboarding"),
            CreateAchievementRequestItem(
                name="Year one", trigger="anniversary", anniversary_years=1
            ),
        ]
    )
    assert raw.status_code == 201
    assert raw.data.issues == []
    metric, streak, api, anniversary = raw.data.created
    [both] = create(client, composite("All-rounder", metric, api))

    everything = [metric, streak, api, anniversary, both]
    assert [a.trigger for a in everything] == [
        "metric",
        "streak",
        "api",
        "anniversary",
        "achievement",
    ]
    assert {a.status for a in everything} == {"inactive"}
    assert len({a.id for a in everything}) == 5
    for achievement in everything:
        assert_only_own_fields(achievement, achievement.trigger)
        assert {"description", "badge", "user_attributes"} <= present(achievement)
    assert (metric.name, metric.description, metric.badge) == (
        "Lessons 2.5",
        "Two and a half lessons in the app",
        AdminAchievementBadge(url=BADGE),
    )
    assert (metric.metric_id, metric.metric_value) == (lessons.id, 2.5)
    assert metric.event_attributes == [
        AdminAchievementEventAttributesItem(
            attribute_id=attributes.source.id, attribute_value="app"
        )
    ]
    assert metric.user_attributes == [
        AdminAchievementUserAttributesItem(attribute_id=attributes.plan.id, attribute_value="pro")
    ]
    assert streak.streak_length == 7
    assert (api.key, api.name) == ("finish-onboarding", "Finish Onboarding")
    assert anniversary.anniversary_years == 1
    assert both.achievement_ids == [metric.id, api.id]
    assert (streak.description, streak.badge, streak.user_attributes) == (None, None, [])

    assert client.admin.achievements.list() == everything
    assert client.admin.achievements.list(limit=2, skip=1) == [streak, api]
    for achievement in everything:
        assert client.admin.achievements.get(achievement.id) == achievement
    api_error(404, lambda: client.admin.achievements.get(str(uuid.uuid4())), NotFoundError)
    assert client.achievements.all_() == []  # inactive achievements are never listed


def test_update_changes_only_the_fields_sent_and_null_clears(
    client: TrophyApi, lessons: CreatedMetric, attributes: Attributes
) -> None:
    [original] = create(
        client,
        metric_tier(
            lessons,
            10,
            description="Ten lessons",
            badge=CreateAchievementRequestItemBadge(url=BADGE),
            user_attributes=[user_filter(attributes.plan, "pro")],
        ),
    )
    renamed = update(client, id=original.id, name="Decathlon")
    assert renamed == original.model_copy(update={"name": "Decathlon"})

    raised = update(client, id=original.id, metric_value=12.5)
    assert raised == renamed.model_copy(update={"metric_value": 12.5})

    cleared = update(client, id=original.id, description=None)
    assert cleared == raised.model_copy(update={"description": None})
    assert "description" in present(cleared)

    new_badge = "https://cdn.example.com/badges/decathlon.png"
    rebadged = update(
        client, id=original.id, badge=UpdateAchievementRequestItemBadge(url=new_badge)
    )
    assert rebadged.badge == AdminAchievementBadge(url=new_badge)
    bare = update(client, id=original.id, badge=None, user_attributes=None)
    assert (bare.badge, bare.user_attributes) == (None, [])
    assert (bare.name, bare.metric_value, bare.status) == ("Decathlon", 12.5, "inactive")


def test_update_may_switch_trigger_when_the_new_fields_come_along(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    [api] = create(client, api_unlock("share-progress"))
    switched = update(client, id=api.id, trigger="metric", metric_id=lessons.id, metric_value=3)
    assert (switched.trigger, switched.metric_id, switched.metric_value) == (
        "metric",
        lessons.id,
        3,
    )
    assert_only_own_fields(switched, "metric")
    assert switched.key is None
    assert update_issue(client, id=api.id, trigger="streak") == (
        "streakLength is required for streak achievements"
    )


def test_status_goes_live_and_locks_but_never_returns_to_inactive(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    [achievement] = create(client, metric_tier(lessons, 5))
    active = set_status(client, achievement, "active")
    assert update_issue(client, id=active.id, status="inactive") == (
        "status cannot change from active to inactive"
    )
    locked = set_status(client, active, "locked")
    assert update_issue(client, id=locked.id, status="inactive") == (
        "status cannot change from locked to inactive"
    )
    assert set_status(client, locked, "active").status == "active"


def test_composites_may_not_require_themselves(client: TrophyApi) -> None:
    [unlock] = create(client, api_unlock("first-step"))
    [outer] = create(client, composite("Outer", unlock))
    [inner] = create(client, composite("Inner", outer))
    assert update_issue(client, id=outer.id, achievement_ids=[inner.id]) == (
        "achievementIds would make achievements require each other in a cycle"
    )
    assert update_issue(client, id=outer.id, achievement_ids=[outer.id]) == (
        f"achievementIds: {outer.id} is not another achievement of this scope"
    )


def test_invalid_create_items_are_issues_at_their_index(
    client: TrophyApi, lessons: CreatedMetric, attributes: Attributes
) -> None:
    create(client, api_unlock("taken"))
    ghost_metric, ghost_achievement = str(uuid.uuid4()), str(uuid.uuid4())
    raw = client.admin.achievements.with_raw_response.create(
        request=[
            CreateAchievementRequestItem(name="No threshold", trigger="metric"),
            api_unlock("fresh"),
            api_unlock("with-length", streak_length=3),
            metric_tier(lessons, 5, key="lessons-5"),
            CreateAchievementRequestItem(
                name="Ghost metric", trigger="metric", metric_id=ghost_metric, metric_value=5
            ),
            api_unlock("taken"),
            api_unlock("fresh"),
            CreateAchievementRequestItem(name="No length", trigger="streak"),
            CreateAchievementRequestItem(name="No prerequisites", trigger="achievement"),
            CreateAchievementRequestItem(name="No years", trigger="anniversary"),
            metric_tier(lessons, 0),
            metric_tier(lessons, 5, user_attributes=[user_filter(attributes.source, "app")]),
            CreateAchievementRequestItem(
                name="Ghost prerequisite",
                trigger="achievement",
                achievement_ids=[ghost_achievement],
            ),
        ]
    )
    assert raw.status_code == 201
    assert [a.key for a in raw.data.created] == ["fresh"]
    assert messages(raw.data.issues, "index") == {
        0: "metricId is required for metric achievements; "
        "metricValue is required for metric achievements",
        2: "streakLength is only allowed for streak achievements",
        3: "key is only allowed for api achievements",
        4: f"metricId {ghost_metric} is not an active metric",
        5: "Key already in use by another achievement",
        6: "Key already in use by another achievement",  # taken earlier in the same request
        7: "streakLength is required for streak achievements",
        8: "achievementIds is required for achievement achievements",
        9: "anniversaryYears is required for anniversary achievements",
        10: "metricValue must be at least 1",
        11: f"attributeId {attributes.source.id} is not an active user attribute",
        12: f"achievementIds: {ghost_achievement} is not another achievement of this scope",
    }
    refused = create_issues(client, api_unlock("taken"), api_unlock("bad key!"))
    assert refused[0] == "Key already in use by another achievement"
    assert refused[1].startswith("key: "), refused
    assert [a.key for a in client.admin.achievements.list()] == ["taken", "fresh"]


def test_delete_archives_the_achievement(client: TrophyApi, lessons: CreatedMetric) -> None:
    tier, unlock = create(
        client, metric_tier(lessons, 1, status="active"), api_unlock("invite", status="active")
    )
    [needs_tier] = create(client, composite("Keen", tier))
    user = UpsertedUser(id=unique("user"))
    assert record(client, user.id, 1).achievements[0].id == tier.id
    client.achievements.complete("invite", user=user)

    missing = str(uuid.uuid4())
    refused = client.admin.achievements.delete(ids=[tier.id, missing])
    assert refused.deleted == []
    assert messages(refused.issues, "id") == {
        tier.id: "Achievement is a prerequisite of achievement 'Keen'",
        missing: "Achievement not found by ID",
    }

    deleted = client.admin.achievements.delete(ids=[unlock.id, needs_tier.id])
    assert [d.id for d in deleted.deleted] == [unlock.id, needs_tier.id]
    assert deleted.issues == []
    for gone in (unlock, needs_tier):
        message = api_error(404, lambda a=gone: client.admin.achievements.get(a.id), NotFoundError)
        assert message == "Achievement not found"
    assert client.admin.achievements.list() == [tier]
    again = client.admin.achievements.delete(ids=unlock.id)
    assert messages(again.issues, "id") == {unlock.id: "Achievement not found by ID"}
    assert update_issue(client, id=unlock.id, name="Back") == "Achievement not found by ID"

    # Gone from every Application API read too, completions included.
    api_error(404, lambda: client.achievements.complete("invite", user=user), NotFoundError)
    assert list(stats(client)) == [tier.name]
    assert list(completed(client, user.id)) == [tier.name]
    [reused] = create(client, api_unlock("invite"))  # an archived achievement frees its key
    assert reused.id != unlock.id


def test_metrics_and_attributes_in_use_cannot_be_deleted(
    client: TrophyApi, lessons: CreatedMetric, attributes: Attributes
) -> None:
    [tier] = create(
        client,
        metric_tier(
            lessons,
            1,
            name="Pro app lesson",
            user_attributes=[user_filter(attributes.plan, "pro")],
            event_attributes=[event_filter(attributes.source, "app")],
        ),
    )
    in_use = "Metric is in use by achievement 'Pro app lesson'"
    refused = client.admin.metrics.delete(ids=[lessons.id])
    assert (refused.deleted, messages(refused.issues, "id")) == ([], {lessons.id: in_use})
    refused = client.admin.attributes.delete(ids=[attributes.plan.id, attributes.source.id])
    assert refused.deleted == []
    assert messages(refused.issues, "id") == {
        attributes.plan.id: "Attribute is in use by achievement 'Pro app lesson'",
        attributes.source.id: "Attribute is in use by achievement 'Pro app lesson'",
    }
    assert client.admin.achievements.get(tier.id) == tier


def test_achievements_belong_to_their_tenant(
    client: TrophyApi, environment_admin: TrophyApi, lessons: CreatedMetric
) -> None:
    [unlock] = create(client, api_unlock("tenant-only", status="active"))
    other = environment_admin.admin.achievements
    assert unlock.id not in {a.id for a in other.list(limit=100)}
    api_error(404, lambda: other.get(unlock.id), NotFoundError)
    renamed = other.update(request=[UpdateAchievementRequestItem(id=unlock.id, name="Stolen")])
    assert messages(renamed.issues, "id") == {unlock.id: "Achievement not found by ID"}
    deleted = other.delete(ids=[unlock.id])
    assert messages(deleted.issues, "id") == {unlock.id: "Achievement not found by ID"}
    outsider = UpsertedUser(id=unique("user"))
    api_error(404, lambda: environment_admin.achievements.complete("tenant-only", user=outsider))
    assert client.admin.achievements.get(unlock.id) == unlock


# --- Application API ---------------------------------------------------------------------


def test_all_lists_active_achievements_with_completions_and_rarity(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    one, five, unlock = create(
        client,
        metric_tier(lessons, 1, status="active"),
        metric_tier(lessons, 5, status="active", description="Five lessons"),
        api_unlock("tour", status="active", badge=CreateAchievementRequestItemBadge(url=BADGE)),
    )
    create(client, metric_tier(lessons, 2, name="Still a draft"))
    first, second, third = new_users(client, 3)
    record(client, first, 6)
    record(client, second, 1)
    client.achievements.complete("tour", user=UpsertedUser(id=first))

    listed = client.achievements.all_()
    assert [a.id for a in listed] == [one.id, five.id, unlock.id]
    assert stats(client) == {"Lessons 1": (2, 66.67), "Lessons 5": (1, 33.33), "Tour": (1, 33.33)}
    by_id = {a.id: a for a in listed}
    assert (by_id[five.id].metric_name, by_id[five.id].metric_value) == ("Lessons", 5)
    assert by_id[five.id].description == "Five lessons"
    assert (by_id[unlock.id].key, by_id[unlock.id].badge_url) == ("tour", BADGE)
    for achievement in listed:
        assert_only_own_fields(achievement, achievement.trigger)
        assert "achieved_at" not in present(achievement)
    record(client, third, 1)
    assert stats(client)["Lessons 1"] == (3, 100.0)


def test_all_keeps_only_what_the_given_user_attributes_can_unlock(
    client: TrophyApi, lessons: CreatedMetric, attributes: Attributes
) -> None:
    create(
        client,
        metric_tier(lessons, 1, status="active"),
        metric_tier(
            lessons, 10, status="active", user_attributes=[user_filter(attributes.plan, "pro")]
        ),
    )
    everyone_and_pro = ["Lessons 1", "Lessons 10"]
    assert list(stats(client)) == everyone_and_pro
    assert list(stats(client, "plan:pro")) == everyone_and_pro
    assert list(stats(client, "plan:free")) == ["Lessons 1"]
    [pro] = client.achievements.all_(user_attributes="plan:pro")[1:]
    assert [(f.key, f.value) for f in pro.user_attributes] == [("plan", "pro")]
    message = api_error(
        422,
        lambda: client.achievements.all_(user_attributes="colour:red"),
        UnprocessableEntityError,
    )
    assert message == "Invalid attribute keys: colour"
    message = api_error(
        422, lambda: client.achievements.all_(user_attributes="plan"), UnprocessableEntityError
    )
    assert message == "userAttributes entry 'plan' is not key:value"


def test_completing_an_api_achievement_is_recorded_once(client: TrophyApi) -> None:
    [unlock] = create(client, api_unlock("link-account", status="active", description="Linked"))
    user = UpsertedUser(id=unique("user"), name="Ada")
    raw = client.achievements.with_raw_response.complete("link-account", user=user)
    assert raw.status_code == 201
    first = raw.data
    assert uuid.UUID(first.completion_id)
    assert (first.achievement.id, first.achievement.key, first.achievement.trigger) == (
        unlock.id,
        "link-account",
        "api",
    )
    assert first.achievement.description == "Linked"
    assert isinstance(first.achievement.achieved_at, dt.datetime)
    assert first.points == {}
    assert_only_own_fields(first.achievement, "api")
    assert client.users.get(user.id).name == "Ada"  # the user was created inline

    again = client.achievements.complete("link-account", user=user)
    assert again.completion_id == first.completion_id
    assert again.achievement.achieved_at == first.achievement.achieved_at
    assert completed(client, user.id) == {"Link Account": first.achievement.achieved_at}
    assert stats(client) == {"Link Account": (1, 100.0)}


def test_completing_what_cannot_be_completed_is_refused(
    client: TrophyApi, lessons: CreatedMetric, attributes: Attributes
) -> None:
    create(
        client,
        api_unlock("draft"),
        api_unlock(
            "pro-only", status="active", user_attributes=[user_filter(attributes.plan, "pro")]
        ),
        metric_tier(lessons, 1, status="active"),
    )
    user = UpsertedUser(id=unique("user"), attributes={"plan": "free"})
    client.users.identify(user.id, attributes=user.attributes)

    def refused(key: str, status: int) -> str:
        typed = NotFoundError if status == 404 else UnprocessableEntityError
        return api_error(status, lambda: client.achievements.complete(key, user=user), typed)

    assert refused("no-such-key", 404) == "Achievement Not Found"
    assert refused("draft", 404) == "Achievement Not Found"  # inactive
    assert refused("pro-only", 422) == (
        f"User '{user.id}' does not have the attributes achievement 'pro-only' requires"
    )
    assert completed(client, user.id) == {}


def test_a_locked_achievement_stays_with_those_who_completed_it(client: TrophyApi) -> None:
    [unlock] = create(client, api_unlock("beta-tester", status="active"))
    early, late = (UpsertedUser(id=user_id) for user_id in new_users(client, 2))
    first = client.achievements.complete("beta-tester", user=early)
    set_status(client, unlock, "locked")

    message = api_error(
        422,
        lambda: client.achievements.complete("beta-tester", user=late),
        UnprocessableEntityError,
    )
    assert message == "Achievement 'beta-tester' is locked and can no longer be completed"
    assert client.achievements.complete("beta-tester", user=early).completion_id == (
        first.completion_id
    )
    assert stats(client) == {}  # not listed for everyone any more...
    assert completed(client, early.id) == {"Beta Tester": first.achievement.achieved_at}
    assert client.users.achievements(late.id, include_incomplete="true") == []  # ...nor offered


def test_an_event_completes_every_tier_it_crosses_and_the_composites_they_finish(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    tiers = create(
        client, *(metric_tier(lessons, value, status="active") for value in (10, 1, 50, 5))
    )
    ten, _, fifty, five = tiers
    [unlock] = create(client, api_unlock("onboarding", status="active"))
    [scholar] = create(client, composite("Scholar", five, unlock, status="active"))
    [master] = create(client, composite("Master", scholar, fifty, status="active"))
    user_id = unique("user")
    client.achievements.complete("onboarding", user=UpsertedUser(id=user_id))

    event = record(client, user_id, 12)
    assert [a.name for a in event.achievements] == [
        "Lessons 1",
        "Lessons 5",
        "Lessons 10",
        "Scholar",
    ]
    assert len({a.achieved_at for a in event.achievements}) == 1
    assert event.achievements[0].achieved_at is not None
    by_name = {a.name: a for a in event.achievements}
    assert (by_name["Lessons 10"].id, by_name["Lessons 10"].metric_value) == (ten.id, 10)
    assert by_name["Lessons 10"].metric_name == "Lessons"
    assert by_name["Scholar"].achievement_ids == [five.id, unlock.id]
    for achievement in event.achievements:
        assert_only_own_fields(achievement, achievement.trigger)

    assert record(client, user_id, 1).achievements == []  # 13: nothing new
    assert record(client, user_id, -13).achievements == []  # going down un-completes nothing
    assert record(client, user_id, 12).achievements == []  # nor does reaching them again
    final = record(client, user_id, 40)  # 52
    assert [a.id for a in final.achievements] == [fifty.id, master.id]
    assert set(completed(client, user_id)) == {
        "Onboarding",
        "Lessons 1",
        "Lessons 5",
        "Lessons 10",
        "Scholar",
        "Lessons 50",
        "Master",
    }


def test_decimal_thresholds_are_reached_exactly(client: TrophyApi, lessons: CreatedMetric) -> None:
    [tier] = create(client, metric_tier(lessons, 1.1, status="active"))
    user_id = unique("user")
    assert record(client, user_id, 0.7).achievements == []
    [done] = record(client, user_id, 0.4).achievements  # 0.7 + 0.4 is below 1.1 in floats
    assert (done.id, done.metric_value) == (tier.id, 1.1)


def test_an_idempotent_replay_completes_nothing_again(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    [tier] = create(client, metric_tier(lessons, 3, status="active"))
    user = UpsertedUser(id=unique("user"))
    key = unique("idem")

    def send() -> EventResponse:
        return client.metrics.event("lessons", user=user, value=5, idempotency_key=key)

    first, replay = send(), send()
    assert [a.id for a in first.achievements] == [tier.id]
    assert (replay.idempotent_replayed, replay.achievements, replay.total) == (True, [], 5)
    assert stats(client) == {"Lessons 3": (1, 100.0)}


def test_edits_to_a_live_achievement_show_at_once(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    [tier] = create(client, metric_tier(lessons, 2, status="active"))
    update(client, id=tier.id, name="Double", description="Two lessons")
    [done] = record(client, unique("user"), 2).achievements
    assert (done.id, done.name, done.description) == (tier.id, "Double", "Two lessons")
    assert stats(client) == {"Double": (1, 100.0)}


def test_parallel_completions_are_recorded_once(client: TrophyApi, lessons: CreatedMetric) -> None:
    create(
        client, api_unlock("parallel", status="active"), metric_tier(lessons, 5, status="active")
    )
    user = UpsertedUser(id=unique("user"))
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: client.achievements.complete("parallel", user=user), range(8))
        )
        events = list(pool.map(lambda _: record(client, user.id, 1), range(8)))
    assert len({a.completion_id for a in answers}) == 1
    assert sorted(e.total for e in events) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [e.total for e in events if e.achievements] == [5]
    assert stats(client) == {"Lessons 5": (1, 100.0), "Parallel": (1, 100.0)}


def test_event_attribute_filters_count_only_matching_events(
    client: TrophyApi, lessons: CreatedMetric, attributes: Attributes
) -> None:
    [in_app] = create(
        client,
        metric_tier(
            lessons,
            5,
            name="Five in the app",
            status="active",
            event_attributes=[event_filter(attributes.source, "app")],
        ),
    )
    user_id = unique("user")
    assert record(client, user_id, 3, source="app").achievements == []
    assert record(client, user_id, 10, source="web").achievements == []
    assert record(client, user_id, 10).achievements == []
    assert client.users.single_metric(user_id, "lessons").current == 23
    [done] = record(client, user_id, 2, source="app").achievements
    assert done.id == in_app.id
    assert [(f.key, f.value) for f in done.event_attributes or []] == [("source", "app")]
    assert done.event_attribute is not None
    assert (done.event_attribute.key, done.event_attribute.value) == ("source", "app")


def test_user_attribute_filters_decide_who_can_complete(
    client: TrophyApi, lessons: CreatedMetric, attributes: Attributes
) -> None:
    [pro_tier] = create(
        client,
        metric_tier(
            lessons, 3, status="active", user_attributes=[user_filter(attributes.plan, "pro")]
        ),
    )
    free = UpsertedUser(id=unique("free"), attributes={"plan": "free"})
    pro = UpsertedUser(id=unique("pro"), attributes={"plan": "pro"})
    assert client.metrics.event("lessons", user=free, value=5).achievements == []
    [done] = client.metrics.event("lessons", user=pro, value=5).achievements
    assert done.id == pro_tier.id
    assert [(f.key, f.value) for f in done.user_attributes] == [("plan", "pro")]
    assert progress(client, free.id) == []  # not offered to users it is not for
    assert progress(client, pro.id) == [("Lessons 3", True)]


def test_users_achievements_lists_completed_then_incomplete(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    create(
        client,
        metric_tier(lessons, 20, status="active"),
        metric_tier(lessons, 2, status="active"),
        api_unlock("verify-email", status="active"),
        CreateAchievementRequestItem(
            name="Week streak", trigger="streak", streak_length=7, status="active"
        ),
        api_unlock("draft"),
    )
    user_id = unique("user")
    unlocked = client.achievements.complete("verify-email", user=UpsertedUser(id=user_id))
    [reached] = record(client, user_id, 3).achievements

    done = client.users.achievements(user_id)
    assert [(a.name, a.achieved_at) for a in done] == [
        ("Verify Email", unlocked.achievement.achieved_at),
        ("Lessons 2", reached.achieved_at),
    ]
    assert [(a.completions, a.rarity) for a in done] == [(1, 100.0), (1, 100.0)]
    everything = client.users.achievements(user_id, include_incomplete="true")
    assert everything[:2] == done
    assert [(a.name, a.achieved_at, a.completions) for a in everything[2:]] == [
        ("Lessons 20", None, 0),
        ("Week streak", None, 0),
    ]
    assert "achieved_at" in present(everything[-1])
    assert everything[-1].streak_length == 7
    api_error(404, lambda: client.users.achievements(unique("ghost")), NotFoundError)


def test_single_metric_shows_the_metric_achievements_with_progress(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    create(
        client,
        *(metric_tier(lessons, value, status="active") for value in (100, 10, 1)),
        api_unlock("unrelated", status="active"),
        metric_tier(lessons, 5, name="Draft"),
    )
    user_id = unique("user")
    event = record(client, user_id, 10)
    metric = client.users.single_metric(user_id, "lessons")
    assert metric.current == 10
    assert [(a.name, a.achieved_at) for a in metric.achievements] == [
        ("Lessons 1", event.achievements[0].achieved_at),
        ("Lessons 10", event.achievements[1].achieved_at),
        ("Lessons 100", None),
    ]
    assert {a.metric_name for a in metric.achievements} == {"Lessons"}
    [listed] = [m for m in client.users.all_metrics(user_id) if m.key == "lessons"]
    assert listed.achievements == metric.achievements


# --- backdating --------------------------------------------------------------------------


def backdated(client: TrophyApi, name: str, completions: int) -> tuple[int, float]:
    """Wait until `achievements.all` counts `completions` for `name` (backdating runs in the
    background); every user of a tenant is evaluated in one pass, so the count is final."""
    found = eventually(lambda: stats(client), lambda s: s.get(name, (0, 0))[0] >= completions)
    return found[name]


def test_activating_completes_it_for_users_who_already_qualify(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    ahead, behind, far_ahead = new_users(client, 3)
    for user_id, total in ((ahead, 10), (behind, 3), (far_ahead, 25)):
        record(client, user_id, total)
    [unlock] = create(client, api_unlock("welcome", status="active"))
    client.achievements.complete("welcome", user=UpsertedUser(id=ahead))
    tier, _ = create(client, metric_tier(lessons, 5), metric_tier(lessons, 50))
    [both] = create(client, composite("Welcome and five", unlock, tier, status="active"))
    assert progress(client, ahead) == []  # inactive achievements are not offered

    set_status(client, tier, "active")
    assert backdated(client, "Lessons 5", 2) == (2, 66.67)
    assert "Lessons 5" in completed(client, ahead)
    assert "Lessons 5" in completed(client, far_ahead)
    assert "Lessons 5" not in completed(client, behind)
    assert progress(client, far_ahead) == [("Lessons 5", True)]
    assert progress(client, behind) == [("Lessons 5", False)]
    # The composite it completes for `ahead` is backdated after it.
    assert backdated(client, both.name, 1) == (1, 33.33)
    assert "Welcome and five" in completed(client, ahead)

    # Nothing was completed twice, and a later event finds nothing left to complete.
    assert record(client, far_ahead, 1).achievements == []
    [late] = record(client, behind, 2).achievements
    assert late.id == tier.id


def test_editing_a_live_achievement_backdates_again(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    small, large = new_users(client, 2)
    record(client, small, 4)
    record(client, large, 40)
    [tier] = create(client, metric_tier(lessons, 30, name="Milestone", status="active"))
    assert backdated(client, "Milestone", 1) == (1, 50.0)
    assert "Milestone" not in completed(client, small)

    update(client, id=tier.id, metric_value=4)
    assert backdated(client, "Milestone", 2) == (2, 100.0)
    assert list(completed(client, small)) == ["Milestone"]


def test_backdating_counts_only_the_events_an_achievement_filters_on(
    client: TrophyApi, lessons: CreatedMetric, attributes: Attributes
) -> None:
    mixed, app_only = new_users(client, 2)
    record(client, mixed, 3, source="app")
    record(client, mixed, 10, source="web")
    record(client, app_only, 6, source="app")
    [in_app] = create(
        client,
        metric_tier(
            lessons,
            5,
            name="Five in the app",
            event_attributes=[event_filter(attributes.source, "app")],
        ),
    )
    set_status(client, in_app, "active")
    assert backdated(client, "Five in the app", 1) == (1, 50.0)
    assert list(completed(client, app_only)) == ["Five in the app"]
    assert completed(client, mixed) == {}


def test_backdating_respects_user_attribute_filters(
    client: TrophyApi, lessons: CreatedMetric, attributes: Attributes
) -> None:
    pro, free = new_users(client, 2)
    client.users.update(pro, attributes={"plan": "pro"})
    client.users.update(free, attributes={"plan": "free"})
    for user_id in (pro, free):
        record(client, user_id, 10)
    [tier] = create(
        client,
        metric_tier(
            lessons, 7, name="Pro seven", user_attributes=[user_filter(attributes.plan, "pro")]
        ),
    )
    set_status(client, tier, "active")
    assert backdated(client, "Pro seven", 1) == (1, 50.0)
    assert list(completed(client, pro)) == ["Pro seven"]
    assert completed(client, free) == {}

    # A user who gains the attribute later is re-evaluated the same way.
    client.users.update(free, attributes={"plan": "pro"})
    assert backdated(client, "Pro seven", 2) == (2, 100.0)
    assert list(completed(client, free)) == ["Pro seven"]
