"""What libvirt 9.0 does with a ppc64 pseries domain, from ``define`` to QEMU's command line.

libvirt decides before QEMU runs, and its verdict depends on more than the compat mode: on the
domain type (``qemu`` is TCG, ``kvm`` needs a ppc64 host), on the host as libvirt sees it
(its arch from ``uname``; on a POWER host, its CPU model decoded through libvirt's CPU map),
on the ``<cpu>`` mode and on the QEMU binary's CPU list. The steps below follow libvirt's
code in order, each citing ``path:function`` of libvirt 9.0.0; every one of them was seen
doing what is modelled here on a real libvirtd (tests/data/real/libvirt-9.0-qemu-7.2-cpu.json)
except the POWER-host paths, which no POWER machine here could show.

- define (virDomainDefineXML): the virt type must be one the emulator has
  (qemu_validate.c:qemuValidateDomainDef); ``pseries`` becomes the versioned machine
  (qemu_domain.c, virQEMUCapsGetCanonicalMachine); a missing CPU becomes QEMU's default model
  as a ``custom`` CPU with ``check='none'`` (qemu_domain.c:qemuDomainDefSetDefaultCPU);
  ``check`` gets its default (qemu_domain.c:qemuDomainDefCPUPostParse); ``maximum`` is refused
  because QEMU's ppc64 CPU list has no ``max`` (qemu_validate.c:qemuValidateDomainDefCpu).
- start (qemu_process.c:qemuProcessUpdateGuestCPU): the mode must be supported
  (qemu_capabilities.c:virQEMUCapsIsCPUModeSupported: host-passthrough needs KVM on a ppc64
  host; host-model needs a host CPU model, which exists only on a ppc64 host whose PVR the CPU
  map knows); legacy names are converted (cpu_ppc64.c:virCPUppc64ConvertLegacy);
  ``check='partial'`` compares with the host (cpu_ppc64.c:ppc64Compute and
  ppc64CheckCompatibilityMode); a custom model must be in QEMU's CPU list as libvirt renames it
  through its CPU map (qemu_capabilities.c:virQEMUCapsFetchCPUModels, cpu.c:virCPUTranslate).
- the command line (qemu_command.c:qemuBuildMachineCommandLine, qemuBuildAccelCommandLine,
  qemuBuildCpuModelArgStr): ``-machine <versioned>,...[,max-cpu-compat=<model>]`` only for
  host-model with a ``<model>``; ``-accel tcg|kvm``; ``-cpu <model>`` for custom, ``-cpu host``
  for host-model and host-passthrough; never ``kvm-type``; ``<qemu:commandline>`` appended.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Final, Protocol

from powercompat.catalog.libvirt import (
    CANNOT_TRANSLATE,
    CPU_INCOMPATIBLE,
    CPU_MAP_PPC64,
    EMULATOR,
    HOST_NO_COMPAT,
    LEGACY_MODELS,
    LIBVIRT_COMPAT_RANGE,
    MACHINE_PROPS,
    MAXIMUM_UNSUPPORTED,
    MODE_UNSUPPORTED,
    MODEL_MISMATCH,
    MODEL_NOT_SUPPORTED,
    QEMU_MIN_VERSION,
    UNKNOWN_COMPAT,
    UNKNOWN_HOST_CPU,
    UNKNOWN_MODEL,
    VIRT_TYPE_UNSUPPORTED,
)
from powercompat.errors import InvalidValueError

CPU_MODES: Final = ("custom", "host-model", "host-passthrough", "maximum")
CHECKS: Final = ("none", "partial", "full")
#: virArchFromHost names of the hosts KVM pseries can run on (src/util/virarch.c)
PPC64_ARCHS: Final = ("ppc64", "ppc64le")


class LibvirtResult(Enum):
    IDENTICAL = "identical"
    INCOMPATIBLE = "incompatible"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class LibvirtVerdict:
    result: LibvirtResult
    message: str | None


def _generation(text: str, prefix: str) -> int | None:
    # virStrToLong_i with no trailing characters allowed: "power7+" and "power8e" fail.
    match = re.fullmatch(rf"{prefix}(\d+)", text)
    return int(match.group(1)) if match else None


def check_libvirt_compat(host_model: str, compat: str | None,
                         supported: tuple[int, int] = LIBVIRT_COMPAT_RANGE) -> LibvirtVerdict:
    """cpu_ppc64.c:ppc64CheckCompatibilityMode: only the generation number matters, M <= N.

    >>> check_libvirt_compat("POWER9", "power8").result.value
    'identical'
    >>> check_libvirt_compat("POWER9", "power7+").message
    'internal error: Unknown compatibility mode power7+'
    """
    if compat is None:
        return LibvirtVerdict(LibvirtResult.IDENTICAL, None)
    lo, hi = supported
    host = _generation(host_model, "POWER")
    if host is None or not lo <= host <= hi:
        return LibvirtVerdict(LibvirtResult.ERROR, HOST_NO_COMPAT)
    mode = _generation(compat, "power")
    if mode is None or not lo <= mode <= hi:
        return LibvirtVerdict(LibvirtResult.ERROR, UNKNOWN_COMPAT.format(compat))
    if mode > host:
        # virCPUppc64Compare: VIR_ERR_CPU_INCOMPATIBLE without a detail
        return LibvirtVerdict(LibvirtResult.INCOMPATIBLE, CPU_INCOMPATIBLE)
    return LibvirtVerdict(LibvirtResult.IDENTICAL, None)


# ---------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class LibvirtCpu:
    """A domain's ``<cpu>`` element as written (``None`` fields: the attribute is absent)."""

    mode: str = "custom"
    model: str | None = None
    check: str | None = None
    match: str | None = None
    fallback: str | None = None

    def xml(self) -> str:
        """libvirt's formatting (virCPUDefFormat): mode, match, check; then the model."""
        attrs = f" mode='{self.mode}'"
        if self.match is not None:
            attrs += f" match='{self.match}'"
        if self.check is not None:
            attrs += f" check='{self.check}'"
        if self.model is None:
            return f"<cpu{attrs}/>"
        fallback = f" fallback='{self.fallback}'" if self.fallback else ""
        return f"<cpu{attrs}><model{fallback}>{self.model}</model></cpu>"


@dataclass(frozen=True, slots=True)
class LibvirtDomain:
    """What libvirt's decisions read from a domain definition. ``commandline_compat`` is a
    ``max-cpu-compat`` passed in ``<qemu:commandline>`` (``-machine max-cpu-compat=X``)."""

    cpu: LibvirtCpu | None = None
    virt_type: str = "kvm"
    machine: str = "pseries"
    commandline_compat: str | None = None
    arch: str = "ppc64le"


@dataclass(frozen=True, slots=True)
class QemuFacts:
    """The QEMU binary as libvirt probes it (query-cpu-definitions, query-machines)."""

    name: str
    version: tuple[int, int]
    cpu_names: tuple[str, ...]
    aliases: Mapping[str, str]
    default_cpu_type: str

    @property
    def machine(self) -> str:
        """The versioned machine ``pseries`` stands for (hw/ppc/spapr.c: the latest one)."""
        return f"pseries-{self.version[0]}.{self.version[1]}"


@dataclass(frozen=True, slots=True)
class LibvirtHost:
    """A host as libvirt sees it: ``arch`` is virArchFromHost (``uname -m``); ``cpu`` the
    host CPU's family (``POWER9``) on a ppc64 host, decoded by libvirt from ``mfpvr``."""

    arch: str
    qemu: QemuFacts
    cpu: str | None = None

    @property
    def native(self) -> bool:
        """qemu_capabilities.c:virQEMUCapsGuestIsNative for a ppc64 guest."""
        return self.arch in PPC64_ARCHS


class _ProfileLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def cpu_models(self) -> Sequence[object]: ...
    @property
    def cpu_aliases(self) -> Mapping[str, str]: ...
    @property
    def version(self) -> tuple[int, ...] | None: ...


#: QEMU facts the profiles do not carry yet: each release's version (its newest pseries
#: machine, hw/ppc/spapr.c DEFINE_SPAPR_MACHINE(..., true)) and pseries' default CPU type
#: (spapr_machine_class_init's default for the newest machine type: power9_v2.0 in 5.2 and
#: 7.2, power10_v2.0 in 10.0, power11_v2.0 in 11.1 and head; power8_v2.0 in the 2017
#: releases; qemu-releases.md 2.4)
QEMU_RELEASES: Final[dict[str, tuple[tuple[int, int], str]]] = {
    "2.9": ((2, 9), "power8_v2.0"),
    "2.10-pre": ((2, 10), "power8_v2.0"),
    "2.10": ((2, 10), "power8_v2.0"),
    "2.11": ((2, 11), "power8_v2.0"),
    "5.2": ((5, 2), "power9_v2.0"),
    "7.2": ((7, 2), "power9_v2.0"),
    "10.0": ((10, 0), "power10_v2.0"),
    "11.1": ((11, 1), "power11_v2.0"),
    "head": ((11, 1), "power11_v2.0"),
    "powercompat": ((11, 1), "power11_v2.0"),
}


def qemu_facts(profile: _ProfileLike) -> QemuFacts:
    """The QEMU facts of an engine profile: its CPU names (aliases first, as QEMU's
    query-cpu-definitions lists them), aliases, version and pseries default CPU.

    :raises InvalidValueError: a point between the named releases (9.2, head~N), whose
        default CPU type is not recorded (never guessed).
    """
    facts = QEMU_RELEASES.get(profile.name)
    if facts is None and profile.version is not None:
        # a stable build that differs from its named release (10.0.2): the release's facts
        facts = next((f for f in QEMU_RELEASES.values() if f[0] == profile.version[:2]), None)
    if facts is None:
        raise InvalidValueError(
            f"libvirt's view needs the pseries default CPU type of QEMU {profile.name}, known "
            f"only for the named releases and their builds ({', '.join(QEMU_RELEASES)})")
    version, default = facts
    models = tuple(str(getattr(m, "name")) for m in profile.cpu_models)  # noqa: B009
    return QemuFacts(profile.name, version, (*profile.cpu_aliases, *models),
                     dict(profile.cpu_aliases), default)


# ---------------------------------------------------------------------- names


def map_model(name: str) -> str | None:
    """The CPU map model of that exact name (cpu_ppc64.c:ppc64ModelFind)."""
    return next((m.name for m in CPU_MAP_PPC64 if m.name == name), None)


def map_model_by_pvr(pvr: int) -> str | None:
    """cpu_ppc64.c:ppc64ModelFindPVR: the first map model whose (value, mask) matches."""
    for model in CPU_MAP_PPC64:
        if any(pvr & mask == value for value, mask in model.pvrs):
            return model.name
    return None


def libvirt_cpu_names(qemu: QemuFacts) -> tuple[str, ...]:
    """QEMU's CPU names as libvirt keeps them: a name equal to a CPU map model but for case
    takes the map's spelling (qemu_capabilities.c:virQEMUCapsFetchCPUModels, "QEMU 2.11 for
    Power renamed all CPU models to lower case"), so ``power9`` is only known as ``POWER9``."""
    renamed = {m.name.lower(): m.name for m in CPU_MAP_PPC64}
    return tuple(renamed.get(n.lower(), n) for n in qemu.cpu_names)


def libvirt_spelling(cpu: str, qemu: QemuFacts) -> str | None:
    """How a domain must name the QEMU CPU ``cpu`` (QEMU looks names up in lower case,
    target/ppc/cpu_init.c:ppc_cpu_class_by_name); None when QEMU has no such CPU."""
    lower = cpu.lower()
    for qemu_name, libvirt_name in zip(qemu.cpu_names, libvirt_cpu_names(qemu), strict=True):
        if qemu_name.lower() == lower:
            return libvirt_name
    return None


def default_cpu_name(qemu: QemuFacts) -> str:
    """qemu_capabilities.c:virQEMUCapsGetMachineDefaultCPU: the first CPU in QEMU's list whose
    type is the machine's default type (an alias, renamed, comes before the model)."""
    names = libvirt_cpu_names(qemu)
    for qemu_name, libvirt_name in zip(qemu.cpu_names, names, strict=True):
        if qemu.aliases.get(qemu_name, qemu_name) == qemu.default_cpu_type:
            return libvirt_name
    return qemu.default_cpu_type


def host_cpu_model(host: LibvirtHost) -> str | None:
    """The host CPU model libvirt reports for ppc64 domains, or None (then host-model is not
    supported): qemu_capabilities.c:virQEMUCapsInitHostCPUModel needs a native guest, and
    cpu_ppc64.c:ppc64DriverDecode needs the PVR in the CPU map and the model in QEMU's list."""
    if not host.native or host.cpu is None:
        return None
    model = map_model(host.cpu.upper())
    if model is None or model not in libvirt_cpu_names(host.qemu):
        return None
    return model


# ---------------------------------------------------------------------- define and start


@dataclass(frozen=True, slots=True)
class LibvirtOutcome:
    """libvirt's answer for one domain on one host.

    ``stage`` is where it stopped: ``define`` (refused), ``start`` (defined, refused at start)
    or ``started`` (QEMU gets ``args``). ``defined`` and ``live`` are the ``<cpu>`` elements
    libvirt writes back (``dumpxml --inactive`` after define; ``dumpxml`` of the started
    domain). ``reasons`` name each rule applied, with its source.
    """

    stage: str
    error: str | None
    machine: str | None
    defined: LibvirtCpu | None
    live: LibvirtCpu | None
    accel: str | None
    qemu_cpu: str | None
    max_cpu_compat: str | None
    args: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.stage == "started"


def _refused(stage: str, error: str, machine: str | None, defined: LibvirtCpu | None,
             reasons: list[str]) -> LibvirtOutcome:
    return LibvirtOutcome(stage, error, machine, defined, None, None, None, None, (),
                          tuple(reasons))


def start_domain(domain: LibvirtDomain, host: LibvirtHost) -> LibvirtOutcome:
    """Define, then start ``domain`` on ``host`` as libvirt 9.0 does (module docstring)."""
    qemu = host.qemu
    reasons: list[str] = []
    virt = domain.virt_type
    if qemu.version < QEMU_MIN_VERSION:
        return _refused("define", f"libvirt {'.'.join(map(str, QEMU_MIN_VERSION))}+ is needed "
                        f"of QEMU, this is {qemu.name} (qemu_capabilities.c:"
                        "virQEMUCapsInitQMPVersionCaps skips the binary)", None, None, reasons)
    # define: qemu_validate.c:qemuValidateDomainDef
    if virt == "kvm" and not host.native:
        reasons.append(f"a kvm domain for {domain.arch} needs a ppc64 host, this one is "
                       f"{host.arch} (qemu_validate.c:qemuValidateDomainDef)")
        return _refused("define", VIRT_TYPE_UNSUPPORTED.format(emulator=EMULATOR, virt=virt),
                        None, None, reasons)
    machine = qemu.machine if domain.machine == "pseries" else domain.machine
    if machine != domain.machine:
        reasons.append(f"machine pseries is the alias of {machine} "
                       "(virQEMUCapsGetCanonicalMachine)")
    cpu = _define_cpu(domain.cpu, virt, qemu, reasons)
    if cpu.mode == "maximum":
        reasons.append("QEMU's ppc64 CPU list has no 'max' (qemuValidateDomainDefCpu)")
        return _refused("define", MAXIMUM_UNSUPPORTED, machine, None, reasons)
    # start: qemu_process.c:qemuProcessUpdateGuestCPU
    refusal = _start_cpu(cpu, domain, host, reasons)
    if refusal is not None:
        return _refused("start", refusal, machine, cpu, reasons)
    live = replace(cpu, fallback="forbid") if cpu.model is not None else cpu
    if cpu.mode == "custom" and cpu.model in LEGACY_MODELS and host.native:
        live = replace(live, model=cpu.model[: len("POWERx")])
    accel = "tcg" if virt == "qemu" else "kvm"
    qemu_cpu = live.model if cpu.mode == "custom" else "host"
    machine_arg = ",".join((machine, *MACHINE_PROPS))
    compat = None
    if cpu.mode == "host-model" and cpu.model is not None:
        machine_arg += f",max-cpu-compat={cpu.model}"
        compat = cpu.model
        reasons.append("host-model with a <model> is the only form libvirt turns into "
                       "max-cpu-compat (qemuBuildMachineCommandLine)")
    args: list[str] = ["-machine", machine_arg, "-accel", accel, "-cpu", str(qemu_cpu)]
    if domain.commandline_compat is not None:
        args += ["-machine", f"max-cpu-compat={domain.commandline_compat}"]
        compat = domain.commandline_compat  # QEMU merges -machine options; the last one wins
    return LibvirtOutcome("started", None, machine, cpu, live, accel, qemu_cpu, compat,
                          tuple(args), tuple(reasons))


def _define_cpu(cpu: LibvirtCpu | None, virt: str, qemu: QemuFacts,
                reasons: list[str]) -> LibvirtCpu:
    """The ``<cpu>`` libvirt keeps after define (what ``dumpxml --inactive`` shows)."""
    if cpu is None or (cpu.mode == "custom" and cpu.model is None):
        if virt == "kvm":
            # target/ppc/kvm.c:kvm_ppc_register_host_cpu_type makes "host" pseries' default
            # CPU under KVM; qemuDomainDefSetDefaultCPU turns that into host-passthrough
            reasons.append("no <cpu>: QEMU's default CPU under KVM is 'host', libvirt writes "
                           "host-passthrough (qemuDomainDefSetDefaultCPU)")
            return LibvirtCpu("host-passthrough", check="none")
        model = default_cpu_name(qemu)
        reasons.append(f"no <cpu>: libvirt writes QEMU's default CPU {model} as a custom model "
                       "with check='none' (qemuDomainDefSetDefaultCPU)")
        return LibvirtCpu("custom", model, "none", "exact", "forbid")
    check = cpu.check
    if check is None:  # qemu_domain.c:qemuDomainDefCPUPostParse
        check = {"host-passthrough": "none", "maximum": "none", "host-model": "partial",
                 "custom": "none" if virt == "qemu" else "partial"}[cpu.mode]
    match = cpu.match
    if cpu.mode == "custom" and match is None:
        match = "exact"  # conf/cpu_conf.c:virCPUDefParseXML
    fallback = cpu.fallback or ("allow" if cpu.model is not None else None)
    return LibvirtCpu(cpu.mode, cpu.model, check, match, fallback)


def _start_cpu(cpu: LibvirtCpu, domain: LibvirtDomain, host: LibvirtHost,
               reasons: list[str]) -> str | None:
    """qemuProcessUpdateGuestCPU's refusal, or None."""
    virt = domain.virt_type
    host_model = host_cpu_model(host)
    supported = {
        "host-passthrough": virt == "kvm" and host.native,
        "host-model": host_model is not None,
        "custom": True,
    }[cpu.mode]
    if not supported:
        why = {"host-passthrough": "needs KVM on a ppc64 host",
               "host-model": "needs a ppc64 host whose CPU libvirt's CPU map knows"}[cpu.mode]
        reasons.append(f"{cpu.mode} {why} (virQEMUCapsIsCPUModeSupported)")
        return MODE_UNSUPPORTED.format(mode=cpu.mode, arch=domain.arch, virt=virt,
                                       host=host.arch)
    model = cpu.model
    if cpu.mode == "custom" and model in LEGACY_MODELS and host.native:
        # virCPUConvertLegacy(hostarch, ...) asks the *host* arch's CPU driver: only the
        # ppc64 one converts, so off a ppc64 host the legacy name reaches virCPUTranslate
        model = model[: len("POWERx")]
        reasons.append(f"{cpu.model} is read as {model} (virCPUppc64ConvertLegacy)")
    if cpu.check == "partial":
        refusal = _compare(cpu, model, host, host_model)
        if refusal is not None:
            reasons.append("check='partial' compares the CPU with the host's (virCPUCompare)")
            return refusal
    if cpu.mode == "custom" and model is not None:
        names = libvirt_cpu_names(host.qemu)
        if model not in names:
            reasons.append(f"{model} is not in QEMU's CPU list as libvirt names it through its "
                           "CPU map (virQEMUCapsFetchCPUModels, virCPUTranslate)")
            if cpu.fallback == "forbid":
                return MODEL_NOT_SUPPORTED.format(model=model)
            return CANNOT_TRANSLATE.format(model=model)
    return None


def _compare(cpu: LibvirtCpu, model: str | None, host: LibvirtHost,
             host_model: str | None) -> str | None:
    """virCPUCompare with the host CPU (driver of the host's arch; failIncompatible)."""
    if host_model is None:
        return UNKNOWN_HOST_CPU  # virCPUx86Compare / virCPUppc64Compare without a host CPU
    if cpu.mode == "host-model":
        verdict = check_libvirt_compat(host_model, cpu.model)
        return verdict.message
    if cpu.mode == "custom" and model is not None:
        guest = map_model(model)
        if guest is None:
            return UNKNOWN_MODEL.format(model)
        if guest != host_model:
            return f"{CPU_INCOMPATIBLE}: {MODEL_MISMATCH.format(guest)}"
    return None


# ---------------------------------------------------------------------- proposing a domain


@dataclass(frozen=True, slots=True)
class LibvirtProposal:
    """The ``<cpu>`` (and ``<qemu:commandline>``, when needed) that asks libvirt for a CPU and
    a compat maximum, and what libvirt then does. ``note`` says why the XML is not the plain
    host-model form (libvirt cannot express the maximum), or is None."""

    xml: str
    domain: LibvirtDomain
    outcome: LibvirtOutcome
    note: str | None


def commandline_xml(compat: str) -> str:
    return ("<qemu:commandline>\n"
            "  <qemu:arg value='-machine'/>\n"
            f"  <qemu:arg value='max-cpu-compat={compat}'/>\n"
            "</qemu:commandline>")


def propose(cpu: str, compat: str | None, virt_type: str, host: LibvirtHost) -> LibvirtProposal:
    """The domain XML for ``-cpu cpu`` with ``max-cpu-compat=compat``.

    Under KVM: host-model, with ``<model>compat</model>`` for a maximum (libvirt's own
    spelling; the CPU is the host's, ``-cpu host``). Under TCG: a custom CPU in libvirt's
    spelling; a maximum cannot be expressed in ``<cpu>`` (host-model is refused off a ppc64
    host and becomes ``-cpu host``, which TCG has not, on one), so it goes into
    ``<qemu:commandline>`` (the domain element needs
    ``xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'``).
    """
    if virt_type == "kvm":
        element = LibvirtCpu("host-model", compat)
        domain = LibvirtDomain(element, "kvm")
        return LibvirtProposal(element.xml(), domain, start_domain(domain, host), None)
    name = libvirt_spelling(cpu, host.qemu) or cpu
    element = LibvirtCpu("custom", name, match="exact", fallback="forbid")
    domain = LibvirtDomain(element, "qemu", commandline_compat=compat)
    xml = element.xml()
    note = None
    if compat is not None:
        xml += "\n" + commandline_xml(compat)
        why = ("host-model would run -cpu host, which TCG has not" if host.native
               else f"host-model is refused on a host of arch {host.arch}")
        note = (f"libvirt cannot express max-cpu-compat for a TCG (type='qemu') domain: "
                f"{why}; <qemu:commandline> passes it to QEMU (the <domain> element needs "
                "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0')")
    return LibvirtProposal(xml, domain, start_domain(domain, host), note)
