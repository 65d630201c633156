"""API key material: `{prefix}.{body}`, of which only a hash is ever stored.

Keys carry 256 random bits, so a fast hash is safe: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

_ALPHABET = string.ascii_lowercase + string.digits
ADMIN_PREFIX_LENGTH = 8
APPLICATION_PREFIX = "app_"


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    prefix: str
    full_key: str
    secret_hash: str


def _random_text(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hash_key(full_key: str) -> str:
    return hashlib.sha256(full_key.encode("utf-8")).hexdigest()


def new_key(*, application: bool = False) -> KeyMaterial:
    prefix = (
        APPLICATION_PREFIX + _random_text(8) if application else _random_text(ADMIN_PREFIX_LENGTH)
    )
    full_key = f"{prefix}.{secrets.token_urlsafe(32)}"
    return KeyMaterial(prefix=prefix, full_key=full_key, secret_hash=hash_key(full_key))


def split_prefix(full_key: str) -> str | None:
    """The prefix of a presented key, or None when it is not shaped like one of ours."""
    prefix, dot, body = full_key.partition(".")
    if not dot or not prefix or not body or len(full_key) > 200:
        return None
    return prefix


def matches(full_key: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_key(full_key), secret_hash)
