"""The README's configuration examples stay valid configuration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.policy.classes import DATA_CLASSES
from gateway.policy.load import parse_policy
from gateway.settings import settings_from_text

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```yaml\n(.*?)```", README, re.S)


def test_readme_has_config_examples() -> None:
    assert len(BLOCKS) >= 2


CONFIGS = [b for b in BLOCKS if not b.startswith("policy:")]
POLICIES = [b for b in BLOCKS if b.startswith("policy:")]


@pytest.mark.parametrize("block", CONFIGS)
def test_readme_config_example_parses(block: str) -> None:
    settings_from_text(block, source="README.md", environ={})


@pytest.mark.parametrize("block", POLICIES)
def test_readme_policy_example_is_a_valid_policy(block: str) -> None:
    parse_policy(block.encode(), "README.md")


def test_readme_documents_every_data_class() -> None:
    for name in DATA_CLASSES:
        assert f"`{name}`" in README, name
