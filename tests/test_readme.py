"""Every Python example in the README runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("k", range(len(BLOCKS)))
def test_readme_example_runs(k: int, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(BLOCKS[k], f"README.md example {k}", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out.strip()
