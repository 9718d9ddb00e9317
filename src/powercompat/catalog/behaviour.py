"""The behaviour switches QEMU releases differ by, each with what it means.

A switch's value in a release comes from the history of changes
(:mod:`powercompat.catalog.history`): the defaults below are QEMU before the first change
that flipped it, and the commit behind each value is the change that set it. A choice with
more than two values is an enum, so impossible combinations cannot be written. The
documentation of each switch is in its field's annotation (``switch_docs``), not a second
list.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, NamedTuple, get_type_hints


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


class CpuCompat(Enum):
    """What ``-cpu X,compat=Y`` is (qemu-releases.md 1.5)."""

    #: 2.9: a property of the CPU, taking only power6, power7 or power8 (CPU_COMPAT_2_9)
    PROPERTY = "cpu-property"
    #: 7843c0d6 (2.10) .. 5.2: a parse hack that sets the machine's max-cpu-compat
    MACHINE = "max-cpu-compat"
    #: f518be3a (6.0): gone; the CPU type has no such property
    NONE = "none"


#: 2.9's powerpc_set_compat(): the names its CPU property takes
CPU_COMPAT_2_9: tuple[str, ...] = ("power6", "power7", "power8")


class SmtRule(Enum):
    """Which threads per core a pseries machine accepts, and QEMU's words for a refusal
    (qemu-releases.md 7)."""

    #: 2.9, 2.10: ppc_cpu_realizefn(): no more than KVM's threads (1 under TCG), a power of 2
    PPC_REALIZE = "realize"
    #: 2.11 .. 7.2: spapr_set_vsmt_mode(): TCG 1 thread only; a power of 2 (reached by KVM)
    TCG_SINGLE = "tcg-1"
    #: 10.0 on: TCG up to 8 when the CPU does POWER8 within max-cpu-compat; a power of 2
    TCG_POWER8 = "tcg-p8"


class MigrationErrors(Enum):
    """How a destination reports a refused load, and what cpu_post_load returns
    (qemu-releases.md 8.1, 8.2); every release's destination then exits."""

    #: 2.10, 2.11: cpu_post_load returns -1; one error per line
    LINES_MINUS_1 = "lines, -1"
    #: 5.2 .. 10.0: it returns the negative errno (-EINVAL); one error per line
    LINES = "lines"
    #: 11.1: one line, ``load of migration failed: <errno text>: <cause>: ...``
    CHAINED = "chained"


class HptRule(Enum):
    """When spapr_machine_reset() gives the guest a hash page table under KVM, and what a
    host that cannot (a nested hypervisor: -EOPNOTSUPP) makes QEMU say (kvm-kernel.md 1)."""

    #: 2.9: every reset reallocates the HPT; error_setg_errno's "Failed to allocate KVM HPT
    #: of order N (try smaller maxmem?)"
    ALWAYS = "always"
    #: 2.10, 2.11: no HPT when KVM offers radix (KVM starts the vCPUs radix)
    KVM_RADIX = "kvm-radix"
    #: 5.2 on: no HPT only when KVM offers radix and the CPU type runs ISA 3.00 within
    #: max-cpu-compat; -EOPNOTSUPP is "HPT not supported in nested guests"
    CPU_RADIX = "cpu-radix"


class Doc(NamedTuple):
    """What a switch means, for people (``profiles``); kept in the field's annotation."""

    text: str


class Switches(NamedTuple):
    """Every switch the machine consults. Defaults: QEMU before the change that set it.
    (A NamedTuple, not a dataclass: this is on every command's start-up path.)"""

    reset: Annotated[ResetPath, Doc(
        "where the compat mode is set: once at CPU creation, or at every machine reset"
    )] = ResetPath.CPU_INIT
    set_compat: Annotated[SetCompat, Doc(
        "ppc_set_compat(): when KVM is called, with which value, and when state is committed"
    )] = SetCompat.STATE_FIRST
    cas_raw_fallback: Annotated[bool, Doc(
        "CAS runs raw when setting the mode fails, if the guest listed its real PVR and no "
        "max-cpu-compat is set")] = False
    cas_failure_message: Annotated[bool, Doc(
        "a failed CAS reports its error (messages.CAS_NO_SUITABLE_PVR; before: silent)")] = False
    migrates_compat: Annotated[bool, Doc(
        "the cpu/compat subsection is migrated and checked on load (before: the mode is not "
        "migrated and the source PVR is ignored)")] = False
    migration_forces_write: Annotated[bool, Doc(
        "cpu_post_load() clears compat_pvr first, forcing the KVM write on the destination"
    )] = False
    hotplug: Annotated[HotplugRule, Doc(
        "the compat mode a hot-plugged vCPU gets")] = HotplugRule.MAX
    smt: Annotated[SmtRule, Doc(
        "threads per core pseries accepts (TCG, and a power of 2), and the refusal's words"
    )] = SmtRule.PPC_REALIZE
    migration_errors: Annotated[MigrationErrors, Doc(
        "how a refused incoming migration is reported (every destination exits)"
    )] = MigrationErrors.LINES_MINUS_1
    tcg_isa31_smp_hang: Annotated[bool, Doc(
        "under TCG a guest kernel with more than one vCPU in an ISA 3.1 mode (raw POWER10 or "
        "power10) stops right after prom_init hands over, before its banner (observed on "
        "QEMU 5.2 with Linux 6.1; one vCPU boots; the cause is not identified)")] = False
    vsx_cap: Annotated[bool, Doc(
        "spapr caps: cap-vsx defaults off (ibm,vmx 1, no VSX for the guest) when the CPU "
        "cannot do ISA 2.06 within max-cpu-compat (before: the class's VSX is advertised)"
    )] = False
    ic_mode_dual: Annotated[bool, Doc(
        "ic-mode=dual: XIVE beside XICS when the CPU does ISA 3.00 within max-cpu-compat "
        "(spapr_irq_check)")] = False
    max_cpu_compat_option: Annotated[bool, Doc(
        "the machine has the max-cpu-compat option (before: only -cpu X,compat=Y)"
    )] = False
    cpu_compat: Annotated[CpuCompat, Doc(
        "what -cpu X,compat=Y is: a CPU property, a spelling of max-cpu-compat, or gone"
    )] = CpuCompat.PROPERTY
    logical_pvr_check: Annotated[bool, Doc(
        "pcc_compat refuses a mode numerically above the class's spapr_logical_pvr "
        "(power7+ refused on POWER8 and newer)")] = False
    hpt: Annotated[HptRule, Doc(
        "under KVM, when a reset allocates the guest's hash page table, and the refusal of a "
        "nested hypervisor")] = HptRule.ALWAYS
    mmu_check_at_reset: Annotated[bool, Doc(
        "spapr_dt_ov5_platform_support(): a reset that leaves the first CPU below ISA 3.00 "
        "exits under a KVM with radix but no hash-v3 (before: only at CAS)")] = False
    hpt_max_page_size_cap: Annotated[bool, Doc(
        "spapr cap hpt-max-page-size (64 KiB from pseries-3.0; older machine types take the "
        "host's page): under KVM HV a host page smaller than it stops QEMU at every reset")] = False
    vrma_check: Annotated[bool, Doc(
        "spapr_setup_hpt(): under KVM, a hash page table whose VRMA cannot map the RMA stops "
        "QEMU ('Unable to create ...MiB RMA'; a 4K-page host, kvmppc_vrma_limit); before, the "
        "RMA was clamped to the VRMA")] = False
    ail_mode_3_cap: Annotated[bool, Doc(
        "spapr cap ail-mode-3, on by default when the CPU runs ISA 2.07 within "
        "max-cpu-compat: a KVM without KVM_CAP_PPC_AIL_MODE_3 refuses the machine")] = False
    vmstate_slb: Annotated[int, Doc(
        "the version of the cpu/slb subsection sent and accepted (vmstate_slb.version_id, "
        "target/ppc/machine.c); a destination refuses a newer one"
    )] = 1
    vmstate_spapr_iommu: Annotated[int, Doc(
        "the version of the spapr_iommu section sent and accepted "
        "(vmstate_spapr_tce_table.version_id, hw/ppc/spapr_iommu.c); a destination refuses "
        "a newer one"
    )] = 2
    tcg_decrementer_migration: Annotated[bool, Doc(
        "TCG saves the decrementer before a migration and restarts its timer after the load "
        "(cpu_pre_save, cpu_post_load); before, a guest whose vCPU idles when it is stopped "
        "never wakes on the destination"
    )] = False
    icp_vmstate: Annotated[bool, Doc(
        "icp_realize() registers vmstate_icp_server (hw/intc/xics.c): the stream carries an "
        "'icp/server' section after each vCPU's, and a destination without the registration "
        "refuses it as an unknown section"
    )] = True
    rtas_stopped_since: Annotated[tuple[int, int] | None, Doc(
        "machine types from this version migrate the RTAS stopped state (cpu/rtas_stopped); "
        "with an older one (rtas-stopped-state=false) the destination infers it from halted "
        "+ PSSCR[EC] + LPCR PM bits, which the idle boot vCPU has: it never runs again (TCG)"
    )] = None
    family_alias_is_host: Annotated[bool, Doc(
        "under KVM, the host family's generic alias (power9 on a POWER9 host) names the host "
        "type itself, with the host's PVR (before: the CPU class that matches the host's PVR, "
        "with that class's own PVR)")] = False
    kvm_init_vcpu_errp: Annotated[bool, Doc(
        "a vCPU that KVM refuses at creation is reported as 'kvm_init_vcpu: "
        "kvm_arch_init_vcpu failed (ID): <error>' (before: 'kvm_init_vcpu failed: <error>')"
    )] = False
    all_or_nothing: Annotated[bool, Doc(
        "powercompat policy: a machine-wide set is rolled back on failure")] = False
    probe_before_write: Annotated[bool, Doc(
        "powercompat policy: ARCH_COMPAT support is probed with a GET before the first write"
    )] = False


SWITCH_NAMES: tuple[str, ...] = Switches._fields


def switch_docs() -> tuple[tuple[str, str], ...]:
    """(name, meaning) of every switch, from the fields' annotations, in field order."""
    hints = get_type_hints(Switches, include_extras=True)
    return tuple((name, next(m.text for m in hints[name].__metadata__ if isinstance(m, Doc)))
                 for name in Switches._fields)


def switch_value(value: Any) -> object:
    """A switch value as JSON shows it: an enum by its value."""
    return value.value if isinstance(value, Enum) else value
