"""Recorded real runs the engine does not predict yet: file name -> why.

Their comparisons are strict xfails: they are kept and read like every recording, and the
day the engine learns the rule they pass, fail as XPASS, and must leave this table.
"""

from __future__ import annotations

import pytest

ENGINE_GAPS: dict[str, str] = {}


def gap_marks(file_name: str) -> list[pytest.MarkDecorator]:
    """A strict xfail for a recording in ENGINE_GAPS, else nothing."""
    reason = ENGINE_GAPS.get(file_name)
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
