"""CPU model lookup by name and by PVR, as QEMU does it.

Sources: target/ppc/cpu_init.c ppc_cpu_class_by_name() (case-insensitive, aliases, an
8-hex-digit name is a PVR), ppc_cpu_class_by_pvr() / _by_pvr_mask(), the
ppc_pvr_match_power{7,8,9,10}() callbacks, and target/ppc/machine.c pvr_match().
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from powercompat.catalog.cpus import FAMILIES, POWER_SERVER_MASK, CpuFamily, CpuModel, PvrMatch
from powercompat.catalog.modes import (
    LOGICAL_2_06,
    LOGICAL_2_06_PLUS,
    CompatMode,
    mode_by_pvr,
)
from powercompat.decisions.rules import CompatRules
from powercompat.decisions.validity import check_compat
from powercompat.errors import UnknownCpuError
from powercompat.messages import compat_not_valid

_PVR_NAME = re.compile(r"(0[xX])?[0-9a-fA-F]{8}")


def is_pvr_name(name: str) -> bool:
    """8 hex digits, with or without ``0x``: QEMU reads such a -cpu name as a PVR."""
    return _PVR_NAME.fullmatch(name) is not None


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


def host_cpu_class(pvr: int, models: tuple[CpuModel, ...]) -> CpuModel | None:
    """target/ppc/kvm.c kvm_ppc_get_host_cpu_class(): the class of the host's PVR, exact
    first (ppc_cpu_class_by_pvr), else by the release's pvr_match (ppc_cpu_class_by_pvr_mask);
    None: no class, so KVM registers no ``host`` type (-cpu host is an unknown model).

    The host type itself is this class with the host's real PVR
    (kvmppc_host_cpu_class_init: ``pcc->pvr = mfpvr()``): see :func:`host_type`.
    """
    return class_by_pvr_mask(pvr, models)


def host_type(parent: CpuModel, pvr: int) -> CpuModel:
    """The ``host`` CPU type: ``parent``'s class (family, PCR masks, pvr_match) with the
    host's own PVR, so the guest sees the real PVR (raw PVR, cpu-version in raw mode, the
    cpuinfo revision)."""
    return CpuModel("host", pvr, parent.family,
                    f"the host's processor: class {parent.name} with PVR 0x{pvr:08x}")


def family_alias(family: CpuFamily) -> str | None:
    """The alias kvm_ppc_register_host_cpu_type() re-points at the host type: the one whose
    name is the host family's ``dc->desc`` (case-insensitive since 2.11: ``power9`` for
    POWER9, ``power5+`` for POWER5+); the 970 families' desc ("PowerPC 970") names no alias."""
    return family.name.lower() if family.name.startswith("POWER") else None


def kernel_family(pvr: int, families: tuple[CpuFamily, ...] = FAMILIES) -> CpuFamily | None:
    """The family of a host processor as the kernel knows it (its cpu_specs match the PVR's
    base), whatever QEMU release runs on it: the base's family as first defined."""
    for family in families:
        if pvr & POWER_SERVER_MASK in family.bases:
            return family
    return None


class AsHost(NamedTuple):
    """A guest CPU asked for on a KVM host, as KVM HV can run it: ``-cpu host`` with
    ``max_compat`` (None: no maximum) and a ``note`` saying what was done (None: the guest
    CPU is the host's), or a ``refusal`` when no maximum makes the host that CPU."""

    max_compat: CompatMode | None
    note: str | None
    refusal: str | None


def as_host_cpu(guest: CpuModel, host: CpuModel, max_compat: CompatMode | None,
                rules: CompatRules) -> AsHost:
    """KVM HV runs only the host's processor (kvm_arch_vcpu_ioctl_set_sregs_hv), so a
    guest CPU of another PVR is -cpu host in the guest CPU's own mode (a POWER8 guest on a
    POWER9 host: max-cpu-compat=power8), or within an older ``max_compat``; one of the same
    family is the host's revision, said so. No mode stands for a family with no compat
    levels, a guest newer than the host, or a maximum newer than the guest CPU."""
    if guest.pvr == host.pvr:
        return AsHost(max_compat, None, None)
    where = (f"a {guest.name} guest (PVR 0x{guest.pvr:08x}) on a {host.family.name} host "
             f"(PVR 0x{host.pvr:08x})")
    if guest.family.name == host.family.name:
        return AsHost(max_compat, f"KVM runs only the host's processor: {where} is -cpu host, "
                      "the host's revision", None)
    level = mode_by_pvr(guest.family.spapr_logical_pvr, rules.modes)
    if level is None:
        return AsHost(None, None, f"KVM runs only the host's processor, and no compat mode "
                      f"makes it a {guest.family.name}: {where} cannot run")
    names = [m.name for m in rules.modes]
    if max_compat is not None and names.index(max_compat.name) > names.index(level.name):
        return AsHost(None, None, compat_not_valid(max_compat.pvr))
    compat = max_compat or level
    if compat.pvr == LOGICAL_2_06_PLUS and not check_compat(host.family, compat.pvr,
                                                            rules=rules).ok:
        # POWER7's class level is power7+ (ISA 2.06 and a few instructions), which a POWER8+
        # host refuses since ac0fbbb2 (and Linux never lists): the POWER7 guest is power7
        compat = mode_by_pvr(LOGICAL_2_06, rules.modes) or compat
    if not check_compat(host.family, compat.pvr, rules=rules).ok:
        return AsHost(None, None, f"KVM runs only the host's processor, and a "
                      f"{host.family.name} cannot run {compat.name} compat: {where} cannot "
                      "run")
    return AsHost(compat, f"KVM runs only the host's processor: {where} is -cpu host with "
                  f"max-cpu-compat={compat.name}", None)
