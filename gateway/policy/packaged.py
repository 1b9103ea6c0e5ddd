"""The default policy, shipped inside the package so that ``gateway serve`` finds it from any
directory (``policies/default.yaml`` in the repository is a link to it)."""

from __future__ import annotations

from pathlib import Path

DEFAULT_POLICY = str(Path(__file__).with_name("default.yaml"))
