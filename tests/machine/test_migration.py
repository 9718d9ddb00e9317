"""Migration: the cpu/compat section, the destination's checks, the forced write."""

from __future__ import annotations

import pytest

from powercompat.errors import MigrationError, MigrationStreamError
from powercompat.machine.migration import CpuRecord, MigrationStream, decode_stream, encode_stream
from powercompat.machine.options import MachineOptions
from powercompat.machine.pseries import PseriesMachine, migrate
from powercompat.machine.state import Lifecycle


def booted(linux: bytes, **kw: object) -> PseriesMachine:
    m = PseriesMachine.from_options(MachineOptions(**kw))  # type: ignore[arg-type]
    m.realize()
    m.reset()
    m.cas(linux)
    return m


def destination(**kw: object) -> PseriesMachine:
    m = PseriesMachine.from_options(MachineOptions(incoming=True, **kw))  # type: ignore[arg-type]
    m.realize()
    m.reset()
    assert m.state is Lifecycle.INCOMING
    return m


def test_stream_layout() -> None:
    stream = encode_stream(MigrationStream((CpuRecord(0, 0x004E1202, 0x8, 0x0F000004),
                                            CpuRecord(1, 0x004E1202, 0, None))))
    assert stream[:8] == bytes.fromhex("5145564d00000003")
    assert b"\x05\x0acpu/compat\x00\x00\x00\x01\x0f\x00\x00\x04" in stream
    assert stream.count(b"cpu/compat") == 1  # only sent when compat_pvr != 0
    assert stream[-1] == 0x00  # QEMU_VM_EOF (migration/savevm.c)
    assert decode_stream(stream).cpus[0].compat_pvr == 0x0F000004


def test_stream_with_configuration_slb_and_iommu_round_trips() -> None:
    sent = MigrationStream((CpuRecord(0, 0x004E1200, 0, 0x0F000005),), True, "pseries-7.2",
                           2, 3)
    stream = encode_stream(sent)
    # QEMU_VM_CONFIGURATION (0x07), be32 length, the name, right after the header
    assert stream[8:24] == b"\x07\x00\x00\x00\x0bpseries-7.2"
    assert b"\x05\x07cpu/slb\x00\x00\x00\x02" in stream
    assert stream.index(b"cpu/slb") < stream.index(b"cpu/compat") < stream.index(b"spapr_iommu")
    assert decode_stream(stream) == sent


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda s: s[:8] + b"\x07\x00\x00\x00\x00" + s[8:],
     "migration stream: machine name of 0 bytes at byte 8"),
    (lambda s: s[:8] + b"\x07\x00\x00\x00\x05pser",
     "migration stream truncated at byte 17 reading the machine name"),
    (lambda s: s[:8] + b"\x07\x00\x00\x00\x02p\x01" + s[8:],
     "migration stream: machine name is not printable at byte 13"),
])
def test_bad_configuration_records_are_refused(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    stream = encode_stream(MigrationStream((CpuRecord(0, 0x004E1202, 0, None),)))
    with pytest.raises(MigrationStreamError) as info:
        decode_stream(mutate(stream))
    assert str(info.value) == message


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda s: s[:5], "migration stream truncated at byte 5 reading the header"),
    (lambda s: b"XEVM" + s[4:], "migration stream: bad magic 0x5845564d at byte 0"),
    (lambda s: s[:-1], "migration stream truncated at byte 124 reading a section type"),
    (lambda s: s + b"\x00", "migration stream: 1 trailing bytes after the end at byte 125"),
])
def test_corrupt_streams_are_refused_with_offsets(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    stream = encode_stream(MigrationStream((CpuRecord(0, 0x004E1202, 0x8, 0x0F000004),
                                            CpuRecord(1, 0x004E1202, 0x8, 0x0F000004))))
    assert len(stream) == 8 + 2 * (9 + 24 + 20 + 5) + 1 == 125
    with pytest.raises(MigrationStreamError) as info:
        decode_stream(mutate(stream))
    assert str(info.value) == message


def test_power8_compat_guest_moves_from_power9_to_power8(linux: bytes) -> None:
    src = booted(linux, cpu="power9", accel="kvm-hv", smp=2, max_cpu_compat="power8")
    dst = destination(cpu="power8", accel="kvm-hv", smp=2, max_cpu_compat="power8")
    migrate(src, dst)
    assert dst.state is Lifecycle.RUNNING
    assert [v.kernel_arch_compat for v in dst.vcpu_states()] == [0x0F000004] * 2
    assert [c.compat_pvr for c in dst.vcpus] == [0x0F000004] * 2
    assert dst.boot_cpu.spr_pcr == 0  # POWER8 in power8 mode: no PCR bits


XIVE_REFUSAL = ("Unknown savevm section or instance 'xive-source' 0. Make sure that your "
                "current VM setup matches your saved VM setup, including any hotplugged devices")


@pytest.mark.parametrize(("qemu", "message", "cause"), [
    # 7.2/10.0: the source's XIVE controller section comes first and the POWER8 has none
    # (seen on real QEMU 7.2: tests/data/real/qemu-7.2-linux-6.1-migration.json)
    ("10.0", XIVE_REFUSAL, "load of migration failed: Invalid argument"),
    ("7.2", XIVE_REFUSAL, "load of migration failed: Invalid argument"),
    # 11.1/head: one chained line (qemu-releases.md 8.2, run on 11.1.3)
    ("head", "load of migration failed: Invalid argument: Unknown section or instance "
     "'xive-source' 0. Make sure that your current VM setup matches your saved VM setup, "
     "including any hotplugged devices", None),
    # 2017: XICS only, so cpu_post_load() is what refuses
    ("2.11", "Compatibility PVR 0x0f000005 not valid for CPU",
     "error while loading state for instance 0x0 of device 'cpu'"),
])
def test_power9_compat_guest_refused_on_power8_and_destination_exits(
        qemu: str, message: str, cause: str | None, linux: bytes) -> None:
    """Every release's destination exits on a refused load (qemu-releases.md 10 #7b),
    having changed no vCPU and made no KVM call."""
    src = booted(linux, cpu="power9", accel="kvm-hv", smp=2, qemu=qemu)
    assert src.boot_cpu.compat_pvr == 0x0F000005  # Linux negotiated power9 at CAS
    dst = destination(cpu="power8", accel="kvm-hv", smp=2, qemu=qemu)
    before = dst.vcpu_states()
    calls_before = len(dst.accel.transport.calls) if dst.accel.transport else 0
    with pytest.raises(MigrationError) as info:
        migrate(src, dst)
    assert (str(info.value), info.value.cause) == (message, cause)
    assert dst.vcpu_states() == before and dst.state is Lifecycle.EXITED
    assert dst.accel.transport is not None and len(dst.accel.transport.calls) == calls_before


def test_xive_follows_max_cpu_compat() -> None:
    assert PseriesMachine.from_options(MachineOptions(cpu="power9")).has_xive
    assert not PseriesMachine.from_options(
        MachineOptions(cpu="power9", max_cpu_compat="power8")).has_xive
    assert not PseriesMachine.from_options(MachineOptions(cpu="power8")).has_xive
    assert not PseriesMachine.from_options(MachineOptions(cpu="power9", qemu="2.11")).has_xive


def test_power10_guest_to_power9_is_refused_by_the_cpu_check(linux: bytes) -> None:
    src = booted(linux, cpu="power10", accel="kvm-hv")
    dst = destination(cpu="power9", accel="kvm-hv")  # both have XIVE: the CPU decides
    with pytest.raises(MigrationError) as info:
        migrate(src, dst)
    assert str(info.value) == "Compatibility PVR 0x0f000006 not valid for CPU"


def test_raw_guest_checks_the_pvr_family(linux: bytes) -> None:
    # under 2.11 (XICS only) so that cpu_post_load(), not the XIVE section, decides
    raw_only = bytes.fromhex("ffff0000004e0000fffffffe0f000001")
    src = booted(raw_only, cpu="power9", accel="kvm-hv", qemu="2.11")
    assert src.boot_cpu.compat_pvr == 0
    ok = destination(cpu="power9_v2.0", accel="kvm-hv", qemu="2.11")
    migrate(src, ok)
    bad = destination(cpu="power8", accel="kvm-hv", qemu="2.11")
    with pytest.raises(MigrationError) as info:
        migrate(src, bad)
    assert str(info.value) == "error while loading state for instance 0x0 of device 'cpu'"
    # 2.11's cpu_post_load returns -1: strerror(1) (qemu-releases.md 8.1)
    assert info.value.cause == "load of migration failed: Operation not permitted"
    assert bad.state is Lifecycle.EXITED


@pytest.mark.parametrize(("qemu", "kernel"), [
    ("2.10", 0),  # no write after load: the kernel stays raw (what e07cc192 fixed)
    ("2.11", 0x0F000004),
    ("head", 0x0F000004),
    ("2.10-pre", 0x0F000004),  # every set reaches KVM
])
def test_forced_write_after_load(qemu: str, kernel: int, linux: bytes) -> None:
    logical_p8 = bytes.fromhex("ffffffff0f000004fffffffe0f000001")
    src = booted(logical_p8, cpu="power9", accel="kvm-hv", qemu=qemu)
    assert src.boot_cpu.compat_pvr == 0x0F000004
    dst = destination(cpu="power9", accel="kvm-hv", qemu=qemu)
    migrate(src, dst)
    assert dst.boot_cpu.compat_pvr == 0x0F000004
    assert dst.vcpu_states()[0].kernel_arch_compat == kernel


def test_2_9_does_not_migrate_the_mode(linux: bytes) -> None:
    src = booted(linux, cpu="power9", accel="kvm-hv", qemu="2.9")
    assert src.boot_cpu.compat_pvr == 0x0F000005
    dst = destination(cpu="power8", accel="kvm-hv", qemu="2.9")
    migrate(src, dst)  # 2.9 ignores the source PVR: accepted
    assert dst.boot_cpu.compat_pvr == 0  # and the negotiated mode is lost


def test_unknown_instance_is_refused(linux: bytes) -> None:
    src = booted(linux, cpu="power9", accel="kvm-hv", smp=2, max_cpu_compat="power8")
    dst = destination(cpu="power9", accel="kvm-hv", smp=1, max_cpu_compat="power8")
    with pytest.raises(MigrationError) as info:
        migrate(src, dst)
    assert str(info.value).startswith("load of migration failed: Invalid argument: Unknown "
                                      "section or instance 'cpu' 1.")  # head: one line
