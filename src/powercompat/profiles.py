"""QEMU releases as named behaviour switches.

The machine layer holds one copy of the logic; each switch below is consulted there and
documented with the commit that introduced (or removed) the behaviour. A profile is a point in
QEMU's history, plus ``powercompat``: our recommended policy on top of head.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from powercompat.catalog.cpus import CPU_ALIASES, CPU_MODELS, CpuModel
from powercompat.catalog.modes import COMPAT_MODES, CompatMode
from powercompat.decisions.rules import CompatRules
from powercompat.errors import UnknownProfileError


@dataclass(frozen=True, slots=True)
class Profile:
    """One QEMU behaviour. Field comments name the commit behind each switch."""

    name: str
    title: str
    description: str
    rules: CompatRules
    cpu_models: tuple[CpuModel, ...]
    cpu_aliases: dict[str, str]
    #: 2.9: spapr_cpu_init() sets max-cpu-compat (then "-cpu X,compat=") once at CPU creation;
    #: moved to machine reset by 66d5c492.
    set_compat_at_cpu_init: bool
    #: 66d5c492 "pseries: Reset CPU compatibility mode": every reset sets max-cpu-compat.
    reset_sets_compat: bool
    #: 9c7b7f01 (2023-08): reset uses ppc_init_compat_all (no run_on_cpu) instead.
    reset_function: str
    #: 5dfaa532: the ioctl is issued only when the mode changes (before: on every set).
    ioctl_only_on_change: bool
    #: before 5dfaa532 QEMU committed compat_pvr and PCR first, then called KVM.
    commit_before_kvm: bool
    #: 5dfaa532 passed the *old* compat_pvr to KVM; fixed by e4f0c6bb.
    kvm_gets_old_value: bool
    #: cc7b35b1: if the CAS set fails, run raw when the guest listed the real PVR, no max set.
    cas_raw_fallback: bool
    #: 80c33d34 added "Couldn't negotiate a suitable PVR during CAS" (before: silent).
    cas_failure_message: bool
    #: d5fc133e: the cpu/compat subsection is migrated and checked on load (2.9 ignored the
    #: source PVR and did not migrate the mode).
    migrates_compat: bool
    #: e07cc192: post_load clears compat_pvr first, forcing the ioctl on the destination.
    migration_forces_write: bool
    #: what a hot-plugged vCPU gets: "max" (2.9 spapr_cpu_init), "none" (2.10/2.11: nothing,
    #: the bug 51f84465 fixed), "boot-cpu" (spapr_core_plug copies first_cpu's mode).
    hotplug_compat: str
    #: TCG SMT: None = refused ("TCG cannot support more than 1 thread/core..."), else the
    #: largest threads/core, allowed for POWER8-capable configurations (2023, Piggin).
    tcg_max_threads: int | None
    #: POWER8E/NVL bases still match the POWER8 family (until f73b3168).
    p8_variants: bool
    #: pseries >= 4.0 defaults to ic-mode=dual (XICS + XIVE); hw/ppc/spapr_irq.c
    #: spapr_irq_check() keeps XIVE only when the CPU supports ISA 3.00 within
    #: max-cpu-compat. The 2017 machines had XICS only (XIVE came with QEMU 3.x).
    ic_mode_dual: bool = True
    #: ``-cpu X,compat=Y`` means max-cpu-compat=Y: a CPU property in 2.9, a parse hack from
    #: 7843c0d6 (2.10); deprecated in 5.0 (22062e54), removed in 6.0 (f518be3a).
    cpu_compat_option: bool = False
    #: powercompat policy: the machine-wide set is all-or-nothing (rollback recorded).
    all_or_nothing: bool = False
    #: powercompat policy: probe ARCH_COMPAT with a GET before the first write.
    probe_before_write: bool = False


def _models(*, newest: str, p8_variants: bool, before_2023: bool) -> tuple[CpuModel, ...]:
    """The models a release knows: none newer than its newest family, POWER8E/NVL only
    before f73b3168, and before 2023-05 no power9_v2.2 (277ee172) and the old DD PVRs."""
    order = ("power9", "power10", "power11")
    cut = order[order.index(newest) + 1:]
    return tuple(
        replace(m, pvr=m.pvr_before_2023) if before_2023 and m.pvr_before_2023 else m
        for m in CPU_MODELS
        if not any(m.name.startswith(c + "_") for c in cut)
        and (p8_variants or m.removed is None)
        and not (before_2023 and m.added == "277ee172")
    )


def _aliases(models: tuple[CpuModel, ...], **override: str) -> dict[str, str]:
    names = {m.name for m in models}
    merged = {**CPU_ALIASES, **override}
    return {k: v for k, v in merged.items() if v in names}


def _table(newest: str, era_2017: bool) -> tuple[CompatMode, ...]:
    names = [m.name for m in COMPAT_MODES]
    rows = COMPAT_MODES[: names.index(newest) + 1]
    if era_2017:
        # Before 7d37b274 no PCR_COMPAT_3_10; before 03ee51d3 POWER9 allowed 4 vthreads.
        rows = tuple(replace(m, pcr=m.pcr_2017 or 0, max_vthreads=m.max_vthreads_2017 or 0)
                     for m in rows)
    return rows


_M2017 = _models(newest="power9", p8_variants=True, before_2023=True)
_M72 = _models(newest="power10", p8_variants=True, before_2023=True)
_MHEAD = _models(newest="power11", p8_variants=False, before_2023=False)

def _profile_2017(name: str, title: str, description: str, **switches: Any) -> Profile:
    """A 2017 release: power9 is the newest mode, no logical-PVR check, no TCG SMT."""
    defaults: dict[str, Any] = dict(
        rules=CompatRules(_table("power9", True), logical_pvr_check=False),
        cpu_models=_M2017,
        # 2017's "power9" named the DD1 model (not modelled); v2.0 is the closest we model.
        cpu_aliases=_aliases(_M2017, power9="power9_v2.0"),
        reset_function="ppc_set_compat_all", tcg_max_threads=None, p8_variants=True,
        set_compat_at_cpu_init=False, reset_sets_compat=True, cas_failure_message=True,
        cpu_compat_option=True, ic_mode_dual=False)
    return Profile(name=name, title=title, description=description,
                   **{**defaults, **switches})


PROFILES: Final[tuple[Profile, ...]] = (
    _profile_2017(
        name="2.9",
        title="QEMU 2.9 (before 66d5c492)",
        description="mode set once at CPU creation when a maximum is given; reset leaves it "
        "alone, so a CAS-negotiated mode survives a guest reboot; every set calls KVM",
        set_compat_at_cpu_init=True, reset_sets_compat=False, cas_failure_message=False,
        ioctl_only_on_change=False, commit_before_kvm=True, kvm_gets_old_value=False,
        cas_raw_fallback=False, migrates_compat=False, migration_forces_write=False,
        hotplug_compat="max",
    ),
    _profile_2017(
        name="2.10-pre",
        title="QEMU 2.10 development, 66d5c492 without 5dfaa532",
        description="66d5c492 'pseries: Reset CPU compatibility mode': every reset sets every "
        "vCPU to max-cpu-compat (0 when unset), state first, ioctl on every set: KVM PR "
        "guests cannot start",
        ioctl_only_on_change=False, commit_before_kvm=True, kvm_gets_old_value=False,
        cas_raw_fallback=False, migrates_compat=True, migration_forces_write=False,
        hotplug_compat="none",
    ),
    _profile_2017(
        name="2.10",
        title="QEMU 2.10.0 (5dfaa532)",
        description="5dfaa532 'ppc: fix ppc_set_compat() with KVM PR': ioctl only when the "
        "mode changes, state committed after KVM accepts, but the OLD value is sent",
        ioctl_only_on_change=True, commit_before_kvm=False, kvm_gets_old_value=True,
        cas_raw_fallback=False, migrates_compat=True, migration_forces_write=False,
        hotplug_compat="none",
    ),
    _profile_2017(
        name="2.11",
        title="QEMU 2.11.0 (e4f0c6bb, cc7b35b1, e07cc192)",
        description="the new value is sent (e4f0c6bb); CAS falls back to raw when the write "
        "fails (cc7b35b1); incoming migration forces the write (e07cc192)",
        ioctl_only_on_change=True, commit_before_kvm=False, kvm_gets_old_value=False,
        cas_raw_fallback=True, migrates_compat=True, migration_forces_write=True,
        hotplug_compat="none",
    ),
    Profile(
        name="7.2",
        title="QEMU 7.2 as Debian bookworm ships it",
        description="power10 is the newest mode; no logical-PVR check, so power7+ is accepted "
        "on POWER8 and newer; hot-plugged CPUs take the boot CPU's mode",
        rules=CompatRules(_table("power10", False), logical_pvr_check=False),
        cpu_models=_M72, cpu_aliases=_aliases(_M72, power9="power9_v2.0"),
        set_compat_at_cpu_init=False, reset_sets_compat=True,
        reset_function="ppc_set_compat_all",
        ioctl_only_on_change=True, commit_before_kvm=False, kvm_gets_old_value=False,
        cas_raw_fallback=True, cas_failure_message=True, migrates_compat=True,
        migration_forces_write=True, hotplug_compat="boot-cpu", tcg_max_threads=None,
        p8_variants=True,
    ),
    Profile(
        name="head",
        title="QEMU head (b428fe0362, 11.1 rc)",
        description="power11; the logical-PVR check (ac0fbbb2) refuses power7+ on POWER8+; "
        "POWER8E/NVL removed (f73b3168); reset through ppc_init_compat_all (9c7b7f01)",
        rules=CompatRules(_table("power11", False), logical_pvr_check=True),
        cpu_models=_MHEAD, cpu_aliases=_aliases(_MHEAD),
        set_compat_at_cpu_init=False, reset_sets_compat=True,
        reset_function="ppc_init_compat_all",
        ioctl_only_on_change=True, commit_before_kvm=False, kvm_gets_old_value=False,
        cas_raw_fallback=True, cas_failure_message=True, migrates_compat=True,
        migration_forces_write=True, hotplug_compat="boot-cpu", tcg_max_threads=8,
        p8_variants=False,
    ),
)

#: our recommended policy: head's logic, but all-or-nothing and probe-first
POWERCOMPAT: Final = replace(
    PROFILES[-1], name="powercompat", title="powercompat policy (head + all-or-nothing)",
    description="head, but a machine-wide set is all-or-nothing (earlier vCPUs are rolled "
    "back) and ARCH_COMPAT support is probed with a GET before the first write",
    all_or_nothing=True, probe_before_write=True)

ALL_PROFILES: Final[tuple[Profile, ...]] = (*PROFILES, POWERCOMPAT)

#: every behaviour switch, with what it means and the commit behind it, for people to read
SWITCHES: Final[tuple[tuple[str, str], ...]] = (
    ("set_compat_at_cpu_init", "max-cpu-compat set once at CPU creation (2.9; 66d5c492 moved it)"),
    ("reset_sets_compat", "every reset sets max-cpu-compat (66d5c492)"),
    ("reset_function", "machine reset path (ppc_init_compat_all since 9c7b7f01)"),
    ("ioctl_only_on_change", "KVM ioctl only when the mode changes (5dfaa532)"),
    ("commit_before_kvm", "QEMU state committed before KVM answers (before 5dfaa532)"),
    ("kvm_gets_old_value", "the OLD value is sent to KVM (5dfaa532 bug, e4f0c6bb fix)"),
    ("cas_raw_fallback", "CAS falls back to raw when the set fails (cc7b35b1)"),
    ("cas_failure_message", "\"Couldn't negotiate a suitable PVR during CAS\" (80c33d34)"),
    ("migrates_compat", "cpu/compat is migrated and checked on load (d5fc133e)"),
    ("migration_forces_write", "incoming migration forces the KVM write (e07cc192)"),
    ("hotplug_compat", "what a hot-plugged vCPU gets (51f84465, 9012a53f)"),
    ("tcg_max_threads", "TCG threads per core (1: no SMT; JSON null)"),
    ("p8_variants", "POWER8E/NVL models exist (until f73b3168)"),
    ("cpu_compat_option", "-cpu X,compat=Y (7843c0d6 .. f518be3a)"),
    ("ic_mode_dual", "XIVE beside XICS when the CPU does ISA 3.00 within max (spapr_irq_check)"),
    ("all_or_nothing", "machine-wide set rolled back on failure (powercompat)"),
    ("probe_before_write", "ARCH_COMPAT probed with a GET first (powercompat)"),
)
PROFILE_NAMES: Final[tuple[str, ...]] = tuple(p.name for p in ALL_PROFILES)
DEFAULT_PROFILE: Final = "head"


def profile_by_name(name: str) -> Profile | None:
    for profile in ALL_PROFILES:
        if profile.name == name:
            return profile
    return None


def parse_profile(name: str) -> Profile:
    """:raises UnknownProfileError: the name is not one of PROFILE_NAMES."""
    profile = profile_by_name(name)
    if profile is None:
        raise UnknownProfileError("QEMU profile", name, list(PROFILE_NAMES))
    return profile


def profile_for_qemu_version(version: str) -> Profile | None:
    """The profile for an installed QEMU version string (``7.2.22``); None if not modelled."""
    parts = version.strip().split(".")
    key = ".".join(parts[:2])
    return profile_by_name({"2.9": "2.9", "2.10": "2.10", "2.11": "2.11",
                            "7.2": "7.2"}.get(key, ""))
