"""``-cpu host`` and the KVM HV CPU rule (issue #11 items 2 and 3).

Sources: QEMU target/ppc/kvm.c kvm_ppc_get_host_cpu_class(), kvmppc_host_cpu_class_init()
(``pcc->pvr = mfpvr()``), kvm_ppc_register_host_cpu_type() (the host family's alias), and
kvm_arch_init_vcpu() (the "Register sync failed" text); accel/kvm/kvm-all.c kvm_init_vcpu()
(d0a92b35's text, 5.2 on); Linux book3s_hv.c kvm_arch_vcpu_ioctl_set_sregs_hv() (only the
host's PVR). The texts are the ones tests/data/real/kvm-hv-*.json recorded on QEMU 7.2,
10.0 and 11.1 (branch kvm) and /work/notes/qemu-releases.md section 4.
"""

from __future__ import annotations

import pytest

from powercompat.decisions.verdict import Verdict
from powercompat.errors import InvalidValueError, UnknownCpuError
from powercompat.machine.options import MachineOptions, parse_options
from powercompat.scenario import migrate_check, negotiate, parse_events, simulate

SYNC = 'Register sync failed... If you\'re using kvm-hv.ko, only "-cpu host" is possible'
INIT_5_2 = "kvm_init_vcpu: kvm_arch_init_vcpu failed (0): Invalid argument"
INIT_2_9 = "kvm_init_vcpu failed: Invalid argument"


_RELEASES = (("2.9", INIT_2_9), ("2.10", INIT_2_9), ("2.11", INIT_2_9), ("7.2", INIT_5_2),
             ("head", INIT_5_2))


@pytest.mark.parametrize(("cpu", "host", "qemu", "second"), [
    *((("POWER8", "POWER9", q, t) for q, t in _RELEASES)),
    *((("POWER10", "POWER9", q, t) for q, t in _RELEASES[3:])),  # POWER10: 5.0 on
    ("power9_v2.2", "004e1203", "head", INIT_5_2),  # a fixed model, not the host's PVR
])
def test_kvm_hv_refuses_a_cpu_that_is_not_the_host_s(cpu: str, host: str, qemu: str,
                                                      second: str) -> None:
    """issue #11: POWER8 on a POWER9 KVM HV host 'started in power8, enforced'."""
    n = negotiate(cpu, accel="kvm-hv", host_cpu=host, qemu=qemu)
    assert not n.started
    assert n.error == SYNC  # QEMU's first line, as the KVM recordings compare it
    assert (n.verdict, n.verdict_reason) == (Verdict.QEMU_REFUSES, f"{SYNC}; {second}")
    assert n.one_reg_total == 0  # no ARCH_COMPAT call: QEMU exits at vCPU creation
    assert any(r.startswith("realize: KVM_SET_SREGS(pvr ") for r in n.reasons)


def test_kvm_pr_takes_any_pvr() -> None:
    """PR emulates the PVR: a POWER8 guest starts on a POWER9 PR host."""
    n = negotiate("POWER8", accel="kvm-pr", host_cpu="POWER9")
    assert n.started and n.raw_pvr == 0x004D0200


@pytest.mark.parametrize(("qemu", "parent"), [
    ("head", "power9_v2.2"),  # 10.0+: DD2.2/2.3 match power9_v2.2
    ("7.2", "power9_v2.0"),  # 7.2: the DD major only, any DD2.x is power9_v2.0
])
def test_host_pvr_is_matched_by_mask_and_kept(qemu: str, parent: str) -> None:
    """--host-cpu 004e1203 (a POWER9 DD2.3, no model of its own): -cpu host is the class
    pvr_match finds, with the real PVR; the guest sees 0x004e1203."""
    config = parse_options(MachineOptions(cpu="host", accel="kvm-hv", host_cpu="004e1203",
                                          qemu=qemu))
    assert (config.model.name, config.model.pvr, config.model.family.name) == (
        "host", 0x004E1203, "POWER9")
    assert config.host.name == parent
    raw = negotiate("host", accel="kvm-hv", host_cpu="004e1203", guest="raw-only", qemu=qemu)
    assert (raw.verdict, raw.raw_pvr, raw.compat_pvr, raw.cpu_version) == (
        Verdict.WORKS, 0x004E1203, 0, 0x004E1203)
    assert raw.guest_revision == "2.3 (pvr 004e 1203)"
    assert raw.guest_cpu_line == "POWER9 (raw), altivec supported"


@pytest.mark.parametrize(("qemu", "host", "cpu", "pvr", "fixed"), [
    # 2.9: the alias names the class matching the host's PVR, with that class's PVR (2.9's
    # only POWER9 class is power9_v1.0, PVR 0x004e0000; the host here has that PVR)
    ("2.9", "004e0000", "power9_v1.0", 0x004E0000, "power8_v2.0"),
    ("2.10", "004e1200", "host", 0x004E1200, "power8_v2.0"),  # 92e926e1: the host type
    ("head", "004e1203", "host", 0x004E1203, "power9_v2.2"),
])
def test_the_host_family_alias_is_the_host(qemu: str, host: str, cpu: str, pvr: int,
                                           fixed: str) -> None:
    """power9 on a POWER9 host is -cpu host (since 92e926e1, 2.10); a model name is a
    fixed model whose PVR must be the host's exactly."""
    config = parse_options(MachineOptions(cpu="power9", accel="kvm-hv", host_cpu=host,
                                          qemu=qemu))
    assert (config.model.name, config.model.pvr) == (cpu, pvr)
    refused = negotiate(fixed, accel="kvm-hv", host_cpu=host, qemu=qemu)
    assert (refused.verdict, refused.error) == (Verdict.QEMU_REFUSES, SYNC)


def test_2_9s_alias_is_refused_on_a_host_of_another_revision() -> None:
    """2.9's -cpu POWER9 is the matching class with the class's own PVR: on a host whose PVR
    differs (the bug 92e926e1 fixed: 'Register sync failed...' with -cpu POWER9 on a DD1
    host), KVM HV refuses it; 2.10 runs the host type."""
    old = negotiate("power9", accel="kvm-hv", host_cpu="004e1201", qemu="2.9")
    new = negotiate("power9", accel="kvm-hv", host_cpu="004e1201", qemu="2.10")
    assert (old.verdict, old.verdict_reason) == (Verdict.QEMU_REFUSES, f"{SYNC}; {INIT_2_9}")
    assert new.started and new.raw_pvr == 0x004E1201


def test_host_under_tcg_is_qemus_unknown_model() -> None:
    """QEMU registers the host type only under KVM: TCG says what real QEMU says."""
    with pytest.raises(UnknownCpuError) as info:
        negotiate("host")
    assert str(info.value) == "unable to find CPU model 'host'"


def test_host_needs_the_host() -> None:
    with pytest.raises(InvalidValueError, match="--host-cpu"):
        negotiate("host", accel="kvm-hv")


def test_a_host_qemu_has_no_class_for() -> None:
    """QEMU 7.2 on a Power11: no class for 0x00821200, so no host type; a named model starts
    and KVM refuses its PVR; max-cpu-compat is parsed before -cpu (kvm-kernel.md 3-5)."""
    with pytest.raises(UnknownCpuError) as info:
        negotiate("host", accel="kvm-hv", host_cpu="00821200", qemu="7.2")
    assert str(info.value) == "unable to find CPU model 'host'"
    named = negotiate("POWER9", accel="kvm-hv", host_cpu="00821200", qemu="7.2")
    assert (named.error, named.verdict_reason) == (SYNC, f"{SYNC}; {INIT_5_2}")
    with pytest.raises(Exception, match='Invalid compatibility mode "power11"'):
        negotiate("host", "power11", accel="kvm-hv", host_cpu="00821200", qemu="7.2")
    # a Power11 host named by model under 7.2: the newest catalogue knows it
    assert parse_options(MachineOptions(cpu="POWER9", accel="kvm-hv", host_cpu="POWER11",
                                        qemu="7.2")).host.pvr == 0x00821200


def test_a_host_pvr_of_no_family_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="0x12345678"):
        parse_options(MachineOptions(cpu="host", accel="kvm-hv", host_cpu="12345678"))


def test_host_on_both_sides_of_a_migration() -> None:
    """-cpu host on a POWER9 DD2.3 source and a POWER9 DD2.2 destination, raw mode: the
    destination's class is power9_v2.2 with PVR 0x004e1202, and pvr_match accepts DD2.3."""
    check = migrate_check("host", "host", guest="raw-only", host_cpu="004e1203",
                          dst_host_cpu="004e1202")
    assert check.ok and check.verdict is Verdict.WORKS
    assert check.source.raw_pvr == 0x004E1203
    # a POWER8 destination host takes the guest capped at power8
    capped = migrate_check("host", "host", "power8", host_cpu="POWER9", dst_host_cpu="POWER8")
    assert capped.ok and capped.destination_cpu == "host"
    # the destination's host defaults to the source's
    same = migrate_check("host", "host", host_cpu="004e1203")
    assert same.ok


def test_simulate_dst_cpu_host() -> None:
    """issue #11: simulate --dst-cpu host said "unable to find CPU model 'host'"."""
    options = MachineOptions(cpu="host", accel="kvm-hv", host_cpu="POWER9",
                             max_cpu_compat="power8")
    sim = simulate(options, parse_events("realize,reset,cas,migrate"), dst_cpu="host",
                   dst_host_cpu="POWER8")
    assert sim.verdict is Verdict.WORKS, sim.verdict_reason
    assert sim.machines[-1].config.model.pvr == 0x004D0200
    default = simulate(MachineOptions(cpu="POWER9", accel="kvm-hv"),
                       parse_events("realize,reset,cas,migrate"), dst_cpu="host")
    assert default.verdict is Verdict.WORKS  # the destination's host is the source's
    # a fixed model of another PVR on the destination host is refused there
    refused = simulate(MachineOptions(cpu="POWER9", accel="kvm-hv", max_cpu_compat="power8"),
                       parse_events("realize,reset,cas,migrate"), dst_cpu="POWER9",
                       dst_host_cpu="POWER8")
    assert refused.verdict is Verdict.MIGRATION_REFUSED
    assert refused.verdict_reason == f"destination cannot start: {SYNC}"
