"""The recorded cross-release migrations (tests/data/real/qemu-R1-to-R2-migration.json,
``powercompat verify migration --src-release R1 --dst-release R2 --record FILE``): complete,
conclusive, and consistent with what each side printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from powercompat.upgrade.real import side_label
from powercompat.verify.xmigration import CASES, SCHEMA

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
FILES = sorted(REAL.glob("qemu-*-to-*-migration.json"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _all() -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, m) for p in FILES for m in _load(p)["migrations"]]


def test_every_ordered_pair_is_recorded_with_every_case() -> None:
    recorded = {}
    for path in FILES:
        data = _load(path)
        assert data["schema"] == SCHEMA
        pair = f"{data['src']['release']}>{data['dst']['release']}"
        src, dst = side_label(data["src"]), side_label(data["dst"])
        assert path.name == f"qemu-{src}-to-{dst}-migration.json"
        if (src, dst) != (data["src"]["release"], data["dst"]["release"]):
            # two builds of one release: the pair's own cases, beside the main recording
            assert [m["key"] for m in data["migrations"]] == [c.key for c in CASES[pair]]
            continue
        assert data["src"]["qemu_version"].startswith("QEMU emulator version " +
                                                      data["src"]["release"])
        assert data["dst"]["qemu_version"].startswith("QEMU emulator version " +
                                                      data["dst"]["release"])
        assert data["command"].startswith("powercompat verify migration ")
        recorded[pair] = [m["key"] for m in data["migrations"]]
    assert recorded == {pair: [c.key for c in cases] for pair, cases in CASES.items()}
    assert sum(len(v) for v in recorded.values()) >= 40


@pytest.mark.parametrize(("name", "m"), _all(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_observation_is_conclusive_and_consistent(name: str, m: dict[str, Any]) -> None:
    assert m["inconclusive"] is None
    src, dst = m["src"], m["dst"]
    if m["moved"]:
        assert m["migrate_status"] == "completed"
        assert dst["errors"] == [] and dst["exit_status"] is None
        assert dst["state"] in ("running", "paused")
        after = m["guest_after"]
        assert after["where"] == "destination" and isinstance(after["alive"], bool)
        if m["stage"] == "after-cas" and not after["alive"]:
            # arrived ("running") but silent: no heartbeat past the source's last one
            assert dst["state"] == "running"
            assert not any(b > after["last_beat_on_source"] for b in dst["beats"])
        return
    if not src["started"]:
        # the destination refused to start: the source was not booted
        assert dst["exit_status"] == 1 and dst["first_error"]
        assert m["migrate_status"] is None
        return
    if src["exit_status"] is not None and m["migrate_status"] is None:
        # the source refused to start (1), or its guest died before it beat (0, a panic)
        assert src["first_error"]
        assert src["exit_status"] == 1 or src["first_error"].startswith("OS terminated: ")
        return
    # the destination refused the incoming state and ended (every release does)
    assert dst["exit_status"] == 1
    assert dst["first_error"] == dst["errors"][0]
    if m["stage"] == "after-cas":
        assert m["guest_after"] == {"where": "source", "continued": "running", "alive": True}
