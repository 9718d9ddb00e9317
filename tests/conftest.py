"""Fixtures shared by every test folder."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest


@pytest.fixture
def no_hang() -> Iterator[None]:
    """A reader that blocks (a FIFO opened for reading) fails the test instead of hanging."""
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError("the reader blocked")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)
