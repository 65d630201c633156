"""What the leaderboards need to know of points systems, in one place.

The points feature is built on a parallel branch; until it is merged the scope's config
snapshot has no points systems, so every lookup answers "unknown" and `rankBy: points`
boards cannot be created. The integrator points these two functions at the points
feature's part of `ScopeConfig` (see docs/leaderboards.md, "Wiring").
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plaudit.platform.config import ScopeConfig


def _systems(config: ScopeConfig) -> dict[uuid.UUID, Any]:
    systems = getattr(config, "points_systems_by_id", None)
    return systems if isinstance(systems, dict) else {}


def points_system_exists(config: ScopeConfig, system_id: uuid.UUID) -> bool:
    return system_id in _systems(config)


def points_system_names(config: ScopeConfig, system_id: uuid.UUID | None) -> tuple[str, str] | None:
    """(key, name) of a points system, or None when unknown."""
    if system_id is None:
        return None
    found = _systems(config).get(system_id)
    if found is None:
        return None
    return str(found.key), str(found.name)
