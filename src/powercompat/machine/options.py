"""Machine options as the user types them, parsed once into catalogue values."""

from __future__ import annotations

from dataclasses import dataclass, replace

from powercompat.catalog.accels import ACCELS, Accel
from powercompat.catalog.behaviour import CPU_COMPAT_2_9, CpuCompat
from powercompat.catalog.cpus import CpuModel, family_of_pvr
from powercompat.catalog.kernels import (
    DEFAULT_KERNEL,
    DEFAULT_PLATFORM,
    KERNELS,
    HostPlatform,
    KernelRelease,
    kernel_by_name,
)
from powercompat.catalog.modes import CompatMode, mode_by_name
from powercompat.decisions.cpu_match import class_by_pvr_mask, resolve_cpu
from powercompat.errors import (
    CpuNotPseriesError,
    CpuPropertyError,
    InvalidModeError,
    InvalidValueError,
    UnknownCpuError,
    UnknownProfileError,
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


@dataclass(frozen=True, slots=True)
class MachineConfig:
    """Parsed options: every value a catalogue row, every count checked. ``accel`` and
    ``host_kernel`` are the accelerator parsed once into (flavour, kernel)."""

    model: CpuModel
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

    @property
    def max_compat_pvr(self) -> int:
        return self.max_compat.pvr if self.max_compat else 0


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


def _host_pvr(text: str) -> int | None:
    digits = text[2:] if text[:2].lower() == "0x" else text
    if len(digits) == 8 and all(c in "0123456789abcdefABCDEF" for c in digits):
        return int(digits, 16)
    return None


def resolve_host(text: str, profile: Profile) -> tuple[CpuModel, bool]:
    """The KVM host's CPU, named by a model or by its raw PVR, and whether QEMU registers a
    ``host`` CPU type for it (target/ppc/kvm.c kvm_ppc_register_host_cpu_type(): the class
    of that exact PVR, else the first whose pvr_match(best) takes it, as the release matches
    raw PVRs; the host type keeps the real PVR). No class: ``-cpu host`` is an unknown model,
    yet KVM (whose kernel knows the family) still runs a named model of the host's PVR.

    :raises UnknownCpuError: a name QEMU does not know.
    :raises InvalidValueError: a PVR of no POWER server family.
    """
    pvr = _host_pvr(text)
    if pvr is None:
        return resolve_pseries_cpu(text, profile), True
    klass = class_by_pvr_mask(pvr, profile.cpu_models)
    if klass is not None:
        return replace(klass, name="host", pvr=pvr), True
    family = family_of_pvr(pvr)
    if family is None:
        raise InvalidValueError(f"host PVR 0x{pvr:08x} is not a POWER server CPU KVM runs on")
    return CpuModel("host", pvr, family, f"a host PVR QEMU {profile.name} has no class for"), \
        False

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


def parse_options(options: MachineOptions) -> MachineConfig:
    """:raises InputError: an unknown profile, CPU, mode, accelerator, kernel, or a bad
    count."""
    profile = parse_profile(options.qemu)
    accel, kernel = parse_accel(options.accel, options.host_kernel)
    platform = parse_platform(options.host_platform, accel, kernel)
    switches = profile.switches
    max_text = options.max_cpu_compat
    if max_text is not None and not switches.max_cpu_compat_option:
        raise InvalidValueError(
            f"QEMU {profile.name} has no machine option max-cpu-compat (7843c0d6 added it): "
            f"use -cpu X,compat=Y with Y one of {', '.join(CPU_COMPAT_2_9)}")
    # the machine property is set while the command line is parsed, before -cpu is resolved
    max_compat = parse_max_cpu_compat(max_text, profile)
    host = None
    host_type = False
    if options.host_cpu is not None:
        if not accel.kvm:
            raise InvalidValueError("--host-cpu only applies to a KVM accelerator")
        host, host_type = resolve_host(options.host_cpu, profile)
    name, *props = options.cpu.split(",")
    if name.lower() == "host":
        if not accel.kvm or host is None:
            raise InvalidValueError("-cpu host needs a KVM accelerator and --host-cpu")
        if not host_type:
            raise UnknownCpuError(name)
        model = host
    else:
        model = resolve_pseries_cpu(name, profile)
    if host is None:
        host = model
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
    return MachineConfig(model, host, max_compat, profile, accel, options.smp,
                         options.threads, max_cpus, kernel, options.incoming, platform,
                         options.host_cpu is not None and _host_pvr(options.host_cpu) is not None)
