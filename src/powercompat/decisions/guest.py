"""What the guest makes of the negotiated mode: its /proc/cpuinfo line and whether its
userland can run. Sources: Linux arch/powerpc/kernel/prom.c early_init_dt_scan_cpus()
(a ``cpu-version`` with top byte 0x0f re-runs identify_cpu()), setup-common.c
show_cpuinfo(), and oracle.md (Debian's ppc64el userland needs POWER8).

Every decision here is a pure function of immutable values and is cached (issue #13:
negotiate() asks each of them on every boot)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from powercompat.catalog.cpus import CpuFamily, CpuModel
from powercompat.catalog.guests import GuestProfile, linux_cpu_spec
from powercompat.catalog.modes import (
    LOGICAL_2_06,
    LOGICAL_3_00,
    CompatMode,
    mode_by_name,
    mode_by_pvr,
)
from powercompat.catalog.pcr import PCR_COMPAT_3_00
from powercompat.decisions.rules import HEAD_RULES, CompatRules
from powercompat.decisions.validity import check_compat


@lru_cache(maxsize=1024)
def guest_cpu_line(guest: GuestProfile, raw_pvr: int, cpu_version: int,
                   family: CpuFamily) -> str:
    """The ``cpu`` line of /proc/cpuinfo, without its ``cpu\\t\\t: `` prefix: the cpu_specs
    name of ``cpu-version`` (a logical PVR re-runs identify_cpu()) else of the raw PVR, and
    ", altivec supported" when the kernel has CPU_FTR_ALTIVEC, which it takes from the
    device tree's ``ibm,vmx`` (QEMU's spapr_dt_cpu: every class with Altivec)."""
    pvr = cpu_version if cpu_version & 0xFF000000 == 0x0F000000 else raw_pvr
    spec = linux_cpu_spec(pvr, guest.cpu_specs)
    return spec.name + (", altivec supported" if family.vmx else "")


def vsx_offered(family: CpuFamily, max_pvr: int, by_compat: bool,
                rules: CompatRules = HEAD_RULES) -> bool:
    """Does the guest get VSX (``ibm,vmx`` = 2)? The class must have it, and from 2.12 the
    spapr cap-vsx defaults off when the CPU cannot do ISA 2.06 within max-cpu-compat
    (hw/ppc/spapr_caps.c default_caps_with_cpu)."""
    if not family.vsx:
        return False
    return not by_compat or check_compat(family, LOGICAL_2_06, 0, max_pvr, rules).ok


@dataclass(frozen=True, slots=True)
class UserlandVerdict:
    """``ok`` is None when the guest profile does not model its userland."""

    ok: bool | None
    level: str
    reason: str


def effective_level(model: CpuModel, compat: CompatMode | None,
                    rules: CompatRules = HEAD_RULES) -> CompatMode:
    """The ISA level the guest kernel is told: its compat mode, or in raw mode the CPU's own."""
    if compat is not None:
        return compat
    return hardware_level(model, rules)


def hardware_level(model: CpuModel, rules: CompatRules = HEAD_RULES) -> CompatMode:
    """The ISA the CPU itself implements (under TCG: the model's instruction set)."""
    own = mode_by_pvr(model.family.spapr_logical_pvr, rules.modes)
    if own is None:  # a family newer than this release's table: its newest mode
        own = rules.modes[-1]
    return own


@lru_cache(maxsize=4096)
def userland_verdict(guest: GuestProfile, model: CpuModel, compat: CompatMode | None,
                     rules: CompatRules = HEAD_RULES,
                     pcr_enforced: bool = False, vsx: bool = True,
                     scv: bool = True, hardware_cpu: CpuModel | None = None
                     ) -> UserlandVerdict:
    """Can the guest's init run? It needs VSX (``vsx``: see vsx_offered) and to execute its
    ISA's instructions: the CPU must implement them, and an enforcing PCR (KVM HV on
    hardware) must not block them. TCG does not enforce the PCR's architecture bits on
    instructions (seen on QEMU 7.2: power7 compat on POWER8 runs a POWER8 userland), and
    KVM PR programs no PCR. At ISA 3.00 and newer the kernel offers the vectored system
    call and the userland uses it: ``scv`` says the CPU runs it (TCG: POWERPC_FLAG_SCV,
    which QEMU 5.2's POWER10 lacks, seen as init's SIGILL in power9/power10 modes only).
    ``hardware_cpu``: what executes the instructions when it is not ``model`` (under KVM the
    host's processor: KVM PR runs a POWER7 model's userland on POWER8 hardware, recorded in
    kvm-pr-pseries-power8-l1-6.1-pr.json)."""
    if not model.family.pcr_supported:
        return UserlandVerdict(None, model.family.name, "CPU family has no compat levels")
    level = effective_level(model, compat, rules)
    if guest.userland_isa is None:
        return UserlandVerdict(None, level.name, f"{guest.name}: userland not modelled")
    need = mode_by_name(guest.userland_isa, rules.modes)
    assert need is not None
    hardware = hardware_level(hardware_cpu or model, rules)
    runs = hardware if not pcr_enforced else min(hardware, level, key=_isa_rank)
    problems = []
    if guest.userland_vsx and not vsx:
        problems.append("the guest is given no VSX (ibm,vmx: cap-vsx is off, or the CPU has "
                        "none)")
    if guest.userland_scv and not scv and level.pcr_level >= LOGICAL_300_RANK:
        problems.append("the kernel offers scv (ISA 3.00) but this CPU model does not run it "
                        "(no POWERPC_FLAG_SCV)")
    if _isa_rank(runs) < _isa_rank(need):
        why = ("the PCR limits the guest to" if pcr_enforced and runs is level
               else "the CPU implements only")
        problems.append(f"{why} ISA {runs.isa}")
    needs = f"{guest.name} userland needs ISA {need.isa}" + (" and VSX" if guest.userland_vsx
                                                              else "")
    if problems:
        return UserlandVerdict(False, level.name,
                               f"{needs}: {'; '.join(problems)}: init dies with SIGILL")
    if _isa_rank(level) >= _isa_rank(need):
        return UserlandVerdict(True, level.name, f"{needs}; it gets ISA {level.isa}: init runs")
    # Told an older ISA than it needs, yet it runs: say why, or it reads as a contradiction.
    return UserlandVerdict(True, level.name,
                           f"{needs}; the compat level is ISA {level.isa}, but no PCR enforces "
                           f"it on instructions (TCG, KVM PR) and the CPU implements ISA "
                           f"{hardware.isa}: init runs")


@dataclass(frozen=True, slots=True)
class KernelVerdict:
    """Does the guest kernel get past early boot? ``reaches_cas`` False: it stops before it
    ever calls ibm,client-architecture-support."""

    ok: bool | None
    reason: str
    reaches_cas: bool = True


@lru_cache(maxsize=1024)
def kernel_runs(guest: GuestProfile, model: CpuModel) -> KernelVerdict:
    """Can the guest kernel run on the CPU at all? A ppc64le kernel needs MSR[LE], which the
    970 and POWER5+ classes lack (target/ppc/cpu_init.c msr_mask); on QEMU 7.2 such guests
    stay silent and never reach CAS (tests/data/real/qemu-7.2-linux-6.1-vof-oldcpus.json)."""
    if guest.little_endian and not model.family.msr_le:
        return KernelVerdict(False, f"a little-endian kernel cannot run on a "
                             f"{model.family.name} (no MSR[LE]): it stops before CAS",
                             reaches_cas=False)
    return KernelVerdict(True, "the kernel runs on this CPU")


@lru_cache(maxsize=4096)
def kernel_verdict(guest: GuestProfile, model: CpuModel, initial_pvr: int, final_pvr: int,
                   rules: CompatRules = HEAD_RULES) -> KernelVerdict:
    """Radix is offered before CAS (hw/ppc/spapr.c spapr_dt_ov5_platform_support(): the first
    CPU supports ISA 3.00 within its pre-CAS compat_pvr), a radix-capable Linux asks for it in
    option vector 5 and QEMU grants it; if CAS then settles below ISA 3.00, the guest's
    H_REGISTER_PROC_TBL fails (H_P2) and pseries_lpar_register_process_table() hits a BUG:
    an early panic with a silent console (oracle.md; booting with disable_radix avoids it)."""
    runs = kernel_runs(guest, model)
    if not runs.reaches_cas:
        return runs
    if not guest.radix or not model.family.pcr_supported:
        return KernelVerdict(True, "hash MMU: the kernel does not ask for radix"
                             if not guest.radix else "no radix MMU involved")
    offered = check_compat(model.family, LOGICAL_3_00, 0, initial_pvr, rules).ok
    runs_300 = check_compat(model.family, LOGICAL_3_00, 0, final_pvr, rules).ok
    if offered and not runs_300:
        return KernelVerdict(False, "radix was offered before CAS (ISA 3.00) but CAS settled "
                             "below ISA 3.00: H_REGISTER_PROC_TBL fails, early kernel panic "
                             "(boot with disable_radix to avoid it)")
    return KernelVerdict(True, "radix offered and kept" if offered else
                         "hash MMU (radix not offered before CAS)")


def smp_kernel_verdict(level: CompatMode, smp: int, tcg: bool, isa31_smp_hangs: bool
                       ) -> KernelVerdict | None:
    """The kernel stops when the release's TCG hangs an SMP guest in an ISA 3.1 mode (switch
    tcg_isa31_smp_hang, observed on QEMU 5.2; one vCPU boots); None when it does not apply."""
    if isa31_smp_hangs and tcg and smp > 1 and level.isa == "3.1":
        return KernelVerdict(False, "the kernel stops right after prom_init with more than "
                             "one vCPU in an ISA 3.1 mode (QEMU 5.2 under TCG, observed)")
    return None


#: ISA 3.00's rank (its PCR level): from there the kernel uses scv
LOGICAL_300_RANK = PCR_COMPAT_3_00


def _isa_rank(mode: CompatMode) -> int:
    # power7+ is ISA 2.06 plus a few instructions, below 2.07: rank by PCR level.
    return mode.pcr_level


def cpuinfo_revision(pvr: int) -> str:
    """The ``revision`` line of the guest's /proc/cpuinfo, always from the real PVR (what
    the guest reads in SPR_PVR), without its ``revision\\t: `` prefix. Linux
    arch/powerpc/kernel/setup-common.c show_cpuinfo(): POWER9 (0x004e) and POWER10 (0x0080,
    since v5.9) take the major from bits 8-11 only (bits 12-15 give the chip type); every
    other server PVR bits 8-15.

    >>> cpuinfo_revision(0x004E1203), cpuinfo_revision(0x00821200)
    ('2.3 (pvr 004e 1203)', '18.0 (pvr 0082 1200)')
    """
    version, rev = pvr >> 16, pvr & 0xFFFF
    major = (pvr >> 8) & (0x0F if version in (0x004E, 0x0080) else 0xFF)
    return f"{major}.{pvr & 0xFF} (pvr {version:04x} {rev:04x})"
