"""What other features learn of points awards: the leaderboards that rank by points.

The event pipeline hands each event's awards to the leaderboards itself (so the event
response can show the rank change). Every other award — time triggers swept at their due
time, `user_creation` awards, achievements completed through the API — reaches them
through `AWARD_HOOKS`, called in the transaction that records the award.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.users.rules import UserState

if TYPE_CHECKING:
    from plaudit.platform.config import ScopeConfig


@dataclass(frozen=True, slots=True)
class Award:
    user: UserState
    system_id: uuid.UUID
    awarded: int  # signed, never 0
    at: dt.datetime  # when it was awarded (UTC)


AwardHook = Callable[
    [AsyncConnection, "ScopeConfig", Sequence[Award], dt.datetime], Awaitable[None]
]

AWARD_HOOKS: list[AwardHook] = []
