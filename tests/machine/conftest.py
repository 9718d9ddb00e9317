from __future__ import annotations

import pytest

from powercompat.catalog.guests import guest_by_name


@pytest.fixture
def linux() -> bytes:
    guest = guest_by_name("linux-6.1")
    assert guest is not None
    return guest.cas_buffer
