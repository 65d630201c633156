"""The configuration page documents every setting the server reads."""

from __future__ import annotations

from pathlib import Path

from plaudit.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`PLAUDIT_{name.upper()}`" not in page]
    assert missing == []
