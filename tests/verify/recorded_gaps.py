"""Recorded real runs the engine does not predict yet: file name -> why.

Their comparisons are strict xfails: they are kept and read like every recording, and the
day the engine learns the rule they pass, fail as XPASS, and must leave this table.
"""

from __future__ import annotations

import pytest

ENGINE_GAPS: dict[str, str] = {
    "qemu-10.0-to-10.0.2-migration.json":
        "QEMU 10.0.2 lacks the icp/server vmstate registration that a later 10.0 stable update "
        "restored ('hw/intc/xics: Add missing call to register vmstate_icp_server', Debian's "
        "10.0.6 entry), so it refuses 10.0.13's stream; the engine's 10.0 profile is "
        "10.0.13's and its migration stream has no ICP sections",
}


def gap_marks(file_name: str) -> list[pytest.MarkDecorator]:
    """A strict xfail for a recording in ENGINE_GAPS, else nothing."""
    reason = ENGINE_GAPS.get(file_name)
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
