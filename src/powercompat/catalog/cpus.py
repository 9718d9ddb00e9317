"""CPU families (QEMU classes) and the CPU model row type, with their lookups.

Sources: QEMU target/ppc/cpu_init.c POWERPC_FAMILY(...) class fields (pcr_mask,
pcr_supported, spapr_logical_pvr) and the ppc_pvr_match_power* callbacks;
target/ppc/cpu-models.h (raw PVRs); Linux arch/powerpc/kvm/book3s_hv.c
kvmppc_set_arch_compat() for the host PCR level. Which models and aliases a release has is
history (:mod:`powercompat.catalog.history`), not a property of the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
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


class PvrMatch(Enum):
    """What a class's pvr_match callback accepts with ``best`` (this very class). Without
    ``best`` every family with ``bases`` accepts any PVR whose base is one of them."""

    #: the default callback: the class's own PVR only
    EXACT = "exact"
    #: 2.9 .. 5.2: the callback has no ``best`` argument: any member of the family
    FAMILY = "family"
    #: POWER7, POWER8: any revision of the class's own base
    SAME_BASE = "same-base"
    #: POWER10, POWER11: the class's base and the same DD major nibble (pvr & 0x0f00)
    SAME_MAJOR = "same-major"
    #: POWER9 since 2023-05: base and DD major; then DD2.0/2.1 (minor < 2) only the class
    #: whose minor is 0 (power9_v2.0), DD2.2/2.3 only the class whose minor is 2
    POWER9_MINOR = "power9-minor"


@dataclass(frozen=True, slots=True)
class CpuFamily:
    """A QEMU CPU family class.

    ``bases``/``best`` are its pvr_match callback as data (see :class:`PvrMatch`);
    ``host_pcr_bit`` is the level Linux KVM HV derives from a host of this family;
    ``msr_le``: the class's msr_mask has MSR_LE (POWER7 and later), so little-endian code
    runs; the 970 and POWER5+ classes have none. ``vmx``/``vsx``: the class's insns_flags
    have PPC_ALTIVEC / insns_flags2 PPC2_VSX, which spapr_dt_cpu() advertises to the guest
    as ``ibm,vmx`` 1 or 2 (cap-vsx permitting). ``scv``: the class's flags have
    POWERPC_FLAG_SCV, so TCG runs the vectored system call (as first defined: none has it).
    """

    name: str
    pcr_mask: int
    pcr_supported: int
    spapr_logical_pvr: int
    bases: tuple[int, ...]
    best: PvrMatch
    host_pcr_bit: int
    msr_le: bool = True
    vmx: bool = True
    vsx: bool = True
    scv: bool = False


_P9_MASK = PCR_COMPAT_2_05 | PCR_COMPAT_2_06 | PCR_COMPAT_2_07
_P9_SUPP = PCR_COMPAT_3_00 | PCR_COMPAT_2_07 | PCR_COMPAT_2_06 | PCR_COMPAT_2_05

# As first defined (2.9's family-wide pvr_match; the history gives each release its own).
POWER7: Final = CpuFamily(
    "POWER7", PCR_VEC_DIS | PCR_VSX_DIS | PCR_COMPAT_2_05, PCR_COMPAT_2_06 | PCR_COMPAT_2_05,
    LOGICAL_2_06_PLUS, (POWER7_BASE, POWER7P_BASE), PvrMatch.FAMILY, PCR_ARCH_206)
# The 8E and NVL bases match POWER8 until f73b3168.
POWER8: Final = CpuFamily(
    "POWER8", PCR_TM_DIS | PCR_COMPAT_2_06 | PCR_COMPAT_2_05,
    PCR_COMPAT_2_07 | PCR_COMPAT_2_06 | PCR_COMPAT_2_05,
    LOGICAL_2_07, (POWER8_BASE, POWER8E_BASE, POWER8NVL_BASE), PvrMatch.FAMILY,
    PCR_ARCH_207)
POWER9: Final = CpuFamily(
    "POWER9", _P9_MASK, _P9_SUPP, LOGICAL_3_00, (POWER9_BASE,), PvrMatch.FAMILY,
    PCR_ARCH_300)
POWER10: Final = CpuFamily(
    "POWER10", _P9_MASK | PCR_COMPAT_3_00, _P9_SUPP | PCR_COMPAT_3_10, LOGICAL_3_10,
    (POWER10_BASE,), PvrMatch.FAMILY, PCR_ARCH_31)
# Added with c0d96407 (9.2), with the scv flag POWER10 had by then.
POWER11: Final = CpuFamily(
    "POWER11", _P9_MASK | PCR_COMPAT_3_00, _P9_SUPP | PCR_COMPAT_3_10, LOGICAL_3_10_P11,
    (POWER11_BASE,), PvrMatch.SAME_MAJOR, PCR_ARCH_31, scv=True)
# No compat support at all: pcr_supported = 0, so every mode is refused.
POWER5P: Final = CpuFamily("POWER5+", 0, 0, 0, (), PvrMatch.EXACT, PCR_ARCH_205, msr_le=False,
                           vmx=False, vsx=False)
PPC970: Final = CpuFamily("970", 0, 0, 0, (), PvrMatch.EXACT, PCR_ARCH_205, msr_le=False,
                          vsx=False)
PPC970MP: Final = CpuFamily("970MP", 0, 0, 0, (), PvrMatch.EXACT, PCR_ARCH_205, msr_le=False,
                            vsx=False)

#: every family class, as first defined (a release's own copies come from its history)
FAMILIES: Final[tuple[CpuFamily, ...]] = (
    POWER5P, PPC970, PPC970MP, POWER7, POWER8, POWER9, POWER10, POWER11)


@dataclass(frozen=True, slots=True)
class CpuModel:
    """A ``-cpu`` model: its name as ``-cpu help`` lists it, its raw PVR and its class."""

    name: str
    pvr: int
    family: CpuFamily
    description: str


def model_by_exact_name(name: str, models: tuple[CpuModel, ...]) -> CpuModel | None:
    for model in models:
        if model.name == name:
            return model
    return None


def family_by_name(name: str, families: tuple[CpuFamily, ...] = FAMILIES) -> CpuFamily | None:
    """Family lookup, case-insensitive (``power9`` or ``POWER9``)."""
    for family in families:
        if family.name.lower() == name.lower():
            return family
    return None


def family_of_pvr(pvr: int, families: tuple[CpuFamily, ...] = FAMILIES) -> CpuFamily | None:
    """The POWER server family a raw PVR's base belongs to, as the host kernel sees it (its
    cpu_specs know families QEMU may have no class for)."""
    base = pvr & POWER_SERVER_MASK
    return next((f for f in families if base in f.bases), None)
