"""Compat modes: the logical PVRs, the row type of QEMU's compat table, and its lookups.

Source: QEMU target/ppc/compat.c ``CompatInfo`` / ``compat_by_pvr()``, logical PVRs from
target/ppc/cpu-models.h. The rows themselves, as each release has them, are built from the
history of changes in :mod:`powercompat.catalog.history`. The code compares *positions* in a
table for min/max bounds (as QEMU compares pointers), so a table's order is part of its data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

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
    """One ``CompatInfo`` row. ``max_vthreads`` is what the *guest* may see (``max_threads``
    until abbc1247); ``isa`` names the ISA level for people."""

    name: str
    pvr: int
    pcr: int
    pcr_level: int
    max_vthreads: int
    isa: str


def mode_by_pvr(pvr: int, modes: tuple[CompatMode, ...]) -> CompatMode | None:
    """QEMU's compat_by_pvr(): an exact scan, no masking; 0 is never in the table."""
    for mode in modes:
        if mode.pvr == pvr:
            return mode
    return None


def mode_by_name(name: str, modes: tuple[CompatMode, ...]) -> CompatMode | None:
    """QEMU's ppc_compat_prop_set() lookup: exact and case-sensitive."""
    for mode in modes:
        if mode.name == name:
            return mode
    return None


def mode_index(mode: CompatMode, modes: tuple[CompatMode, ...]) -> int:
    """Table position, the quantity QEMU's min/max bounds compare."""
    return modes.index(mode)


def mode_name(pvr: int, modes: tuple[CompatMode, ...]) -> str | None:
    """A mode's table name; None for raw (0); the hex of a PVR the table lacks.

    >>> mode_name(0x0F000004, (CompatMode("power8", 0x0F000004, 0x38, 0x8, 8, "2.07"),))
    'power8'
    >>> mode_name(0x0F000009, ()) , mode_name(0, ())
    ('0x0f000009', None)
    """
    if not pvr:
        return None
    mode = mode_by_pvr(pvr, modes)
    return mode.name if mode else _hex32(pvr)


def pvr_label(pvr: int, modes: tuple[CompatMode, ...], *, raw: bool = True) -> str:
    """The one label for a compat PVR people read: ``power8 (0x0f000004)``, ``raw
    (0x00000000)`` (unless ``raw`` is False: 0 as a CAS candidate is just a value), or the
    bare hex of a value the table lacks.

    >>> pvr_label(0, ())
    'raw (0x00000000)'
    >>> pvr_label(0, (), raw=False)
    '0x00000000'
    """
    if pvr == 0 and raw:
        return f"raw ({_hex32(0)})"
    mode = mode_by_pvr(pvr, modes)
    return f"{mode.name} ({_hex32(pvr)})" if mode else _hex32(pvr)


def _hex32(value: int) -> str:
    # QEMU's 0x%08x (messages.hex32); the catalogue imports nothing of ours
    return f"0x{value:08x}"
