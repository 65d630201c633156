"""Leaderboard rules: runs, daily windows, statuses, the sweep's schedule, ranking order.
Pure functions; every rule that depends on time takes it as an argument.

Values are kept in millionths for every kind of board (metric totals may be decimal;
points and streak lengths are whole numbers times a million) and emitted as
`floor(value)`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from plaudit.metrics.rules import SCALE as MICRO

RankBy = Literal["metric", "points", "streak"]
RunUnit = Literal["day", "month", "year"]
Status = Literal["inactive", "scheduled", "active", "finished"]

GROUP_SEPARATOR = "\x1f"
# A run is announced at 10:00 UTC the day before its UTC start (before the earliest zone
# reaches it) and finalized at 13:00 UTC the day after its last date (after the latest
# zone has left it): leaderboards.md §5.
START_NOTICE = dt.timedelta(hours=-14)  # from the run's first UTC midnight
FINALIZE_AFTER = dt.timedelta(hours=37)  # from the run's last date's UTC midnight


@dataclass(frozen=True, slots=True)
class LeaderboardConfig:
    id: uuid.UUID
    key: str
    name: str
    description: str | None
    status: str
    rank_by: RankBy
    metric_id: uuid.UUID | None
    points_system_id: uuid.UUID | None
    max_participants: int
    start: dt.date
    end: dt.date | None
    start_time: str | None
    end_time: str | None
    breakdown: tuple[tuple[uuid.UUID, str], ...]  # (attribute id, key)
    user_filters: tuple[tuple[str, str], ...]  # (attribute key, value)
    run_unit: RunUnit | None
    run_interval: int | None
    created: dt.datetime

    @property
    def repeating(self) -> bool:
        return self.run_unit is not None and self.run_interval is not None


@dataclass(frozen=True, slots=True)
class Run:
    index: int
    start: dt.date
    end: dt.date | None  # inclusive; None: a perpetual board without an end


def emitted(value: int) -> int:
    """The integer the API shows for a value in millionths: floor(value)."""
    return value // MICRO


def _add_months(anchor: dt.date, months: int) -> dt.date:
    total = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(anchor.day, last))


def run_start(board: LeaderboardConfig, index: int) -> dt.date:
    """Run `index` begins `index * interval` units after `start`, anchored on `start` (the
    day of month is clamped to short months, never carried over)."""
    if not board.repeating or index == 0:
        return board.start
    assert board.run_interval is not None
    steps = index * board.run_interval
    if board.run_unit == "day":
        return board.start + dt.timedelta(days=steps)
    if board.run_unit == "month":
        return _add_months(board.start, steps)
    return _add_months(board.start, 12 * steps)


def run(board: LeaderboardConfig, index: int) -> Run | None:
    """Run `index`, cut at the board's end; None if it would start after the end (or if a
    perpetual board is asked for a second run)."""
    if index > 0 and not board.repeating:
        return None
    start = run_start(board, index)
    if board.end is not None and start > board.end:
        return None
    if not board.repeating:
        return Run(index, start, board.end)
    end = run_start(board, index + 1) - dt.timedelta(days=1)
    if board.end is not None:
        end = min(end, board.end)
    return Run(index, start, end)


def run_for_date(board: LeaderboardConfig, day: dt.date) -> Run | None:
    """The run that contains `day`, or None before the start / after the end."""
    if day < board.start or (board.end is not None and day > board.end):
        return None
    if not board.repeating:
        return run(board, 0)
    assert board.run_interval is not None
    if board.run_unit == "day":
        index = (day - board.start).days // board.run_interval
    else:
        months = (day.year - board.start.year) * 12 + day.month - board.start.month
        per_run = board.run_interval * (12 if board.run_unit == "year" else 1)
        index = max(months // per_run, 0)
        while index > 0 and run_start(board, index) > day:
            index -= 1
        while run_start(board, index + 1) <= day:
            index += 1
    return run(board, index)


def last_run(board: LeaderboardConfig) -> Run | None:
    return None if board.end is None else run_for_date(board, board.end)


def current_run(board: LeaderboardConfig, today: dt.date) -> Run:
    """The run reads default to: the one containing today's UTC date; before the start the
    first run, after the end the last one."""
    if today < board.start:
        found = run(board, 0)
    elif board.end is not None and today > board.end:
        found = last_run(board)
    else:
        found = run_for_date(board, today)
    assert found is not None
    return found


def parse_time(text: str | None) -> dt.time | None:
    return None if text is None else dt.time.fromisoformat(text)


def in_window(board: LeaderboardConfig, local: dt.time) -> bool:
    """Activity counts at or after `startTime` and strictly before `endTime` (user-local);
    a window whose start is later than its end wraps midnight. Streak boards have none."""
    if board.rank_by == "streak":
        return True
    start, end = parse_time(board.start_time), parse_time(board.end_time)
    if start is None and end is None:
        return True
    if start is None:
        assert end is not None
        return local < end
    if end is None:
        return local >= start
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def participates(board: LeaderboardConfig, attributes: Mapping[str, str]) -> bool:
    """The participation filter: every pair must match the user's attributes."""
    return all(attributes.get(key) == value for key, value in board.user_filters)


def group_of(board: LeaderboardConfig, attributes: Mapping[str, str]) -> str | None:
    """The breakdown group of a user ("" without breakdowns); None if a value is missing
    (such users are not ranked on that board)."""
    values = []
    for _attribute_id, key in board.breakdown:
        value = attributes.get(key)
        if not value:
            return None
        values.append(value)
    return GROUP_SEPARATOR.join(values)


def group_pairs(board: LeaderboardConfig, group: str) -> list[tuple[str, str]]:
    if not board.breakdown:
        return []
    return list(
        zip([key for _id, key in board.breakdown], group.split(GROUP_SEPARATOR), strict=True)
    )


def parse_group_query(board: LeaderboardConfig, raw: str | None) -> str:
    """The group a `userAttributes=key:value,...` query selects (leaderboards.md §8)."""
    keys = [key for _id, key in board.breakdown]
    if not keys:
        if raw:
            raise ValueError(
                "userAttributes is only valid for leaderboards with breakdown attributes"
            )
        return ""
    if not raw:
        raise ValueError("userAttributes is required for leaderboards with breakdown attributes")
    pairs: dict[str, str] = {}
    for part in raw.split(","):
        key, sep, value = part.strip().partition(":")
        if not sep or not key or not value:
            raise ValueError(f"userAttributes: {part.strip()!r} is not a key:value pair")
        if key not in keys:
            raise ValueError(
                f"userAttributes: {key!r} is not a breakdown attribute of this leaderboard"
            )
        if key in pairs:
            raise ValueError(f"userAttributes: {key!r} is given twice")
        pairs[key] = value
    missing = [key for key in keys if key not in pairs]
    if missing:
        raise ValueError("userAttributes must give a value for " + ", ".join(missing))
    return GROUP_SEPARATOR.join(pairs[key] for key in keys)


def order_key(value: int, reached_at: dt.datetime, user_id: str) -> tuple[int, dt.datetime, bytes]:
    """The ranking order: higher value first, then who reached it first, then user id."""
    return (-value, reached_at, user_id.encode())


def threshold(values_in_order: list[int], max_participants: int) -> int:
    """The value a newcomer must exceed: the last ranked value of a full ranking, else 0."""
    if len(values_in_order) < max_participants:
        return 0
    return values_in_order[max_participants - 1]


# --- the sweep's schedule -----------------------------------------------------------------


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


def started_at(run_: Run) -> dt.datetime:
    return _midnight(run_.start) + START_NOTICE


def finalized_at(run_: Run) -> dt.datetime | None:
    return None if run_.end is None else _midnight(run_.end) + FINALIZE_AFTER


@dataclass(frozen=True, slots=True)
class Progress:
    status: str
    runs_started: int
    runs_finished: int


def next_step(board: LeaderboardConfig, progress: Progress) -> tuple[str, Run, dt.datetime] | None:
    """The sweep's next action for a tracked board: ("start" | "finish", run, when)."""
    if progress.status not in ("scheduled", "active"):
        return None
    steps: list[tuple[dt.datetime, str, Run]] = []
    upcoming = run(board, progress.runs_started)
    if upcoming is not None:
        steps.append((started_at(upcoming), "start", upcoming))
    if progress.runs_finished < progress.runs_started:
        ending = run(board, progress.runs_finished)
        when = None if ending is None else finalized_at(ending)
        if ending is not None and when is not None:
            steps.append((when, "finish", ending))
    if not steps:
        return None
    when, kind, which = min(steps, key=lambda step: step[0])
    return kind, which, when


def apply_step(board: LeaderboardConfig, progress: Progress, kind: str) -> Progress:
    """The board's progress once the step is done: a start activates a scheduled board;
    finishing the last run finishes the board."""
    if kind == "start":
        return Progress("active", progress.runs_started + 1, progress.runs_finished)
    finished = progress.runs_finished + 1
    final = last_run(board)
    status = "finished" if final is not None and finished > final.index else progress.status
    return Progress(status, progress.runs_started, finished)


def progress_on_activation(board: LeaderboardConfig, status: str, today: dt.date) -> Progress:
    """Activating (or scheduling) starts the schedule at the run containing today: earlier
    runs were never tracked and are not announced."""
    if today < board.start:
        return Progress(status, 0, 0)
    index = current_run(board, today).index
    return Progress(status, index, index)
