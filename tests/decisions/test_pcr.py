"""PCR in QEMU's view (qemu.md 1.10) and in KVM HV's (kernel_libvirt.md 1.4)."""

from __future__ import annotations

import errno

import pytest

from powercompat.catalog.cpus import FAMILIES
from powercompat.catalog.history import HEAD
from powercompat.catalog.kernels import LINUX_4_19, LINUX_6_1, LINUX_6_12, LINUX_7_2
from powercompat.catalog.modes import mode_by_name
from powercompat.catalog.pcr import PCR_MASK
from powercompat.decisions.pcr import decode_pcr, kvm_hv_pcr, qemu_pcr


def _family(name: str):  # type: ignore[no-untyped-def]
    return next(f for f in FAMILIES if f.name == name)


# qemu.md 1.10 (SPR_PCR = pcr & pcr_mask), for the modes valid at head
SPR_PCR = {
    ("POWER7", "power6"): 0x4000000000000002, ("POWER7", "power7"): 0,
    ("POWER7", "power7+"): 0,
    ("POWER8", "power6"): 0x2000000000000006, ("POWER8", "power7"): 0x2000000000000004,
    ("POWER8", "power8"): 0,
    ("POWER9", "power6"): 0xE, ("POWER9", "power7"): 0xC, ("POWER9", "power8"): 0x8,
    ("POWER9", "power9"): 0,
    ("POWER10", "power6"): 0x1E, ("POWER10", "power7"): 0x1C, ("POWER10", "power8"): 0x18,
    ("POWER10", "power9"): 0x10, ("POWER10", "power10"): 0,
    ("POWER11", "power11"): 0, ("POWER11", "power9"): 0x10,
}


@pytest.mark.parametrize(("family", "mode"), list(SPR_PCR))
def test_qemu_spr_pcr(family: str, mode: str) -> None:
    assert qemu_pcr(_family(family), mode_by_name(mode, HEAD.modes)) == SPR_PCR[(family, mode)]


def test_raw_mode_pcr_is_zero() -> None:
    assert qemu_pcr(_family("POWER9"), None) == 0


# kernel_libvirt.md 1.4 worked results (host - guest, before PCR_MASK)
HV = {
    "POWER7": ["0x2", "0x0", "EINVAL", "EINVAL", "EINVAL", "0x0"],
    "POWER8": ["0x6", "0x4", "0x0", "EINVAL", "EINVAL", "0x0"],
    "POWER9": ["0xe", "0xc", "0x8", "0x0", "EINVAL", "0x0"],
    "POWER10": ["0x1e", "0x1c", "0x18", "0x10", "0x0", "0x0"],
    "POWER11": ["0x1e", "0x1c", "0x18", "0x10", "0x0", "0x0"],
}
GUESTS = [0x0F000002, 0x0F000003, 0x0F000004, 0x0F000005, 0x0F000006, 0]


@pytest.mark.parametrize("host", HV)
def test_kvm_hv_table(host: str) -> None:
    got = []
    for guest in GUESTS:
        r = kvm_hv_pcr(_family(host), guest, LINUX_7_2)
        got.append("EINVAL" if r.errno == errno.EINVAL else hex(r.pcr & ~PCR_MASK))
    assert got == HV[host]


def test_kernel_rows_decide_levels_and_reserved_bits() -> None:
    """The host kernel is a row: what it knows and the bits it keeps set come from there."""
    p9, p10 = _family("POWER9"), _family("POWER10")
    assert kvm_hv_pcr(p9, 0x0F000004, LINUX_4_19).pcr == 0x8  # no reserved bits before v5.4
    assert kvm_hv_pcr(p9, 0x0F000004, LINUX_6_1).pcr == 0x8 | PCR_MASK
    assert kvm_hv_pcr(p10, 0x0F000006, LINUX_4_19).errno == errno.EINVAL  # ISA 3.1 is v5.9
    assert kvm_hv_pcr(p10, 0x0F000006, LINUX_6_1).pcr == PCR_MASK
    assert kvm_hv_pcr(p10, 0x0F000007, LINUX_6_1).errno == errno.EINVAL  # Power11 is 2024
    # kvm-kernel.md: 6.12 takes Power11 on any ARCH_31 host, 7.2 only on a Power11 host and
    # leaves the vcore PVR_ARCH_INVALID otherwise
    assert kvm_hv_pcr(p10, 0x0F000007, LINUX_6_12).pcr == PCR_MASK
    refused = kvm_hv_pcr(p10, 0x0F000007, LINUX_7_2)
    assert (refused.errno, refused.stored, refused.pcr) == (errno.EINVAL, 0xFFFFFFFF, PCR_MASK)
    assert kvm_hv_pcr(_family("POWER11"), 0x0F000007, LINUX_7_2).pcr == PCR_MASK
    assert kvm_hv_pcr(_family("POWER11"), 0x0F000007, LINUX_6_1).errno == errno.EINVAL


def test_kvm_hv_reserved_bits_and_unknown_values() -> None:
    r = kvm_hv_pcr(_family("POWER9"), 0x0F000004)
    assert r.pcr == 0x8 | 0x0FFFFFFFFFFFFFE1
    assert kvm_hv_pcr(_family("POWER10"), 0x0F000007, LINUX_6_12).errno == 0  # shared arm
    assert kvm_hv_pcr(_family("POWER9"), 0x0F000001).errno == errno.EINVAL  # 2.04
    assert kvm_hv_pcr(_family("POWER9"), 0x004E1202).errno == errno.EINVAL  # a raw PVR
    assert kvm_hv_pcr(_family("POWER8"), 0x0F100003).pcr & 0xFF == 0xE1 | 0x4


def test_decode() -> None:
    p6 = next(m for m in HEAD.modes if m.name == "power6")
    assert decode_pcr(p6.pcr) == ("VSX_DIS", "TM_DIS", "COMPAT_3_10", "COMPAT_3_00",
                                  "COMPAT_2_07", "COMPAT_2_06", "COMPAT_2_05")
    assert decode_pcr(0x8 | 0x0FFFFFFFFFFFFFE1, "linux") == ("reserved (PCR_MASK)",
                                                             "PCR_ARCH_207")
    assert decode_pcr(0) == ()
    assert decode_pcr(0x1) == ("bit 63",)
