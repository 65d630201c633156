"""Pure rules of metrics: exact fixed-point values, currencies, event-summary buckets."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from plaudit.core.periods import Unit, add_periods

# Values are stored in millionths: exact sums, independent of the order events commit in.
SCALE = 1_000_000
_SCALE_EXPONENT = 6
# Largest magnitude a value or a total may reach. Half the 64-bit range, so that the sum
# of any run of one user's events (a difference of two totals) still fits in 64 bits.
MAX_MICRO = 2**62 - 1
MAX_VALUE = MAX_MICRO // SCALE

ISO_4217 = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BOV",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHE",
        "CHF",
        "CHW",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "COU",
        "CRC",
        "CUC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MXV",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SLL",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "USN",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VED",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XAG",
        "XAU",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XCD",
        "XCG",
        "XDR",
        "XOF",
        "XPD",
        "XPF",
        "XPT",
        "XSU",
        "XTS",
        "XUA",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
        "ZWL",
    ]
)


class ValueOutOfRange(ValueError):
    pass


def to_micro(value: float) -> int:
    """The exact stored form of a wire number, rounded half-even to six decimals.

    The shortest decimal that round-trips the float is used, so 0.1 is 100000, not
    100000.00000000001.
    """
    if not math.isfinite(value):
        raise ValueOutOfRange("value must be a finite number")
    micro = int(
        Decimal(repr(float(value))).scaleb(_SCALE_EXPONENT).to_integral_value(ROUND_HALF_EVEN)
    )
    if abs(micro) > MAX_MICRO:
        raise ValueOutOfRange(f"value must be between -{MAX_VALUE} and {MAX_VALUE}")
    return micro


def from_micro(micro: int) -> float:
    whole, fraction = divmod(micro, SCALE)
    if fraction == 0:
        return float(whole)
    return float(Decimal(micro).scaleb(-_SCALE_EXPONENT))


def normalize_currency(units: str | None) -> str | None:
    """The ISO 4217 code in `units`, or None when it is not one."""
    if units is None:
        return None
    code = units.strip().upper()
    return code if code in ISO_4217 else None


@dataclass(frozen=True, slots=True)
class SummaryBucket:
    date: dt.date
    total: int
    change: int


def summarize(
    starts: list[dt.date],
    unit: Unit,
    daily_changes: Iterable[tuple[dt.date, int]],
    total_before: int,
) -> list[SummaryBucket]:
    """Buckets beginning at `starts` (consecutive periods), each with the change inside it
    and the running all-time total at its end. `daily_changes` are (local date, value)."""
    if not starts:
        return []
    edges = [*starts, add_periods(starts[-1], unit, 1)]
    sums = [0] * len(starts)
    position = 0
    for day, value in sorted(daily_changes):
        while position < len(starts) and day >= edges[position + 1]:
            position += 1
        if position >= len(starts):
            break
        if day >= edges[position]:
            sums[position] += value
    buckets: list[SummaryBucket] = []
    running = total_before
    for start, change in zip(starts, sums, strict=True):
        running += change
        buckets.append(SummaryBucket(start, running, change))
    return buckets
