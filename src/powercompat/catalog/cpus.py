"""CPU families (QEMU classes) and CPU models with their raw PVRs and aliases.

Sources: QEMU target/ppc/cpu_init.c POWERPC_FAMILY(...) class fields (pcr_mask,
pcr_supported, spapr_logical_pvr) and the ppc_pvr_match_power* callbacks;
target/ppc/cpu-models.h (raw PVRs) and cpu-models.c (models and ppc_cpu_aliases);
Linux arch/powerpc/kvm/book3s_hv.c kvmppc_set_arch_compat() for the host PCR level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from powercompat.catalog.modes import (
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
    PCR_COMPAT_2_05,
    PCR_COMPAT_2_06,
    PCR_COMPAT_2_07,
    PCR_COMPAT_3_00,
    PCR_COMPAT_3_10,
    PCR_TM_DIS,
    PCR_VEC_DIS,
    PCR_VSX_DIS,
)

#: target/ppc/cpu-models.h CPU_POWERPC_POWER_SERVER_MASK
POWER_SERVER_MASK: Final = 0xFFFF0000

# Raw PVR bases (cpu-models.h)
POWER7_BASE: Final = 0x003F0000
POWER7P_BASE: Final = 0x004A0000
POWER8E_BASE: Final = 0x004B0000
POWER8NVL_BASE: Final = 0x004C0000
POWER8_BASE: Final = 0x004D0000
POWER9_BASE: Final = 0x004E0000
POWER10_BASE: Final = 0x00800000
POWER11_BASE: Final = 0x00820000


@dataclass(frozen=True, slots=True)
class CpuFamily:
    """A QEMU CPU family class.

    ``match`` names the class's pvr_match callback: ``power7``, ``power8``, ``power9``,
    ``power10`` (also POWER11's rule) or ``exact`` (the default callback).
    ``host_pcr_bit`` is the level Linux KVM HV derives from a host of this family.
    ``msr_le``: the class's msr_mask has MSR_LE (POWER7 and later), so little-endian code
    runs; the 970 and POWER5+ classes have none.
    """

    name: str
    pcr_mask: int
    pcr_supported: int
    spapr_logical_pvr: int
    match: str
    bases: tuple[int, ...]
    host_pcr_bit: int
    kvm_hv: bool
    msr_le: bool = True


_P9_MASK = PCR_COMPAT_2_05 | PCR_COMPAT_2_06 | PCR_COMPAT_2_07
_P9_SUPP = PCR_COMPAT_3_00 | PCR_COMPAT_2_07 | PCR_COMPAT_2_06 | PCR_COMPAT_2_05

POWER7: Final = CpuFamily(
    "POWER7", PCR_VEC_DIS | PCR_VSX_DIS | PCR_COMPAT_2_05, PCR_COMPAT_2_06 | PCR_COMPAT_2_05,
    LOGICAL_2_06_PLUS, "power7", (POWER7_BASE, POWER7P_BASE), PCR_ARCH_206, True)
# 8E and NVL bases matched POWER8 until f73b3168 (2026-07-03) removed those models.
POWER8: Final = CpuFamily(
    "POWER8", PCR_TM_DIS | PCR_COMPAT_2_06 | PCR_COMPAT_2_05,
    PCR_COMPAT_2_07 | PCR_COMPAT_2_06 | PCR_COMPAT_2_05,
    LOGICAL_2_07, "power8", (POWER8_BASE, POWER8E_BASE, POWER8NVL_BASE), PCR_ARCH_207, True)
POWER9: Final = CpuFamily(
    "POWER9", _P9_MASK, _P9_SUPP, LOGICAL_3_00, "power9", (POWER9_BASE,), PCR_ARCH_300, True)
POWER10: Final = CpuFamily(
    "POWER10", _P9_MASK | PCR_COMPAT_3_00, _P9_SUPP | PCR_COMPAT_3_10, LOGICAL_3_10, "power10",
    (POWER10_BASE,), PCR_ARCH_31, True)
POWER11: Final = CpuFamily(
    "POWER11", _P9_MASK | PCR_COMPAT_3_00, _P9_SUPP | PCR_COMPAT_3_10, LOGICAL_3_10_P11,
    "power10", (POWER11_BASE,), PCR_ARCH_31, True)
# No compat support at all: pcr_supported = 0, so every mode is refused.
POWER5P: Final = CpuFamily("POWER5+", 0, 0, 0, "exact", (), PCR_ARCH_205, False, msr_le=False)
PPC970: Final = CpuFamily("970", 0, 0, 0, "exact", (), PCR_ARCH_205, False, msr_le=False)
PPC970MP: Final = CpuFamily("970MP", 0, 0, 0, "exact", (), PCR_ARCH_205, False, msr_le=False)

FAMILIES: Final[tuple[CpuFamily, ...]] = (
    POWER5P, PPC970, PPC970MP, POWER7, POWER8, POWER9, POWER10, POWER11)


@dataclass(frozen=True, slots=True)
class CpuModel:
    """A ``-cpu`` model. ``removed`` is the commit that dropped it upstream, if any;
    ``pvr_before_2023`` the raw PVR QEMU used before the DD constants were renumbered in
    2023-05 (POWER10_DD20 was 0x00800200; seen on Debian's QEMU 7.2)."""

    name: str
    pvr: int
    family: CpuFamily
    description: str
    removed: str | None = None
    pvr_before_2023: int | None = None
    added: str | None = None


#: target/ppc/cpu-models.c, the server models pseries can run
CPU_MODELS: Final[tuple[CpuModel, ...]] = (
    CpuModel("970_v2.2", 0x00390202, PPC970, "PowerPC 970 v2.2"),
    CpuModel("970mp_v1.1", 0x00440101, PPC970MP, "PowerPC 970MP v1.1"),
    CpuModel("power5p_v2.1", 0x003B0201, POWER5P, "POWER5+ v2.1"),
    CpuModel("power7_v2.3", 0x003F0203, POWER7, "POWER7 v2.3"),
    CpuModel("power7p_v2.1", 0x004A0201, POWER7, "POWER7+ v2.1"),
    CpuModel("power8e_v2.1", 0x004B0201, POWER8, "POWER8E v2.1", removed="f73b3168"),
    CpuModel("power8nvl_v1.0", 0x004C0100, POWER8, "POWER8NVL v1.0", removed="f73b3168"),
    CpuModel("power8_v2.0", 0x004D0200, POWER8, "POWER8 v2.0"),
    CpuModel("power9_v2.0", 0x004E1200, POWER9, "POWER9 v2.0"),
    CpuModel("power9_v2.2", 0x004E1202, POWER9, "POWER9 v2.2", added="277ee172"),
    CpuModel("power10_v2.0", 0x00801200, POWER10, "POWER10 v2.0", pvr_before_2023=0x00800200),
    CpuModel("power11_v2.0", 0x00821200, POWER11, "POWER11 v2.0", added="c0d96407"),
)

#: target/ppc/cpu-models.c ppc_cpu_aliases (head); profiles override ``power9``.
CPU_ALIASES: Final[dict[str, str]] = {
    "970": "970_v2.2",
    "970mp": "970mp_v1.1",
    "power5+": "power5p_v2.1",
    "power5+_v2.1": "power5p_v2.1",
    "power7": "power7_v2.3",
    "power7+": "power7p_v2.1",
    "power7+_v2.1": "power7p_v2.1",
    "power8e": "power8e_v2.1",
    "power8nvl": "power8nvl_v1.0",
    "power8": "power8_v2.0",
    "power9": "power9_v2.2",
    "power10": "power10_v2.0",
    "power11": "power11_v2.0",
}


def model_by_exact_name(name: str, models: tuple[CpuModel, ...] = CPU_MODELS) -> CpuModel | None:
    for model in models:
        if model.name == name:
            return model
    return None


def family_by_name(name: str) -> CpuFamily | None:
    """Family lookup, case-insensitive (``power9`` or ``POWER9``)."""
    for family in FAMILIES:
        if family.name.lower() == name.lower():
            return family
    return None
