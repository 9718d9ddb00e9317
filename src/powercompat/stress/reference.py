"""An independent, deliberately simple model of what each QEMU profile does to vCPUs and KVM.

The stress runner and the stateful property test compare the real machine
(machine/pseries.py) against this model after every step. It is written from the reference
facts (shared/reference/qemu.md sections 1.6, 1.7, 5, 6, 7; kernel_libvirt.md sections 1-3),
not from the machine's code: it imports catalogue facts, the two untrusted-input parsers
(which have their own property tests) and ``migration_pvr_match`` (target/ppc/machine.c
pvr_match, a pure catalogue lookup), and nothing from machine/pseries.py, accel/ or
decisions/validity.py / decisions/cas.py's choice logic.

Outcomes are compared as short category strings (``ok``, ``state``, ``unknown-pvr``,
``not-valid``, ``kvm:<errno>``, ``cas-buffer``, ``cas:<hcall>``, ``stream``, ``migration``,
``refused``) so that a wrong error class is caught as surely as a wrong state.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import Final

from powercompat.catalog.behaviour import HotplugRule, HptRule, SetCompat, SmtRule
from powercompat.catalog.cpus import CpuFamily
from powercompat.catalog.modes import LOGICAL_3_00, CompatMode
from powercompat.decisions.cas import parse_cas_pvrs
from powercompat.decisions.cpu_match import migration_pvr_match
from powercompat.errors import CasBufferError, MigrationStreamError
from powercompat.machine.migration import CpuRecord, MigrationStream, decode_stream
from powercompat.machine.options import MachineConfig
from powercompat.profiles import Profile

EINVAL: Final = 22

# The kernel tables, restated on purpose from kernel_libvirt.md (not imported: the catalogue
# is what this model checks; tests/property/test_reference_tables.py compares them row by row).
#: 1.3: logical PVR -> guest PCR bit in kvmppc_set_arch_compat(), by kernel
_V4_10: Final = {0x0F000002: 0x2, 0x0F000003: 0x4, 0x0F100003: 0x4, 0x0F000004: 0x8,
                 0x0F000005: 0x10}
_V5_9: Final = {**_V4_10, 0x0F000006: 0x20}
GUEST_PCR_BIT: Final[dict[str, dict[int, int]]] = {
    "linux-4.19": _V4_10,
    "linux-6.1": _V5_9,
    "linux-6.12": {**_V5_9, 0x0F000007: 0x20},
    "linux-7.2": {**_V5_9, 0x0F000007: 0x20},
}
#: kvm-kernel.md: 7.2 takes 0x0f000007 only on a Power11 host (CPU_FTR_P11_PVR); elsewhere
#: it stores 0xffffffff (PVR_ARCH_INVALID) with pcr = PCR_MASK and answers EINVAL
P11_HOST_ONLY: Final[dict[str, tuple[int, str]]] = {"linux-7.2": (0x0F000007, "POWER11")}
#: 1.4: reserved PCR bits kept set since v5.4 (13c7bb3c57dc), by kernel
PCR_RESERVED: Final[dict[str, int]] = {
    "linux-4.19": 0, "linux-6.1": 0x0FFFFFFFFFFFFFE1, "linux-6.12": 0x0FFFFFFFFFFFFFE1,
    "linux-7.2": 0x0FFFFFFFFFFFFFE1,
}
#: 1.2: the host's PCR level by CPU family (first matching feature test)
HOST_LEVEL: Final[dict[str, int]] = {
    "POWER11": 0x20, "POWER10": 0x20, "POWER9": 0x10, "POWER8": 0x8, "POWER7": 0x4,
    "POWER5+": 0x2, "970": 0x2, "970MP": 0x2,
}
#: kvm-kernel.md 1, 7, 8 (powerpc.c kvm_vm_ioctl_check_extension, book3s_hv.c), by kernel:
#: KVM HV runs inside a pseries guest (nested HV, v4.20)
NESTED_HV: Final[dict[str, bool]] = {
    "linux-4.19": False, "linux-6.1": True, "linux-6.12": True, "linux-7.2": True}
#: KVM_CAP_PPC_AIL_MODE_3 exists (v5.18)
AIL3_CAP: Final[dict[str, bool]] = {
    "linux-4.19": False, "linux-6.1": True, "linux-6.12": True, "linux-7.2": True}
#: no hash-v3 on a radix POWER9 before DD2.2 (5.12)
P9_NO_MIXING: Final[dict[str, bool]] = {
    "linux-4.19": False, "linux-6.1": True, "linux-6.12": True, "linux-7.2": True}


def ref_hv_caps(kernel: str, host: CpuFamily, pvr: int | None, nested: bool
                ) -> tuple[bool, bool, bool, bool]:
    """(radix, hash-v3, HPT, AIL mode 3) of KVM HV on this host, restated from
    kvm-kernel.md: radix on ISA 3.00 hosts; hash-v3 only on bare metal, and not on a POWER9
    whose DD level (low 12 bits, variant 0) is below 2.02 (variant 0x2000: below 1.01);
    no HPT for a nested hypervisor; AIL 3 for a nested one, and on bare metal from POWER8
    except POWER9 DD2.0/DD2.1. ``pvr`` None: a host not named, taken at a level without
    those quirks."""
    radix = HOST_LEVEL[host.name] >= 0x10
    if pvr is None:
        pvr = 0
    dd = pvr & 0xFFF
    variant = pvr & 0xE000
    split = pvr >> 16 == 0x004E and ((variant == 0 and dd < 0x202)
                                     or (variant == 0x2000 and dd < 0x101))
    hash_v3 = radix and not nested and not (P9_NO_MIXING[kernel] and split)
    prefetch_bug = pvr & 0xFFFFEFFF in (0x004E0200, 0x004E0201)
    ail = AIL3_CAP[kernel] and (nested or (HOST_LEVEL[host.name] >= 0x8 and not prefetch_bug))
    return radix, hash_v3, not nested, ail


# ---------------------------------------------------------------- QEMU's rules, restated


def ref_mode(profile: Profile, pvr: int) -> CompatMode | None:
    """compat_by_pvr(): exact match in the profile's table."""
    for mode in profile.rules.modes:
        if mode.pvr == pvr:
            return mode
    return None


def ref_index(profile: Profile, pvr: int) -> int:
    return [m.pvr for m in profile.rules.modes].index(pvr)


def ref_refusal(profile: Profile, family: CpuFamily, pvr: int) -> str | None:
    """pcc_compat() without bounds (qemu.md 1.5): None when valid, else the category."""
    mode = ref_mode(profile, pvr)
    if mode is None:
        return "unknown-pvr"
    if profile.switches.logical_pvr_check and pvr > family.spapr_logical_pvr:
        return "not-valid"
    if not family.pcr_supported & mode.pcr_level:
        return "not-valid"
    return None


def ref_host_accepts(kernel: str, host: CpuFamily, pvr: int) -> bool:
    """kvmppc_set_arch_compat() (kernel_libvirt.md 1.3/1.4): does ``kernel`` know the
    level, and is it within the host's?"""
    if pvr == 0:
        return True
    gated = P11_HOST_ONLY.get(kernel)
    if gated is not None and gated[0] == pvr and gated[1] != host.name:
        return False
    bit = GUEST_PCR_BIT[kernel].get(pvr)
    return bit is not None and bit <= HOST_LEVEL[host.name]


def ref_cas_choice(profile: Profile, family: CpuFamily, real_pvr: int, max_pvr: int,
                   pairs: list[tuple[int, int]]) -> tuple[int, bool]:
    """cas_check_pvr() (qemu.md 5.1): (newest listed valid mode within max, raw listed)."""
    best = 0
    explicit = False
    for mask, value in pairs:
        if real_pvr & mask == value & mask:
            explicit = True
            continue
        if ref_refusal(profile, family, value) is not None:
            continue
        if max_pvr and ref_index(profile, value) > ref_index(profile, max_pvr):
            continue
        if best and ref_index(profile, value) < ref_index(profile, best):
            continue
        best = value
    return best, explicit


# ---------------------------------------------------------------- the kernel side


class RefKernel:
    """The kernel behind ONE_REG plus the fault plan, reduced to what the machine can see."""

    def __init__(self, accel: str, host: CpuFamily, threads: int, kernel: str) -> None:
        self.accel = accel
        self.host = host
        self.threads = threads
        self.kernel = kernel
        #: hv: vcore -> (arch_compat, pcr); pr-ignore: vcpu -> (arch_compat, None)
        self.store: dict[int, tuple[int, int | None]] = {}
        self.plan: dict[int, int] = {}
        self.sets_seen = 0
        #: (vcpu, op, value, errno), as RecordingTransport records them
        self.calls: list[tuple[int, str, int | None, int]] = []

    @property
    def kvm(self) -> bool:
        return self.accel != "tcg"

    def _key(self, vcpu: int) -> int:
        return vcpu // self.threads if self.accel == "kvm-hv" else vcpu

    def create(self, vcpu: int) -> None:
        if self.accel == "kvm-hv":
            # a new vcore is raw and entered with PCR_MASK alone (13c7bb3c57dc)
            self.store.setdefault(self._key(vcpu), (0, PCR_RESERVED[self.kernel]))
        elif self.accel == "kvm-pr-ignore":
            self.store.setdefault(vcpu, (0, None))

    def fail_next_set(self, errno: int, after: int = 0) -> None:
        self.plan[self.sets_seen + after] = errno

    def set(self, vcpu: int, value: int) -> int:
        index = self.sets_seen
        self.sets_seen += 1
        err = self.plan.pop(index, 0)
        if not err:
            if self.accel == "kvm-pr":
                err = EINVAL
            elif self.accel == "kvm-hv":
                gated = P11_HOST_ONLY.get(self.kernel)
                if gated is not None and gated == (value, gated[1]) \
                        and gated[1] != self.host.name:
                    err = EINVAL  # and the vcore is poisoned
                    self.store[self._key(vcpu)] = (0xFFFFFFFF, PCR_RESERVED[self.kernel])
                elif not ref_host_accepts(self.kernel, self.host, value):
                    err = EINVAL
                else:
                    level = HOST_LEVEL[self.host.name]
                    guest = GUEST_PCR_BIT[self.kernel][value] if value else level
                    self.store[self._key(vcpu)] = (
                        value, (level - guest) | PCR_RESERVED[self.kernel])
            else:
                self.store[vcpu] = (value, None)
        self.calls.append((vcpu, "set", value, err))
        return err

    def get(self, vcpu: int) -> int:
        if self.accel == "kvm-pr":
            self.calls.append((vcpu, "get", None, EINVAL))
            return EINVAL
        self.calls.append((vcpu, "get", self.store[self._key(vcpu)][0], 0))
        return 0

    def view(self, vcpu: int) -> tuple[int, int | None] | None:
        if self.accel == "tcg":
            return None
        if self.accel == "kvm-pr":
            return (0, None)
        return self.store[self._key(vcpu)]


# ---------------------------------------------------------------- the QEMU side


@dataclass
class RefCpu:
    index: int
    compat: int = 0
    pcr: int = 0


class RefFailure(Exception):
    """A refused or failed step; ``category`` is compared with the machine's error."""

    def __init__(self, category: str) -> None:
        super().__init__(category)
        self.category = category


@dataclass
class RefMachine:
    """One pseries machine as the profile's QEMU would hold it."""

    config: MachineConfig
    state: str = "created"
    cpus: list[RefCpu] = field(default_factory=list)
    kernel: RefKernel = field(init=False)
    next_index: int = 0
    probe: int | None = None
    #: (hcall_ret, raw_fallback) of the last CAS
    last_cas: tuple[int, bool] | None = None

    def __post_init__(self) -> None:
        c = self.config
        self.kernel = RefKernel(c.accel, c.host.family, c.threads, c.host_kernel.name)

    @property
    def has_xive(self) -> bool:
        """spapr_irq_check() (hw/ppc/spapr_irq.c): dual mode keeps XIVE only if the CPU
        supports ISA 3.00 within max-cpu-compat (table positions, qemu.md 1.5)."""
        c = self.config
        if not c.profile.switches.ic_mode_dual or ref_refusal(c.profile, c.model.family,
                                                     LOGICAL_3_00) is not None:
            return False
        modes = [m.pvr for m in c.profile.rules.modes]
        return not c.max_compat_pvr or modes.index(LOGICAL_3_00) <= modes.index(
            c.max_compat_pvr)

    @property
    def profile(self) -> Profile:
        return self.config.profile

    @property
    def family(self) -> CpuFamily:
        return self.config.model.family

    def _need(self, *states: str) -> None:
        if self.state not in states:
            raise RefFailure("state")

    def _fatal(self) -> None:
        if not self.profile.switches.all_or_nothing:
            self.state = "exited"

    # ppc_set_compat() (qemu.md 1.6 and its history table)
    def _set(self, cpu: RefCpu, pvr: int) -> None:
        how = self.profile.switches.set_compat
        pcr = 0
        if pvr:
            refusal = ref_refusal(self.profile, self.family, pvr)
            if refusal:
                raise RefFailure(refusal)
            mode = ref_mode(self.profile, pvr)
            assert mode is not None
            pcr = mode.pcr & self.family.pcr_mask
        # qemu.md 1.6's history table: ioctl on every set, state first (before 5dfaa532);
        # only on change with the old value (5dfaa532); with the new value (e4f0c6bb)
        if self.kernel.kvm and (how is SetCompat.STATE_FIRST or cpu.compat != pvr):
            sent = cpu.compat if how is SetCompat.OLD_VALUE else pvr
            if how is SetCompat.STATE_FIRST:
                cpu.compat, cpu.pcr = pvr, pcr
            err = self.kernel.set(cpu.index, sent)
            if err:
                raise RefFailure(f"kvm:{err}")
        cpu.compat, cpu.pcr = pvr, pcr

    # ppc_set_compat_all() / ppc_init_compat_all() (qemu.md 1.7), or the powercompat policy
    def _set_all(self, cpus: list[RefCpu], pvr: int) -> None:
        if not self.profile.switches.all_or_nothing:
            for cpu in cpus:
                self._set(cpu, pvr)
            return
        # powercompat: validate (as ppc_set_compat would), probe once, then all-or-nothing
        if pvr:
            refusal = ref_refusal(self.profile, self.family, pvr)
            if refusal:
                raise RefFailure(refusal)
        if self.profile.switches.probe_before_write and self.kernel.kvm and any(
                c.compat != pvr for c in cpus):
            if self.probe is None:
                self.probe = self.kernel.get(self.cpus[0].index)
            if self.probe:
                raise RefFailure(f"kvm:{self.probe}")
        done: list[tuple[RefCpu, tuple[int, int]]] = []
        for cpu in cpus:
            before = (cpu.compat, cpu.pcr)
            try:
                self._set(cpu, pvr)
            except RefFailure:
                self._rollback(done)
                raise
            done.append((cpu, before))

    def _rollback(self, done: list[tuple[RefCpu, tuple[int, int]]]) -> None:
        for cpu, (compat, pcr) in reversed(done):
            with suppress(RefFailure):  # a failed rollback write is only noted
                self._set(cpu, compat)
            cpu.compat, cpu.pcr = compat, pcr

    # ------------------------------------------------------------ lifecycle steps

    def realize(self) -> None:
        self._need("created")
        c = self.config
        # qemu-releases.md 7: TCG takes 1 thread per core until 10.0, then up to 8 on a
        # POWER8-capable configuration; every release wants a power of 2
        tcg = not self.kernel.kvm
        p8_ok = ref_refusal(self.profile, self.family, 0x0F000004) is None and (
            not c.max_compat_pvr
            or ref_index(self.profile, 0x0F000004) <= ref_index(self.profile, c.max_compat_pvr))
        tcg_smt = self.profile.switches.smt is SmtRule.TCG_POWER8
        refused = bin(c.threads).count("1") != 1 or (tcg and c.threads > 1 and (
            not tcg_smt or not p8_ok or c.threads > 8))
        if refused:
            self._fatal()
            raise RefFailure("refused")
        # kvm-kernel.md: KVM HV's KVM_SET_SREGS takes only the host's PVR; QEMU exits at
        # vCPU init for any other model (PR emulates the PVR)
        if c.accel == "kvm-hv" and c.model.pvr != c.host.pvr:
            self._fatal()
            raise RefFailure("refused")
        self.cpus = [RefCpu(i) for i in range(c.smp)]
        for cpu in self.cpus:
            self.kernel.create(cpu.index)
        self.next_index = c.smp
        if self.profile.switches.reset.at_cpu_init and c.max_compat_pvr:
            try:
                self._set_all(self.cpus, c.max_compat_pvr)
            except RefFailure:
                self._fatal()
                raise
            self._zero_pcr(self.cpus)
        self.state = "realized"

    def _zero_pcr(self, cpus: list[RefCpu]) -> None:
        # qemu-releases.md 10 #3: in 2.9, spapr_cpu_reset -> ppc_cpu_reset after
        # spapr_cpu_init's set and at every system reset puts SPR_PCR to 0 (compat stays)
        for cpu in cpus:
            cpu.pcr = 0

    def _runs(self, pvr: int, within: int) -> bool:
        """ppc_type_check_compat(): the CPU type takes mode ``pvr`` and ``within`` (0: no
        limit) is not below it."""
        return ref_refusal(self.profile, self.family, pvr) is None and (
            not within or ref_index(self.profile, pvr) <= ref_index(self.profile, within))

    def _host_before(self) -> None:
        """spapr_machine_reset() under KVM: spapr caps, then radix or an HPT, whose VRMA
        must hold the RMA (KVM PR has no radix: always an HPT)."""
        c = self.config
        if c.accel not in ("kvm-hv", "kvm-pr"):
            return
        sw = self.profile.switches
        if c.accel == "kvm-hv" and sw.hpt_max_page_size_cap:
            # spapr caps first: KVM HV backs guest pages with host-contiguous memory only, and
            # pseries-3.0 on defaults the cap to 64 KiB (older types: the host's page)
            cap = c.hpt_max_page_shift
            if cap is None:
                cap = 16 if c.machine.version >= (3, 0) else c.host_page_shift
            if cap > c.host_page_shift:
                self._fatal()
                raise RefFailure("refused")
        if c.accel == "kvm-hv":
            radix, _, hpt, ail = ref_hv_caps(c.host_kernel.name, c.host.family,
                                             c.host.pvr if c.host_dd_known else None,
                                             c.host_platform.value == "pseries")
            if sw.ail_mode_3_cap and not ail and self._runs(0x0F000004, c.max_compat_pvr):
                self._fatal()
                raise RefFailure("refused")
            if radix and (sw.hpt is HptRule.KVM_RADIX or (
                    sw.hpt is HptRule.CPU_RADIX and self._runs(LOGICAL_3_00, c.max_compat_pvr))):
                return  # radix: no hash table
            if not hpt:
                self._fatal()
                raise RefFailure("refused")
        # kvm-nested.md: a 512 MiB hash guest needs a 64K-page host; on 4K pages "Unable to
        # create 512MiB RMA (VRMA only allows 128MiB" (the VRMA maps 2^(page + htab - 7)
        # bytes, the hash table being 1/128 of RAM)
        if sw.vrma_check:
            htab_shift = (512 << 20).bit_length() - 1 - 7
            if 1 << (c.host_page_shift + htab_shift - 7) < 512 << 20:
                self._fatal()
                raise RefFailure("refused")

    def _host_mmu(self, boot: int) -> None:
        """The device tree of a reset: a boot CPU (in mode ``boot``) below ISA 3.00 needs
        hash (QEMU asks after setting the vCPUs, the powercompat policy before)."""
        c = self.config
        if c.accel != "kvm-hv" or not self.profile.switches.mmu_check_at_reset:
            return
        radix, hash_v3, _, _ = ref_hv_caps(c.host_kernel.name, c.host.family,
                                           c.host.pvr if c.host_dd_known else None,
                                           c.host_platform.value == "pseries")
        if radix and not hash_v3 and not self._runs(LOGICAL_3_00, boot):
            self._fatal()
            raise RefFailure("refused")

    def reset(self, reboot: bool = False) -> None:
        if reboot:
            self._need("running")
        else:
            self._need("realized", "running")
        self._host_before()
        sw = self.profile.switches
        policy = sw.all_or_nothing and not sw.reset.at_cpu_init
        if policy:
            self._host_mmu(self.config.max_compat_pvr)
        if not self.profile.switches.reset.at_cpu_init:
            try:
                self._set_all(self.cpus, self.config.max_compat_pvr)
            except RefFailure:
                self._fatal()
                raise
        else:
            self._zero_pcr(self.cpus)
        if not policy and self.cpus:
            self._host_mmu(self.cpus[0].compat)
        incoming = self.config.incoming and self.state == "realized"
        self.state = "incoming" if incoming else "running"

    def cas(self, buffer: bytes) -> tuple[int, bool]:
        """do_client_architecture_support() (qemu.md 5.2): (hcall_ret, raw_fallback)."""
        self._need("running")
        try:
            parsed = parse_cas_pvrs(buffer)
        except CasBufferError as err:
            raise RefFailure("cas-buffer") from err
        pairs = [(e.mask, e.value) for e in parsed.entries]
        c = self.config
        best, explicit = ref_cas_choice(self.profile, self.family, c.model.pvr,
                                        c.max_compat_pvr, pairs)
        result = (0, False)
        if not best and (not explicit or c.max_compat_pvr):
            result = (-1, False)
        elif self.cpus[0].compat != best:
            try:
                self._set_all(self.cpus, best)
            except RefFailure:
                result = ((0, True) if (self.profile.switches.cas_raw_fallback and explicit)
                          else (-1, False))
        self.last_cas = result
        return result

    def hotplug(self) -> list[int]:
        self._need("realized", "running")
        c = self.config
        if len(self.cpus) + c.threads > c.max_cpus:
            raise RefFailure("refused")
        new = [RefCpu(self.next_index + t) for t in range(c.threads)]
        self.next_index += c.threads
        for cpu in new:
            self.kernel.create(cpu.index)
        how = self.profile.switches.hotplug
        # qemu.md 6: 2.9 sets max-cpu-compat (if any) on new vCPUs; 2.10/2.11 nothing;
        # spapr_core_plug the boot CPU's mode, fatally (&error_abort)
        target = c.max_compat_pvr if how is HotplugRule.MAX else self.cpus[0].compat
        self.cpus.extend(new)
        if how is HotplugRule.BOOT_CPU or (how is HotplugRule.MAX and target):
            try:
                self._set_all(new, target)
            except RefFailure:
                del self.cpus[-c.threads:]
                if how is HotplugRule.BOOT_CPU:
                    self._fatal()
                raise
            if how is HotplugRule.MAX:
                self._zero_pcr(new)
        return [cpu.index for cpu in new]

    def migrate_in(self, stream: bytes) -> None:
        """cpu_post_load() (qemu.md 7): check every section, then load. A refused load makes
        the destination exit in every release (qemu-releases.md 10 #7b), except under the
        powercompat policy."""
        self._need("incoming")
        try:
            decoded = decode_stream(stream)
        except MigrationStreamError as err:
            raise RefFailure("stream") from err
        sw = self.profile.switches
        # spapr_iommu follows the CPU sections: the CPUs are loaded when it is refused
        # (the powercompat policy checks it before any CPU is loaded)
        iommu_too_new = (decoded.iommu_version is not None
                         and decoded.iommu_version > sw.vmstate_spapr_iommu)
        try:
            self._check_versions(decoded)
            if iommu_too_new and sw.all_or_nothing:
                raise RefFailure("migration")
            # icp/server follows the first cpu section: a build without the registration
            # (24ee9229 .. f5738aed) knows no such section
            self._load(decoded.xive, decoded.cpus, fail_after=iommu_too_new,
                       unknown_icp=decoded.icp and not sw.icp_vmstate)
        except RefFailure:
            if not self.profile.switches.all_or_nothing:
                self.state = "exited"
            raise

    def _check_versions(self, stream: MigrationStream) -> None:
        """What is refused before any CPU is loaded: another machine type in the
        configuration record (savevm.c configuration_post_load), a cpu/slb subsection newer
        than this release's (vmstate_load_state, before the first cpu's post_load)."""
        sw = self.profile.switches
        if stream.machine is not None and stream.machine != self.config.machine.name:
            raise RefFailure("migration")
        if stream.slb_version is not None and stream.cpus and stream.slb_version > sw.vmstate_slb:
            raise RefFailure("migration")

    def _load(self, xive: bool, records: tuple[CpuRecord, ...], fail_after: bool = False,
              unknown_icp: bool = False) -> None:
        """Check every record, then load them in order; ``fail_after``: a later section is
        refused once every CPU is loaded; ``unknown_icp``: the section after the first
        CPU's is refused."""
        if xive and not self.has_xive:  # spapr_irq_check: no XIVE device here
            raise RefFailure("migration")
        by_index = {cpu.index: cpu for cpu in self.cpus}
        plan: list[tuple[RefCpu, int, int]] = []
        p = self.profile.switches
        for rec in records:
            cpu = by_index.get(rec.index)
            if cpu is None:
                raise RefFailure("migration")
            compat = cpu.compat if rec.compat_pvr is None else rec.compat_pvr
            if p.migrates_compat:
                if compat:
                    if ref_refusal(self.profile, self.family, compat) is not None:
                        raise RefFailure("migration")
                elif not migration_pvr_match(self.config.model, rec.spr_pvr):
                    raise RefFailure("migration")
            plan.append((cpu, rec.spr_pcr, compat))
            if unknown_icp:
                raise RefFailure("migration")
        before = [(cpu, cpu.compat, cpu.pcr) for cpu, _, _ in plan]
        done: list[tuple[RefCpu, tuple[int, int]]] = []
        for (cpu, pcr, compat), (_, old_compat, old_pcr) in zip(plan, before, strict=True):
            cpu.pcr = pcr
            if not p.migrates_compat:
                continue
            cpu.compat = compat
            if compat:
                if p.migration_forces_write:
                    cpu.compat = 0
                try:
                    self._set(cpu, compat)
                except RefFailure as err:
                    if p.all_or_nothing:
                        self._rollback(done)
                        for c, o_compat, o_pcr in before:
                            c.compat, c.pcr = o_compat, o_pcr
                    raise RefFailure("migration") from err
            done.append((cpu, (old_compat, old_pcr)))
        if fail_after:
            raise RefFailure("migration")
        self.state = "running"
