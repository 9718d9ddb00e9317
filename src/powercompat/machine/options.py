"""Machine options as the user types them, parsed once into catalogue values.

In QEMU's order (vl.c qemu_init): the machine's properties (max-cpu-compat), then the
accelerator (under KVM, kvm_arch_init registers the ``host`` CPU type for the host's PVR and
re-points the host family's alias at it), then ``-cpu``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final, NamedTuple

from powercompat.arguments import checked
from powercompat.catalog.accels import ACCELS, Accel
from powercompat.catalog.behaviour import CPU_COMPAT_2_9, CpuCompat
from powercompat.catalog.cpus import CpuModel
from powercompat.catalog.history import HEAD
from powercompat.catalog.kernels import (
    DEFAULT_KERNEL,
    DEFAULT_PLATFORM,
    HOST_PAGE_SIZES_KIB,
    HPT_PAGE_SIZES_KIB,
    KERNELS,
    HostPlatform,
    KernelRelease,
    kernel_by_name,
    kib_shift,
    sizes_text,
)
from powercompat.catalog.machines import (
    PLAIN,
    MachineCatalogue,
    MachineType,
    machine_catalogue,
    machine_catalogue_by,
    machine_version,
)
from powercompat.catalog.modes import CompatMode, mode_by_name
from powercompat.decisions.cpu_match import (
    family_alias,
    host_cpu_class,
    host_type,
    is_pvr_name,
    kernel_family,
    resolve_cpu,
)
from powercompat.errors import (
    CpuNotPseriesError,
    CpuPropertyError,
    InvalidModeError,
    InvalidValueError,
    UnknownCpuError,
    UnknownProfileError,
    UnsupportedMachineError,
)
from powercompat.messages import cpu_property_not_found
from powercompat.profiles import DEFAULT_PROFILE, Profile, parse_profile


@dataclass(frozen=True, slots=True)
class MachineOptions:
    """``-M pseries,max-cpu-compat=...`` ``-cpu ...`` ``-smp ...`` ``-accel ...`` as text;
    ``host_kernel`` names the host's Linux under a modelled KVM (default: DEFAULT_KERNEL),
    ``host_platform`` where that Linux runs (``powernv`` bare metal, the default, or
    ``pseries``: a nested hypervisor)."""

    cpu: str = "power9"
    smp: int = 1
    threads: int = 1
    max_cpus: int | None = None
    max_cpu_compat: str | None = None
    accel: str = Accel.TCG.value
    host_cpu: str | None = None
    qemu: str = DEFAULT_PROFILE
    host_kernel: str | None = None
    incoming: bool = False
    host_platform: str | None = None
    #: ``-M``: plain ``pseries`` (the release's newest type) or a versioned ``pseries-X.Y``
    machine: str = PLAIN
    #: the host kernel's base page in KiB, 4 or 64 (it bounds a hash guest's VRMA); None:
    #: the named ``host_kernel``'s Debian build, or 64 when no kernel is named
    host_page_size: int | None = None
    #: ``-M pseries,cap-hpt-max-page-size=N`` in KiB (4, 64 or 16384); None: the machine
    #: type's default (64 KiB from pseries-3.0, the host's page before)
    hpt_max_page_size: int | None = None


#: a machine type newer than any (a config built without one: every type-dependent rule is
#: the newest machine's)
NEWEST: Final = MachineType(PLAIN, (99, 0))
#: the base page of a host kernel not named: 64K, the usual ppc64le KVM host build (RHEL,
#: SUSE, Ubuntu, and Debian up to 6.1); Debian's own 6.12 and 7.2 build 4K (catalog.kernels)
GENERIC_PAGE_SHIFT: Final = 16


@dataclass(frozen=True, slots=True)
class MachineConfig:
    """Parsed options: every value a catalogue row, every count checked. ``accel`` and
    ``host_kernel`` are the accelerator parsed once into (flavour, kernel)."""

    model: CpuModel
    #: the host's processor: its class under this release (or, without one, its family as the
    #: kernel knows it) with the host's real PVR
    host: CpuModel
    max_compat: CompatMode | None
    profile: Profile
    accel: Accel
    smp: int
    threads: int
    max_cpus: int
    host_kernel: KernelRelease
    incoming: bool
    host_platform: HostPlatform = DEFAULT_PLATFORM
    #: the host's DD level is known: ``--host-cpu`` gave its real PVR (``004e1200``); a host
    #: named by a model (QEMU's representative of the family) or not named is its family at
    #: a level without DD-specific quirks
    host_dd_known: bool = False
    #: the machine type started (plain ``pseries`` resolved to the release's newest)
    machine: MachineType = NEWEST
    #: log2 of the host kernel's base page (MachineOptions.host_page_size)
    host_page_shift: int = GENERIC_PAGE_SHIFT
    #: log2 of cap-hpt-max-page-size as given (None: the machine type's default)
    hpt_max_page_shift: int | None = None

    @property
    def max_compat_pvr(self) -> int:
        return self.max_compat.pvr if self.max_compat else 0


def is_host_cpu(cpu: str) -> bool:
    """``-cpu host`` (any case, with or without properties): the type KVM registers for the
    host's own processor (target/ppc/kvm.c kvm_ppc_register_host_cpu_type)."""
    return cpu.split(",", 1)[0].lower() == "host"


def is_kvm(accel: str) -> bool:
    """A KVM accelerator name (an unknown name is not; parse_accel refuses it)."""
    return accel in ACCELS and Accel(accel).kvm


def parse_max_cpu_compat(value: str | None, profile: Profile) -> CompatMode | None:
    """ppc_compat_prop_set(): "" is raw (no limit); otherwise an exact, case-sensitive name.

    :raises InvalidModeError: ``Invalid compatibility mode "<value>"``.
    """
    if value is None or value == "":
        return None
    mode = mode_by_name(value, profile.rules.modes)
    if mode is None:
        raise InvalidModeError(value)
    return mode


def resolve_pseries_cpu(name: str, profile: Profile) -> CpuModel:
    """A ``-cpu`` name as that release's pseries takes it.

    :raises UnknownCpuError: QEMU knows no such CPU.
    :raises CpuNotPseriesError: QEMU knows it, but pseries has no core type for it.
    """
    try:
        return resolve_cpu(name, profile.cpu_models, profile.cpu_aliases)
    except UnknownCpuError:
        if profile.knows_non_pseries(name):
            raise CpuNotPseriesError(name) from None
        raise


def parse_accel(name: str, host_kernel: str | None = None) -> tuple[Accel, KernelRelease]:
    """The accelerator flavour and the host kernel it runs on, parsed once.

    :raises InvalidValueError: an unknown accelerator, a host kernel for TCG or the real
        KVM (which runs on this host's own kernel).
    :raises UnknownProfileError: an unknown host kernel.
    """
    if name not in ACCELS:
        raise InvalidValueError(f"unknown accelerator '{name}' (valid: {', '.join(ACCELS)})")
    flavour = Accel(name)
    if host_kernel is None:
        return flavour, DEFAULT_KERNEL
    if not flavour.modelled:
        raise InvalidValueError(f"--host-kernel only applies to a modelled KVM accelerator, "
                                f"not '{flavour.value}'")
    kernel = kernel_by_name(host_kernel)
    if kernel is None:
        raise UnknownProfileError("host kernel", host_kernel, [k.name for k in KERNELS])
    return flavour, kernel


def parse_page_size(kib: int | None, accel: Accel, kernel: KernelRelease, named: bool) -> int:
    """log2 of the host kernel's base page: ``kib`` (4 or 64) when given, else the named
    kernel's Debian build, else GENERIC_PAGE_SHIFT.

    :raises InvalidValueError: a size other than 4 or 64, or one for TCG or the real KVM.
    """
    if kib is None:
        return kernel.page_shift if named else GENERIC_PAGE_SHIFT
    if not accel.modelled:
        raise InvalidValueError(f"--host-page-size only applies to a modelled KVM accelerator, "
                                f"not '{accel.value}'")
    if kib not in HOST_PAGE_SIZES_KIB:
        raise InvalidValueError(f"host page size must be {sizes_text(HOST_PAGE_SIZES_KIB)} "
                                f"(KiB), got {kib}")
    return kib_shift(kib)


def parse_hpt_page_size(kib: int | None) -> int | None:
    """log2 of ``cap-hpt-max-page-size`` (``kib`` in KiB); None: the machine type's default.

    :raises InvalidValueError: a size the engine does not model.
    """
    if kib is None:
        return None
    if kib not in HPT_PAGE_SIZES_KIB:
        raise InvalidValueError(f"cap-hpt-max-page-size must be {sizes_text(HPT_PAGE_SIZES_KIB)}"
                                f" (KiB), got {kib}")
    return kib_shift(kib)


#: -cpu host under a modelled KVM without the host named
HOST_NEEDS_HOST = ("-cpu host is the host's own processor: name it with --host-cpu (a model "
                   "such as POWER9, or its PVR such as 004e1202)")


class HostCpu(NamedTuple):
    """The host under KVM: its real PVR, the processor as a model (see MachineConfig.host),
    and the class kvm_ppc_get_host_cpu_class() finds in this release (None: no ``host``
    type is registered)."""

    pvr: int
    processor: CpuModel
    parent: CpuModel | None


def resolve_host(text: str, profile: Profile) -> HostCpu:
    """``--host-cpu``: a model or alias (this release's, else the newest catalogue's: the
    host is hardware, whatever QEMU runs on it), or the host's PVR in hex, matched by mask
    (``004e1203`` is a POWER9 DD2.3: class power9_v2.2 in 10.0+, power9_v2.0 in 7.2) and
    kept as the real PVR.

    :raises UnknownCpuError: a name neither catalogue knows.
    :raises InvalidValueError: a PVR of no POWER server family the kernel knows.
    """
    if is_pvr_name(text):
        pvr = int(text, 16)
    else:
        try:
            pvr = resolve_cpu(text, profile.cpu_models, profile.cpu_aliases).pvr
        except UnknownCpuError:
            pvr = resolve_cpu(text, HEAD.models, dict(HEAD.aliases)).pvr
    parent = host_cpu_class(pvr, profile.cpu_models)
    if parent is not None:
        return HostCpu(pvr, CpuModel(parent.name, pvr, parent.family, parent.description),
                       parent)
    family = kernel_family(pvr)
    if family is None:
        raise InvalidValueError(f"host PVR 0x{pvr:08x} ('{text}') is of no POWER server "
                                "processor family the kernel knows")
    return HostCpu(pvr, CpuModel(f"{pvr:08x}", pvr, family,
                                 f"a {family.name} host (QEMU {profile.name} has no class for "
                                 "its PVR)"), None)


def _host_of(model: CpuModel) -> HostCpu:
    """Without --host-cpu the host is the processor named by -cpu."""
    return HostCpu(model.pvr, model, model)


def resolve_kvm_cpu(name: str, host: HostCpu, profile: Profile) -> CpuModel:
    """``-cpu NAME`` under KVM on ``host``: ``host`` is the host type (QEMU registers it
    only if a class matches the host's PVR), the host family's alias is the host type too
    (92e926e1; before it, the matching class with its own PVR), any other name is the fixed
    model it names (target/ppc/kvm.c kvm_ppc_register_host_cpu_type).

    :raises UnknownCpuError: ``host`` without a class for the host's PVR, or an unknown name.
    """
    parent = host.parent
    if name.lower() == "host":
        if parent is None:
            raise UnknownCpuError(name)
        return host_type(parent, host.pvr)
    alias = family_alias(parent.family) if parent is not None else None
    if parent is not None and name.lower() == alias and alias in profile.cpu_aliases:
        if profile.switches.family_alias_is_host:
            return host_type(parent, host.pvr)
        return parent
    return resolve_pseries_cpu(name, profile)


def parse_platform(name: str | None, accel: Accel, kernel: KernelRelease) -> HostPlatform:
    """Where the modelled KVM host's Linux runs.

    :raises InvalidValueError: a platform for TCG or the real KVM, or a nested hypervisor
        whose kernel has no nested HV.
    :raises UnknownProfileError: an unknown platform.
    """
    if name is None:
        return DEFAULT_PLATFORM
    if not accel.modelled:
        raise InvalidValueError(f"--host-platform only applies to a modelled KVM accelerator, "
                                f"not '{accel.value}'")
    if name not in tuple(HostPlatform):
        raise UnknownProfileError("host platform", name, [p.value for p in HostPlatform])
    platform = HostPlatform(name)
    if platform is HostPlatform.PSERIES and accel is Accel.KVM_HV and not kernel.nested_hv:
        raise InvalidValueError(f"{kernel.name} cannot run KVM HV in a pseries guest "
                                "(nested HV came with v4.20)")
    return platform


def machine_types(profile: Profile) -> MachineCatalogue:
    """The pseries machine types of the release ``profile`` stands for: its version's own
    (recorded from Debian's binary, or the 2017 source lists), else the recording that stands
    for it (head: Debian's 11.1), else, for a point of the history (``head~N``, the 2.10
    development point), those of the release its last change shipped in (or the newest
    before it): machine types are no part of the modelled history, so a walk between two
    releases keeps the types both have."""
    if profile.version is not None:
        try:
            return machine_catalogue(f"{profile.version[0]}.{profile.version[1]}")
        except KeyError:
            pass
    if profile.recorded is not None:
        return machine_catalogue(profile.recorded)
    changes = profile.catalogue.changes
    last = changes[-1].version if changes else (2, 10)
    return machine_catalogue_by((last[0], last[1]))


def parse_machine(name: str, profile: Profile) -> MachineType:
    """select_machine(): ``-M name`` in this release (plain ``pseries``: its newest).

    :raises UnsupportedMachineError: the release has no such type (its own words).
    :raises InvalidValueError: not a pseries machine type at all.
    """
    if name != PLAIN and machine_version(name) is None:
        raise InvalidValueError(f"not a pseries machine type: '{name}' (pseries, or "
                                "pseries-X.Y)")
    catalogue = machine_types(profile)
    found = catalogue.resolve(name)
    if found is None:
        raise UnsupportedMachineError(name, catalogue.unsupported_lines(name))
    return found


def spell_compat(cpu: str, max_cpu_compat: str | None, qemu: str) -> tuple[str, str | None]:
    """(-cpu, max-cpu-compat) for a maximum on release ``qemu``: the machine option, or
    before 7843c0d6 (2.9) the CPU property ``-cpu X,compat=Y``, as libvirt spelled a
    host-model ``<model>`` for such a QEMU. An unknown profile is left to parse_options.
    """
    if max_cpu_compat is None or max_cpu_compat == "":
        return cpu, max_cpu_compat
    try:
        option = parse_profile(qemu).switches.max_cpu_compat_option
    except UnknownProfileError:
        return cpu, max_cpu_compat
    return (cpu, max_cpu_compat) if option else (f"{cpu},compat={max_cpu_compat}", None)


@checked()
def parse_options(options: MachineOptions) -> MachineConfig:
    """:raises InputError: an unknown profile, machine type, CPU, mode, accelerator, kernel,
    or a bad count."""
    return _parse_options(options)


@functools.lru_cache(maxsize=4096)
def _parse_options(options: MachineOptions) -> MachineConfig:
    """parse_options() proper: a pure function of frozen options and the static catalogues,
    so each distinct set of options is parsed once (a refusal is raised again each time;
    issue #13: in-process negotiate())."""
    profile = parse_profile(options.qemu)
    # vl.c select_machine() runs before any other option is looked at
    machine = parse_machine(options.machine, profile)
    max_text = options.max_cpu_compat
    switches = profile.switches
    if max_text is not None and not switches.max_cpu_compat_option:
        raise InvalidValueError(
            f"QEMU {profile.name} has no machine option max-cpu-compat (7843c0d6 added it): "
            f"use -cpu X,compat=Y with Y one of {', '.join(CPU_COMPAT_2_9)}")
    max_compat = parse_max_cpu_compat(max_text, profile)  # a machine property: parsed first
    accel, kernel = parse_accel(options.accel, options.host_kernel)
    platform = parse_platform(options.host_platform, accel, kernel)
    page_shift = parse_page_size(options.host_page_size, accel, kernel,
                                 named=options.host_kernel is not None)
    cap_shift = parse_hpt_page_size(options.hpt_max_page_size)
    host: HostCpu | None = None
    if options.host_cpu is not None:
        if not accel.kvm:
            raise InvalidValueError("--host-cpu only applies to a KVM accelerator")
        host = resolve_host(options.host_cpu, profile)
    name, *props = options.cpu.split(",")
    if accel.kvm and host is None and name.lower() == "host":
        raise InvalidValueError(HOST_NEEDS_HOST)
    if host is not None:
        model = resolve_kvm_cpu(name, host, profile)
    else:  # under TCG, "host" is an unknown model, as QEMU says
        model = resolve_pseries_cpu(name, profile)
        host = _host_of(model)
    for prop in props:
        key, _, value = prop.partition("=")
        if key == "compat" and switches.cpu_compat is CpuCompat.PROPERTY:
            if value not in CPU_COMPAT_2_9:  # 2.9's powerpc_set_compat()
                raise InvalidModeError(value)
            max_compat = parse_max_cpu_compat(value, profile)
            continue
        if key == "compat" and switches.cpu_compat is CpuCompat.MACHINE:
            # 7843c0d6's parse hack: -cpu X,compat=Y is max-cpu-compat=Y
            max_compat = parse_max_cpu_compat(value, profile)
            continue
        # qdev globals: QEMU has no such property on the CPU type
        raise CpuPropertyError(cpu_property_not_found(f"{model.name}-powerpc64-cpu", key, value))
    if not 1 <= options.threads <= 1024:
        raise InvalidValueError(f"threads per core must be 1..1024, got {options.threads}")
    if not 1 <= options.smp <= 1024:
        raise InvalidValueError(f"smp must be 1..1024, got {options.smp}")
    if options.smp % options.threads:
        raise InvalidValueError(
            f"smp {options.smp} is not a whole number of {options.threads}-thread cores")
    max_cpus = options.max_cpus if options.max_cpus is not None else 2 * options.smp
    if not options.smp <= max_cpus <= 2048 or max_cpus % options.threads:
        raise InvalidValueError(
            f"maxcpus {max_cpus} must be >= smp, <= 2048 and a multiple of threads")
    return MachineConfig(model, host.processor, max_compat, profile, accel, options.smp,
                         options.threads, max_cpus, kernel, options.incoming, platform,
                         options.host_cpu is not None and is_pvr_name(options.host_cpu),
                         machine, page_shift, cap_shift)
