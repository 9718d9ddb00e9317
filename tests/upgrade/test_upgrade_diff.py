"""The engine's upgrade diff: the contract, the facts of the Debian pairs as the sources and
runs state them (../notes/qemu-releases.md, summary and section 11), and the history rows
found behind each entry."""

from __future__ import annotations

import pytest

from powercompat.catalog.history import CHANGES
from powercompat.errors import UnknownProfileError
from powercompat.profiles import parse_profile, profile_before_head
from powercompat.upgrade.compare import Difference
from powercompat.upgrade.diff import diff


def _find(found: tuple[Difference, ...], kind: str, subject: str,
          guest: str | None = None) -> Difference:
    for d in found:
        if (d.kind, d.subject, d.guest) == (kind, subject, guest):
            return d
    raise AssertionError(f"no {kind} {subject} in {[(d.kind, d.subject) for d in found]}")


def test_json_contract() -> None:
    data = diff("7.2", "10.0").to_json()
    assert (data["from"], data["to"]) == ("7.2", "10.0")
    changes = data["changes"]
    assert isinstance(changes, list) and changes
    for entry in changes:
        assert {"kind", "subject", "from", "to", "detail", "severity", "evidence",
                "commit", "changes"} <= set(entry)
        assert all(isinstance(entry[k], str) for k in ("kind", "subject", "from", "to",
                                                        "detail"))


def test_bookworm_to_trixie_facts() -> None:
    found = diff("7.2", "10.0").changes
    p7 = _find(found, "startup-changed", "power9_v2.0/power7+")
    assert (p7.before, p7.after, p7.severity) == (
        "starts", "refused: Compatibility PVR 0x0f100003 not valid for CPU", "breaks")
    assert p7.commit == "ac0fbbb2"
    for name in ("power9_v1.0", "power10_v1.0"):
        gone = _find(found, "model-removed", name)
        assert gone.after == f"refused: unable to find CPU model '{name}'"
        assert gone.commit == "8f054d9e"
    alias = _find(found, "alias-retargeted", "power9")
    assert (alias.before, alias.after, alias.commit) == (
        "power9_v2.0 (0x004e1200)", "power9_v2.2 (0x004e1202)", "277ee172")
    pvr = _find(found, "pvr-changed", "power10_v2.0")
    assert (pvr.before, pvr.after, pvr.commit) == ("0x00800200", "0x00801200", "7f65ebb0")
    assert _find(found, "alias-removed", "power5gs").after == \
        "refused: unable to find CPU model 'power5gs'"
    smt = _find(found, "startup-changed", "power9_v2.0/unset/threads=2")
    assert (smt.before, smt.after, smt.severity) == (
        "refused: TCG cannot support more than 1 thread/core on a pseries machine", "starts",
        "fixes")
    assert _find(found, "reset-changed", "reset").commit == "9c7b7f01"


def test_trixie_to_sid_and_bullseye_to_bookworm_facts() -> None:
    sid = diff("10.0", "11.1").changes
    assert {(d.kind, d.subject) for d in sid if d.binary} == {
        ("model-removed", "power8e_v2.1"), ("model-removed", "power8nvl_v1.0"),
        ("alias-removed", "power8e"), ("alias-removed", "power8nvl")}
    assert {d.commit for d in sid if d.binary} == {"f73b3168"}
    bookworm = diff("5.2", "7.2").changes
    gone = _find(bookworm, "startup-changed", "power9_v2.0,compat=power8")
    assert gone.before == "starts" and gone.after.startswith(
        "refused: can't apply global power9_v2.0-powerpc64-cpu.compat=power8")
    assert gone.commit == "f518be3a"
    assert _find(bookworm, "alias-retargeted", "power10").after == "power10_v2.0 (0x00800200)"


def test_a_release_against_itself_is_empty() -> None:
    assert diff("10.0", "1:10.0.13+ds-0+deb13u1").changes == ()


def test_backwards_swaps_the_sides() -> None:
    forward = {d.key: d for d in diff("7.2", "10.0").changes if d.kind == "startup-changed"}
    back = {d.key: d for d in diff("10.0", "7.2").changes if d.kind == "startup-changed"}
    assert forward.keys() == back.keys()
    for key, d in forward.items():
        assert (back[key].before, back[key].after) == (d.after, d.before)
        assert back[key].commit == d.commit


def test_every_entry_of_a_release_pair_has_its_change() -> None:
    """Releases are points of the history: the walk finds a change behind every entry."""
    for a, b in (("2.9", "2.11"), ("5.2", "7.2"), ("7.2", "10.0"), ("10.0", "11.1")):
        for d in diff(a, b).changes:
            assert d.changes, (a, b, d.kind, d.subject)
            assert d.source_rule.startswith("history walk")


def test_a_stable_release_with_backports_names_every_change_between() -> None:
    found = diff("2.10.2", "2.11").changes
    assert found
    assert all(d.source_rule.startswith("every change between") for d in found)


def test_head_minus_n_is_a_point_of_the_history() -> None:
    assert profile_before_head(0).catalogue.changes == CHANGES
    assert parse_profile("head~3").catalogue.changes == CHANGES[:-3]
    with pytest.raises(UnknownProfileError):
        parse_profile(f"head~{len(CHANGES)}")


def test_unknown_release_is_a_typed_error() -> None:
    with pytest.raises(UnknownProfileError, match="unknown QEMU profile '7.3'"):
        diff("7.3", "10.0")


def test_the_policy_profile_differs_by_policy_not_by_history() -> None:
    found = diff("head", "powercompat").changes
    assert {(d.kind, d.subject) for d in found} == {
        ("behaviour-changed", "all_or_nothing"), ("behaviour-changed", "probe_before_write")}
    assert all(not d.changes and "policy" in d.source_rule for d in found)
