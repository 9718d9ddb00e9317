"""Per-guest answers against direct engine calls, group recommendations, and the law that
deciding by classes gives the same answers as asking the engine for every guest and host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from powercompat.decisions.libvirt import LibvirtResult, check_libvirt_compat
from powercompat.fleet.decide import Decider, GuestKind, HostClass, host_class
from powercompat.fleet.errors import InventoryError
from powercompat.fleet.inventory import Guest, Host, Inventory, load_inventory
from powercompat.fleet.plan import MODE_COLUMNS, FleetPlan, plan
from powercompat.machine.options import MachineOptions
from powercompat.scenario import _try_migration, migrate_check, negotiate, parse_guest

P8 = host_class("power8", "hv", "head")
P9 = host_class("power9", "hv", "head")
P10 = host_class("power10", "hv", "head")
P9_PR = host_class("power9", "pr", "head")
P9_72 = host_class("power9", "hv", "7.2")


def kind(max_compat: str | None, profile: str = "linux-6.1", libvirt: bool = False
         ) -> GuestKind:
    return GuestKind(profile, max_compat, libvirt)


# ---------------------------------------------------------------- the engine's own words


def test_power9_guest_cannot_go_to_power8_but_a_power8_one_can() -> None:
    decider = Decider()
    refused = decider.migrate(kind("power9"), P9, P8)
    assert not refused.ok
    assert refused.reason == "destination cannot start: Compatibility PVR 0x0f000005 not " \
                             "valid for CPU"
    booted_raw = decider.migrate(kind(None), P9, P8)  # CAS picks power9 on the POWER9
    assert not booted_raw.ok  # its XIVE controller section finds no device on the POWER8
    assert booted_raw.reason.startswith(
        "load of migration failed: Invalid argument: Unknown section or instance "
        "'xive-source' 0.")
    moved = decider.migrate(kind("power8"), P9, P8)
    assert moved.ok and moved.compat == "power8"


def test_pr_host_refuses_any_maximum() -> None:
    decider = Decider()
    refused = decider.start(kind("power8"), P9_PR)
    assert refused == decider.start(kind("power9"), P9_PR)
    assert refused.reason == "Unable to set CPU compatibility mode in KVM: Invalid argument"
    assert decider.start(kind(None), P9_PR).ok


def test_a_4k_page_host_runs_no_hash_guest(tmp_path: Path) -> None:
    # Debian's 7.2 builds 4K pages: a POWER8 KVM HV host then refuses every guest, with the
    # default cap-hpt-max-page-size (64 KiB) and with 4 KiB (its VRMA maps 128 MiB of the 512
    # MiB RMA); said 64K, the same kernel runs them
    decider = Decider()
    debian = host_class("power8", "hv", "head", "linux-7.2")
    assert decider.start(kind(None), debian).reason == \
        "Can't support 64 kiB guest pages with 4 kiB host pages with this KVM implementation"
    capped = host_class("power8", "hv", "head", "linux-7.2", 0, 4)
    assert decider.start(kind(None), capped).reason == \
        "Unable to create 512MiB RMA (VRMA only allows 128MiB"
    big = host_class("power8", "hv", "head", "linux-7.2", 64)
    assert decider.start(kind(None), big).ok and big.label.endswith("linux-7.2 64K pages")
    inv = tmp_path / "inv.json"
    inv.write_text('{"hosts": [{"name": "h", "cpu": "power8", "group": "g", '
                   '"host_kernel": "linux-7.2", "host_page_size": "64"}], "guests": []}')
    assert load_inventory([inv]).hosts[0].cls == big
    inv.write_text('{"hosts": [{"name": "h", "cpu": "power8", "group": "g", '
                   '"host_page_size": "16"}], "guests": []}')
    with pytest.raises(InventoryError, match="'host_page_size': must be 4 or 64"):
        load_inventory([inv])


def test_mode_unknown_to_the_release_is_qemus_message() -> None:
    verdict = Decider().start(kind("power11"), P9_72)
    assert verdict.reason == 'Invalid compatibility mode "power11"'


def test_libvirt_guest_gets_libvirts_refusal() -> None:
    decider = Decider()
    assert decider.start(kind("power10", libvirt=True), P9).reason == \
        "libvirt: the CPU is incompatible with host CPU"
    assert decider.start(kind("power7+", libvirt=True), P10).reason == \
        "libvirt: internal error: Unknown compatibility mode power7+"
    # QEMU alone refuses power7+ on POWER8 and newer at head (ac0fbbb2)
    assert decider.start(kind("power7+"), P10).reason == \
        "Compatibility PVR 0x0f100003 not valid for CPU"


@pytest.mark.parametrize("cpu", ["power8", "power9", "power10"])
@pytest.mark.parametrize("dst", ["power8", "power9", "power10"])
@pytest.mark.parametrize("max_compat", [None, "power8", "power9", "power10"])
@pytest.mark.parametrize("accel", ["kvm-hv", "kvm-pr"])
def test_verdicts_equal_negotiate_and_migrate_check(cpu: str, dst: str,
                                                    max_compat: str | None,
                                                    accel: str) -> None:
    decider = Decider()
    src_cls = host_class(cpu, accel.removeprefix("kvm-"), "head")
    dst_cls = host_class(dst, accel.removeprefix("kvm-"), "head")
    started = negotiate(cpu, max_compat, accel=accel)
    verdict = decider.start(kind(max_compat), src_cls)
    # one verdict per configuration (issue #11): the fleet's is negotiate's
    assert (verdict.verdict, verdict.ok) == (started.verdict, started.fate.works)
    if not started.ok:
        assert verdict.reason == started.error == started.verdict_reason
    check = migrate_check(cpu, dst, max_compat, accel=accel)
    moved = decider.migrate(kind(max_compat), src_cls, dst_cls)
    if not verdict.ok:  # the guest never booted on the source
        assert not moved.ok and moved.reason == f"source: {verdict.reason}"
        assert moved.verdict == check.verdict == verdict.verdict
        return
    assert moved.ok == check.ok
    assert moved.verdict == check.verdict
    if not check.ok:
        expected = f"{check.error}; {check.cause}" if check.cause else check.error
        if check.side == "destination" and check.rule in ("start-up", "cpu-model"):
            expected = f"destination cannot start: {expected}"  # QEMU's words, the plan's label
        assert moved.reason == expected


def test_a_guest_whose_kernel_panics_does_not_count_as_started() -> None:
    """issue #11: a guest listing only logical PVRs up to power8 on a POWER9 is offered radix
    before CAS, then CAS settles in power8: an early kernel panic. negotiate says so; the
    fleet used to count the guest as started."""
    decider = Decider()
    guest = kind(None, "logical-upto-power8")
    started = decider.start(guest, P9)
    assert (started.verdict.value, started.ok) == ("kernel-hangs", False)
    assert started.reason == negotiate("power9", None, "logical-upto-power8",
                                       accel="kvm-hv").verdict_reason
    assert started.to_json()["verdict"] == "kernel-hangs"
    # capped at power8 from the start, radix is never offered: it works
    assert decider.start(kind("power8", "logical-upto-power8"), P9).ok
    inventory = Inventory(
        (Host("p9", P9, "g"),),
        (Guest("old", guest, "p9", None, ("inline", "guests[0]")),))
    result = plan(inventory)
    assert result.guest_classes[0].can_start == 0
    out: Any = result.to_json()
    assert out["verdicts"][out["rows"][out["guest_classes"][0]["start"]][0]] == {
        "ok": False, "verdict": "kernel-hangs", "reason": started.reason,
        "verdict_reason": started.reason, "compat": "power8"}


def test_sources_stream_is_reused() -> None:
    decider = Decider()
    for dst in (P8, P9, P10):
        decider.migrate(kind("power8"), P9, dst)
    decider.migrate(kind("power8", profile="linux-2025"), P9, P8)
    assert decider.calls["migrate_out"] == 2
    # both profiles leave the same stream: the POWER8 load is decided once
    assert decider.calls["migrate_in"] == 3


# ---------------------------------------------------------------- the example fleet


@pytest.fixture
def example(example_paths: list[Path]) -> FleetPlan:
    return plan(load_inventory(example_paths))


def test_example_group_recommendations(example: FleetPlan) -> None:
    groups = {g.name: g for g in example.groups}
    # refresh mixes QEMU 7.2 and head: the pinned pseries-7.2 gets a guest forward, but
    # nothing brings it back to 7.2 (10.0+ send cpu/slb version 2), whatever the mode
    assert (groups["refresh"].status, groups["refresh"].recommended) == ("none", None)
    assert groups["refresh"].machine == "pseries-7.2" and groups["prod"].machine == "pseries"
    assert (groups["prod"].status, groups["prod"].recommended) == ("mode", "power9")
    assert (groups["lab"].status, groups["lab"].recommended) == ("raw", None)
    assert groups["prod"].qemu == \
        "-machine pseries,max-cpu-compat=power9,kvm-type=hv -accel kvm -cpu host"
    assert groups["prod"].libvirt == "<cpu mode='host-model'><model>power9</model></cpu>"
    assert groups["refresh"].why_not_newer == (
        "raw: cannot migrate from POWER8 power8_v2.0 kvm-hv qemu head to POWER8 power8_v2.0 "
        "kvm-hv qemu 7.2: cpu/slb: incoming version_id 2 is too new for local version_id 1; "
        "error while loading state for instance 0x0 of device 'cpu'")
    changes = {g.name: {n: (c.to, c.machine) for c in g.changes for n in c.guests}
               for g in example.groups}
    pin = (None, "pseries-7.2")
    assert changes == {"refresh": {"db1": pin, "web1": pin, "web2": pin, "legacy1": pin,
                                   "mail": pin},
                       "prod": {"app1": ("power9", None), "erp": ("power9", None)},
                       "lab": {"batch1": (None, None)}}
    heat = dict(zip(MODE_COLUMNS, groups["refresh"].heat, strict=True))
    assert heat["power8"] == 1.0 and heat["power9"] == 0.5 and heat[None] == 1.0


def test_recommendation_really_keeps_the_group_mobile(example: FleetPlan) -> None:
    """Brute force: with the recommendation, every guest at home in each group starts on
    every host of the group and migrates between every pair (machine runs, no cache)."""
    inv = example.inventory
    hosts = {h.name: h for h in inv.hosts}
    for group in example.groups:
        if group.status != "mode":
            continue
        members = [h for h in inv.hosts if h.group == group.name]
        at_home = [g for g in inv.guests
                   if (g.group or hosts[g.host].group) == group.name]
        for g in at_home:
            for src in members:
                assert brute_start(g.kind.profile, group.recommended, src.cls,
                                   g.kind.libvirt)[0]
                for dst in members:
                    if dst is not src:
                        assert brute_migrate(g.kind.profile, group.recommended, src.cls,
                                             dst.cls, g.kind.libvirt)[0]


def test_guest_detail_lists_every_host_in_scope(example: FleetPlan) -> None:
    detail = example.guest_detail("web1")
    assert [a.host.name for a in detail.hosts] == ["p8-a", "p8-b", "p9-a", "p9-b"]
    by_host = {a.host.name: a for a in detail.hosts}
    assert by_host["p9-a"].migrate is None  # its current host
    assert by_host["p9-b"].migrate is not None and by_host["p9-b"].migrate.ok
    refused = by_host["p8-b"].migrate  # raw POWER9 to POWER8, both head: XIVE
    assert refused is not None and refused.reason.startswith(
        "load of migration failed: Invalid argument: Unknown section or instance "
        "'xive-source' 0.")
    refused = by_host["p8-a"].migrate  # plain pseries is 11.1's newest at head, 7.2's there
    assert refused is not None and refused.reason == (
        "Machine type received is 'pseries-11.1' and local is 'pseries-7.2'; load of "
        "migration failed: Invalid argument")
    assert len(example.guest_detail("legacy1").hosts) == 8  # no group: any host


def test_plan_json_is_consistent(example: FleetPlan) -> None:
    data = example.to_json()
    summary = data["summary"]
    assert isinstance(summary, dict)
    assert (summary["hosts"], summary["guests"], summary["groups"]) == (8, 10, 3)
    guests = data["guests"]
    assert isinstance(guests, list) and len(guests) == 10
    classes = data["guest_classes"]
    assert isinstance(classes, list)
    assert sum(c["guests"] for c in classes) == 10


# ---------------------------------------------------------------- grouped == brute force


#: libvirt 9.0's ppc64 CPU map (/usr/share/libvirt/cpu_map/ppc64_*.xml): no POWER11, so a
#: POWER11 host has no host CPU model and host-model is not supported there
CPU_MAP_HOSTS = ("POWER6", "POWER7", "POWER8", "POWER9", "POWER10")
HOST_MODEL_REFUSED = ("libvirt: unsupported configuration: CPU mode 'host-model' for ppc64le "
                      "kvm domain on ppc64le host is not supported by hypervisor")


def brute_libvirt(cls: HostClass, max_compat: str | None) -> str | None:
    """A host-model domain with ``<model>max_compat</model>`` on a KVM host, by hand."""
    if cls.family not in CPU_MAP_HOSTS:
        return HOST_MODEL_REFUSED
    lv = check_libvirt_compat(cls.family, max_compat)
    return None if lv.result is LibvirtResult.IDENTICAL else f"libvirt: {lv.message}"


def brute_start(profile: str, max_compat: str | None, cls: HostClass, libvirt: bool
                ) -> tuple[bool, str]:
    if libvirt:
        refused = brute_libvirt(cls, max_compat)
        if refused is not None:
            return False, refused
    try:
        n = negotiate(cls.cpu, max_compat, profile, accel=cls.accel, qemu=cls.qemu)
    except Exception as err:
        return False, str(err)
    if not n.fate.works:
        return False, n.verdict_reason
    return True, ""


def brute_migrate(profile: str, max_compat: str | None, src: HostClass, dst: HostClass,
                  libvirt: bool) -> tuple[bool, str]:
    ok, why = brute_start(profile, max_compat, src, libvirt)
    if not ok:
        return False, f"source: {why}"
    if libvirt:
        refused = brute_libvirt(dst, max_compat)
        if refused is not None:
            return False, f"destination cannot start: {refused}"
    options = MachineOptions(cpu=src.cpu, max_cpu_compat=max_compat, accel=src.accel,
                             qemu=src.qemu)
    dst_options = MachineOptions(cpu=dst.cpu, max_cpu_compat=max_compat, accel=dst.accel,
                                 qemu=dst.qemu, incoming=True)
    try:
        error, cause, _ = _try_migration(options, dst_options, parse_guest(profile).cas_buffer)
    except Exception as err:  # the destination's options are refused before it starts
        return False, f"destination cannot start: {err}"
    if error is None:
        return True, ""
    return False, f"{error}; {cause}" if cause else error


HOST_CHOICES = [("power8", "hv", "head"), ("power8", "hv", "7.2"), ("power9", "hv", "head"),
                ("power9_v2.0", "hv", "head"), ("power9", "pr", "head"),
                ("power10", "hv", "7.2"), ("power10", "hv", "head"), ("power11", "hv", "head")]
MAX_CHOICES = [None, "power7+", "power8", "power9", "power10", "power11"]


@st.composite
def inventories(draw: st.DrawFn) -> Inventory:
    groups = ["a", "b"]
    n_hosts = draw(st.integers(1, 6))
    hosts = []
    for i in range(n_hosts):
        cpu, kvm, qemu = draw(st.sampled_from(HOST_CHOICES))
        hosts.append(Host(f"h{i}", host_class(cpu, kvm, qemu), draw(st.sampled_from(groups))))
    present = sorted({h.group for h in hosts})
    guests = []
    for i in range(draw(st.integers(0, 6))):
        on = draw(st.sampled_from(hosts))
        g_kind = GuestKind(draw(st.sampled_from(["linux-6.1", "linux-2025"])),
                           draw(st.sampled_from(MAX_CHOICES)), draw(st.booleans()))
        group = draw(st.sampled_from([None, *present]))
        guests.append(Guest(f"v{i}", g_kind, on.name, group, ("t", f"guests[{i}]")))
    return Inventory(tuple(hosts), tuple(guests))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inventories())
def test_grouped_plan_equals_brute_force(inv: Inventory) -> None:
    result = plan(inv)
    hosts = {h.name: h for h in inv.hosts}
    for guest in inv.guests:
        detail = result.guest_detail(guest.name)
        expected = [h for h in inv.hosts if guest.group is None or h.group == guest.group]
        assert [a.host for a in detail.hosts] == expected
        src = hosts[guest.host].cls
        k = guest.kind
        for answer in detail.hosts:
            ok, why = brute_start(k.profile, k.max_cpu_compat, answer.host.cls, k.libvirt)
            assert answer.start.ok == ok
            if not ok:
                assert answer.start.reason == why
            if answer.host.name == guest.host:
                assert answer.migrate is None
                continue
            ok, why = brute_migrate(k.profile, k.max_cpu_compat, src, answer.host.cls,
                                    k.libvirt)
            assert answer.migrate is not None
            assert answer.migrate.ok == ok, (guest, answer.host, why, answer.migrate)
            if not ok:
                assert answer.migrate.reason == why
    # class counts add up to the fleet
    assert sum(len(c.guests) for c in result.guest_classes) == len(inv.guests)
    for c in result.guest_classes:
        members = [inv.guests[i] for i in c.guests]
        assert len({(g.kind, result.host_class_of[g.host], g.group) for g in members}) == 1
        scope = [h for h in inv.hosts if c.scope is None or h.group == c.scope]
        assert c.hosts == len(scope)
        assert c.migration_targets == sum(1 for h in scope if h.name != members[0].host)
        assert c.can_migrate == sum(
            1 for a in result.guest_detail(members[0].name).hosts
            if a.migrate is not None and a.migrate.ok)


def test_a_2_9_host_takes_the_maximum_as_a_cpu_property() -> None:
    """QEMU 2.9 has no max-cpu-compat: the fleet starts its guests with -cpu X,compat=Y (as
    libvirt spelled a host-model <model> then) instead of aborting the whole plan; 2.9's
    compat property knows only power6..power8."""
    p8_29 = host_class("power8", "hv", "2.9")
    assert p8_29.options("power7").cpu == "power8_v2.0,compat=power7"
    assert p8_29.options("power7").max_cpu_compat is None
    decider = Decider()
    assert decider.start(kind("power7"), p8_29).compat == "power7"
    refused = decider.start(kind("power9"), p8_29)
    assert not refused.ok and refused.reason == 'Invalid compatibility mode "power9"'
    assert P8.options("power7").cpu == P8.cpu  # releases with the machine option keep it
