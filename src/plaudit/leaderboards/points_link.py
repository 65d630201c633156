"""What the leaderboards need to know of points systems, in one place: the live systems of
the scope's configuration snapshot (archived systems are unknown here, like everywhere)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plaudit.platform.config import ScopeConfig


def points_system_exists(config: ScopeConfig, system_id: uuid.UUID) -> bool:
    return system_id in config.points.by_id


def points_system_names(config: ScopeConfig, system_id: uuid.UUID | None) -> tuple[str, str] | None:
    """(key, name) of a points system, or None when unknown."""
    found = None if system_id is None else config.points.by_id.get(system_id)
    return None if found is None else (found.key, found.name)
