"""The README's configuration examples stay valid configuration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.settings import settings_from_text

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```yaml\n(.*?)```", README, re.S)


def test_readme_has_config_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS)
def test_readme_config_example_parses(block: str) -> None:
    settings_from_text(block, source="README.md", environ={})
