"""The behaviour switches QEMU releases differ by, each with what it means.

A switch's value in a release comes from the history of changes
(:mod:`powercompat.catalog.history`): the defaults below are QEMU before the first change
that flipped it, and the commit behind each value is the change that set it. A choice with
more than two values is an enum, so impossible combinations cannot be written. The
documentation of each switch is its field's metadata (``switch_docs``), not a second list.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any


class SetCompat(Enum):
    """How ppc_set_compat() orders the KVM call and the commit (qemu.md 1.6)."""

    #: 9d2179d6/f6f242c7 .. 5dfaa532: compat_pvr and PCR committed first, then the ioctl on
    #: every set; a KVM failure leaves the new state in place
    STATE_FIRST = "state-first"
    #: 5dfaa532: the ioctl only when the mode changes, state committed after KVM accepts, but
    #: the OLD compat_pvr is what KVM is given
    OLD_VALUE = "old-value"
    #: e4f0c6bb: as 5dfaa532, with the new value (head's logic)
    NEW_VALUE = "new-value"

    @property
    def ioctl_only_on_change(self) -> bool:
        return self is not SetCompat.STATE_FIRST

    @property
    def commit_before_kvm(self) -> bool:
        return self is SetCompat.STATE_FIRST

    @property
    def kvm_gets_old_value(self) -> bool:
        return self is SetCompat.OLD_VALUE


class ResetPath(Enum):
    """Where the initial compat mode is set (qemu.md 6)."""

    #: 2.9: spapr_cpu_init() sets max-cpu-compat once at CPU creation; reset leaves the mode,
    #: so a CAS-negotiated mode survives a guest reboot
    CPU_INIT = "spapr_cpu_init"
    #: 66d5c492: every machine reset sets every vCPU to max-cpu-compat (ppc_set_compat_all)
    SET_COMPAT_ALL = "ppc_set_compat_all"
    #: 9c7b7f01: the same through ppc_init_compat_all (no run_on_cpu)
    INIT_COMPAT_ALL = "ppc_init_compat_all"

    @property
    def at_cpu_init(self) -> bool:
        return self is ResetPath.CPU_INIT


class HotplugRule(Enum):
    """The compat mode a hot-plugged vCPU gets."""

    #: 2.9: spapr_cpu_init() sets max-cpu-compat on the new vCPUs
    MAX = "max"
    #: 2.10/2.11: nothing sets the new vCPUs' mode, they run raw (fixed by 51f84465/9012a53f)
    NONE = "none"
    #: spapr_core_plug() (9012a53f on): the new vCPUs take the boot CPU's mode
    BOOT_CPU = "boot-cpu"


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass(frozen=True, slots=True)
class Switches:
    """Every switch the machine consults. Defaults: QEMU before the change that set it."""

    reset: ResetPath = field(default=ResetPath.CPU_INIT, metadata=_doc(
        "where the compat mode is set: once at CPU creation, or at every machine reset"))
    set_compat: SetCompat = field(default=SetCompat.STATE_FIRST, metadata=_doc(
        "ppc_set_compat(): when KVM is called, with which value, and when state is committed"))
    cas_raw_fallback: bool = field(default=False, metadata=_doc(
        "CAS runs raw when setting the mode fails, if the guest listed its real PVR and no "
        "max-cpu-compat is set"))
    cas_failure_message: bool = field(default=False, metadata=_doc(
        "a failed CAS reports its error (messages.CAS_NO_SUITABLE_PVR; before: silent)"))
    migrates_compat: bool = field(default=False, metadata=_doc(
        "the cpu/compat subsection is migrated and checked on load (before: the mode is not "
        "migrated and the source PVR is ignored)"))
    migration_forces_write: bool = field(default=False, metadata=_doc(
        "cpu_post_load() clears compat_pvr first, forcing the KVM write on the destination"))
    hotplug: HotplugRule = field(default=HotplugRule.MAX, metadata=_doc(
        "the compat mode a hot-plugged vCPU gets"))
    tcg_max_threads: int | None = field(default=None, metadata=_doc(
        "TCG threads per core on pseries (None: 1 only), allowed for POWER8-capable "
        "configurations"))
    ic_mode_dual: bool = field(default=False, metadata=_doc(
        "ic-mode=dual: XIVE beside XICS when the CPU does ISA 3.00 within max-cpu-compat "
        "(spapr_irq_check)"))
    cpu_compat_option: bool = field(default=True, metadata=_doc(
        "-cpu X,compat=Y is accepted and means max-cpu-compat=Y"))
    logical_pvr_check: bool = field(default=False, metadata=_doc(
        "pcc_compat refuses a mode numerically above the class's spapr_logical_pvr "
        "(power7+ refused on POWER8 and newer)"))
    all_or_nothing: bool = field(default=False, metadata=_doc(
        "powercompat policy: a machine-wide set is rolled back on failure"))
    probe_before_write: bool = field(default=False, metadata=_doc(
        "powercompat policy: ARCH_COMPAT support is probed with a GET before the first write"))


SWITCH_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Switches))


def switch_docs() -> tuple[tuple[str, str], ...]:
    """(name, meaning) of every switch, from the fields' metadata, in field order."""
    return tuple((f.name, f.metadata["doc"]) for f in fields(Switches))


def switch_value(value: Any) -> object:
    """A switch value as JSON shows it: an enum by its value."""
    return value.value if isinstance(value, Enum) else value
