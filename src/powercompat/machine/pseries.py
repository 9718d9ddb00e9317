"""The pseries machine: vCPUs, compat state, and the lifecycle QEMU drives them through.

QEMU's order is kept everywhere: decide, call KVM (only on change where the profile says so),
then commit. Sources: target/ppc/compat.c ppc_set_compat() / ppc_set_compat_all() /
ppc_init_compat_all(); hw/ppc/spapr.c spapr_machine_reset(), spapr_core_plug(),
spapr_set_vsmt_mode(); hw/ppc/spapr_cpu_core.c spapr_cpu_init() (2.9);
hw/ppc/spapr_hcall.c do_client_architecture_support(); target/ppc/machine.c cpu_post_load().
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, NamedTuple

from powercompat.accel.factory import Accelerator, make_accel
from powercompat.catalog.accels import Accel
from powercompat.catalog.behaviour import HotplugRule, HptRule, MigrationErrors
from powercompat.catalog.kernels import shift_kib
from powercompat.catalog.machines import xics_only
from powercompat.catalog.modes import LOGICAL_2_07, LOGICAL_3_00, mode_by_pvr
from powercompat.decisions.cas import (
    H_HARDWARE,
    H_MULTI_THREADS_ACTIVE,
    H_SUCCESS,
    CasChoice,
    CasOutcome,
    choose_compat,
    parse_cas_pvrs,
)
from powercompat.decisions.cpu_match import migration_pvr_match
from powercompat.decisions.kvmcaps import KvmHvCaps, kvm_hv_caps, vrma_limit_mib
from powercompat.decisions.threads import smt_refusal
from powercompat.decisions.validity import check_compat
from powercompat.errors import (
    CasError,
    CompatError,
    CompatNotValidError,
    HotplugError,
    KvmError,
    KvmHostError,
    KvmInitError,
    KvmSetCompatError,
    MigrationError,
    PowerCompatError,
    SmtError,
    StateError,
    UnknownCompatPvrError,
)
from powercompat.machine.options import MachineConfig, MachineOptions, parse_options
from powercompat.machine.state import Event, Lifecycle, VcpuState
from powercompat.machine.vcpu import VCpu
from powercompat.messages import (
    AIL_MODE_3_HINT,
    AIL_MODE_3_UNSUPPORTED,
    CAS_MULTI_THREADS,
    DEFAULT_RAM_MIB,
    EINVAL,
    EOPNOTSUPP,
    HPT_NESTED,
    HPT_ORDER_DEFAULT_RAM,
    MMU_HASH_UNAVAILABLE,
    REGISTER_SYNC_FAILED,
    hex32,
    hpt_alloc_failed,
    hpt_page_size_unsupported,
    kvm_init_vcpu_failed,
    load_of_migration_failed,
    machine_type_mismatch,
    machine_type_mismatch_chained,
    migration_load_failed,
    post_load_failed_chained,
    section_version_unsupported,
    strerror,
    unknown_savevm_section,
    unknown_section_chained,
    vmstate_too_new,
    vrma_too_small,
)

if TYPE_CHECKING:
    from powercompat.machine.migration import CpuRecord, MigrationStream

_L = Lifecycle


def _warn(message: str) -> None:
    """QEMU's warn_report(), through logging, imported only when there is something to log
    (``logging`` costs ~2 ms of every start-up; issue #13). As a library should, the package
    logger gets a NullHandler: nothing reaches stderr unless the application configures it."""
    import logging

    package = logging.getLogger("powercompat")
    if not package.handlers:
        package.addHandler(logging.NullHandler())
    logging.getLogger(__name__).warning(message)


@dataclass(frozen=True, slots=True)
class CasResult:
    """The hypercall's return code, the choice behind it, and whether QEMU fell back."""

    hcall_ret: int
    choice: CasChoice | None
    error: str | None
    raw_fallback: bool


class _Recording:
    """One lifecycle step being recorded: its event gets the ONE_REG calls made inside the
    ``with``, the error that ended it, and the vCPUs after it. A class rather than a
    generator context manager: three of these run in every negotiate() (issue #13)."""

    __slots__ = ("event", "machine", "start")

    def __init__(self, machine: PseriesMachine, event: Event) -> None:
        self.machine = machine
        self.event = event
        transport = machine.accel.transport
        self.start = len(transport.calls) if transport else 0

    def __enter__(self) -> Event:
        return self.event

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 trace: TracebackType | None) -> None:
        event, machine = self.event, self.machine
        if isinstance(err, PowerCompatError):
            event.ok = False
            event.error = str(err)
        transport = machine.accel.transport
        if transport:
            event.one_reg = transport.calls[self.start:]
        event.vcpus = machine.vcpu_states()
        machine.events.append(event)


class PseriesMachine:
    """One pseries VM. Every operation records an Event; a refused operation changes nothing,
    and a failed one leaves the vCPUs as QEMU would (QEMU profiles) or as they were
    (the ``powercompat`` profile)."""

    def __init__(self, config: MachineConfig, accel: Accelerator | None = None,
                 inject_faults: bool = False) -> None:
        self.config = config
        #: which side of a migration this is, for the event log
        self.label = "destination" if config.incoming else "source"
        self.profile = config.profile
        self.rules = config.profile.rules
        self.accel = accel or make_accel(
            config.accel, config.host_kernel, config.host, config.threads, config.smp,
            inject_faults)
        self.vcpus: list[VCpu] = []
        self.state = _L.CREATED
        self.events: list[Event] = []
        self.exit_error: str | None = None
        #: powercompat policy: result of the ARCH_COMPAT probe (None: not probed yet)
        self.probe_errno: int | None = None
        self.last_cas: CasResult | None = None
        self._next_vcpu = 0
        #: hw/ppc/spapr_irq.c spapr_irq_check(): ic-mode=dual keeps XIVE only when the CPU
        #: type supports ISA 3.00 within max-cpu-compat; otherwise XICS alone
        self.has_xive = config.profile.switches.ic_mode_dual and not xics_only(
            config.machine) and check_compat(
            config.model.family, LOGICAL_3_00, 0, config.max_compat_pvr, self.rules).ok
        #: after an incoming migration: why a guest whose vCPU idled when it was stopped
        #: does not run here (TCG), None when it does or when it is not known (KVM)
        self.idle_guest_stops: str | None = None
        #: what KVM HV on this host answers at every reset (None: TCG, PR or the real KVM,
        #: whose start-up capabilities are not modelled)
        self.kvm_caps: KvmHvCaps | None = None
        if config.accel is Accel.KVM_HV:
            self.kvm_caps = kvm_hv_caps(config.host_kernel, config.host_platform,
                                        config.host.family,
                                        config.host.pvr if config.host_dd_known else None)

    @classmethod
    def from_options(cls, options: MachineOptions, inject_faults: bool = False
                     ) -> PseriesMachine:
        """:raises InputError: as parse_options()."""
        return cls(parse_options(options), inject_faults=inject_faults)

    # ------------------------------------------------------------------ reporting

    def vcpu_states(self) -> tuple[VcpuState, ...]:
        out = []
        for cpu in self.vcpus:
            view = self.accel.kernel_view(cpu.index)
            out.append(VcpuState(
                cpu.index, cpu.compat_pvr, cpu.spr_pcr, cpu.cpu_version,
                view.arch_compat if view else None, view.pcr if view else None,
                view.enforced if view else None, view.note if view else None))
        return tuple(out)

    @property
    def started(self) -> bool:
        return self.state in (_L.RUNNING, _L.INCOMING)

    @property
    def boot_cpu(self) -> VCpu:
        return self.vcpus[0]

    def _event(self, name: str, allowed: tuple[Lifecycle, ...]) -> _Recording:
        """Check the lifecycle, then record the step's calls and outcome (``with``)."""
        if self.state not in allowed:
            raise StateError(name, self.state, allowed)
        return _Recording(self, Event(name, self.label))

    def _fatal(self, err: PowerCompatError) -> None:
        """error_fatal/error_abort: QEMU exits. Under the powercompat profile the machine
        stays as it was instead (the caller restored it)."""
        if not self.profile.switches.all_or_nothing:
            self.state = _L.EXITED
            self.exit_error = str(err)

    # ------------------------------------------------------------------ compat setting

    def _set_compat(self, cpu: VCpu, pvr: int) -> None:
        """ppc_set_compat() for one vCPU, as the profile's QEMU does it.

        :raises UnknownCompatPvrError, CompatNotValidError, KvmSetCompatError:
        """
        how = self.profile.switches.set_compat
        new_pcr = self._checked_pcr(cpu, pvr)
        transport = self.accel.transport
        if transport is not None and (not how.ioctl_only_on_change or cpu.compat_pvr != pvr):
            value = cpu.compat_pvr if how.kvm_gets_old_value else pvr  # 5dfaa532's bug
            if how.commit_before_kvm:  # before 5dfaa532: state first, kept on failure
                cpu.compat_pvr, cpu.spr_pcr = pvr, new_pcr
            from powercompat.catalog.kvm import KVM_REG_PPC_ARCH_COMPAT  # KVM only (#13)

            try:
                transport.set_one_reg(cpu.index, KVM_REG_PPC_ARCH_COMPAT, value)
            except KvmError as err:
                raise KvmSetCompatError(pvr, err.errno, cpu.index) from err
        cpu.compat_pvr, cpu.spr_pcr = pvr, new_pcr

    def _checked_pcr(self, cpu: VCpu, pvr: int) -> int:
        """ppc_set_compat() step 1: the mode's PCR masked by the class (0 = raw).

        :raises UnknownCompatPvrError, CompatNotValidError:
        """
        if pvr == 0:
            return 0
        mode = mode_by_pvr(pvr, self.rules.modes)
        if mode is None:
            raise UnknownCompatPvrError(pvr)
        if not check_compat(cpu.model.family, pvr, rules=self.rules).ok:
            raise CompatNotValidError(pvr)
        return mode.pcr & cpu.model.family.pcr_mask

    def _probe(self, pvr: int, event: Event) -> None:
        """powercompat policy: is ARCH_COMPAT supported? A GET answers, as a capability
        check would; never "is this PR"."""
        transport = self.accel.transport
        assert transport is not None
        if self.probe_errno is None:
            from powercompat.catalog.kvm import KVM_REG_PPC_ARCH_COMPAT  # KVM only (#13)

            try:
                transport.get_one_reg(self.boot_cpu.index, KVM_REG_PPC_ARCH_COMPAT)
                self.probe_errno = 0
            except KvmError as err:
                self.probe_errno = err.errno
            event.reasons.append(
                "probe: KVM_GET_ONE_REG(ARCH_COMPAT) "
                + ("succeeded: the kernel has the register" if not self.probe_errno
                   else f"failed with errno {self.probe_errno}: no ARCH_COMPAT in this kernel"))
        if self.probe_errno:
            raise KvmSetCompatError(pvr, self.probe_errno, self.boot_cpu.index)

    def _set_compat_all(self, cpus: list[VCpu], pvr: int, event: Event) -> None:
        """ppc_set_compat_all(): QEMU stops at the first failure and keeps earlier vCPUs
        changed; the powercompat profile probes first and rolls back (recorded)."""
        if not self.profile.switches.all_or_nothing:
            for cpu in cpus:
                self._set_compat(cpu, pvr)
            return
        # Fix (stress, issue #5): validate before probing. ppc_set_compat() refuses an
        # unknown or invalid mode before any KVM call (qemu.md 1.6, step 1 before step 3);
        # probing first answered "Unable to set CPU compatibility mode in KVM" under KVM PR
        # for a max-cpu-compat the CPU cannot run, and issued a needless GET.
        for cpu in cpus[:1]:
            self._checked_pcr(cpu, pvr)
        if (self.profile.switches.probe_before_write and self.accel.kvm
                and any(c.compat_pvr != pvr for c in cpus)):
            self._probe(pvr, event)
        snapshots = [(cpu, cpu.snapshot()) for cpu in cpus]
        done: list[tuple[VCpu, tuple[int, int]]] = []
        try:
            for cpu, snap in snapshots:
                self._set_compat(cpu, pvr)
                done.append((cpu, snap))
        except CompatError:
            self._rollback(done, event)
            raise

    def _rollback(self, done: list[tuple[VCpu, tuple[int, int]]], event: Event) -> None:
        for cpu, snap in reversed(done):
            try:
                self._set_compat(cpu, snap[0])
            except CompatError as err:
                event.reasons.append(f"rollback of vCPU {cpu.index} failed: {err}")
            cpu.restore(snap)
        if done:
            event.reasons.append(f"rolled back {len(done)} vCPU(s) to their previous mode")

    # ------------------------------------------------------------------ lifecycle

    def realize(self) -> None:
        """Create the vCPUs (and under 2.9 set max-cpu-compat on each, spapr_cpu_init).

        :raises PowerCompatError: TCG SMT refused, or the 2.9 compat set failed.
        """
        with self._event("realize", (_L.CREATED,)) as event:
            self._check_smt()
            created = [VCpu(i, self.config.model, i // self.config.threads)
                       for i in range(self.config.smp)]
            for cpu in created:
                self.accel.create_vcpu(cpu.index)
            self._init_vcpus(created, event)
            self.vcpus = created
            self._next_vcpu = len(created)
            if self.profile.switches.reset.at_cpu_init and self.config.max_compat_pvr:
                event.reasons.append(
                    f"2.9: spapr_cpu_init sets max-cpu-compat "
                    f"{hex32(self.config.max_compat_pvr)} on each new vCPU")
                try:
                    self._set_compat_all(self.vcpus, self.config.max_compat_pvr, event)
                except CompatError as err:
                    self._fatal(err)
                    if self.profile.switches.all_or_nothing:
                        self.vcpus = []
                    raise
                self._cpu_reset_pcr(self.vcpus, event)
            self.state = _L.REALIZED

    def _init_vcpus(self, cpus: list[VCpu], event: Event) -> None:
        """kvm_arch_init_vcpu(): KVM_SET_SREGS with the model's PVR; KVM HV takes only the
        host's, so a named model other than the host's stops QEMU here, before any
        ARCH_COMPAT call (target/ppc/kvm.c kvm_arch_sync_sregs; kvm-kernel.md).

        :raises KvmInitError: QEMU's two lines (the second per release); the machine exits.
        """
        for cpu in cpus:
            try:
                self.accel.init_vcpu(cpu.index, cpu.model.pvr)
            except KvmError as err:
                # spapr_vcpu_id(): the first vCPU's id is its index, 0
                cause = kvm_init_vcpu_failed(cpu.index, err.errno,
                                             self.profile.switches.kvm_init_vcpu_errp)
                first = REGISTER_SYNC_FAILED if err.errno == EINVAL else cause
                event.reasons.append(
                    f"KVM_SET_SREGS(pvr {hex32(cpu.model.pvr)}) on vCPU {cpu.index}: "
                    f"{strerror(err.errno)}: KVM HV takes only the host's PVR "
                    f"{hex32(self.config.host.pvr)} (kvm_arch_vcpu_ioctl_set_sregs_hv)")
                event.reasons.append(f"QEMU exits: {first} / {cause}")
                error = KvmInitError(first, cause)
                self._fatal(error)
                raise error from err

    def _cpu_reset_pcr(self, cpus: list[VCpu], event: Event) -> None:
        """2.9: spapr_cpu_init() resets each CPU right after setting its mode, and every
        system reset resets them again: ppc_cpu_reset() writes each SPR's default, so
        SPR_PCR is 0 while compat_pvr (a CPU field) stays, until CAS sets another mode."""
        if any(c.spr_pcr for c in cpus):
            event.reasons.append("2.9: ppc_cpu_reset puts SPR_PCR back to 0 (compat_pvr "
                                 "stays)")
        for cpu in cpus:
            cpu.spr_pcr = 0

    def _check_smt(self) -> None:
        """spapr_set_vsmt_mode() (ppc_cpu_realizefn() in 2.9/2.10): the release's rule for
        threads per core (KVM's own host limits are not modelled)."""
        p8 = check_compat(self.config.model.family, LOGICAL_2_07, 0,
                          self.config.max_compat_pvr, self.rules).ok
        err = smt_refusal(self.profile.switches.smt, self.config.threads, not self.accel.kvm,
                          p8)
        if err:
            error = SmtError(err)
            self._fatal(error)
            raise error

    def reset(self, name: str = "reset") -> None:
        """spapr_machine_reset(): every vCPU back to max-cpu-compat (0 = raw), error_fatal.

        :raises CompatError: the mode is not valid for the CPU, or KVM refused it.
        """
        allowed = (_L.REALIZED, _L.RUNNING) if name == "reset" else (_L.RUNNING,)
        with self._event(name, allowed) as event:
            self._check_host_before_reset(event)
            target = self.config.max_compat_pvr
            path = self.profile.switches.reset
            policy = self.profile.switches.all_or_nothing and not path.at_cpu_init
            if policy:  # powercompat: refuse before any vCPU changes
                self._check_mmu(event, target)
            if not path.at_cpu_init:
                event.reasons.append(
                    f"{path.value}({hex32(target)}): every vCPU to "
                    + (f"max-cpu-compat={self.config.max_compat.name}"
                       if self.config.max_compat else "raw mode (no max-cpu-compat)"))
                try:
                    self._set_compat_all(self.vcpus, target, event)
                except CompatError as err:
                    self._fatal(err)
                    raise
            else:
                event.reasons.append("2.9: reset leaves the compat mode as it is")
                self._cpu_reset_pcr(self.vcpus, event)
            if not policy and self.vcpus:
                self._check_mmu(event, self.boot_cpu.compat_pvr)
            self.last_cas = None
            incoming = self.config.incoming and self.state == _L.REALIZED
            self.state = _L.INCOMING if incoming else _L.RUNNING

    def _host_refuses(self, error: KvmHostError, event: Event, why: str) -> None:
        event.reasons.append(why)
        self._fatal(error)
        raise error

    def _check_host_before_reset(self, event: Event) -> None:
        """spapr_machine_reset() before the vCPUs: spapr_caps_apply() (cap-ail-mode-3), then
        radix or a hash page table (kvm-kernel.md 1 and 8).

        :raises KvmHostError: this KVM cannot give what the machine asks; QEMU exits.
        """
        caps = self.kvm_caps
        if caps is None:
            # KVM PR offers no radix (KVM_CAP_PPC_MMU_RADIX is HV's): always a hash table
            if self.config.accel is Accel.KVM_PR:
                self._check_vrma(event)
            return
        switches = self.profile.switches
        family, max_pvr = self.config.model.family, self.config.max_compat_pvr
        if switches.hpt_max_page_size_cap:
            self._check_hpt_page_size(event)
        if (switches.ail_mode_3_cap and not caps.ail_mode_3
                and check_compat(family, LOGICAL_2_07, 0, max_pvr, self.rules).ok):
            self._host_refuses(
                KvmHostError(AIL_MODE_3_UNSUPPORTED, AIL_MODE_3_HINT), event,
                "spapr_caps_apply: cap-ail-mode-3 is on (the CPU runs ISA 2.07 within "
                "max-cpu-compat) and this KVM has no KVM_CAP_PPC_AIL_MODE_3")
        radix = caps.mmu_radix and (
            switches.hpt is HptRule.KVM_RADIX
            or (switches.hpt is HptRule.CPU_RADIX
            and check_compat(family, LOGICAL_3_00, 0, max_pvr, self.rules).ok))
        if radix:
            return
        if not caps.hpt:
            text = (HPT_NESTED if switches.hpt is HptRule.CPU_RADIX
                    else hpt_alloc_failed(HPT_ORDER_DEFAULT_RAM, EOPNOTSUPP))
            self._host_refuses(
                KvmHostError(text), event,
                "spapr_machine_reset: a hash page table is needed (no radix for this CPU "
                "within max-cpu-compat) and a nested hypervisor's KVM_PPC_ALLOCATE_HTAB is "
                "-EOPNOTSUPP")
        self._check_vrma(event)

    def _check_hpt_page_size(self, event: Event) -> None:
        """spapr_caps_apply() -> cap_hpt_maxpagesize_apply(): KVM HV backs a guest page only
        with host-contiguous memory, so cap-hpt-max-page-size may not exceed the host's page
        (pseries-3.0 and later default to 64 KiB: a 4K-page host needs the cap set to 4k).

        :raises KvmHostError: QEMU exits.
        """
        config = self.config
        host = config.host_page_shift
        cap = config.hpt_max_page_shift
        if cap is None:  # default_caps_with_cpu(): pseries-2.12 and older take the host's
            cap = 16 if config.machine.version >= (3, 0) else host
        if cap <= host:
            return
        self._host_refuses(
            KvmHostError(hpt_page_size_unsupported(shift_kib(cap), shift_kib(host))), event,
            f"spapr_caps_apply: cap-hpt-max-page-size is {shift_kib(cap)} KiB, more than the "
            f"host's {shift_kib(host)} KiB pages (KVM_PPC_PAGE_SIZES_REAL)")

    def _check_vrma(self, event: Event) -> None:
        """spapr_setup_hpt() after the hash table is allocated: the RMA must fit the VRMA,
        which the host kernel's page size bounds (a 4K-page host maps 128 MiB of the default
        512 MiB).

        :raises KvmHostError: QEMU exits.
        """
        if not self.profile.switches.vrma_check:
            return
        shift = self.config.host_page_shift
        vrma = vrma_limit_mib(shift)
        if vrma >= DEFAULT_RAM_MIB:
            return
        self._host_refuses(
            KvmHostError(vrma_too_small(DEFAULT_RAM_MIB, vrma)), event,
            f"spapr_setup_hpt: the guest runs hash, and the host's {shift_kib(shift)}K pages "
            f"give a VRMA of {vrma} MiB, smaller than the {DEFAULT_RAM_MIB} MiB RMA")

    def _check_mmu(self, event: Event, boot_pvr: int) -> None:
        """spapr_dt_ov5_platform_support() while the reset builds the device tree (after the
        vCPUs are set): a boot CPU below ISA 3.00 (``boot_pvr``) runs hash, which a KVM with
        radix but not hash-v3 cannot give. The powercompat policy asks it before the sets.

        :raises KvmHostError: QEMU exits (spapr_check_mmu_mode()).
        """
        caps = self.kvm_caps
        if caps is None or not self.profile.switches.mmu_check_at_reset:
            return
        if not caps.mmu_radix or caps.mmu_hash_v3:
            return
        family = self.config.model.family
        if check_compat(family, LOGICAL_3_00, 0, boot_pvr, self.rules).ok:
            return
        self._host_refuses(
            KvmHostError(MMU_HASH_UNAVAILABLE), event,
            f"spapr_check_mmu_mode: the boot CPU's mode {hex32(boot_pvr)} is below ISA 3.00 "
            "(hash), and this KVM offers radix without hash-v3 (a radix POWER9 host before "
            "DD2.2)")

    def reboot(self) -> None:
        """A guest reboot is a machine reset."""
        self.reset("reboot")

    def cas(self, buffer: bytes, active_vcpus: int = 1) -> CasResult:
        """ibm,client-architecture-support from the boot vCPU with the guest's buffer.

        A CAS that fails returns H_HARDWARE; the guest boots on in its pre-CAS mode.

        :raises CasBufferError: the buffer is malformed (nothing changes).
        :raises CasError: H_MULTI_THREADS_ACTIVE (nothing changes).
        """
        with self._event("cas", (_L.RUNNING,)) as event:
            if active_vcpus > 1:
                _warn(CAS_MULTI_THREADS)
                raise CasError(CAS_MULTI_THREADS, H_MULTI_THREADS_ACTIVE)
            pvrs = parse_cas_pvrs(buffer)
            boot = self.boot_cpu
            max_pvr = self.config.max_compat_pvr
            choice = choose_compat(boot.model, boot.model.pvr, max_pvr, pvrs, self.rules)
            event.reasons.extend(r.text for r in choice.reasons)
            event.detail.update({
                "current": hex32(boot.compat_pvr), "explicit_match": choice.raw_mode_supported,
                "new": hex32(choice.cas_pvr)})
            result = self._apply_cas(choice, event)
            self.last_cas = result
            event.detail["hcall_ret"] = result.hcall_ret
            if result.hcall_ret != H_SUCCESS:
                event.ok = False
                event.error = result.error
            return result

    def _apply_cas(self, choice: CasChoice, event: Event) -> CasResult:
        if choice.outcome is CasOutcome.FAIL:
            msg = choice.error if self.profile.switches.cas_failure_message else None
            return CasResult(H_HARDWARE, choice, msg, False)
        if self.boot_cpu.compat_pvr == choice.cas_pvr:
            event.reasons.append("every vCPU already in that mode: nothing to set")
            return CasResult(H_SUCCESS, choice, None, False)
        try:
            self._set_compat_all(self.vcpus, choice.cas_pvr, event)
        except CompatError as err:
            if self.profile.switches.cas_raw_fallback and choice.raw_mode_supported:
                event.reasons.append(
                    f"{err}: ignored, the guest listed its real PVR and no max-cpu-compat "
                    "is set, so it runs in the mode it has (cc7b35b1, 'likely KVM PR')")
                return CasResult(H_SUCCESS, choice, None, True)
            return CasResult(H_HARDWARE, choice, str(err), False)
        return CasResult(H_SUCCESS, choice, None, False)

    def hotplug(self) -> list[int]:
        """device_add a core of ``threads`` vCPUs; returns their indexes.

        :raises HotplugError: no free slot (nothing changes).
        :raises CompatError: the new vCPUs' compat set failed (the core is not added).
        """
        with self._event("hotplug", (_L.REALIZED, _L.RUNNING)) as event:
            threads = self.config.threads
            if len(self.vcpus) + threads > self.config.max_cpus:
                raise HotplugError(
                    f"cannot hotplug: all {self.config.max_cpus} vCPU slots are in use "
                    "(maxcpus)")
            first = self._next_vcpu
            core = first // threads
            new = [VCpu(first + t, self.config.model, core, hotplugged=True)
                   for t in range(threads)]
            self._next_vcpu += threads
            for cpu in new:
                self.accel.create_vcpu(cpu.index)
            self._init_vcpus(new, event)
            rule = _HOTPLUG[self.profile.switches.hotplug]
            target = rule.target(self)
            event.reasons.append(rule.reason(target or 0))
            self.vcpus.extend(new)
            if target is not None:
                try:
                    self._set_compat_all(new, target, event)
                except CompatError as err:
                    del self.vcpus[-threads:]  # device_add fails: the core is not added
                    if rule.fatal:  # &error_abort in spapr_core_plug
                        self._fatal(err)
                    raise
                if rule.cpu_reset:  # spapr_cpu_init resets the CPU after setting its mode
                    self._cpu_reset_pcr(new, event)
            return [c.index for c in new]

    def migrate_out(self) -> bytes:
        """The CPU part of the migration stream (vmstate ``cpu`` + ``cpu/compat``)."""
        # the stream model is imported on first migration: a boot never needs it (#13)
        from powercompat.machine.migration import CpuRecord, MigrationStream, encode_stream

        with self._event("migrate-out", (_L.RUNNING,)) as event:
            migrates = self.profile.switches.migrates_compat
            records = [CpuRecord(c.index, c.model.pvr, c.spr_pcr,
                                 c.compat_pvr if migrates else None)
                       for c in self.vcpus]
            sw = self.profile.switches
            # every modelled pseries has XICS (ic-mode xics or dual), so an ICP per vCPU
            stream = encode_stream(MigrationStream(
                tuple(records), self.has_xive, self.config.machine.name, sw.vmstate_slb,
                sw.vmstate_spapr_iommu, sw.icp_vmstate))
            sent = sum(1 for r in records if r.compat_pvr)
            event.reasons.append(
                f"{len(records)} cpu sections, {sent} with a cpu/compat subsection"
                if migrates else
                "2.9: the compat mode is not migrated and the source PVR is ignored")
            event.detail["bytes"] = len(stream)
            return stream

    def migrate_in(self, stream: bytes) -> None:
        """Load the CPU state on a destination started with ``incoming``.

        Every section is checked before anything changes (cpu_post_load's rules). A refused
        load makes QEMU's destination exit (every release); the powercompat profile keeps
        the destination as it was instead.

        :raises MigrationStreamError: malformed stream (nothing changes).
        :raises MigrationError: QEMU's lines for a refused section, mode or PVR.
        """
        from powercompat.machine.migration import decode_stream

        with self._event("migrate-in", (_L.INCOMING,)) as event:
            incoming = decode_stream(stream)
            try:
                self._load_stream(incoming, event)
            except MigrationError as err:
                if not self.profile.switches.all_or_nothing:
                    self.state = _L.EXITED
                    self.exit_error = str(err)
                raise

    def _load_stream(self, incoming: MigrationStream, event: Event) -> None:
        sw = self.profile.switches
        local = self.config.machine.name
        if incoming.machine is not None and incoming.machine != local:
            # the configuration record is read before any section (configuration_post_load)
            raise self._machine_mismatch(incoming.machine, local)
        iommu_too_new = (incoming.iommu_version is not None
                         and incoming.iommu_version > sw.vmstate_spapr_iommu)
        if iommu_too_new and sw.all_or_nothing:
            # powercompat policy: a stream refused anywhere changes nothing, so its section
            # versions are checked before the first CPU is loaded
            raise self._section_too_new("spapr_iommu", incoming.iommu_version or 0,
                                        sw.vmstate_spapr_iommu)
        if incoming.xive and not self.has_xive:
            # the interrupt controller's section comes first and finds no device here
            raise self._unknown_section(
                "xive-source", 0,
                "the source has a XIVE interrupt controller (its CPU runs ISA 3.00 within its "
                f"max-cpu-compat); {self.config.model.name} here does not"
                + (" within max-cpu-compat" if self.config.max_compat else "")
                + ", so this machine has XICS only (spapr_irq_check)")
        by_index = {c.index: c for c in self.vcpus}
        plan: list[tuple[VCpu, CpuRecord, int]] = []
        for rec in incoming.cpus:
            cpu = by_index.get(rec.index)
            if cpu is None:
                raise self._unknown_section("cpu", rec.index)
            if incoming.slb_version is not None and incoming.slb_version > sw.vmstate_slb:
                # vmstate_subsection_load(): before the cpu's post_load ever runs
                raise self._too_new(rec.index, "cpu/slb", incoming.slb_version,
                                    sw.vmstate_slb)
            # An absent subsection leaves the destination's own (reset) value.
            compat = cpu.compat_pvr if rec.compat_pvr is None else rec.compat_pvr
            if self.profile.switches.migrates_compat:
                self._check_incoming(cpu, rec, compat)
            plan.append((cpu, rec, compat))
            if incoming.icp and not sw.icp_vmstate:
                # the first vCPU's icp/server section follows its cpu section
                raise self._unknown_section(
                    "icp/server", rec.index,
                    "the source registers an icp/server section per vCPU (hw/intc/xics.c "
                    f"icp_realize); QEMU {self.profile.name} does not (24ee9229 dropped the "
                    "call; f5738aed restored it, in 10.2 and the 10.0.5 and 10.1.1 stable "
                    "releases)")
        snapshots = [(cpu, cpu.snapshot()) for cpu, _, _ in plan]
        done: list[tuple[VCpu, tuple[int, int]]] = []
        try:
            for (target, rec, compat), (_, snap) in zip(plan, snapshots, strict=True):
                self._load_cpu(target, rec, compat)
                done.append((target, snap))
        except CompatError as err:
            if self.profile.switches.all_or_nothing:
                self._rollback(done, event)
                for cpu, snap in snapshots:
                    cpu.restore(snap)
            errno = err.errno if isinstance(err, KvmSetCompatError) else EINVAL
            raise self._post_load_failed(target.index, str(err), errno) from err
        if iommu_too_new:
            # the TCE table's section follows the CPUs (qemu_loadvm_section_start_full)
            raise self._section_too_new("spapr_iommu", incoming.iommu_version or 0,
                                        sw.vmstate_spapr_iommu)
        event.reasons.append(f"loaded {len(plan)} cpu sections")
        self.idle_guest_stops = self._idle_guest_stops()
        if self.idle_guest_stops:
            event.reasons.append(self.idle_guest_stops)
        self.state = _L.RUNNING

    def _idle_guest_stops(self) -> str | None:
        """Why a TCG guest whose boot vCPU idled (halted, waiting for its decrementer) when
        the source stopped does not run again here; None when it does (or under KVM, whose
        decrementer and idle states are not QEMU's to restore)."""
        if self.config.accel is not Accel.TCG:
            return None
        sw = self.profile.switches
        if not sw.tcg_decrementer_migration:
            return (f"QEMU {self.profile.name} does not restart the TCG decrementer after "
                    "a load (cpu_post_load): an idle guest is never woken")
        since = sw.rtas_stopped_since
        if since is not None and self.config.machine.version < since:
            return (f"{self.config.machine.name} is older than pseries-{since[0]}.{since[1]}"
                    " (rtas-stopped-state=false): cpu_post_load takes the halted boot vCPU "
                    "for RTAS-stopped (PSSCR[EC], LPCR PM bits), so it never runs again")
        return None

    def _load_failed_lines(self, first: str, index: int, idstr: str,
                           rule: str) -> MigrationError:
        """A section's load failed with ``first`` as its own error, as the release reports
        it: its own line, the device's, the load's (5.2 .. 10.0); one chain (11.1)."""
        if self.profile.switches.migration_errors is MigrationErrors.CHAINED:
            return MigrationError(f"{load_of_migration_failed(EINVAL)}: "
                                  f"{migration_load_failed(index, idstr)}: {first}",
                                  rule=rule)
        return MigrationError(first, migration_load_failed(index, idstr),
                              more=(load_of_migration_failed(EINVAL),), rule=rule)

    def _too_new(self, index: int, name: str, incoming: int, local: int) -> MigrationError:
        """vmstate_load_state(): a subsection newer than this binary's."""
        return self._load_failed_lines(vmstate_too_new(name, incoming, local), index, "cpu",
                                       "vmstate-version")

    def _section_too_new(self, idstr: str, incoming: int, local: int) -> MigrationError:
        """qemu_loadvm_section_start_full(): a section version above this binary's."""
        if self.profile.switches.migration_errors is MigrationErrors.CHAINED:
            # head: error_setg() without the "savevm: " of error_report()
            text = section_version_unsupported(incoming, idstr, local).removeprefix("savevm: ")
            return MigrationError(f"{load_of_migration_failed(EINVAL)}: {text}",
                                  rule="vmstate-version")
        return MigrationError(section_version_unsupported(incoming, idstr, local),
                              load_of_migration_failed(EINVAL), rule="vmstate-version")

    def _machine_mismatch(self, received: str, local: str) -> MigrationError:
        """configuration_post_load(): the source ran another machine type."""
        detail = (f"the source ran {received} and this machine is {local}: live migration "
                  "needs the same machine type on both ends (plain pseries is each "
                  "release's newest)")
        if self.profile.switches.migration_errors is MigrationErrors.CHAINED:
            return MigrationError(machine_type_mismatch_chained(received, local, EINVAL),
                                  None, detail, rule="machine-type")
        return MigrationError(machine_type_mismatch(received, local),
                              load_of_migration_failed(EINVAL), detail, rule="machine-type")

    def _unknown_section(self, idstr: str, instance: int,
                         detail: str | None = None) -> MigrationError:
        """migration/savevm.c: a section this machine has no device for, as the release
        reports it (qemu-releases.md 8.2)."""
        rule = {"xive-source": "xive-section", "icp/server": "icp-section"}.get(
            idstr, "unknown-section")
        if self.profile.switches.migration_errors is MigrationErrors.CHAINED:
            return MigrationError(unknown_section_chained(idstr, instance, EINVAL), None,
                                  detail, rule=rule)
        return MigrationError(unknown_savevm_section(idstr, instance),
                              load_of_migration_failed(EINVAL), detail, rule=rule)

    def _post_load_failed(self, index: int, refusal: str | None, errno: int = EINVAL,
                          detail: str | None = None) -> MigrationError:
        """cpu_post_load() failed: ppc_set_compat()'s own line (``refusal``; none for a raw
        PVR of another class), then the load's, as the release reports them."""
        how = self.profile.switches.migration_errors
        ret = -1 if how is MigrationErrors.LINES_MINUS_1 else -errno
        rule = "compat-mode" if refusal else "pvr"
        if how is MigrationErrors.CHAINED:
            from powercompat.machine.migration import CPU_VERSION

            chained = post_load_failed_chained(index, "cpu", CPU_VERSION, CPU_VERSION, ret)
            return (MigrationError(refusal, chained, detail, rule=rule) if refusal
                    else MigrationError(chained, None, detail, rule=rule))
        load = migration_load_failed(index, "cpu")
        return (MigrationError(refusal, load, detail, (load_of_migration_failed(-ret),), rule)
                if refusal
                else MigrationError(load, load_of_migration_failed(-ret), detail, rule=rule))

    def _check_incoming(self, cpu: VCpu, rec: CpuRecord, compat: int) -> None:
        if compat:
            if mode_by_pvr(compat, self.rules.modes) is None:
                raise self._post_load_failed(rec.index, str(UnknownCompatPvrError(compat)))
            if not check_compat(cpu.model.family, compat, rules=self.rules).ok:
                raise self._post_load_failed(rec.index, str(CompatNotValidError(compat)))
        elif not migration_pvr_match(cpu.model, rec.spr_pvr):
            raise self._post_load_failed(
                rec.index, None, detail=f"raw PVR {hex32(rec.spr_pvr)} is not a "
                f"{cpu.model.name} ({cpu.model.family.name}) PVR: cpu_post_load returns "
                "-EINVAL")

    def _load_cpu(self, cpu: VCpu, rec: CpuRecord, compat: int) -> None:
        """vmstate load then cpu_post_load() for one vCPU."""
        cpu.spr_pcr = rec.spr_pcr  # SPR_PCR travels in the SPR array
        if not self.profile.switches.migrates_compat:
            return
        cpu.compat_pvr = compat  # the loaded field (or the destination's own value)
        if compat:
            if self.profile.switches.migration_forces_write:
                cpu.compat_pvr = 0  # e07cc192: force the "changed" path to reach KVM
            self._set_compat(cpu, compat)


class _HotplugPlan(NamedTuple):
    """What one HotplugRule does: the mode to set on the new vCPUs (None: nothing sets it),
    why, whether a failure is fatal (spapr_core_plug's &error_abort), and whether the CPU
    is reset after the set (2.9's spapr_cpu_init: SPR_PCR back to 0)."""

    target: Callable[[PseriesMachine], int | None]
    reason: Callable[[int], str]
    fatal: bool
    cpu_reset: bool = False


#: the one dispatch table for hot-plug (hw/ppc/spapr_cpu_core.c, hw/ppc/spapr.c)
_HOTPLUG: Mapping[HotplugRule, _HotplugPlan] = MappingProxyType({
    HotplugRule.MAX: _HotplugPlan(
        lambda m: m.config.max_compat_pvr or None,
        lambda _: "2.9: spapr_cpu_init sets max-cpu-compat on the new vCPUs", False, True),
    HotplugRule.NONE: _HotplugPlan(
        lambda m: None,
        lambda _: "2.10/2.11: nothing sets the new vCPUs' mode, they run raw "
                  "(fixed by 51f84465/9012a53f)", False),
    HotplugRule.BOOT_CPU: _HotplugPlan(
        lambda m: m.boot_cpu.compat_pvr,
        lambda target: f"spapr_core_plug: the new vCPUs take the boot CPU's mode "
                       f"{hex32(target)}", True),
})


def migrate(source: PseriesMachine, destination: PseriesMachine) -> bytes:
    """Live-migrate the CPU state; returns the stream that went across."""
    stream = source.migrate_out()
    destination.migrate_in(stream)
    return stream
