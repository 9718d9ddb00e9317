"""CPU model lookup by name and by PVR, as QEMU does it.

Sources: target/ppc/cpu_init.c ppc_cpu_class_by_name() (case-insensitive, aliases, an
8-hex-digit name is a PVR), ppc_cpu_class_by_pvr() / _by_pvr_mask(), the
ppc_pvr_match_power{7,8,9,10}() callbacks, and target/ppc/machine.c pvr_match().
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from powercompat.catalog.cpus import (
    POWER7_BASE,
    POWER7P_BASE,
    POWER8_BASE,
    POWER_SERVER_MASK,
    CpuModel,
)
from powercompat.errors import UnknownCpuError

_PVR_NAME = re.compile(r"(0[xX])?[0-9a-fA-F]{8}")


def resolve_cpu(
    name: str, models: tuple[CpuModel, ...], aliases: Mapping[str, str]
) -> CpuModel:
    """ppc_cpu_class_by_name(): a PVR in hex, or a model name or alias, case-insensitive.

    :raises UnknownCpuError: QEMU's "unable to find CPU model '<name>'".
    """
    if _PVR_NAME.fullmatch(name):
        pvr = int(name, 16)
        for model in models:
            if model.pvr == pvr:
                return model
        raise UnknownCpuError(name)
    lowered = name.lower()
    target = aliases.get(lowered, lowered)
    for model in models:
        if model.name == target:
            return model
    raise UnknownCpuError(name)


def pvr_match(model: CpuModel, pvr: int, best: bool, p8_variants: bool = True) -> bool:
    """The class's pvr_match callback. ``best``: this exact class, not just the family.

    ``p8_variants``: POWER8E/NVL bases still match the POWER8 family (before f73b3168).
    """
    family = model.family
    base = pvr & POWER_SERVER_MASK
    own_base = model.pvr & POWER_SERVER_MASK
    if family.match == "exact":
        return model.pvr == pvr
    if family.match == "power7":
        if not best:
            return base in (POWER7_BASE, POWER7P_BASE)
        return base == own_base
    if family.match == "power8":
        if not best:
            return base == POWER8_BASE or (p8_variants and base in family.bases)
        return base == own_base
    if not best and base in family.bases:
        return True
    if base != own_base or pvr & 0x0F00 != model.pvr & 0x0F00:
        return False
    if family.match == "power10":
        return True
    # POWER9: DD2.0/2.1 match only the v2.0 class, DD2.2/2.3 only the v2.2 class.
    if pvr & 0x0F00 == 0x200:
        if pvr & 0xF < 2:
            return model.pvr & 0xF == 0
        return model.pvr & 0xF == 2
    return False


def migration_pvr_match(model: CpuModel, pvr: int, p8_variants: bool = True) -> bool:
    """target/ppc/machine.c pvr_match(): the incoming raw PVR is this class or its family."""
    return pvr == model.pvr or pvr_match(model, pvr, True, p8_variants)


def class_by_pvr_mask(
    pvr: int, models: tuple[CpuModel, ...], p8_variants: bool = True
) -> CpuModel | None:
    """ppc_cpu_class_by_pvr_mask(): the first class whose pvr_match(best) holds (KVM host)."""
    for model in models:
        if model.pvr == pvr:
            return model
    for model in models:
        if pvr_match(model, pvr, True, p8_variants):
            return model
    return None
