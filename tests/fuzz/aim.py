"""Aiming generated requests at the seeded data, so that they get past the lookups.

Schemathesis generates every parameter from the schema alone: a random user id, metric key,
attribute key or resource UUID only ever reaches a 404 or an "unknown attribute" 422. Each
generated case is adjusted here with values drawn (by Hypothesis, so shrinking and replay
still work) from the seeded world, the generated value always remaining one of the choices:

- path `id` from {"u1", "nobody"}, `key` from {"lessons", "words", "missing"}, real UUIDs
  of the seeded admin resources (bulk DELETE and PATCH only ever hit sacrificial ones);
- declared attribute keys, real time zones, ids of created resources made unique;
- `Tenant-ID`: mostly the fuzzer's tenant, sometimes an unknown one;
- boundaries: 32/64-bit integers where the schema sets no maximum, dates in the first and
  last month of the calendar, sign-up date-times with offsets of up to ±14 h.

Invalid (negative) cases only get the tenant, path and ids: their bodies stay as generated.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict
from schemathesis import Case

from tests.fuzz.world import TENANT, USER, World

Draw = Callable[[st.SearchStrategy[Any]], Any]

ZONES = ("UTC", "Europe/London", "Etc/GMT-14", "Etc/GMT+12", "America/St_Johns")
METRIC_KEYS = ("lessons", "words", "missing")
USER_IDS = (USER, "nobody")
# An HTTP header value (RFC 9110 field-value) that no client library or server refuses:
# visible ASCII and obs-text, inner spaces, no control characters, nothing to trim.
FIELD_VALUE = re.compile(r"[!-~\xa1-\xff]([ !-~\xa1-\xff]{0,30}[!-~\xa1-\xff])?")


def pick(draw: Draw, generated: Any, *choices: Any) -> Any:
    """One of `choices` or the generated value (Hypothesis favours the first ones)."""
    return draw(st.sampled_from([*choices, generated]))


def _dates_near_today() -> st.SearchStrategy[str]:
    today = dt.datetime.now(dt.UTC).date()
    return st.integers(-400, 400).map(lambda days: (today + dt.timedelta(days=days)).isoformat())


def _summary_dates() -> st.SearchStrategy[str]:
    """Around today, or in the first or last month of the calendar."""
    return st.one_of(
        _dates_near_today(),
        st.dates(max_value=dt.date(1, 1, 31)).map(dt.date.isoformat),
        st.dates(min_value=dt.date(9999, 12, 1)).map(dt.date.isoformat),
    )


# Boundaries for integers the schema leaves unbounded above (32 and 64 bits).
LARGE_INTEGERS = (2**31, 2**63 - 1, 2**63, 2**64)


def _aim_unbounded_integers(draw: Draw, case: Case) -> None:
    if not isinstance(case.query, dict):
        return
    query = dict(case.query)
    for parameter in case.operation.iter_parameters():
        schema = parameter.optimized_schema
        unbounded = (
            isinstance(schema, dict) and schema.get("type") == "integer" and "maximum" not in schema
        )
        if unbounded and parameter.name in query:
            query[parameter.name] = draw(st.sampled_from([query[parameter.name], *LARGE_INTEGERS]))
    case.query = query


def _sign_up_dates() -> st.SearchStrategy[str]:
    """What `signUpDate` accepts: YYYY-MM-DD or an ISO 8601 date-time with any offset, often
    near today or at an edge of the calendar."""
    offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
    first_day = dt.datetime(1, 1, 2)
    last_day = dt.datetime(9999, 12, 31)
    return st.one_of(
        _dates_near_today(),
        st.dates().map(dt.date.isoformat),
        st.datetimes(timezones=offsets).map(dt.datetime.isoformat),
        st.datetimes(max_value=first_day, timezones=offsets).map(dt.datetime.isoformat),
        st.datetimes(min_value=last_day, timezones=offsets).map(dt.datetime.isoformat),
    )


def _rekey(draw: Draw, mapping: Any, keys: tuple[str, ...]) -> Any:
    """Give some entries of a generated object one of the declared `keys`."""
    if not isinstance(mapping, dict):
        return mapping
    return {pick(draw, key, *keys): value for key, value in mapping.items()}


def _aim_user(draw: Draw, user: Any, *, id_choices: tuple[str, ...] = USER_IDS) -> Any:
    """An UpsertedUser/UpdatedUser object: known id, declared attributes, real zones."""
    if not isinstance(user, dict):
        return user
    user = dict(user)
    if "id" in user:
        user["id"] = pick(draw, user["id"], *id_choices)
    if "attributes" in user:
        user["attributes"] = _rekey(draw, user["attributes"], ("plan", "doomed"))
    if "tz" in user:
        user["tz"] = pick(draw, user["tz"], *ZONES)
    if "signUpDate" in user or draw(st.sampled_from([False, True])):
        user["signUpDate"] = pick(draw, user.get("signUpDate"), draw(_sign_up_dates()))
    return user


def _aim_event(draw: Draw, event: Any) -> Any:
    if not isinstance(event, dict):
        return event
    event = dict(event)
    if "user" in event:
        event["user"] = _aim_user(draw, event["user"])
    if "attributes" in event:
        event["attributes"] = _rekey(draw, event["attributes"], ("source",))
    if "key" in event:
        event["key"] = pick(draw, event["key"], *METRIC_KEYS)
    if "idempotencyKey" in event:
        event["idempotencyKey"] = pick(draw, event["idempotencyKey"], "once")
    return event


_serial = itertools.count()


def _fresh(draw: Draw, item: Any, name: str) -> Any:
    """Sometimes make the identifier of a created resource unique (suffix `_<serial>`).

    Creating is not repeatable: once an example created "x", replaying it (as Hypothesis
    does to shrink and to report a failure) answers "already exists" and takes another path.
    """
    value = item.get(name) if isinstance(item, dict) else None
    if not isinstance(value, str) or not draw(st.sampled_from([True, False])):
        return item
    return {**item, name: f"{value[:240]}_{next(_serial)}"}


def _aim_items(draw: Draw, body: Any, aim: Callable[[Draw, Any], Any]) -> Any:
    if not isinstance(body, list):
        return body
    return [aim(draw, item) for item in body]


def _with_id(*ids: str) -> Callable[[Draw, Any], Any]:
    def aim(draw: Draw, item: Any) -> Any:
        if isinstance(item, dict) and "id" in item:
            return {**item, "id": pick(draw, item["id"], *ids)}
        return item

    return aim


def _aim_preferences(draw: Draw, body: Any) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("streak"), dict):
        return body
    streak = dict(body["streak"])
    if isinstance(streak.get("metrics"), list):
        streak["metrics"] = [
            {**item, "key": pick(draw, item["key"], *METRIC_KEYS)}
            if isinstance(item, dict) and "key" in item
            else item
            for item in streak["metrics"]
        ]
    return {**body, "streak": streak}


def _aim_settings(draw: Draw, body: Any) -> Any:
    if isinstance(body, dict) and "defaultTimezone" in body:
        return {**body, "defaultTimezone": pick(draw, body["defaultTimezone"], *ZONES)}
    return body


def _aim_body(draw: Draw, label: str, body: Any, world: World) -> Any:
    metric_ids = tuple(world.metric_ids.values())
    attribute_ids = tuple(world.attribute_ids.values())
    match label:
        case "POST /metrics/{key}/event":
            return _aim_event(draw, body)
        case "POST /users":
            return _aim_user(draw, _fresh(draw, body, "id"), id_choices=())
        case "POST /metrics" | "POST /attributes":
            return _aim_items(draw, body, lambda d, item: _fresh(d, item, "key"))
        case "POST /tenants":
            return _aim_items(draw, body, lambda d, item: _fresh(d, item, "customerId"))
        case "PUT /users/{id}" | "PATCH /users/{id}":
            return _aim_user(draw, body)
        case "PATCH /users/{id}/preferences":
            return _aim_preferences(draw, body)
        case "POST /metrics/events":
            return _aim_items(draw, body, _aim_event)
        case "PATCH /metrics":
            return _aim_items(draw, body, _with_id(*metric_ids))
        case "PATCH /attributes":
            return _aim_items(draw, body, _with_id(*attribute_ids))
        case "PATCH /tenants":
            return _aim_items(draw, body, _with_id(world.victim_tenant_id))
        case "PATCH /api-keys":
            return _aim_items(draw, body, _with_id(world.victim_key_id))
        case "POST /application-api-keys":
            return _aim_items(
                draw,
                body,
                lambda d, item: (
                    {**item, "userId": pick(d, item["userId"], USER)}
                    if isinstance(item, dict) and "userId" in item
                    else item
                ),
            )
        case "PATCH /settings":
            return _aim_settings(draw, body)
    return body


def _path_choices(label: str, name: str, world: World) -> tuple[str, ...]:
    path = label.split(" ", 1)[1]
    if name == "key":
        return METRIC_KEYS
    if path.startswith("/users/"):
        return USER_IDS
    if path.startswith("/metrics/"):
        return (world.metric_ids["lessons"], world.metric_ids["doomed"])
    if path.startswith("/attributes/"):
        return (world.attribute_ids["plan"], world.attribute_ids["source"])
    if path.startswith("/tenants/"):
        return (world.tenant_id, world.victim_tenant_id)
    if path.startswith("/api-keys/"):
        return (world.victim_key_id,)
    return ()


def _doomed_ids(label: str, world: World) -> tuple[str, ...]:
    """What each bulk DELETE may really delete: only the sacrificial resources."""
    return {
        "DELETE /metrics": (world.metric_ids["doomed"],),
        "DELETE /attributes": (world.attribute_ids["doomed"],),
        "DELETE /tenants": (world.victim_tenant_id,),
        "DELETE /api-keys": (world.victim_key_id,),
        "DELETE /application-api-keys": (world.application_key_id,),
    }.get(label, ())


def _aim_tenant(draw: Draw, headers: CaseInsensitiveDict[Any], method: str) -> None:
    """Mostly the fuzzer's tenant; else an unknown one (404), or for reads none at all.

    Writes never go to the environment's own scope: other tests share it.
    """
    choice = draw(st.sampled_from(["fuzz"] * 6 + ["unknown", "none"]))
    if choice == "none" and method.upper() == "GET":
        headers.pop("Tenant-ID", None)
    elif choice == "unknown":
        generated = headers.get("Tenant-ID")
        if not isinstance(generated, str) or not FIELD_VALUE.fullmatch(generated):
            generated = draw(st.from_regex(FIELD_VALUE, fullmatch=True))
        headers["Tenant-ID"] = generated
    else:
        headers["Tenant-ID"] = TENANT


def aim(case: Case, draw: Draw, world: World, *, positive: bool) -> None:
    """Adjust `case` in place (see the module docstring)."""
    operation = case.operation
    label = f"{operation.method.upper()} {operation.path}"
    declared = {p.name for p in operation.iter_parameters()}

    headers = CaseInsensitiveDict(case.headers or {})
    if "Tenant-ID" in declared:
        _aim_tenant(draw, headers, operation.method)
    case.headers = headers

    if case.path_parameters:
        case.path_parameters = {
            name: pick(draw, value, *_path_choices(label, name, world))
            for name, value in case.path_parameters.items()
        }

    doomed = _doomed_ids(label, world)
    if doomed and (case.query is None or isinstance(case.query, dict)):
        query = dict(case.query or {})
        query["ids"] = pick(draw, query.get("ids"), list(doomed))
        case.query = {name: value for name, value in query.items() if value is not None}

    if not positive:
        return  # keep schemathesis' invalid values: they exercise the validation paths

    _aim_unbounded_integers(draw, case)
    is_summary = label.endswith("/event-summary") and isinstance(case.query, dict)
    if is_summary and draw(st.sampled_from([True, False])):
        first = dt.date.fromisoformat(draw(_summary_dates()))
        last = min(first.toordinal() + draw(st.integers(0, 60)), dt.date.max.toordinal())
        case.query = {
            **case.query,
            "startDate": first.isoformat(),
            "endDate": dt.date.fromordinal(last).isoformat(),
        }
    if label == "POST /metrics/{key}/event" and (
        "Idempotency-Key" in headers or draw(st.booleans())
    ):
        headers["Idempotency-Key"] = pick(draw, headers.get("Idempotency-Key", "once"), "once")
    if case.body is not None:
        case.body = _aim_body(draw, label, case.body, world)
