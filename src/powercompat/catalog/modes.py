"""The compat table: one row per architected mode, oldest to newest.

Source: QEMU target/ppc/compat.c ``compat_table`` (HEAD b428fe0362) and its 2017 state
(9b44c836 .. 03ee51d3), logical PVRs from target/ppc/cpu-models.h. The code compares
*positions* in this table for min/max bounds (as QEMU compares pointers), so the order is
part of the data and must not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from powercompat.catalog.pcr import (
    PCR_COMPAT_2_05,
    PCR_COMPAT_2_06,
    PCR_COMPAT_2_07,
    PCR_COMPAT_3_00,
    PCR_COMPAT_3_10,
    PCR_TM_DIS,
    PCR_VSX_DIS,
)

# target/ppc/cpu-models.h "Logical PVR definitions for sPAPR"
LOGICAL_2_04: Final = 0x0F000001  # never in the table; Linux's CAS terminator value
LOGICAL_2_05: Final = 0x0F000002
LOGICAL_2_06: Final = 0x0F000003
LOGICAL_2_06_PLUS: Final = 0x0F100003
LOGICAL_2_07: Final = 0x0F000004
LOGICAL_3_00: Final = 0x0F000005
LOGICAL_3_10: Final = 0x0F000006
LOGICAL_3_10_P11: Final = 0x0F000007


@dataclass(frozen=True, slots=True)
class CompatMode:
    """One ``CompatInfo`` row.

    ``pcr`` is the head value (with PCR_COMPAT_3_10, which 7d37b274 added in 2019);
    ``pcr_2017`` is the row as QEMU 2.10/2.11 had it. ``max_vthreads`` is what the *guest*
    may see; ``max_vthreads_2017`` the 2017 ``max_threads``.
    """

    name: str
    pvr: int
    pcr: int
    pcr_level: int
    max_vthreads: int
    isa: str
    since: str
    pcr_2017: int | None
    max_vthreads_2017: int | None


_P6 = PCR_COMPAT_2_07 | PCR_COMPAT_2_06 | PCR_COMPAT_2_05 | PCR_TM_DIS | PCR_VSX_DIS
_P7 = PCR_COMPAT_2_07 | PCR_COMPAT_2_06 | PCR_TM_DIS
_NEW = PCR_COMPAT_3_10 | PCR_COMPAT_3_00

#: QEMU's compat_table, in QEMU's order (the code relies on it).
COMPAT_MODES: Final[tuple[CompatMode, ...]] = (
    CompatMode("power6", LOGICAL_2_05, _NEW | _P6, PCR_COMPAT_2_05, 2, "2.05", "9d6f1065",
               PCR_COMPAT_3_00 | _P6, 2),
    CompatMode("power7", LOGICAL_2_06, _NEW | _P7, PCR_COMPAT_2_06, 4, "2.06", "9d6f1065",
               PCR_COMPAT_3_00 | _P7, 4),
    CompatMode("power7+", LOGICAL_2_06_PLUS, _NEW | _P7, PCR_COMPAT_2_06, 4, "2.06+", "9d6f1065",
               PCR_COMPAT_3_00 | _P7, 4),
    CompatMode("power8", LOGICAL_2_07, _NEW | PCR_COMPAT_2_07, PCR_COMPAT_2_07, 8, "2.07",
               "9d6f1065", PCR_COMPAT_3_00 | PCR_COMPAT_2_07, 8),
    # POWER9 hardware has 4 threads per core, but P8-compat guests on P9 need 8 vthreads and a
    # guest must not lose half its threads when it negotiates P9 at CAS: 4 until 03ee51d3.
    CompatMode("power9", LOGICAL_3_00, _NEW, PCR_COMPAT_3_00, 8, "3.00", "9b44c836",
               PCR_COMPAT_3_00, 4),
    CompatMode("power10", LOGICAL_3_10, PCR_COMPAT_3_10, PCR_COMPAT_3_10, 8, "3.1", "7d37b274",
               None, None),
    # Same pcr and pcr_level as power10: hence the spapr_logical_pvr check (ac0fbbb2).
    CompatMode("power11", LOGICAL_3_10_P11, PCR_COMPAT_3_10, PCR_COMPAT_3_10, 8, "3.1 (P11)",
               "c0d96407", None, None),
)


def mode_by_pvr(pvr: int, modes: tuple[CompatMode, ...] = COMPAT_MODES) -> CompatMode | None:
    """QEMU's compat_by_pvr(): an exact scan, no masking; 0 is never in the table."""
    for mode in modes:
        if mode.pvr == pvr:
            return mode
    return None


def mode_by_name(name: str, modes: tuple[CompatMode, ...] = COMPAT_MODES) -> CompatMode | None:
    """QEMU's ppc_compat_prop_set() lookup: exact and case-sensitive."""
    for mode in modes:
        if mode.name == name:
            return mode
    return None


def mode_index(mode: CompatMode, modes: tuple[CompatMode, ...] = COMPAT_MODES) -> int:
    """Table position, the quantity QEMU's min/max bounds compare."""
    return modes.index(mode)
