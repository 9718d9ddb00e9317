"""Rolling upgrades of host groups (fleet/upgrade.py): what to pin, the order, the stranded."""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet_helpers import guest, host, write_json

from powercompat.errors import InvalidValueError
from powercompat.fleet.inventory import load_inventory
from powercompat.fleet.upgrade import release_rank, upgrade_plan


def _plan(tmp: Path, hosts: list[dict[str, object]], guests: list[dict[str, object]],
          target: str = "head"):  # type: ignore[no-untyped-def]
    return upgrade_plan(load_inventory([write_json(tmp, hosts, guests)]), target)


def test_oldest_release_first_and_hosts_at_the_target_stay(tmp_path: Path) -> None:
    # guests defined with the oldest release's machine type, as libvirt pins it at define
    up = _plan(tmp_path, [host("new", "power9", qemu="head"), host("b", "power9", qemu="7.2"),
                          host("a", "power9", qemu="5.2")],
               [guest("v", "a", machine="pseries-5.2"), guest("w", "b", machine="pseries-5.2")])
    g = up.groups[0]
    assert (g.upgrade, g.current) == (2, 1)
    order = [h for run in g.runs for h in run.hosts]
    assert order == ["a", "b"]  # 5.2 before 7.2; the head host is not touched
    assert release_rank("5.2") < release_rank("7.2") < release_rank("head")
    assert g.machine == "pseries-5.2"
    assert not g.stranded


def test_versions_rank_as_the_builds_they_name(tmp_path: Path) -> None:
    """Any --qemu spelling ranks: 10.0 stands for Debian's 10.0.13, after 10.0.2 (which
    lacks its f5738aed backport), so a 10.0 host is past a 10.0.2 target and left alone."""
    names = ["2.9", "2.10-pre", "2.10", "2.10.2", "5.2", "7.2", "9.2", "10.0.2", "10.0",
             "11.1", "head", "powercompat"]
    assert sorted(names, key=release_rank) == names
    assert release_rank("1:10.0.13+ds-0+deb13u1") == release_rank("10.0")
    up = _plan(tmp_path, [host("old", "power9", qemu="7.2"), host("b", "power9", qemu="7.2"),
                          host("new", "power9", qemu="10.0")],
               [guest("v", "new", machine="pseries-7.2")], target="10.0.2")
    g = up.groups[0]
    assert (g.upgrade, g.current) == (2, 1)
    assert sorted(h for run in g.runs for h in run.hosts) == ["b", "old"]


def test_plain_pseries_guests_are_stranded_across_releases(tmp_path: Path) -> None:
    """Plain pseries is each release's newest type: the upgraded host refuses the stream."""
    up = _plan(tmp_path, [host("a", "power9", qemu="7.2"), host("b", "power9", qemu="7.2")],
               [guest("v", "a")])
    g = up.groups[0]
    assert g.machine == "pseries-7.2"
    assert [s.guest for s in g.stranded] == ["v"]
    assert ("Machine type received is 'pseries-7.2' and local is 'pseries-11.1'"
            in g.stranded[0].reason)


def test_no_machine_type_in_every_release(tmp_path: Path) -> None:
    # QEMU 11.1 has pseries-5.2 .. 11.1, 2.11 none of them: no live migration between them
    up = _plan(tmp_path, [host("a", "power9", qemu="2.11"), host("new", "power9")],
               [guest("v", "a", machine="pseries-2.11")])
    g = up.groups[0]
    assert (g.machine, g.status) == (None, "none")
    assert [s.guest for s in g.stranded] == ["v"]


def test_a_guest_only_its_own_lone_host_accepts_is_stranded(tmp_path: Path) -> None:
    up = _plan(tmp_path, [host("p9", "power9", qemu="7.2"), host("p10", "power10", qemu="7.2")],
               [guest("raw10", "p10", machine="pseries-7.2"),
                guest("capped", "p10", "power9", machine="pseries-7.2")])
    g = up.groups[0]
    assert [s.guest for s in g.stranded] == ["raw10"]
    assert "Compatibility PVR 0x0f000006 not valid for CPU" in g.stranded[0].reason
    # what keeps every guest mobile over old and upgraded hosts: power9
    assert (g.status, g.mode) == ("mode", "power9")


def test_evacuated_guests_prefer_upgraded_hosts(tmp_path: Path) -> None:
    up = _plan(tmp_path, [host(f"h{i}", "power9", qemu="7.2") for i in range(3)],
               [guest(f"v{i}", f"h{i}", machine="pseries-7.2") for i in range(3)])
    g = up.groups[0]
    first, *rest = g.runs
    # the first host's guest can only go to a sibling not yet upgraded; later ones forward
    assert first.hosts == ("h0",) and [up.classes[c].qemu for c, _ in first.to] == ["7.2"]
    assert all(up.classes[c].qemu == "head" for run in rest for c, _ in run.to)
    assert sum(run.moved for run in g.runs) >= 3 and not g.stranded


def test_unknown_target_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="--upgrade-to"):
        _plan(tmp_path, [host("a", "power9")], [], target="99.9")


def test_example_rolling_upgrade_to_11_1() -> None:
    """examples/fleet/upgrade.json (README): bookworm hosts (7.2) and trixie hosts (10.0)
    to 11.1. The guests defined with pseries-7.2 all move; the plain-pseries one is stranded
    (11.1's pseries is pseries-11.1), so its host goes last."""
    from fleet_helpers import EXAMPLES

    up = upgrade_plan(load_inventory([EXAMPLES / "upgrade.json"]), "11.1")
    g = up.groups[0]
    assert (g.machine, g.status, g.mode) == ("pseries-7.2", "mode", "power9")
    order = [h for run in g.runs for h in run.hosts]
    assert order[0] == "bw-1" and order[-1] == "bw-3" and len(order) == 5
    assert [(s.guest, s.host) for s in g.stranded] == [("legacy", "bw-3")]
    assert "Machine type received is 'pseries-7.2' and local is 'pseries-11.1'" in \
        g.stranded[0].reason
