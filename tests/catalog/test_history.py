"""QEMU's history as data: the change list builds every release's catalogue and switches."""

from __future__ import annotations

from dataclasses import fields

import pytest

from powercompat.catalog.behaviour import (
    HotplugRule,
    ResetPath,
    SetCompat,
    Switches,
    switch_docs,
)
from powercompat.catalog.cpus import CpuModel
from powercompat.catalog.history import (
    CHANGES,
    HEAD,
    RELEASES,
    AddMode,
    Alias,
    Change,
    Flip,
    HistoryError,
    Release,
    build,
    changes_by,
    parse_version,
)
from powercompat.catalog.modes import CompatMode


def test_rows_carry_no_era_fields() -> None:
    """A row is one point's value: no pcr_2017 / max_vthreads_2017 / pvr_before_2023 /
    added / removed, which every new release would have multiplied."""
    assert {f.name for f in fields(CompatMode)} == {
        "name", "pvr", "pcr", "pcr_level", "max_vthreads", "isa"}
    assert {f.name for f in fields(CpuModel)} == {"name", "pvr", "family", "description"}


def test_changes_are_in_release_order_with_unique_commits() -> None:
    versions = [c.version for c in CHANGES]
    assert versions == sorted(versions)  # so every release is a prefix of the list
    commits = [c.commit for c in CHANGES if c.commit]
    assert len(commits) == len(set(commits))
    names = set(Switches._fields)
    assert all(e.switch in names for c in CHANGES for e in c.effects if isinstance(e, Flip))


@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r.name)
def test_each_release_is_a_prefix(release: Release) -> None:
    applied = release.changes()
    assert applied == CHANGES[:len(applied)]


# qemu.md 1.2 / 1.3 and 6, 8: what each point of the history has
@pytest.mark.parametrize(("version", "newest", "p9_threads", "p6_pcr", "set_compat", "reset",
                          "hotplug"), [
    ((2, 9), "power9", 4, 0x600000000000001E, SetCompat.STATE_FIRST, ResetPath.CPU_INIT,
     HotplugRule.MAX),
    ((2, 10), "power9", 4, 0x600000000000001E, SetCompat.OLD_VALUE, ResetPath.SET_COMPAT_ALL,
     HotplugRule.NONE),
    ((2, 11), "power9", 4, 0x600000000000001E, SetCompat.NEW_VALUE, ResetPath.SET_COMPAT_ALL,
     HotplugRule.NONE),
    ((7, 2), "power10", 8, 0x600000000000003E, SetCompat.NEW_VALUE, ResetPath.SET_COMPAT_ALL,
     HotplugRule.BOOT_CPU),
    ((11, 1), "power11", 8, 0x600000000000003E, SetCompat.NEW_VALUE,
     ResetPath.INIT_COMPAT_ALL, HotplugRule.BOOT_CPU),
])
def test_points_of_the_history(version: tuple[int, int], newest: str, p9_threads: int,
                               p6_pcr: int, set_compat: SetCompat, reset: ResetPath,
                               hotplug: HotplugRule) -> None:
    cat = build(changes_by(version))
    assert cat.modes[-1].name == newest
    assert next(m for m in cat.modes if m.name == "power9").max_vthreads == p9_threads
    assert cat.modes[0].pcr == p6_pcr
    assert (cat.switches.set_compat, cat.switches.reset, cat.switches.hotplug) == (
        set_compat, reset, hotplug)


def test_models_aliases_and_families_follow_the_history() -> None:
    q72, head = build(changes_by((7, 2))), HEAD
    names72 = {m.name for m in q72.models}
    assert {"power8e_v2.1", "power8nvl_v1.0", "power10_v2.0"} <= names72
    assert "power11_v2.0" not in names72 and "power9_v2.2" not in names72
    assert dict(q72.aliases)["power9"] == "power9_v2.0"
    assert next(m for m in q72.models if m.name == "power10_v2.0").pvr == 0x00800200
    assert dict(head.aliases)["power9"] == "power9_v2.2"
    assert next(m for m in head.models if m.name == "power10_v2.0").pvr == 0x00801200
    assert "power8e" not in dict(head.aliases)
    p8_72 = next(f for f in q72.families if f.name == "POWER8")
    p8_head = next(f for f in head.families if f.name == "POWER8")
    assert len(p8_72.bases) == 3 and len(p8_head.bases) == 1  # f73b3168
    # every model points at its release's own family row
    assert next(m for m in head.models if m.name == "power8_v2.0").family is p8_head


def test_adding_a_release_is_one_row() -> None:
    """A release between the named ones needs no code: its version is the whole row."""
    r81 = Release("8.1", "QEMU 8.1", "example", version="8.1")
    cat = build(r81.changes())
    assert cat.modes[-1].name == "power10"
    assert dict(cat.aliases)["power9"] == "power9_v2.2"  # 277ee172 shipped in 8.1
    assert not cat.switches.logical_pvr_check  # ac0fbbb2 came in 9.2


def test_switch_sources_name_the_commit() -> None:
    cat = build(changes_by((2, 10)))
    source = cat.switch_source("set_compat")
    assert source is not None and source.commit == "5dfaa532"
    assert cat.switch_source("logical_pvr_check") is None  # the default: before ac0fbbb2
    added = HEAD.mode_source("power9")
    assert added is not None and added.commit == "9b44c836"


def _change(*effects: object) -> Change:
    return Change("deadbeef", "2030-01-01", "99.0", "test", effects)  # type: ignore[arg-type]


@pytest.mark.parametrize(("effects", "message"), [
    ((Flip("no_such_switch", True),), "no such switch"),
    ((AddMode(HEAD.modes[0]), AddMode(HEAD.modes[0])), "mode added twice"),
    ((Alias("power12", "power12_v1.0"),), "aliases without a model: power12"),
    ((Alias("power12", None),), "no such alias"),
])
def test_a_bad_change_is_caught_when_built(effects: tuple[object, ...], message: str) -> None:
    with pytest.raises(HistoryError, match=message):
        build((_change(*effects),))


def test_switch_docs_come_from_the_fields() -> None:
    docs = switch_docs()
    assert [name for name, _ in docs] == list(Switches._fields)
    assert all(text for _, text in docs)


def test_parse_version() -> None:
    assert parse_version("2.10") == (2, 10) > parse_version("2.9")
