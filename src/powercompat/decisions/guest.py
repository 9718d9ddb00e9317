"""What the guest makes of the negotiated mode: its /proc/cpuinfo line and whether its
userland can run. Sources: Linux arch/powerpc/kernel/prom.c early_init_dt_scan_cpus()
(a ``cpu-version`` with top byte 0x0f re-runs identify_cpu()), setup-common.c
show_cpuinfo(), and oracle.md (Debian's ppc64el userland needs POWER8)."""

from __future__ import annotations

from dataclasses import dataclass

from powercompat.catalog.cpus import CpuModel
from powercompat.catalog.guests import GuestProfile, linux_cpu_spec
from powercompat.catalog.modes import CompatMode, mode_by_name, mode_by_pvr
from powercompat.decisions.rules import HEAD_RULES, CompatRules


def guest_cpu_line(guest: GuestProfile, raw_pvr: int, cpu_version: int) -> str:
    """The ``cpu`` line of /proc/cpuinfo, without its ``cpu\\t\\t: `` prefix."""
    pvr = cpu_version if cpu_version & 0xFF000000 == 0x0F000000 else raw_pvr
    spec = linux_cpu_spec(pvr, guest.cpu_specs)
    return spec.name + (", altivec supported" if spec.altivec else "")


@dataclass(frozen=True, slots=True)
class UserlandVerdict:
    """``ok`` is None when the guest profile does not model its userland."""

    ok: bool | None
    level: str
    reason: str


def effective_level(model: CpuModel, compat: CompatMode | None,
                    rules: CompatRules = HEAD_RULES) -> CompatMode:
    """The ISA level the guest runs at: its compat mode, or in raw mode the CPU's own."""
    if compat is not None:
        return compat
    own = mode_by_pvr(model.family.spapr_logical_pvr, rules.modes)
    if own is None:  # a family newer than this release's table: its newest mode
        own = rules.modes[-1]
    return own


def userland_verdict(guest: GuestProfile, model: CpuModel, compat: CompatMode | None,
                     rules: CompatRules = HEAD_RULES) -> UserlandVerdict:
    """Can the guest's init run at the negotiated level? Below it: SIGILL in init."""
    if not model.family.pcr_supported:
        return UserlandVerdict(None, model.family.name, "CPU family has no compat levels")
    level = effective_level(model, compat, rules)
    if guest.userland_min_mode is None:
        return UserlandVerdict(None, level.name, f"{guest.name}: userland not modelled")
    need = mode_by_name(guest.userland_min_mode)
    assert need is not None
    ok = _isa_rank(level) >= _isa_rank(need)
    verb = "runs" if ok else "cannot run (init dies with SIGILL)"
    return UserlandVerdict(
        ok, level.name, f"{guest.name} userland needs {need.name} (ISA {need.isa}); "
        f"at {level.name} (ISA {level.isa}) it {verb}")


def _isa_rank(mode: CompatMode) -> int:
    # power7+ is ISA 2.06 plus a few instructions, below 2.07: rank by PCR level.
    return mode.pcr_level
