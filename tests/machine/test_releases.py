"""Behaviour that differs by QEMU release, each row a fact of qemu-releases.md (source read
per release, and section 11's runs of the Debian binaries)."""

from __future__ import annotations

import pytest

from powercompat.errors import InvalidModeError, InvalidValueError, SmtError
from powercompat.machine.options import MachineOptions
from powercompat.machine.pseries import PseriesMachine
from powercompat.scenario import negotiate

TCG1 = "TCG cannot support more than 1 thread/core on a pseries machine"
P8 = "TCG only supports SMT on POWER8 or newer CPUs"
POW2 = "Cannot support 3 threads/core on a pseries machine because it must be a power of 2"


# section 11 (run on 5.2, 7.2, 10.0, 11.1.3) and section 7 (2.9/2.10 from source)
@pytest.mark.parametrize(("qemu", "cpu", "threads", "max_compat", "error"), [
    ("5.2", "power9", 2, None, TCG1), ("7.2", "power9", 2, None, TCG1),
    ("10.0", "power9", 2, None, None), ("11.1", "power9", 2, None, None),
    ("5.2", "power9", 3, None, TCG1), ("7.2", "power9", 3, None, TCG1),
    ("10.0", "power9", 3, None, POW2), ("11.1", "power9", 3, None, POW2),
    ("7.2", "power7", 2, None, TCG1), ("10.0", "power7", 2, None, P8),
    ("11.1", "power9", 16, None,
     "TCG cannot support more than 8 threads/core on a pseries machine"),
    ("10.0", "power9", 2, "power7", P8), ("10.0", "power9", 8, "power8", None),
    ("2.9", "power8", 2, None, "Cannot support more than 1 threads on PPC with TCG"),
    ("2.11", "power8", 2, None, TCG1),
])
def test_tcg_threads_per_core(qemu: str, cpu: str, threads: int, max_compat: str | None,
                              error: str | None) -> None:
    n = negotiate(cpu, max_compat, qemu=qemu, smp=threads, threads=threads)
    assert (n.started, n.error) == (error is None, error)


def test_smt_is_a_typed_refusal_and_kvm_wants_a_power_of_2() -> None:
    m = PseriesMachine.from_options(MachineOptions(cpu="power9", smp=3, threads=3,
                                                   accel="kvm-hv", qemu="7.2"))
    with pytest.raises(SmtError) as info:
        m.realize()
    assert str(info.value) == POW2


def test_2_9_has_no_max_cpu_compat_only_cpu_compat() -> None:
    """qemu-releases.md 10 #1: a CPU property taking power6, power7 or power8."""
    with pytest.raises(InvalidValueError, match="QEMU 2.9 has no machine option"):
        negotiate("power8", "power7", qemu="2.9")
    with pytest.raises(InvalidModeError) as info:
        negotiate("power9,compat=power9", qemu="2.9")
    assert str(info.value) == 'Invalid compatibility mode "power9"'
    n = negotiate("power9,compat=power7", guest="logical-upto-power8", qemu="2.9")
    assert n.max_cpu_compat == "power7" and n.compat_pvr == 0x0F000003
    assert negotiate("power9,compat=power8", qemu="2.10").max_cpu_compat == "power8"
    with pytest.raises(Exception, match="Property 'power9_v2.2-powerpc64-cpu.compat' not"):
        negotiate("power9,compat=power8", qemu="10.0")


def test_2_9_pcr_is_zero_after_the_cpu_reset() -> None:
    """qemu-releases.md 10 #3: spapr_cpu_init sets the mode, then ppc_cpu_reset puts SPR_PCR
    back to 0; compat_pvr stays. CAS to the same mode leaves it 0."""
    m = PseriesMachine.from_options(MachineOptions(cpu="power9,compat=power8", qemu="2.9"))
    m.realize()
    m.reset()
    assert [(c.compat_pvr, c.spr_pcr) for c in m.vcpus] == [(0x0F000004, 0)]
    n = negotiate("power9,compat=power8", qemu="2.9")
    assert (n.compat_pvr, n.pcr) == (0x0F000004, 0)
    later = negotiate("power9,compat=power8", qemu="2.10")
    assert (later.compat_pvr, later.pcr) == (0x0F000004, 0x8)


@pytest.mark.parametrize(("qemu", "model", "pvr"), [
    ("2.9", "power9_v1.0", 0x004E0000), ("2.10", "power9_v1.0", 0x004E0000),
    ("2.11", "power9_v2.0", 0x004E1200), ("7.2", "power9_v2.0", 0x004E1200),
    ("10.0", "power9_v2.2", 0x004E1202), ("5.2", "power10_v1.0", 0x00800100),
    ("7.2", "power10_v2.0", 0x00800200), ("11.1", "power10_v2.0", 0x00801200),
])
def test_what_the_family_alias_names(qemu: str, model: str, pvr: int) -> None:
    n = negotiate("power10" if "power10" in model else "power9", qemu=qemu)
    assert (n.cpu, n.raw_pvr) == (model, pvr)


def test_kvm_hv_takes_only_the_host_pvr() -> None:
    """kvm-kernel.md item 2: KVM_SET_SREGS with another model's PVR is EINVAL under HV; QEMU
    prints two lines and exits at vCPU init. PR emulates the PVR; -cpu host is the host's."""
    from powercompat.errors import KvmInitError
    from powercompat.machine.state import Lifecycle

    m = PseriesMachine.from_options(MachineOptions(cpu="power8", host_cpu="power9",
                                                   accel="kvm-hv", qemu="7.2"))
    with pytest.raises(KvmInitError) as info:
        m.realize()
    assert str(info.value) == ("Register sync failed... If you're using kvm-hv.ko, only "
                               '"-cpu host" is possible')
    assert info.value.cause == "kvm_init_vcpu: kvm_arch_init_vcpu failed (0): Invalid argument"
    assert m.state is Lifecycle.EXITED and m.accel.transport is not None
    assert m.accel.transport.calls == []  # no ARCH_COMPAT call before it
    for accel, cpu in (("kvm-pr", "power8"), ("kvm-hv", "host")):
        ok = PseriesMachine.from_options(MachineOptions(cpu=cpu, host_cpu="power9",
                                                        accel=accel, qemu="7.2"))
        ok.realize()
        ok.reset()
        assert ok.started


def test_host_kernel_decides_power11_on_a_power11_host() -> None:
    """kvm-kernel.md item 6: Linux 6.1 refuses 0x0f000007 on a Power11 host (reset: fatal),
    6.12 and 7.2 take it."""
    def start(kernel: str) -> tuple[bool, str | None]:
        n = negotiate("host", "power11", accel="kvm-hv", host_cpu="power11", qemu="11.1",
                      host_kernel=kernel, hpt_max_page_size=4)  # 6.12/7.2: 4K pages
        return n.started, n.error

    assert start("linux-6.1") == (False, "Unable to set CPU compatibility mode in KVM: "
                                         "Invalid argument")
    assert start("linux-6.12") == (True, None)
    assert start("linux-7.2") == (True, None)


def test_cpu_host_follows_the_release_raw_pvr_matching() -> None:
    """kvm_ppc_register_host_cpu_type(): the host type is the class pvr_match(best) finds for
    the host PVR, with the real PVR kept (qemu-releases.md 3.2, 4.1)."""
    def host(qemu: str, pvr: str) -> tuple[str, int, str]:
        n = negotiate("host", accel="kvm-hv", host_cpu=pvr, qemu=qemu)
        return n.cpu, n.raw_pvr, n.guest_cpu_line

    assert host("7.2", "004e1203")[:2] == ("host", 0x004E1203)  # any DD2.x: power9_v2.0
    assert host("10.0", "0x004e1203")[:2] == ("host", 0x004E1203)  # DD2.2+: power9_v2.2
    assert host("5.2", "004e1203")[:2] == ("host", 0x004E1203)  # family-wide
    with pytest.raises(Exception, match="unable to find CPU model 'host'"):
        negotiate("host", accel="kvm-hv", host_cpu="00821200", qemu="7.2")  # no P11 class
    n = negotiate("host", "power11", guest="linux-6.12", accel="kvm-hv", host_cpu="00821200",
                  qemu="11.1")
    assert (n.started, n.compat_pvr) == (True, 0x0F000007)


def test_kvm_disagreements_of_qemu_7_2_on_a_power11_host() -> None:
    """kvm-kernel.md items 4 and 5: the machine option is parsed before -cpu; a named model
    starts in QEMU and KVM HV refuses its PVR."""
    with pytest.raises(InvalidModeError) as info:
        negotiate("host", "power11", accel="kvm-hv", host_cpu="00821200", qemu="7.2")
    assert str(info.value) == 'Invalid compatibility mode "power11"'
    n = negotiate("power9", accel="kvm-hv", host_cpu="00821200", qemu="7.2")
    assert (n.started, n.error) == (False, 'Register sync failed... If you\'re using '
                                           'kvm-hv.ko, only "-cpu host" is possible')


@pytest.mark.parametrize(("qemu", "dst_cpu", "pvr", "accepted"), [
    ("7.2", "power9", 0x004E1202, True),  # any DD2.x is power9_v2.0's
    ("10.0", "power9", 0x004E1200, False),  # 10.0's power9 is v2.2: DD2.0 is not
    ("10.0", "power9_v2.0", 0x004E1201, True),
    ("5.2", "power9", 0x004E0100, True),  # family-wide: DD1 into DD2.0
    ("5.2", "power8", 0x004B0201, True),  # family-wide: 8E is a POWER8
    ("7.2", "power8", 0x004B0201, False),  # best: the class's own base only
])
def test_raw_mode_migration_matches_pvrs_as_the_release_does(qemu: str, dst_cpu: str, pvr: int,
                                                             accepted: bool) -> None:
    from powercompat.errors import MigrationError
    from powercompat.machine.migration import CpuRecord, MigrationStream, encode_stream

    dst = PseriesMachine.from_options(MachineOptions(cpu=dst_cpu, qemu=qemu, incoming=True))
    dst.realize()
    dst.reset()
    stream = encode_stream(MigrationStream((CpuRecord(0, pvr, 0, None),)))
    if accepted:
        dst.migrate_in(stream)
    else:
        with pytest.raises(MigrationError):
            dst.migrate_in(stream)


@pytest.mark.parametrize(("qemu", "max_compat", "sigill"), [
    ("5.2", None, True), ("5.2", "power10", True), ("5.2", "power9", True),
    ("5.2", "power8", False), ("5.2", "power7", False),
    ("7.2", None, False), ("7.2", "power9", False),
])
def test_scv_on_qemu_5_2_power10(qemu: str, max_compat: str | None, sigill: bool) -> None:
    """QEMU 5.2's POWER10 (DD1) family has no POWERPC_FLAG_SCV: at ISA 3.00 and newer the
    guest's glibc uses scv and init dies (tests/data/real/qemu-5.2-linux-6.1-slof.json)."""
    n = negotiate("power10", max_compat, qemu=qemu)
    assert n.userland_ok is (not sigill)
    if max_compat in (None, "power9", "power10"):  # under KVM the hardware runs scv
        kvm = negotiate("host", max_compat, accel="kvm-hv", host_cpu="power10", qemu=qemu)
        assert kvm.userland_ok is True
