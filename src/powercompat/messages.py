"""QEMU's and the kernel's message texts, word for word, in one place.

Tests compare whole strings against these, so a change here is a change of contract.
Hex is printed as QEMU prints it: ``0x%08x`` for 32-bit values, ``0x%016x`` for 64-bit ones.
"""

from __future__ import annotations

import errno as _errno
import os


def hex32(value: int) -> str:
    """Format a 32-bit value as QEMU's ``0x%08x``.

    >>> hex32(0x0F000004)
    '0x0f000004'
    """
    return f"0x{value:08x}"


def hex64(value: int) -> str:
    """Format a 64-bit value as QEMU's ``0x%016x``.

    >>> hex64(0x8)
    '0x0000000000000008'
    """
    return f"0x{value:016x}"


# target/ppc/compat.c, ppc_set_compat()
def unknown_compat_pvr(pvr: int) -> str:
    return f"Unknown compatibility PVR {hex32(pvr)}"


# target/ppc/compat.c, ppc_set_compat()
def compat_not_valid(pvr: int) -> str:
    return f"Compatibility PVR {hex32(pvr)} not valid for CPU"


# target/ppc/compat.c, ppc_set_compat(): error_setg_errno() appends ": <strerror>"
def kvm_set_failed(err: int) -> str:
    return f"Unable to set CPU compatibility mode in KVM: {strerror(err)}"


# target/ppc/compat.c, ppc_compat_prop_set()
def invalid_compat_mode(value: str) -> str:
    return f'Invalid compatibility mode "{value}"'


# target/ppc/compat.c, ppc_compat_add_property(): "<basedesc>. Valid values are a, b."
MAX_CPU_COMPAT_BASEDESC = "Maximum permitted CPU compatibility mode"


def max_cpu_compat_description(names: list[str]) -> str:
    return f"{MAX_CPU_COMPAT_BASEDESC}. Valid values are {', '.join(names)}."


# hw/ppc/spapr_hcall.c, do_client_architecture_support() (since 80c33d34, 2017-05)
CAS_NO_SUITABLE_PVR = "Couldn't negotiate a suitable PVR during CAS"
# hw/ppc/spapr_hcall.c, do_client_architecture_support()
CAS_MULTI_THREADS = "guest has multiple active vCPUs at CAS, which is not allowed"


# cpu.c parse_cpu_option(): the -cpu name is not a known model
def unknown_cpu_model(name: str) -> str:
    return f"unable to find CPU model '{name}'"


# hw/ppc/spapr.c (spapr_possible_cpu_arch_ids; 2.x spapr_init_cpus): a CPU with no spapr core
NO_SPAPR_CORE = "Unable to find sPAPR CPU Core definition"


# qdev globals (hw/core/qdev-properties.c): -cpu X,prop=value for a property the type lacks
def cpu_property_not_found(typename: str, prop: str, value: str) -> str:
    return (f"can't apply global {typename}.{prop}={value}: "
            f"Property '{typename}.{prop}' not found")


# hw/ppc/spapr.c spapr_set_vsmt_mode() (2.11 on): threads per core
TCG_SMT_UNSUPPORTED = "TCG cannot support more than 1 thread/core on a pseries machine"
TCG_SMT_NEEDS_POWER8 = "TCG only supports SMT on POWER8 or newer CPUs"


def tcg_smt_limit(limit: int) -> str:
    return f"TCG cannot support more than {limit} threads/core on a pseries machine"


def smt_not_power_of_2(threads: int) -> str:
    return (f"Cannot support {threads} threads/core on a pseries machine because it must be "
            "a power of 2")


# target/ppc/translate_init.c ppc_cpu_realizefn() (2.9, 2.10): ``with %s`` is TCG or KVM
def ppc_smt_limit(limit: int, accel: str) -> str:
    return f"Cannot support more than {limit} threads on PPC with {accel}"


def ppc_smt_not_power_of_2(threads: int, accel: str) -> str:
    return (f"Cannot support {threads} threads on PPC with {accel}, threads count must be a "
            "power of 2.")


# target/ppc/kvm.c kvm_arch_init_vcpu(): KVM_SET_SREGS refused the CPU model's PVR (KVM HV
# takes only the host's: kvm_arch_vcpu_ioctl_set_sregs_hv); the same text from 2.9 to head
REGISTER_SYNC_FAILED = ('Register sync failed... If you\'re using kvm-hv.ko, only "-cpu host" '
                        "is possible")


def kvm_init_vcpu_failed(vcpu_id: int, err: int, errp: bool = True) -> str:
    """The line after REGISTER_SYNC_FAILED. ``errp`` (d0a92b35, 5.2): accel/kvm/kvm-all.c
    kvm_init_vcpu()'s error_setg_errno() after kvm_arch_init_vcpu() failed; before it,
    cpus.c qemu_kvm_cpu_thread_fn()'s fprintf(stderr, "kvm_init_vcpu failed: %s\n",
    strerror(-r))."""
    if errp:
        return f"kvm_init_vcpu: kvm_arch_init_vcpu failed ({vcpu_id}): {strerror(err)}"
    return f"kvm_init_vcpu failed: {strerror(err)}"


# hw/ppc/spapr_caps.c cap_ail_mode_3_apply() (10.0 on): the cap is on, KVM lacks it
AIL_MODE_3_UNSUPPORTED = "KVM implementation does not support cap-ail-mode-3"
AIL_MODE_3_HINT = "Try appending -machine cap-ail-mode-3=off"
# hw/ppc/spapr.c spapr_reallocate_hpt() (5.2 on): KVM_PPC_ALLOCATE_HTAB gave -EOPNOTSUPP
HPT_NESTED = "HPT not supported in nested guests"
# hw/ppc/spapr.c spapr_check_mmu_mode(): KVM has radix but not hash-v3
MMU_HASH_UNAVAILABLE = "Guest requested unavailable MMU mode (hash)."
#: spapr_hpt_shift_for_ramsize() of pseries' default 512 MiB (1/128 of RAM): the only
#: memory size modelled
HPT_ORDER_DEFAULT_RAM = 22
#: pseries' default RAM (hw/ppc/spapr.c spapr_machine_class_init default_ram_size), which is
#: its RMA too (spapr_rma_size(): the RAM, capped by node 0, 1 TiB and old machines' limit)
DEFAULT_RAM_MIB = 512


# hw/ppc/spapr_caps.c spapr_check_pagesize() from cap_hpt_maxpagesize_apply(): KVM HV maps a
# guest page only onto host-contiguous memory (KVM_PPC_PAGE_SIZES_REAL)
def hpt_page_size_unsupported(guest_kib: int, host_kib: int) -> str:
    return (f"Can't support {guest_kib} kiB guest pages with {host_kib} kiB host pages with "
            f"this KVM implementation")


# hw/ppc/spapr.c spapr_setup_hpt() (by 5.2; 2.11 clamped the RMA instead): under KVM, the
# RMA does not fit the VRMA and QEMU exits. QEMU's text never closes its parenthesis.
def vrma_too_small(rma_mib: int, vrma_mib: int) -> str:
    return f"Unable to create {rma_mib}MiB RMA (VRMA only allows {vrma_mib}MiB"


# hw/ppc/spapr.c spapr_reallocate_hpt() (2.9 .. 2.11): error_setg_errno() of any failure
def hpt_alloc_failed(order: int, err: int) -> str:
    return f"Failed to allocate KVM HPT of order {order} (try smaller maxmem?): {strerror(err)}"


# migration/savevm.c, vmstate load failure of one device instance
def migration_load_failed(instance_id: int, idstr: str) -> str:
    return f"error while loading state for instance 0x{instance_id:x} of device '{idstr}'"


# migration/savevm.c qemu_loadvm_section_start_full(): a section with no device here
def unknown_savevm_section(idstr: str, instance_id: int) -> str:
    return (f"Unknown savevm section or instance '{idstr}' {instance_id}. Make sure that your "
            "current VM setup matches your saved VM setup, including any hotplugged devices")


# migration/migration.c process_incoming_migration_co(): the load returned an error
def load_of_migration_failed(err: int) -> str:
    return f"load of migration failed: {strerror(err)}"


# 11.1 (qemu-releases.md 8.2): the load's error chain, one line
def unknown_section_chained(idstr: str, instance_id: int, err: int) -> str:
    return (f"{load_of_migration_failed(err)}: Unknown section or instance '{idstr}' "
            f"{instance_id}. Make sure that your current VM setup matches your saved VM "
            "setup, including any hotplugged devices")


def post_load_failed_chained(instance_id: int, idstr: str, version: int, minimum: int,
                             ret: int) -> str:
    return (f"{load_of_migration_failed(-ret)}: "
            f"{migration_load_failed(instance_id, idstr)}: post load hook failed for: {idstr}, "
            f"version_id: {version}, minimum_version: {minimum}, ret: {ret}")


# migration/savevm.c configuration_post_load(): the machine type in the configuration
# section is not this machine's (the resolved name: plain pseries is the release's newest)
def machine_type_mismatch(received: str, local: str) -> str:
    return f"Machine type received is '{received}' and local is '{local}'"


# 11.1 (head's vmstate_load_state() chain): the configuration section's post_load failed
def machine_type_mismatch_chained(received: str, local: str, err: int) -> str:
    return (f"{load_of_migration_failed(err)}: post load hook failed for: configuration, "
            f"version_id: 1, minimum_version: 0: {machine_type_mismatch(received, local)}")


# migration/vmstate.c vmstate_load_state(): a (sub)section newer than this binary's
def vmstate_too_new(name: str, incoming: int, local: int) -> str:
    return f"{name}: incoming version_id {incoming} is too new for local version_id {local}"


# migration/savevm.c qemu_loadvm_section_start_full(): a section version above this
# binary's (5.2 .. 10.0: error_report; head prints it without "savevm: " in its chain)
def section_version_unsupported(version: int, idstr: str, local: int) -> str:
    return f"savevm: unsupported version {version} for '{idstr}' v{local}"


#: hw/ppc/spapr_rtas.c rtas_ibm_os_term(): QEMU's report of a guest panic, followed by the
#: message the guest left in its memory
OS_TERMINATED = "OS terminated: "


# Linux's rtas_os_term() (arch/powerpc/kernel/rtas.c) prefixes "OS panic: ", kernel/exit.c
# names init's signal
def guest_init_killed(signal: int, quoted: bool = True) -> str:
    """QEMU's line when init dies: the kernel panics and calls ibm,os-term; ``quoted``: the
    kernel left its panic text in the buffer (GuestProfile.os_term_text)."""
    return OS_TERMINATED + (f"OS panic: Attempted to kill init! exitcode=0x{signal:08x}"
                            if quoted else "")


#: the signal a userland gets for an instruction its CPU does not run
SIGILL = 4


def strerror(err: int) -> str:
    """The C library's text for an errno, as QEMU's error_setg_errno() appends it."""
    return os.strerror(err)


#: errno values the kernel models use (asm-generic/errno-base.h)
EINVAL = _errno.EINVAL
EFAULT = _errno.EFAULT
EBUSY = _errno.EBUSY
ENOENT = _errno.ENOENT
EBADF = _errno.EBADF
ENOTTY = _errno.ENOTTY
EOPNOTSUPP = _errno.EOPNOTSUPP
