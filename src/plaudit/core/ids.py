"""Identifiers: UUIDs for public ids, and parsing of ids that arrive as text."""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7) so new rows land at the end of their index."""
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def parse_uuid(text: str) -> uuid.UUID | None:
    """The UUID in `text`, or None when it is not one (callers decide the error)."""
    try:
        return uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return None
