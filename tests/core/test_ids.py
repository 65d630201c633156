"""New ids are UUID version 7 and strictly increase within a process."""

from __future__ import annotations

import itertools
import uuid

from plaudit.core.ids import new_id


def test_ids_are_version_7_and_strictly_increasing_even_within_a_millisecond() -> None:
    ids = [new_id() for _ in range(20_000)]  # far more than one millisecond's worth
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert all(a < b for a, b in itertools.pairwise(ids))
