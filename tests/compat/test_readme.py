"""The README's Python example runs as written against a live server."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.support.server import LiveServer

pytestmark = pytest.mark.compat

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_python_example_works(
    live: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    metric = f"lessons_{uuid.uuid4().hex[:8]}"
    code = (
        block.group(1)
        .replace("k3x9q2ab.Qm9vJ8...", live.admin_key)
        .replace("http://127.0.0.1:8000", live.base_url)
        .replace('"lessons"', repr(metric))
    )
    exec(compile(code, str(README), "exec"), {})
    assert capsys.readouterr().out.strip() == "3.0"
