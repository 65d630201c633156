"""Python SDK: `metrics.event` (Application API) and `admin.metrics.batch_events`."""

from __future__ import annotations

import pytest
from trophy import TrophyApi, UpsertedUser
from trophy.core.http_response import HttpResponse
from trophy.errors import BadRequestError, NotFoundError, UnprocessableEntityError
from trophy.types import (
    BatchMetricEvent,
    BatchMetricEventUser,
    CreateAttributeRequestItem,
    CreatedMetric,
    EventResponse,
    MetricResponse,
)

from tests.compat.sdk import api_error, eventually, unique

pytestmark = pytest.mark.compat


def declare_attribute(client: TrophyApi, key: str, type_: str) -> None:
    response = client.admin.attributes.create(
        request=[CreateAttributeRequestItem(name=key.title(), key=key, type=type_)]
    )
    assert [a.key for a in response.created] == [key]


def test_an_event_returns_the_full_response_and_adds_decimals_exactly(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    user = UpsertedUser(id=unique("user"))
    first = client.metrics.event("lessons", user=user, value=0.1)
    second = client.metrics.event("lessons", user=user, value=0.2)
    assert (first.total, second.total) == (0.1, 0.3)
    assert first.metric_id == second.metric_id == lessons.id
    assert first.event_id != second.event_id
    assert first.achievements == []
    assert first.points == {}
    assert first.leaderboards == {}
    assert first.current_streak.length == 0
    assert first.current_streak.extended is False
    assert first.idempotency_key is None
    assert first.idempotent_replayed is None


def test_an_idempotency_key_counts_once_and_the_replay_is_202(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    user = UpsertedUser(id=unique("user"))
    key = unique("idem")

    def send() -> HttpResponse[EventResponse]:
        return client.metrics.with_raw_response.event(
            "lessons", user=user, value=5, idempotency_key=key
        )

    first, replay = send(), send()
    assert (first.status_code, replay.status_code) == (201, 202)
    assert first.data.idempotency_key == replay.data.idempotency_key == key
    assert first.data.idempotent_replayed is False
    assert replay.data.idempotent_replayed is True
    assert replay.data.event_id == first.data.event_id
    assert replay.data.total == first.data.total == 5
    assert client.users.single_metric(user.id, "lessons").current == 5


def test_an_event_creates_and_updates_its_user_inline(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    declare_attribute(client, "plan", "user")
    user_id = unique("user")
    client.metrics.event(
        "lessons",
        user=UpsertedUser(id=user_id, name="Ada", tz="Europe/London", attributes={"plan": "pro"}),
        value=1,
    )
    client.metrics.event("lessons", user=UpsertedUser(id=user_id, email="ada@example.com"), value=1)
    stored = client.users.get(user_id)
    assert (stored.name, stored.tz, stored.email) == ("Ada", "Europe/London", "ada@example.com")
    assert stored.attributes == {"plan": "pro"}


def test_declared_event_attributes_are_accepted(client: TrophyApi, lessons: CreatedMetric) -> None:
    declare_attribute(client, "source", "event")
    response = client.metrics.event(
        "lessons", user=UpsertedUser(id=unique("user")), value=2, attributes={"source": "web"}
    )
    assert response.total == 2


def test_an_unknown_metric_is_404(client: TrophyApi) -> None:
    message = api_error(
        404, lambda: client.metrics.event("missing", user=UpsertedUser(id="ada"), value=1)
    )
    assert message == "Metric 'missing' not found"


def test_an_event_without_a_user_id_is_400(client: TrophyApi, lessons: CreatedMetric) -> None:
    # The SDK's model requires `id`; an unvalidated instance sends the user without one.
    anonymous = UpsertedUser.model_construct(name="No id")
    message = api_error(
        400, lambda: client.metrics.event("lessons", user=anonymous, value=1), BadRequestError
    )
    assert "user.id" in message


@pytest.mark.parametrize(
    ("event_attributes", "user_attributes"),
    [({"colour": "red"}, None), (None, {"colour": "red"})],
    ids=["event-attribute", "user-attribute"],
)
def test_undeclared_attribute_keys_are_422(
    client: TrophyApi,
    lessons: CreatedMetric,
    event_attributes: dict[str, str] | None,
    user_attributes: dict[str, str] | None,
) -> None:
    user = UpsertedUser(id=unique("user"), attributes=user_attributes)
    message = api_error(
        422,
        lambda: client.metrics.event("lessons", user=user, value=1, attributes=event_attributes),
        UnprocessableEntityError,
    )
    assert message.startswith("Invalid attribute keys: colour")


def _current_or_none(client: TrophyApi, user_id: str) -> float | None:
    try:
        metric: MetricResponse = client.users.single_metric(user_id, "lessons")
    except NotFoundError:  # the worker has not processed the batch yet
        return None
    return metric.current


def processed_total(client: TrophyApi, user_id: str) -> float:
    """The user's total once the worker has processed the batch (one transaction) naming them."""
    total = eventually(lambda: _current_or_none(client, user_id), lambda v: v is not None)
    assert total is not None
    return total


def one_event(user_id: str, value: float = 1, key: str = "lessons") -> BatchMetricEvent:
    return BatchMetricEvent(key=key, user=BatchMetricEventUser(id=user_id), value=value)


def test_a_batch_is_accepted_then_counted_by_the_worker(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    ada, bob = unique("ada"), unique("bob")
    raw = client.admin.metrics.with_raw_response.batch_events(
        request=[
            BatchMetricEvent(key="lessons", user=BatchMetricEventUser(id=ada, name="Ada"), value=2),
            one_event(ada, 0.5),
            one_event(bob, 7),
        ]
    )
    assert (raw.status_code, raw.data.accepted) == (202, 3)
    assert processed_total(client, ada) == 2.5
    assert processed_total(client, bob) == 7
    assert client.users.get(ada).name == "Ada"


def test_a_batch_naming_an_unknown_metric_is_refused_whole(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    refused, marker = unique("refused"), unique("marker")
    batch = [one_event(refused), one_event(refused, key="missing")]
    message = api_error(
        404, lambda: client.admin.metrics.batch_events(request=batch), NotFoundError
    )
    assert message == "Event 1: Metric 'missing' not found"
    # Jobs run in order: once a later batch is processed, a queued refused one would be too.
    client.admin.metrics.batch_events(request=[one_event(marker)])
    assert processed_total(client, marker) == 1
    api_error(404, lambda: client.users.get(refused))
