"""The engine's migration rules against real live migrations between two QEMU 7.2 processes
(tests/data/real/qemu-7.2-linux-6.1-migration.json, ``python -m powercompat.verify.record
migration``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from powercompat.scenario import migrate_check
from powercompat.verify.compare import qemu_profile
from powercompat.verify.migration import CASES

DATA = json.loads((Path(__file__).resolve().parents[1] / "data" / "real" /
                   "qemu-7.2-linux-6.1-migration.json").read_text())
PROFILE = qemu_profile(DATA["qemu_version"])


def _id(m: dict[str, Any]) -> str:
    return (f"{m['src_cpu']}:{m['src_max_cpu_compat'] or 'unset'}->"
            f"{m['dst_cpu']}:{m['dst_max_cpu_compat'] or 'unset'}")


@pytest.mark.parametrize("real", DATA["migrations"], ids=_id)
def test_migration_matches_engine(real: dict[str, Any]) -> None:
    check = migrate_check(real["src_cpu"], real["dst_cpu"], real["src_max_cpu_compat"],
                          qemu=PROFILE, accel="tcg",
                          dst_max_cpu_compat=real["dst_max_cpu_compat"] or "")
    assert check.source.compat_pvr == real["src_cas_new"]
    assert check.ok == real["dst_running"]
    if not check.ok:
        # QEMU's first two lines on the destination, word for word
        assert [check.error, check.cause] == real["dst_errors"][:2]


def test_recorded_cases_are_the_current_ones() -> None:
    recorded = [(m["src_cpu"], m["src_max_cpu_compat"], m["dst_cpu"], m["dst_max_cpu_compat"])
                for m in DATA["migrations"]]
    assert recorded == [(c.src_cpu, c.src_max, c.dst_cpu, c.dst_max) for c in CASES]
