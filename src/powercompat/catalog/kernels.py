"""Host kernels as data: what each Linux release's KVM does with ARCH_COMPAT.

Source: Linux arch/powerpc/kvm/book3s_hv.c kvmppc_set_arch_compat() (the switch from a
logical PVR to the guest's PCR bit; the host level from the CPU features),
arch/powerpc/include/asm/reg.h (PVR_ARCH_*, PCR_ARCH_*, PCR_MASK) and book3s_pr.c (no
ARCH_COMPAT case); ../shared/reference/kernel_libvirt.md sections 1.2-1.7 and 2. A kernel
model takes one of these rows; it never asks a boolean.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final, NamedTuple

from powercompat.catalog.modes import (
    LOGICAL_2_05,
    LOGICAL_2_06,
    LOGICAL_2_06_PLUS,
    LOGICAL_2_07,
    LOGICAL_3_00,
    LOGICAL_3_10,
    LOGICAL_3_10_P11,
)
from powercompat.catalog.pcr import (
    PCR_ARCH_31,
    PCR_ARCH_205,
    PCR_ARCH_206,
    PCR_ARCH_207,
    PCR_ARCH_300,
    PCR_MASK,
)

#: PVR_ARCH_INVALID (7.2): what a refused Power11 request leaves in the vcore
PVR_ARCH_INVALID: Final = 0xFFFFFFFF


class HostPlatform(StrEnum):
    """Where the host kernel itself runs (kvm-kernel.md, recorded on both)."""

    #: bare metal (PowerNV): the kernel is the hypervisor (CPU_FTR_HVMODE)
    POWERNV = "powernv"
    #: a pseries guest of a hypervisor that offers nested HV (kvmhv_on_pseries()): its KVM
    #: runs guests radix only (KVM_PPC_ALLOCATE_HTAB is -EOPNOTSUPP, no hash-v3)
    PSERIES = "pseries"


#: the platform a KVM host runs on when none is named
DEFAULT_PLATFORM: Final = HostPlatform.POWERNV


class Arm(NamedTuple):
    """One arm of kvmppc_set_arch_compat()'s switch: a logical PVR and the guest PCR bit it
    gives; ``host``: the host family it needs (CPU_FTR_P11_PVR: POWER11), else the kernel
    stores PVR_ARCH_INVALID (vc->pcr = PCR_MASK) and answers EINVAL (7.2)."""

    pvr: int
    bit: int
    host: str | None = None


# The arms as each kernel gained them (kvm-kernel.md, read in 6.1.176 / 6.12.118 / 7.2.13).
# 0x0f000001 (2.04) and every raw PVR fall to the default arm: -EINVAL.
#: 2ee13be34b13 (v4.10): host/guest PCR bits, PVR_ARCH_300
_ARMS_V4_10: Final[tuple[Arm, ...]] = (
    Arm(LOGICAL_2_05, PCR_ARCH_205),
    Arm(LOGICAL_2_06, PCR_ARCH_206),
    Arm(LOGICAL_2_06_PLUS, PCR_ARCH_206),
    Arm(LOGICAL_2_07, PCR_ARCH_207),
    Arm(LOGICAL_3_00, PCR_ARCH_300),
)
#: v5.9 (Alistair Popple, ISA v3.1 guests): PVR_ARCH_31 with the dummy PCR_ARCH_31
_ARMS_V5_9: Final = (*_ARMS_V4_10, Arm(LOGICAL_3_10, PCR_ARCH_31))
#: 6.12: PVR_ARCH_31_P11 shares PVR_ARCH_31's arm, on any ARCH_31 host (POWER10 too)
_ARMS_6_12: Final = (*_ARMS_V5_9, Arm(LOGICAL_3_10_P11, PCR_ARCH_31))
#: 7.2: PVR_ARCH_31_P11 only with CPU_FTR_P11_PVR (a Power11 host)
_ARMS_7_2: Final = (*_ARMS_V5_9, Arm(LOGICAL_3_10_P11, PCR_ARCH_31, "POWER11"))


class KernelRelease(NamedTuple):
    """One host kernel. ``arms``: the logical PVRs kvmppc_set_arch_compat() knows and the
    guest PCR bit each gives; ``reserved_pcr``: the reserved bits ORed into every vcore PCR
    (PCR_MASK since 13c7bb3c57dc, v5.4; 0 before); ``pr_arch_compat``: KVM PR has an
    ARCH_COMPAT case (no kernel has one: PR answers EINVAL).

    The KVM HV capabilities QEMU asks at start-up (arch/powerpc/kvm/powerpc.c
    kvm_vm_ioctl_check_extension(), read in 6.1/6.12/7.2): ``nested_hv``: KVM HV runs in a
    pseries guest (v4.20); ``ail_mode_3_cap``: KVM_CAP_PPC_AIL_MODE_3 exists (v5.18);
    ``p9_split_mmu``: kvmppc_hash_v3_possible() refuses hash-v3 on a radix host whose
    POWER9 is before DD2.2, whose threads cannot mix hash and radix (5.12).

    ``page_shift``: the build's base page (CONFIG_PPC_64K_PAGES: 16, else 12). It backs the
    guest's RAM, so it bounds the VRMA of a hash guest (decisions.kvmcaps.vrma_limit_mib).
    Debian's 6.1 builds 64K pages, its 6.12 and 7.2 builds 4K (the recorded L1 kernels'
    configs: ``l1_kernel.page_size`` of tests/data/real/kvm-hv-*.json)."""

    name: str
    description: str
    arms: tuple[Arm, ...]
    reserved_pcr: int
    pr_arch_compat: bool = False
    nested_hv: bool = True
    ail_mode_3_cap: bool = True
    p9_split_mmu: bool = True
    page_shift: int = 16

    @property
    def guest_pcr_bits(self) -> Mapping[int, int]:
        return MappingProxyType({arm.pvr: arm.bit for arm in self.arms})

    def arm(self, arch_compat: int) -> Arm | None:
        """The arm a logical PVR takes; None for the default arm (-EINVAL)."""
        for arm in self.arms:
            if arm.pvr == arch_compat:
                return arm
        return None

    def guest_pcr_bit(self, arch_compat: int) -> int | None:
        found = self.arm(arch_compat)
        return found.bit if found else None


LINUX_4_19: Final = KernelRelease(
    "linux-4.19",
    "Debian buster's 4.19: the v4.10 scheme (host/guest PCR bits, up to ISA 3.00); no "
    "reserved PCR bits (before 13c7bb3c57dc, v5.4); no nested HV (v4.20), no "
    "KVM_CAP_PPC_AIL_MODE_3 (v5.18); hash-v3 on every bare-metal POWER9 (before 5.12)",
    _ARMS_V4_10, 0, nested_hv=False, ail_mode_3_cap=False, p9_split_mmu=False)
LINUX_6_1: Final = KernelRelease(
    "linux-6.1",
    "Debian bookworm's 6.1 (6.1.176 read): ISA v3.1 guests, reserved PCR bits; no Power11 "
    "arm: 0x0f000007 is EINVAL on every host",
    _ARMS_V5_9, PCR_MASK)
LINUX_6_12: Final = KernelRelease(
    "linux-6.12",
    "Debian trixie's 6.12 (6.12.118 read): Power11 shares ISA 3.1's arm on any ARCH_31 host; "
    "4K pages",
    _ARMS_6_12, PCR_MASK, page_shift=12)
LINUX_7_2: Final = KernelRelease(
    "linux-7.2",
    "Debian sid's 7.2 (7.2.13 read): Power11 only on a Power11 host (CPU_FTR_P11_PVR); "
    "elsewhere the vcore is left PVR_ARCH_INVALID and the set is EINVAL; 4K pages",
    _ARMS_7_2, PCR_MASK, page_shift=12)

#: every modelled host kernel, oldest first
KERNELS: Final[tuple[KernelRelease, ...]] = (LINUX_4_19, LINUX_6_1, LINUX_6_12, LINUX_7_2)
#: the host kernel a KVM accelerator runs on when none is named
DEFAULT_KERNEL: Final = LINUX_7_2


#: the base pages a ppc64 host kernel is built with, in KiB (CONFIG_PPC_4K/64K_PAGES)
HOST_PAGE_SIZES_KIB: Final = (4, 64)
#: the cap-hpt-max-page-size values modelled, in KiB: the segment page sizes KVM lists
#: (KVM_PPC_GET_SMMU_INFO: 4K, 64K, 16M)
HPT_PAGE_SIZES_KIB: Final = (4, 64, 16384)


def sizes_text(sizes: tuple[int, ...]) -> str:
    """``4 or 64``, ``4, 64 or 16384``: the valid sizes as the error messages name them."""
    return f"{', '.join(map(str, sizes[:-1]))} or {sizes[-1]}"


def kib_shift(kib: int) -> int:
    """log2 of a size in KiB, in bytes (64 -> 16)."""
    return (kib << 10).bit_length() - 1


def shift_kib(shift: int) -> int:
    """A page size in KiB from its log2 in bytes (16 -> 64): kib_shift's inverse."""
    return 1 << (shift - 10)


def kernel_by_name(name: str) -> KernelRelease | None:
    for kernel in KERNELS:
        if kernel.name == name:
            return kernel
    return None
