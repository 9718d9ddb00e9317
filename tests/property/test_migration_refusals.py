"""A refused incoming stream leaves the destination as it was: random corruption of valid
streams, and targeted cases (unknown PVR, a mode the CPU or the kernel cannot run)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from powercompat.catalog.guests import GUESTS
from powercompat.errors import KvmHostError, KvmInitError, MigrationError, MigrationStreamError
from powercompat.machine.migration import CpuRecord, MigrationStream, encode_stream
from powercompat.machine.options import MachineOptions
from powercompat.machine.pseries import PseriesMachine
from powercompat.machine.state import Lifecycle
from powercompat.stress.harness import Pair
from powercompat.stress.invariants import check_unchanged, snapshot

SOURCES = [
    MachineOptions(cpu="power9", smp=2, max_cpu_compat="power8", accel="kvm-hv"),
    MachineOptions(cpu="power9", smp=2, accel="kvm-hv"),
    MachineOptions(cpu="power10", smp=4, threads=2, qemu="7.2", accel="kvm-pr-ignore"),
    MachineOptions(cpu="power8", smp=2, qemu="powercompat", accel="kvm-hv"),
    MachineOptions(cpu="power9", smp=2, qemu="2.11"),
]


def _source_stream(options: MachineOptions) -> bytes:
    machine = PseriesMachine.from_options(options)
    machine.realize()
    machine.reset()
    machine.cas(GUESTS[0].cas_buffer)
    return machine.migrate_out()


STREAMS = [(o, _source_stream(o)) for o in SOURCES]


def _incoming(options: MachineOptions) -> MachineOptions:
    from dataclasses import replace

    return replace(options, incoming=True)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(STREAMS))), st.integers(0, 10_000), st.integers(0, 7),
       st.sampled_from(["flip", "truncate", "byte", "append"]), st.integers(0, 255))
def test_corrupted_stream_is_refused_without_change(which: int, pos: int, bit: int, how: str,
                                                    value: int) -> None:
    options, stream = STREAMS[which]
    data = bytearray(stream)
    pos %= len(data)
    if how == "flip":
        data[pos] ^= 1 << bit
    elif how == "truncate":
        del data[pos:]
    elif how == "byte":
        data[pos] = value
    else:
        data.append(value)
    violations: list[str] = []
    pair = Pair(_incoming(options), violations, "destination")
    assert pair.realize() == "ok" and pair.reset() == "ok"
    before = snapshot(pair.machine)
    got = pair.migrate_in(bytes(data))
    assert violations == []  # the machine did what the QEMU model says, invariants hold
    if got != "ok" and pair.machine.state is not Lifecycle.EXITED:
        assert check_unchanged(pair.machine, before, "migrate-in") == []
    if got == "stream":
        assert pair.machine.state is Lifecycle.INCOMING


def _record_stream(compat: int | None, pvr: int = 0x004E1202, n: int = 2) -> bytes:
    return encode_stream(MigrationStream(tuple(CpuRecord(i, pvr, 0, compat)
                                               for i in range(n))))


@pytest.mark.parametrize("qemu", ["2.10-pre", "2.10", "2.11", "7.2", "head", "powercompat"])
@pytest.mark.parametrize(("dst_cpu", "compat", "pvr", "cause"), [
    ("power9", 0x0F000001, 0x004E1202, "Unknown compatibility PVR 0x0f000001"),
    ("power9", 0x12345678, 0x004E1202, "Unknown compatibility PVR 0x12345678"),
    ("power8", 0x0F000005, 0x004E1202, "Compatibility PVR 0x0f000005 not valid for CPU"),
    ("power9", None, 0x004D0200, None),  # raw POWER8 PVR into a POWER9: pvr_match fails
    ("power9", None, 0xDEADBEEF, None),
])
def test_targeted_refusals_change_nothing(qemu: str, dst_cpu: str, compat: int | None,
                                          pvr: int, cause: str | None) -> None:
    options = MachineOptions(cpu=dst_cpu, smp=2, accel="kvm-hv", qemu=qemu, incoming=True)
    dst = PseriesMachine.from_options(options)
    dst.realize()
    dst.reset()
    before = snapshot(dst)
    with pytest.raises(MigrationError) as info:
        dst.migrate_in(_record_stream(compat, pvr))
    assert "\n" not in str(info.value)
    if cause:
        assert str(info.value) == cause
    after = snapshot(dst)  # vCPUs, kernel view and no ONE_REG call: unchanged
    assert (after.vcpus, after.kernel, after.ncalls) == (before.vcpus, before.kernel,
                                                         before.ncalls)
    # QEMU's destination exits on a refused load; the powercompat policy keeps it waiting
    assert after.state is (Lifecycle.INCOMING if qemu == "powercompat" else Lifecycle.EXITED)


#: (release, host, host kernel, a mode the host's CPU takes but its kernel does not): Linux
#: 4.19 predates ISA 3.1; 6.1 has no Power11 arm. (4.19 cannot start 10.0 and later at all:
#: no KVM_CAP_PPC_AIL_MODE_3, see test_4_19_cannot_start_10_0_and_later.)
_KERNEL_CANNOT = [("7.2", "power10", "linux-4.19", 0x0F000006),
                  ("10.0", "power11", "linux-6.1", 0x0F000007),
                  ("head", "power11", "linux-6.1", 0x0F000007),
                  ("powercompat", "power11", "linux-6.1", 0x0F000007)]


@pytest.mark.parametrize(("qemu", "host", "kernel", "pvr"), _KERNEL_CANNOT,
                         ids=[c[0] for c in _KERNEL_CANNOT])
def test_mode_the_host_kernel_cannot_run(qemu: str, host: str, kernel: str, pvr: int) -> None:
    """The mode is valid for the host's own CPU (-cpu host: KVM HV takes no other model),
    but the host's kernel refuses it: QEMU's destination exits (cpu_post_load fails after
    loading); the powercompat profile rolls back."""
    options = MachineOptions(cpu="host", smp=2, accel="kvm-hv", host_cpu=host, qemu=qemu,
                             host_kernel=kernel, incoming=True)
    dst = PseriesMachine.from_options(options)
    dst.realize()
    dst.reset()
    before = snapshot(dst)
    with pytest.raises(MigrationError) as info:
        # the host's own raw PVR in the stream (a POWER10 DD1.2, a Power11 DD2.0)
        host_pvr = {"power10": 0x00801200, "power11": 0x00820200}[host]
        dst.migrate_in(_record_stream(pvr, pvr=host_pvr))
    assert str(info.value) == ("Unable to set CPU compatibility mode in KVM: "
                               "Invalid argument")
    after = snapshot(dst)
    if qemu == "powercompat":
        assert (after.state, after.vcpus, after.kernel) == (before.state, before.vcpus,
                                                             before.kernel)
    else:
        assert after.state is Lifecycle.EXITED


@pytest.mark.parametrize("qemu", ["10.0", "head"])
def test_4_19_cannot_start_10_0_and_later(qemu: str) -> None:
    """spapr's cap-ail-mode-3 (10.0 on) needs KVM_CAP_PPC_AIL_MODE_3 (Linux 5.18)."""
    options = MachineOptions(cpu="host", smp=2, accel="kvm-hv", host_cpu="power10", qemu=qemu,
                             host_kernel="linux-4.19", incoming=True)
    dst = PseriesMachine.from_options(options)
    dst.realize()
    with pytest.raises(KvmHostError, match="cap-ail-mode-3"):
        dst.reset()
    assert dst.state is Lifecycle.EXITED


@pytest.mark.parametrize("qemu", ["2.11", "7.2", "head", "powercompat"])
def test_a_non_host_cpu_never_gets_that_far(qemu: str) -> None:
    """A POWER9 -cpu on a POWER8 KVM HV host: KVM_SET_SREGS refuses the POWER9 PVR when the
    first vCPU is created, and QEMU exits before any ARCH_COMPAT call (kvm-kernel.md)."""
    options = MachineOptions(cpu="power9", smp=2, accel="kvm-hv", host_cpu="power8", qemu=qemu,
                             incoming=True)
    dst = PseriesMachine.from_options(options)
    with pytest.raises(KvmInitError) as info:
        dst.realize()
    assert str(info.value) == ('Register sync failed... If you\'re using kvm-hv.ko, only '
                               '"-cpu host" is possible')
    assert dst.vcpus == [] and dst.accel.transport is not None
    assert dst.accel.transport.calls == []
    assert dst.state is (Lifecycle.CREATED if qemu == "powercompat" else Lifecycle.EXITED)


@pytest.mark.parametrize("errno", [22, 14, 16])
def test_injected_fault_during_load_rolls_back_under_powercompat(errno: int) -> None:
    options = MachineOptions(cpu="power9", smp=4, accel="kvm-hv", qemu="powercompat",
                             incoming=True)
    violations: list[str] = []
    pair = Pair(options, violations, "destination")
    pair.realize()
    pair.reset()
    before = snapshot(pair.machine)
    pair.inject(errno, after=2)
    assert pair.migrate_in(_record_stream(0x0F000004, n=4)) == "migration"
    assert violations == []
    assert check_unchanged(pair.machine, before, "migrate-in") == []


def test_stream_error_names_offset() -> None:
    dst = PseriesMachine.from_options(MachineOptions(smp=2, incoming=True))
    dst.realize()
    dst.reset()
    data = bytearray(_record_stream(0x0F000004))
    data[8] = 0x09  # the first section type
    with pytest.raises(MigrationStreamError) as info:
        dst.migrate_in(bytes(data))
    assert str(info.value) == "migration stream: unknown section type 0x09 at byte 8"
    assert info.value.offset == 8 and dst.state is Lifecycle.INCOMING
