"""Exact fixed-point values and event-summary buckets."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plaudit.metrics.rules import (
    MAX_VALUE,
    SummaryBucket,
    ValueOutOfRange,
    from_micro,
    normalize_currency,
    summarize,
    to_micro,
)

six_places = st.decimals(
    min_value=Decimal("-1000000000"),
    max_value=Decimal("1000000000"),
    places=6,
    allow_nan=False,
    allow_infinity=False,
)


def test_decimal_values_are_stored_exactly() -> None:
    assert to_micro(0.1) + to_micro(0.2) == to_micro(0.3)
    assert from_micro(to_micro(0.1) + to_micro(0.2)) == 0.3
    assert to_micro(750) == 750_000_000
    assert to_micro(-2.5) == -2_500_000


def test_values_round_half_even_to_six_places() -> None:
    assert to_micro(0.0000005) == 0
    assert to_micro(0.0000015) == 2
    assert to_micro(1.23456789) == 1_234_568


@given(st.lists(six_places, max_size=50))
def test_sums_do_not_depend_on_order(values: list[Decimal]) -> None:
    micros = [to_micro(float(v)) for v in values]
    shuffled = micros[:]
    random.Random(7).shuffle(shuffled)
    assert sum(micros) == sum(shuffled)
    assert from_micro(sum(micros)) == float(sum(values, Decimal(0)))


@given(six_places)
def test_values_round_trip(value: Decimal) -> None:
    assert from_micro(to_micro(float(value))) == float(value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), MAX_VALUE * 2.0])
def test_values_outside_the_range_are_refused(bad: float) -> None:
    with pytest.raises(ValueOutOfRange):
        to_micro(bad)


def test_currencies_are_iso_4217_codes() -> None:
    assert normalize_currency("usd") == "USD"
    assert normalize_currency(" EUR ") == "EUR"
    assert normalize_currency("GBP") == "GBP"
    assert normalize_currency("DOGE") is None
    assert normalize_currency(None) is None


def _reference(
    starts: list[dt.date], nxt: dt.date, changes: list[tuple[dt.date, int]], before: int
) -> list[SummaryBucket]:
    edges = [*starts, nxt]
    result, running = [], before
    for i, start in enumerate(starts):
        change = sum(v for d, v in changes if edges[i] <= d < edges[i + 1])
        running += change
        result.append(SummaryBucket(start, running, change))
    return result


@given(
    st.lists(
        st.tuples(
            st.dates(dt.date(2024, 1, 1), dt.date(2024, 3, 31)), st.integers(-(10**9), 10**9)
        ),
        max_size=60,
    ),
    st.integers(-(10**9), 10**9),
)
def test_daily_buckets_match_a_brute_force_sum(
    changes: list[tuple[dt.date, int]], before: int
) -> None:
    starts = [dt.date(2024, 2, 1) + dt.timedelta(days=i) for i in range(29)]
    in_range = [(d, v) for d, v in changes if starts[0] <= d <= starts[-1]]
    expected = _reference(starts, dt.date(2024, 3, 1), in_range, before)
    assert summarize(starts, "day", in_range, before) == expected


def test_weekly_buckets_carry_the_running_total() -> None:
    starts = [dt.date(2026, 11, 1), dt.date(2026, 11, 8)]
    changes = [(dt.date(2026, 11, 2), 5), (dt.date(2026, 11, 8), 7), (dt.date(2026, 11, 14), 1)]
    assert summarize(starts, "week", changes, 100) == [
        SummaryBucket(dt.date(2026, 11, 1), 105, 5),
        SummaryBucket(dt.date(2026, 11, 8), 113, 8),
    ]
