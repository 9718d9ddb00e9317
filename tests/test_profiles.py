"""Profiles: built from the history, immutable and hashable, found by name or by version."""

from __future__ import annotations

import pytest

from powercompat.catalog.behaviour import SetCompat, switch_docs
from powercompat.catalog.history import RELEASES
from powercompat.errors import UnknownProfileError
from powercompat.machine.options import MachineOptions
from powercompat.profiles import (
    ALL_PROFILES,
    DEFAULT_PROFILE,
    PROFILE_NAMES,
    parse_profile,
    profile_for_version,
)
from powercompat.stress.invariants import FIXED_PROFILES, is_fixed


def test_names_and_order_are_kept() -> None:
    """The names are the release rows, then our policy; the ones users know stay, in order
    (a new release row adds a name among them)."""
    assert (*(r.name for r in RELEASES), "powercompat") == PROFILE_NAMES
    kept = ("2.9", "2.10-pre", "2.10", "2.11", "5.2", "7.2", "10.0", "11.1", "head",
            "powercompat")
    assert tuple(n for n in PROFILE_NAMES if n in kept) == kept


def test_profiles_are_hashable_and_immutable() -> None:
    assert len(set(ALL_PROFILES)) == len(ALL_PROFILES)
    head, ours = parse_profile("head"), parse_profile("powercompat")
    assert {head: 1}[head] == 1
    with pytest.raises(TypeError):
        head.cpu_aliases["power12"] = "power11_v2.0"  # type: ignore[index]
    assert head.cpu_aliases is not ours.cpu_aliases  # no shared mutable table


def test_powercompat_is_head_plus_policy() -> None:
    head, ours = parse_profile("head"), parse_profile("powercompat")
    assert ours.switches.all_or_nothing and ours.switches.probe_before_write
    assert not head.switches.all_or_nothing
    assert (ours.rules, ours.cpu_models, ours.aliases) == (head.rules, head.cpu_models,
                                                           head.aliases)


@pytest.mark.parametrize(("text", "name"), [
    ("7.2", "7.2"), ("7.2.22", "7.2"), ("1:7.2+dfsg-7+deb12u18", "7.2"),
    ("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)", "7.2"),
    ("2.10.1", "2.10"), ("2.9", "2.9"), ("2.11.0", "2.11"),
])
def test_one_resolver_for_versions(text: str, name: str) -> None:
    profile = profile_for_version(text)
    assert profile.name == name
    assert parse_profile(text).name == name
    assert text in profile.resolution or profile.resolution == f"release {name}"


@pytest.mark.parametrize(("text", "name", "icp"), [
    ("10.0", "10.0", True), ("10.0.13", "10.0", True), ("10.0.5", "10.0", True),
    ("10.0.4", "10.0.4", False), ("10.0.2", "10.0.2", False), ("10.0.0", "10.0.0", False),
    ("10.0.50", "10.0.50", False), ("1:10.0.2+ds-2+deb13u1~bpo12+1", "10.0.2", False),
    ("9.1", "9.1", True), ("9.2", "9.2", False), ("10.1", "10.1", False),
    ("10.1.1", "10.1.1", True), ("11.1.2", "11.1", True), ("7.2.22", "7.2", True),
])
def test_a_named_release_is_the_stable_build_it_stands_for(text: str, name: str,
                                                          icp: bool) -> None:
    """10.0 is Debian trixie's 10.0.13, which has f5738aed (10.0.5); an older build of the
    series is its own profile, named as given, never the release's name."""
    profile = parse_profile(text)
    assert (profile.name, profile.switches.icp_vmstate) == (name, icp)


def test_a_profile_name_means_one_behaviour() -> None:
    """Whatever spelling resolved to it, a profile name stands for one set of changes."""
    seen: dict[str, object] = {}
    for major, minors in ((2, range(9, 13)), (3, range(2)), *((m, range(3))
                                                              for m in range(4, 12))):
        for minor in minors:
            for micro in ("", ".0", ".1", ".2", ".4", ".5", ".13", ".50", ".90"):
                try:
                    profile = parse_profile(f"{major}.{minor}{micro}")
                except UnknownProfileError:
                    continue
                changes = profile.catalogue.changes
                assert seen.setdefault(profile.name, changes) == changes, profile.resolution
                if profile.name in PROFILE_NAMES:
                    assert changes == parse_profile(profile.name).catalogue.changes


@pytest.mark.parametrize("text", ["3.2", "9.9", "12.0", "2.8", "power9", "", "7", "7.2.x",
                                  "2.10-pre.1"])
def test_unknown_versions_are_refused(text: str) -> None:
    with pytest.raises(UnknownProfileError) as info:
        parse_profile(text)
    assert str(info.value).startswith(f"unknown QEMU profile '{text}' (valid: 2.9, ")


def test_verify_uses_the_same_resolver() -> None:
    from powercompat.verify.compare import qemu_profile

    line = "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)"
    assert qemu_profile(line) == profile_for_version(line).name == "7.2"


def test_one_default() -> None:
    import inspect

    from powercompat.scenario import migrate_check, negotiate

    assert MachineOptions().qemu == DEFAULT_PROFILE
    for fn in (negotiate, migrate_check):
        assert inspect.signature(fn).parameters["qemu"].default == DEFAULT_PROFILE


def test_fixed_profiles_come_from_the_switches() -> None:
    """A release with every 2017 fix is held to the strict invariants by its switches,
    not by being on a list of names."""
    from dataclasses import replace

    assert {"2.11", "5.2", "7.2", "10.0", "11.1", "head", "powercompat"} <= FIXED_PROFILES
    # every release from 2.11 on carries the three 2017 fixes; none before it does
    assert {p.name for p in ALL_PROFILES
                              if (p.version is None and p.name != "2.10-pre")
                              or (p.version is not None and p.version >= (2, 11))} == FIXED_PROFILES
    head = parse_profile("head")
    renamed = replace(head, name="12.0")
    assert is_fixed(renamed)
    broken = replace(head, switches=head.switches._replace(set_compat=SetCompat.OLD_VALUE))
    assert not is_fixed(broken)


def test_switch_values_and_commits() -> None:
    p = parse_profile("2.10-pre")
    values = p.switch_values()
    assert list(values) == [name for name, _ in switch_docs()]
    assert values["reset"] == "ppc_set_compat_all" and values["set_compat"] == "state-first"
    assert p.switch_commit("reset") == "66d5c492"
    assert p.switch_commit("set_compat") is None  # QEMU's state before any change set it
