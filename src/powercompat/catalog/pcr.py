"""PCR (Processor Compatibility Register) bits, in QEMU's and in Linux's spelling.

QEMU: target/ppc/cpu.h, the anonymous enum "Processor Compatibility mask (PCR)", written with
PPC_BIT(n) = 0x8000000000000000 >> n (IBM bit numbering).
Linux: arch/powerpc/include/asm/reg.h (PCR_*), and the dummies in arch/powerpc/kvm/book3s_hv.c.
"""

from __future__ import annotations

from typing import Final


def ppc_bit(n: int) -> int:
    """IBM bit numbering: bit 0 is the most significant of 64 (QEMU's PPC_BIT)."""
    return 0x8000000000000000 >> n


#: SPR number of the PCR (target/ppc/cpu.h SPR_PCR; Linux SPRN_PCR)
SPR_PCR: Final = 0x152

# QEMU target/ppc/cpu.h
PCR_COMPAT_2_05: Final = ppc_bit(62)  # 0x2
PCR_COMPAT_2_06: Final = ppc_bit(61)  # 0x4
PCR_COMPAT_2_07: Final = ppc_bit(60)  # 0x8
PCR_COMPAT_3_00: Final = ppc_bit(59)  # 0x10, since 216c944e (2017-01-13)
PCR_COMPAT_3_10: Final = ppc_bit(58)  # 0x20, since 7d37b274 (2019-12-05)
PCR_VEC_DIS: Final = ppc_bit(0)  # not available since POWER8
PCR_VSX_DIS: Final = ppc_bit(1)  # not available since POWER8
PCR_TM_DIS: Final = ppc_bit(2)  # POWER8

#: every named QEMU PCR bit, most significant first: (name, value)
QEMU_PCR_BITS: Final[tuple[tuple[str, int], ...]] = (
    ("VEC_DIS", PCR_VEC_DIS),
    ("VSX_DIS", PCR_VSX_DIS),
    ("TM_DIS", PCR_TM_DIS),
    ("COMPAT_3_10", PCR_COMPAT_3_10),
    ("COMPAT_3_00", PCR_COMPAT_3_00),
    ("COMPAT_2_07", PCR_COMPAT_2_07),
    ("COMPAT_2_06", PCR_COMPAT_2_06),
    ("COMPAT_2_05", PCR_COMPAT_2_05),
)

# Linux arch/powerpc/include/asm/reg.h; PCR_ARCH_31 is a dummy in book3s_hv.c
# (PCR_ARCH_300 << 1), outside PCR_LOW_BITS, so 0x20 lies inside PCR_MASK.
PCR_ARCH_205: Final = 0x2
PCR_ARCH_206: Final = 0x4
PCR_ARCH_207: Final = 0x8
PCR_ARCH_300: Final = 0x10
PCR_ARCH_31: Final = 0x20
PCR_MMA_DIS: Final = 1 << 60  # added for POWER10 (~v5.10)
PCR_TM_DIS_LINUX: Final = 1 << 61
PCR_VSX_DIS_LINUX: Final = 1 << 62
PCR_VEC_DIS_LINUX: Final = 1 << 63
PCR_HIGH_BITS: Final = PCR_MMA_DIS | PCR_TM_DIS_LINUX | PCR_VSX_DIS_LINUX | PCR_VEC_DIS_LINUX
PCR_LOW_BITS: Final = PCR_ARCH_207 | PCR_ARCH_206 | PCR_ARCH_205 | PCR_ARCH_300
#: reserved PCR bits the kernel keeps set since 13c7bb3c57dc (v5.4): 0x0fffffffffffffe1
PCR_MASK: Final = ~(PCR_HIGH_BITS | PCR_LOW_BITS) & 0xFFFFFFFFFFFFFFFF

#: Linux's named PCR bits, most significant first: (name, value)
LINUX_PCR_BITS: Final[tuple[tuple[str, int], ...]] = (
    ("PCR_VEC_DIS", PCR_VEC_DIS_LINUX),
    ("PCR_VSX_DIS", PCR_VSX_DIS_LINUX),
    ("PCR_TM_DIS", PCR_TM_DIS_LINUX),
    ("PCR_MMA_DIS", PCR_MMA_DIS),
    ("PCR_ARCH_31", PCR_ARCH_31),
    ("PCR_ARCH_300", PCR_ARCH_300),
    ("PCR_ARCH_207", PCR_ARCH_207),
    ("PCR_ARCH_206", PCR_ARCH_206),
    ("PCR_ARCH_205", PCR_ARCH_205),
)
