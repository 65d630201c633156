import pytest
from trophy import TrophyApi, UpsertedUser
from trophy.types import *
from trophy.core.api_error import ApiError
pytestmark = pytest.mark.compat

def show(label, fn):
    try:
        r = fn()
        print(label, "->", r)
        return r
    except ApiError as e:
        print(label, "!!", e.status_code, e.body)

def test_scratch(client: TrophyApi, lessons) -> None:
    a = client.admin.attributes.create(request=[
        CreateAttributeRequestItem(name="Plan", key="plan", type="user"),
        CreateAttributeRequestItem(name="Source", key="source", type="event")]).created
    plan, source = a
    ach = client.admin.achievements
    r = show("create", lambda: ach.with_raw_response.create(request=[
        CreateAchievementRequestItem(name="M", trigger="metric", metric_id=lessons.id, metric_value=10,
            event_attributes=[CreateAchievementRequestItemEventAttributesItem(attribute_id=source.id, attribute_value="app")],
            user_attributes=[CreateAchievementRequestItemUserAttributesItem(attribute_id=plan.id, attribute_value="pro")],
            description="d", badge=CreateAchievementRequestItemBadge(url="https://x.test/b.png")),
        CreateAchievementRequestItem(name="S", trigger="streak", streak_length=7),
        CreateAchievementRequestItem(name="A", trigger="api", key="k1"),
        CreateAchievementRequestItem(name="Ann", trigger="anniversary", anniversary_years=1),
        CreateAchievementRequestItem(name="bad1", trigger="metric"),
        CreateAchievementRequestItem(name="bad2", trigger="api", key="k2", streak_length=3),
        CreateAchievementRequestItem(name="bad3", trigger="metric", metric_id="00000000-0000-0000-0000-000000000000", metric_value=1),
        CreateAchievementRequestItem(name="bad4", trigger="api", key="k1"),
        CreateAchievementRequestItem(name="bad5", trigger="api", key="bad key"),
        CreateAchievementRequestItem(name="bad6", trigger="metric", metric_id=lessons.id, metric_value=0),
        CreateAchievementRequestItem(name="bad7", trigger="achievement", achievement_ids=[]),
        CreateAchievementRequestItem(name="bad8", trigger="metric", metric_id=lessons.id, metric_value=2, user_attributes=[CreateAchievementRequestItemUserAttributesItem(attribute_id=source.id, attribute_value="x")]),
    ]))
    print(r.status_code, r.headers)
    for i in r.data.issues: print(i)
    m = r.data.created[0]
    show("update", lambda: ach.update(request=[UpdateAchievementRequestItem(id=m.id, description=None, name="M2", status="active")]))
    show("update2", lambda: ach.update(request=[UpdateAchievementRequestItem(id=m.id, status="inactive")]))
    show("update3", lambda: ach.update(request=[UpdateAchievementRequestItem(id=m.id, status="locked")]))
    show("update4", lambda: ach.update(request=[UpdateAchievementRequestItem(id=r.data.created[2].id, metric_value=3)]))
    show("update5", lambda: ach.update(request=[UpdateAchievementRequestItem(id=r.data.created[2].id, status="active")]))
    show("complete", lambda: client.achievements.complete("k1", user=UpsertedUser(id="u1")))
    show("complete", lambda: client.achievements.complete("nope", user=UpsertedUser(id="u1")))
    show("complete", lambda: client.achievements.complete("k1", user=UpsertedUser(id="u1")))
    show("all", lambda: client.achievements.all_())
    show("all", lambda: client.achievements.all_(user_attributes="plan:pro"))
    show("all", lambda: client.achievements.all_(user_attributes="zzz:pro"))
    show("useach", lambda: client.users.achievements("u1", include_incomplete="true"))
    show("delete", lambda: ach.delete(ids=[m.id, "nope"]))
    show("get", lambda: ach.get(m.id))
    show("list", lambda: ach.list())
    assert False
