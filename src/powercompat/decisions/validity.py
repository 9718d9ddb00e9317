"""Is a compat mode valid for a CPU class? QEMU's pcc_compat(), one guard per rule.

Source: target/ppc/compat.c pcc_compat() (HEAD), called by ppc_check_compat() and
ppc_type_check_compat().
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from powercompat.catalog.cpus import CpuFamily, CpuModel
from powercompat.catalog.modes import CompatMode, pvr_label
from powercompat.decisions.reasons import Reason
from powercompat.decisions.rules import HEAD_RULES, CompatRules
from powercompat.messages import hex32


@dataclass(frozen=True, slots=True)
class Validity:
    """Verdict on one logical PVR for one CPU family, with the rule that decided it."""

    ok: bool
    pvr: int
    mode: CompatMode | None
    reason: Reason


def check_compat(
    family: CpuFamily,
    pvr: int,
    min_pvr: int = 0,
    max_pvr: int = 0,
    rules: CompatRules = HEAD_RULES,
) -> Validity:
    """pcc_compat(): may a CPU of ``family`` run in mode ``pvr`` within [min, max]?

    A zero bound means no bound; a non-zero bound must be a known mode (QEMU asserts).
    A pure decision on immutable values, so it is cached (the same few are asked over and
    over: every CAS entry, every reset, every fleet pair).
    """
    return _check_compat(family, pvr, min_pvr, max_pvr, rules)


def _position(pvr: int, modes: tuple[CompatMode, ...]) -> int:
    """The table position of ``pvr`` (compat_by_pvr's exact scan), -1 if absent. Compares
    the PVRs, never the rows (a dataclass ``==`` per row made ``modes.index`` slow)."""
    for i, mode in enumerate(modes):
        if mode.pvr == pvr:
            return i
    return -1


@lru_cache(maxsize=8192)
def _check_compat(family: CpuFamily, pvr: int, min_pvr: int, max_pvr: int,
                  rules: CompatRules) -> Validity:
    modes = rules.modes
    at = _position(pvr, modes)
    mode = modes[at] if at >= 0 else None
    lo = _position(min_pvr, modes) if min_pvr else -1
    hi = _position(max_pvr, modes) if max_pvr else -1
    # QEMU g_assert()s these: a bound comes from QEMU itself, never from a guest.
    assert not min_pvr or lo >= 0, f"unknown min compat {hex32(min_pvr)}"
    assert not max_pvr or hi >= 0, f"unknown max compat {hex32(max_pvr)}"
    name = pvr_label(pvr, modes, raw=False)

    def refuse(rule: str, text: str) -> Validity:
        return Validity(False, pvr, mode, Reason(name, False, rule, f"{name}: {text}"))

    # Unknown logical PVR (includes every raw PVR and 0x0f000001).
    if mode is None:
        return refuse("unknown-pvr", "not a logical PVR in the compat table")
    # Bounds compare table positions, not values (pointer comparison in QEMU).
    if lo >= 0 and at < lo:
        return refuse("below-min", f"older than {modes[lo].name}, the best mode found so far")
    if hi >= 0 and at > hi:
        return refuse("above-max", f"newer than max-cpu-compat={modes[hi].name}")
    # An older CPU cannot support a newer processor's mode: a *numeric* comparison, which is
    # why power7+ (0x0f100003) is refused on POWER8 and newer at head.
    if rules.logical_pvr_check and mode.pvr > family.spapr_logical_pvr:
        if not family.spapr_logical_pvr:
            return refuse("newer-than-cpu", f"{family.name} has no logical PVR: no compat modes")
        return refuse(
            "newer-than-cpu",
            f"{hex32(mode.pvr)} > {family.name}'s logical PVR "
            f"{hex32(family.spapr_logical_pvr)} (ac0fbbb2)",
        )
    # The CPU class must support the mode's PCR level.
    if not family.pcr_supported & mode.pcr_level:
        return refuse("pcr-level", f"PCR level 0x{mode.pcr_level:x} not supported by {family.name}")
    return Validity(True, pvr, mode, Reason(name, True, "ok", f"{name}: valid for {family.name}"))


def check_compat_for_model(
    model: CpuModel, pvr: int, min_pvr: int = 0, max_pvr: int = 0,
    rules: CompatRules = HEAD_RULES,
) -> Validity:
    """ppc_type_check_compat(): the same rule, asked of a CPU model before any vCPU exists."""
    return check_compat(model.family, pvr, min_pvr, max_pvr, rules)


def valid_modes(family: CpuFamily, rules: CompatRules = HEAD_RULES) -> tuple[CompatMode, ...]:
    """Every mode a CPU family may run, in table order."""
    return tuple(m for m in rules.modes if check_compat(family, m.pvr, rules=rules).ok)
