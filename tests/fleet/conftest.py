"""Shared inventories for the fleet tests."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "fleet"


@pytest.fixture
def example_paths() -> list[Path]:
    return [EXAMPLES / "inventory.json", EXAMPLES / "domains" / "mail.xml"]
