"""The recorded real diffs of the Debian pairs (tests/data/real/diff-R1-to-R2.json, written by
``powercompat verify diff --from R1 --to R2 --record``) and the engine held to them: every
real difference is in ``diff`` with the same kind, subject and values, and every ``diff``
entry about binary behaviour that the recording can see (both releases answered that
question) is a real difference."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from powercompat.upgrade.compare import Difference, compare
from powercompat.upgrade.diff import UpgradeDiff, diff
from powercompat.upgrade.observe import Situation
from powercompat.upgrade.real import (
    SCHEMA,
    covered,
    hold,
    moves_from_json,
    observations_from_json,
    side_label,
)

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
PAIRS = (("5.2", "7.2", "bullseye", "bookworm"), ("7.2", "10.0", "bookworm", "trixie"),
         ("10.0", "11.1", "trixie", "sid"),
         # two builds of one release: bookworm-backports' 10.0.2 lacks trixie's f5738aed
         ("10.0.2", "10.0", "bookworm-backports", "trixie"))
FILES = [REAL / f"diff-{a}-to-{b}.json" for a, b, _, _ in PAIRS]

#: real differences the engine does not model yet: each a strict xfail, removed the day the
#: engine learns it (the last one, 5.2's POWER10 DD1 SIGILL, went with the engine's scv flag)
KNOWN_GAPS: dict[str, str] = {}


@cache
def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@cache
def _engine(first: str, second: str) -> UpgradeDiff:
    return diff(first, second)


def _entry_id(path: Path, entry: dict[str, Any]) -> str:
    return (f"{path.stem}:{entry['kind']}:{entry['subject']}:{entry.get('guest') or ''}:"
            f"{entry.get('direction') or ''}")


def _entries() -> list[Any]:
    out = []
    for path in FILES:
        for entry in _load(path)["changes"]:
            eid = _entry_id(path, entry)
            gap = KNOWN_GAPS.get(eid)
            marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
            out.append(pytest.param(path, entry, id=eid, marks=marks))
    return out


@pytest.mark.parametrize(("first", "second", "suite_a", "suite_b"), PAIRS)
def test_each_debian_pair_is_recorded(first: str, second: str, suite_a: str,
                                      suite_b: str) -> None:
    data = _load(REAL / f"diff-{first}-to-{second}.json")
    assert data["schema"] == SCHEMA
    assert (side_label(data["from"]), data["from"]["suite"]) == (first, suite_a)
    assert (side_label(data["to"]), data["to"]["suite"]) == (second, suite_b)
    for side, label in (("from", first), ("to", second)):
        version = data[side]["qemu_version"].removeprefix("QEMU emulator version ")
        assert version.startswith(f"{label}.") or version.startswith(f"{label} ")
    command = data["command"].removeprefix("powercompat verify diff ")
    assert command.startswith((f"--from {first} --to {second}",
                               f"--from {suite_a} --to {suite_b}"))
    assert data["changes"], "a Debian upgrade with no difference at all"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_recording_is_what_the_comparison_makes_of_its_answers(path: Path) -> None:
    """The entries follow from the recorded answers (a change of the comparison shows here)."""
    data = _load(path)
    obs = data["observations"]
    before, after = observations_from_json(obs["from"]), observations_from_json(obs["to"])
    again = compare(before, after, moves_from_json(obs["moves"]))
    plain = [{k: v for k, v in d.to_json().items()
              if k not in ("commit", "changes", "source_rule", "evidence")} for d in again]
    assert plain == data["changes"]


@pytest.mark.parametrize(("path", "entry"), _entries())
def test_engine_reports_each_real_difference(path: Path, entry: dict[str, Any]) -> None:
    data = _load(path)
    engine = _engine(side_label(data["from"]), side_label(data["to"]))
    key = (entry["kind"], entry["subject"], entry.get("guest") or "",
           entry.get("direction") or "")
    mine = {d.key: d for d in engine.changes}.get(key)
    assert mine is not None, f"the engine does not report {key}"
    assert (mine.before, mine.after) == (entry["from"], entry["to"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_engine_invents_nothing_the_recording_can_see(path: Path) -> None:
    data = _load(path)
    obs = data["observations"]
    before, after = observations_from_json(obs["from"]), observations_from_json(obs["to"])
    moves = moves_from_json(obs["moves"])
    engine = _engine(side_label(data["from"]), side_label(data["to"]))
    real = compare(before, after, moves)
    invented = hold(real, engine.changes, before, after, moves).invented
    assert [(d.kind, d.subject, d.guest) for d in invented] == []
    # the check can fail: the recording sees most of the engine's binary entries
    seen = [d for d in engine.changes if covered(d, before, after, moves)]
    assert len(seen) >= len(real) - len(KNOWN_GAPS)


def test_hold_finds_a_planted_disagreement() -> None:
    data = _load(FILES[1])
    obs = data["observations"]
    before, after = observations_from_json(obs["from"]), observations_from_json(obs["to"])
    moves = moves_from_json(obs["moves"])
    real = compare(before, after, moves)
    engine = list(_engine("7.2", "10.0").changes)
    real_keys = {r.key for r in real}
    for dropped in (next(d for d in engine if d.binary and d.key in real_keys),
                    next(d for d in engine if d.kind == "migration-refused"
                         and d.key in real_keys)):
        result = hold(real, [d for d in engine if d is not dropped], before, after, moves)
        assert [r.key for r, _ in result.missed] == [dropped.key]
    extra = Difference("startup-changed", "power8_v2.0/power8", "starts", "refused: x", "",
                       "breaks", situation=Situation("power8_v2.0", "power8"))
    assert extra in hold(real, [*engine, extra], before, after, moves).invented
    # a refusal of a move the recording shows going through (-cpu power10 forward on
    # pseries-7.2) is seen under the model's name, which both releases give the alias
    moved = Difference("migration-refused", "power10_v2.0/unset", "sends", "refuses: x", "",
                       "breaks", guest="linux-6.1", direction="forward",
                       situation=Situation("power10_v2.0", None))
    assert ("forward", "linux-6.1", Situation("power10", None)) in moves
    assert moved in hold(real, [*engine, moved], before, after, moves).invented
    other = replace(moved, guest="linux-7.2")  # a move the recording does not show
    assert other not in hold(real, [*engine, other], before, after, moves).invented
