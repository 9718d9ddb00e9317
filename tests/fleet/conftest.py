"""Fixtures for the fleet tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet_helpers import EXAMPLES


@pytest.fixture
def example_paths() -> list[Path]:
    return [EXAMPLES / "inventory.json", EXAMPLES / "domains" / "mail.xml"]
