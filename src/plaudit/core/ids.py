"""Identifiers: UUIDs for public ids, and parsing of ids that arrive as text."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_last_seq = 0


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7) so new rows land at the end of their index.

    Within one process the ids also increase strictly (RFC 9562's counter method: the
    12 bits after the timestamp count up within a millisecond), so rows created in one
    request list in the order they were created.
    """
    return new_ids(1)[0]


def new_ids(count: int) -> list[uuid.UUID]:
    """`count` ids as `new_id` makes them, in increasing order (one clock read, one lock
    and one call for random bits for all of them)."""
    global _last_ms, _last_seq
    randomness = os.urandom(8 * count)
    stamped = []
    with _lock:
        unix_ms = time.time_ns() // 1_000_000
        for index in range(count):
            rand = int.from_bytes(randomness[8 * index : 8 * index + 8], "big")
            if unix_ms > _last_ms:
                _last_ms, _last_seq = unix_ms, (rand >> 62) & 0x7FF  # leave room to count up
            else:
                _last_seq += 1
                if _last_seq > 0xFFF:  # 4,096 ids in one millisecond: borrow the next one
                    _last_ms, _last_seq = _last_ms + 1, 0
            stamped.append((_last_ms, _last_seq, rand))
    return [
        uuid.UUID(
            int=(unix_ms & ((1 << 48) - 1)) << 80
            | 0x7 << 76
            | seq << 64
            | 0b10 << 62
            | rand & ((1 << 62) - 1)
        )
        for unix_ms, seq, rand in stamped
    ]


def parse_uuid(text: str) -> uuid.UUID | None:
    """The UUID in `text`, or None when it is not one (callers decide the error)."""
    try:
        return uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return None
