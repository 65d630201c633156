from __future__ import annotations

from plaudit.core import keys


def test_keys_are_prefix_dot_body_and_only_the_hash_matches() -> None:
    material = keys.new_key()
    assert len(material.prefix) == keys.ADMIN_PREFIX_LENGTH
    assert material.full_key.startswith(material.prefix + ".")
    assert keys.split_prefix(material.full_key) == material.prefix
    assert keys.matches(material.full_key, material.secret_hash)
    assert not keys.matches(material.full_key + "x", material.secret_hash)
    assert material.full_key not in material.secret_hash


def test_application_keys_have_their_own_prefix() -> None:
    assert keys.new_key(application=True).prefix.startswith("app_")


def test_malformed_keys_have_no_prefix() -> None:
    assert keys.split_prefix("no-dot") is None
    assert keys.split_prefix(".body") is None
    assert keys.split_prefix("prefix.") is None
    assert keys.split_prefix("a." + "b" * 300) is None
