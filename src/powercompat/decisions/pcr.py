"""PCR values: what QEMU writes to SPR_PCR and what Linux KVM HV puts in the vcore.

Sources: QEMU target/ppc/compat.c ppc_set_compat() (``pcr & pcc->pcr_mask``);
Linux arch/powerpc/kvm/book3s_hv.c kvmppc_set_arch_compat() (host/guest PCR bits,
``(host_pcr_bit - guest_pcr_bit) | PCR_MASK`` since 13c7bb3c57dc, v5.4).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from powercompat.catalog import pcr as bits
from powercompat.catalog.cpus import CpuFamily
from powercompat.catalog.kernels import DEFAULT_KERNEL, PVR_ARCH_INVALID, KernelRelease
from powercompat.catalog.modes import CompatMode


def qemu_pcr(family: CpuFamily, mode: CompatMode | None) -> int:
    """SPR_PCR after ppc_set_compat(): the mode's bits masked by the class (0 in raw mode).

    >>> from powercompat.catalog.cpus import POWER9
    >>> from powercompat.catalog.history import HEAD
    >>> from powercompat.catalog.modes import mode_by_name
    >>> hex(qemu_pcr(POWER9, mode_by_name("power8", HEAD.modes)))
    '0x8'
    """
    return mode.pcr & family.pcr_mask if mode else 0


@dataclass(frozen=True, slots=True)
class HvPcr:
    """Outcome of kvmppc_set_arch_compat(): errno 0 and the vcore PCR, or the errno.
    ``stored``: what the vcore holds after a refused set that still wrote it (7.2's
    PVR_ARCH_INVALID), None when a refusal leaves it as it was."""

    errno: int
    host_pcr_bit: int
    guest_pcr_bit: int
    pcr: int
    reason: str
    stored: int | None = None


def kvm_hv_pcr(host: CpuFamily, arch_compat: int,
               kernel: KernelRelease = DEFAULT_KERNEL) -> HvPcr:
    """What Linux KVM HV (``kernel``) does with an ARCH_COMPAT write on a host of ``host``'s
    family.

    >>> from powercompat.catalog.cpus import POWER9
    >>> from powercompat.catalog.kernels import LINUX_4_19
    >>> hex(kvm_hv_pcr(POWER9, 0x0F000004, LINUX_4_19).pcr)
    '0x8'
    """
    host_bit = host.host_pcr_bit
    arm = kernel.arm(arch_compat)
    if arch_compat == 0:
        guest_bit = host_bit
    elif arm is None:
        return HvPcr(errno.EINVAL, host_bit, 0, 0,
                     f"0x{arch_compat:08x} is not a logical PVR {kernel.name} knows")
    elif arm.host is not None and arm.host != host.name:
        return HvPcr(errno.EINVAL, host_bit, arm.bit, kernel.reserved_pcr,
                     f"0x{arch_compat:08x} needs a {arm.host} host on {kernel.name}: the "
                     "vcore is left PVR_ARCH_INVALID", stored=PVR_ARCH_INVALID)
    else:
        guest_bit = arm.bit
    if guest_bit > host_bit:
        return HvPcr(errno.EINVAL, host_bit, guest_bit, 0,
                     f"guest level 0x{guest_bit:x} is above the host's 0x{host_bit:x}")
    value = (host_bit - guest_bit) | kernel.reserved_pcr
    return HvPcr(0, host_bit, guest_bit, value, "accepted")


def decode_pcr(value: int, view: str = "qemu") -> tuple[str, ...]:
    """Names of the bits set in a PCR value; unnamed bits as ``bit N`` (IBM numbering).

    ``view`` is ``qemu`` (target/ppc/cpu.h names) or ``linux`` (asm/reg.h names, where the
    reserved bits of PCR_MASK are folded into one ``reserved`` entry).

    >>> decode_pcr(0x200000000000003C)
    ('TM_DIS', 'COMPAT_3_10', 'COMPAT_3_00', 'COMPAT_2_07', 'COMPAT_2_06')
    """
    named = bits.QEMU_PCR_BITS if view == "qemu" else bits.LINUX_PCR_BITS
    out: list[str] = []
    rest = value
    # Linux keeps every reserved bit set (PCR_MASK, which contains the dummy PCR_ARCH_31).
    if view == "linux" and value & bits.PCR_MASK == bits.PCR_MASK:
        out.append("reserved (PCR_MASK)")
        rest &= ~bits.PCR_MASK
    for name, bit in named:
        if rest & bit:
            out.append(name)
            rest &= ~bit
    out.extend(f"bit {63 - n}" for n in range(63, -1, -1) if rest >> n & 1)
    return tuple(out)
