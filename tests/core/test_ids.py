"""New ids are UUID version 7 and strictly increase within a process."""

from __future__ import annotations

import itertools
import uuid

from plaudit.core.ids import new_id, new_ids


def test_ids_are_version_7_and_strictly_increasing_even_within_a_millisecond() -> None:
    ids = [new_id() for _ in range(20_000)]  # far more than one millisecond's worth
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert all(a < b for a, b in itertools.pairwise(ids))


def test_ids_made_together_continue_the_same_strictly_increasing_sequence() -> None:
    made = [new_id(), *new_ids(5_000), new_id(), *new_ids(1), *new_ids(0), new_id()]
    assert len(made) == 5_004
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in made)
    assert all(a < b for a, b in itertools.pairwise(made))
