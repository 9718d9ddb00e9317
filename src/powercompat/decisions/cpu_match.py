"""CPU model lookup by name and by PVR, as QEMU does it.

Sources: target/ppc/cpu_init.c ppc_cpu_class_by_name() (case-insensitive, aliases, an
8-hex-digit name is a PVR), ppc_cpu_class_by_pvr() / _by_pvr_mask(), the
ppc_pvr_match_power{7,8,9,10}() callbacks, and target/ppc/machine.c pvr_match().
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

from powercompat.catalog.cpus import POWER_SERVER_MASK, CpuModel, PvrMatch
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


def _exact(model: CpuModel, pvr: int) -> bool:
    return model.pvr == pvr


def _same_base(model: CpuModel, pvr: int) -> bool:
    return pvr & POWER_SERVER_MASK == model.pvr & POWER_SERVER_MASK


def _same_major(model: CpuModel, pvr: int) -> bool:
    return _same_base(model, pvr) and pvr & _DD_MAJOR == model.pvr & _DD_MAJOR


def _power9_minor(model: CpuModel, pvr: int) -> bool:
    # DD2.0/2.1 match only the v2.0 class, DD2.2/2.3 only the v2.2 class; no other DD.
    if not _same_major(model, pvr) or pvr & _DD_MAJOR != 0x200:
        return False
    return model.pvr & 0xF == (0 if pvr & 0xF < 2 else 2)


def _family(model: CpuModel, pvr: int) -> bool:
    return pvr & POWER_SERVER_MASK in model.family.bases


_DD_MAJOR = 0x0F00
#: the ``best`` half of each pvr_match callback, one entry per PvrMatch
_BEST: Mapping[PvrMatch, Callable[[CpuModel, int], bool]] = MappingProxyType({
    PvrMatch.EXACT: _exact,
    PvrMatch.FAMILY: _family,
    PvrMatch.SAME_BASE: _same_base,
    PvrMatch.SAME_MAJOR: _same_major,
    PvrMatch.POWER9_MINOR: _power9_minor,
})


def pvr_match(model: CpuModel, pvr: int, best: bool) -> bool:
    """The class's pvr_match callback. ``best``: this exact class, not just the family
    (whose PVR bases are the release's own: POWER8E/NVL until f73b3168)."""
    family = model.family
    if not best and family.best is not PvrMatch.EXACT:
        return pvr & POWER_SERVER_MASK in family.bases
    return _BEST[family.best](model, pvr)


def migration_pvr_match(model: CpuModel, pvr: int) -> bool:
    """target/ppc/machine.c pvr_match(): the incoming raw PVR is this class or its family."""
    return pvr == model.pvr or pvr_match(model, pvr, True)


def class_by_pvr_mask(pvr: int, models: tuple[CpuModel, ...]) -> CpuModel | None:
    """ppc_cpu_class_by_pvr_mask(): the first class whose pvr_match(best) holds (KVM host)."""
    for model in models:
        if model.pvr == pvr:
            return model
    for model in models:
        if pvr_match(model, pvr, True):
            return model
    return None
