"""The live migrations ``diff`` asks (issue #16: "migration between the two releases, forward
and back, refused"): the same questions as the real diff reads from the recorded
cross-release migrations (tests/data/real/qemu-R1-to-R2-migration.json), answered by the
engine's cross-release ``migrate_check``, for any pair of releases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from powercompat.catalog.history import CHANGES
from powercompat.machine.options import machine_types
from powercompat.profiles import parse_profile
from powercompat.upgrade.diff import diff
from powercompat.upgrade.observe import Move, Situation, common_machine
from powercompat.upgrade.real import load_moves, moves_from_json

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
PAIRS = (("5.2", "7.2"), ("7.2", "10.0"), ("10.0", "11.1"))


@pytest.mark.parametrize(("first", "second", "machine"), [
    ("5.2", "7.2", "pseries-5.2"), ("7.2", "10.0", "pseries-7.2"),
    ("10.0", "11.1", "pseries-10.0"), ("10.0", "7.2", "pseries-7.2"),
    ("2.9", "2.11", "pseries-2.9"),
    ("2.11", "11.1", "pseries"),  # 11.1 has no pseries-2.x: nothing both have
])
def test_both_ends_pin_the_newest_type_both_releases_have(first: str, second: str,
                                                          machine: str) -> None:
    assert common_machine(parse_profile(first), parse_profile(second)) == machine


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_engine_moves_every_recorded_migration_alike(first: str, second: str) -> None:
    """Every recorded move of the pair (both ways, moved or refused) is one the engine asks,
    with the same outcome, the destination's first line and the machine type."""
    recorded, _ = load_moves(REAL, first, second)
    assert recorded
    engine = diff(first, second).moves
    for key, move in recorded.items():
        assert engine.get(key) == move, key
    # the recorded diff keeps the same moves (verify diff --record)
    data = json.loads((REAL / f"diff-{first}-to-{second}.json").read_text())
    assert moves_from_json(data["observations"]["moves"]) == recorded


def test_a_guest_that_never_ran_on_the_source_is_no_move() -> None:
    """5.2's power10 is POWER10 DD1: Linux 6.1's init dies there, so the recorded 5.2 -> 7.2
    run never migrated; that is the boot's difference (cas-changed), not a migration's."""
    power10 = Situation("power10", None)
    recorded, _ = load_moves(REAL, "5.2", "7.2")
    assert ("forward", "linux-6.1", power10) not in recorded
    assert ("back", "linux-6.1", power10) not in recorded  # never recorded back
    found = diff("5.2", "7.2")
    assert ("forward", "linux-6.1", power10) not in found.moves
    boot = next(d for d in found.changes
                if (d.kind, d.subject, d.guest) == ("cas-changed", "power10/unset", "linux-6.1"))
    assert (boot.before, boot.after) == ("power10, init SIGILL", "power10, init runs")
    # and a source that refused to start (7.2 has no pseries-10.0) is no move either: the
    # pair's recorded forward power9 move is the pinned pseries-7.2 one
    moves, _ = load_moves(REAL, "7.2", "10.0")
    assert moves["forward", "linux-6.1", Situation("power9", None)] == Move(
        True, None, "pseries-7.2")


def test_back_to_the_older_release_is_refused_with_the_change_behind_it() -> None:
    for first, second, line, words in (
            ("5.2", "7.2", "savevm: unsupported version 3 for 'spapr_iommu' v2", "spapr_iommu"),
            ("7.2", "10.0", "cpu/slb: incoming version_id 2 is too new for local version_id 1",
             "cpu/slb")):
        found = [d for d in diff(first, second).changes if d.kind == "migration-refused"]
        assert found and all(d.direction == "back" for d in found)
        assert {(d.before, d.after, d.severity) for d in found} == {
            (f"refuses: {line}", "sends", "breaks")}
        assert {d.changes[-1].title.split(" ")[0] for d in found} == {words}
        assert {d.guest for d in found} == {"linux-6.1", "linux-6.12", "linux-7.2"}
    # trixie -> sid: every move goes through, both ways
    assert not [d for d in diff("10.0", "11.1").changes if d.kind == "migration-refused"]


def test_any_pair_is_asked_the_same_questions() -> None:
    """Backwards, the refusal is the forward move; across releases with no machine type in
    common, each end runs its own newest and the destination refuses the configuration."""
    back = [d for d in diff("10.0", "7.2").changes if d.kind == "migration-refused"]
    assert back and {d.direction for d in back} == {"forward"}
    assert {d.after for d in back} == {
        "refuses: cpu/slb: incoming version_id 2 is too new for local version_id 1"}
    far = [d for d in diff("2.11", "11.1").changes if d.kind == "migration-refused"]
    assert {d.direction for d in far} == {"forward", "back"}
    assert {d.after for d in far if d.direction == "forward"} == {
        "refuses: load of migration failed: Invalid argument: post load hook failed for: "
        "configuration, version_id: 1, minimum_version: 0: Machine type received is "
        "'pseries-2.11' and local is 'pseries-11.1'"}
    assert {d.before for d in far if d.direction == "back"} == {
        "refuses: Machine type received is 'pseries-11.1' and local is 'pseries-2.11'"}


def test_a_point_of_the_history_has_the_machine_types_of_its_release() -> None:
    """head~N (the attribution's walk) keeps the types of the release its last change shipped
    in, or the newest release before it with a catalogue, so a pinned type stays valid."""
    for count, change in enumerate(CHANGES, start=1):
        types = machine_types(parse_profile(f"head~{len(CHANGES) - count}"))
        newest = max(t.version for t in types.types)
        assert newest <= change.version[:2], change.label
        if change.release in ("5.2", "7.2", "10.0", "11.1"):
            assert types.release == change.release


def test_an_inventory_guest_learns_it_cannot_move_back() -> None:
    from powercompat.upgrade.impact import impact

    found = impact(diff("7.2", "10.0"), [("h", "power9", "7.2")],
                   [("vm", "h", None, "linux-6.1"), ("old", "h", None, "raw-only")])
    [guest] = found.guests  # a guest kernel the diff does not boot has no move findings
    assert guest.name == "vm"
    [move] = [f for f in guest.findings if f.difference.kind == "migration-refused"]
    assert (move.difference.subject, move.difference.direction) == ("power9/unset", "back")
    assert move.advice == ("once on a 10.0 host it cannot move back to a 7.2 host: upgrade "
                           "every host it may move to before moving it")
