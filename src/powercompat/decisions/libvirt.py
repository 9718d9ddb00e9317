"""libvirt's view of a compat mode: ppc64CheckCompatibilityMode(), and how libvirt spells a
configuration (domain XML ``<cpu>`` and the QEMU arguments it generates)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from powercompat.catalog.accels import Accel
from powercompat.catalog.libvirt import (
    CPU_INCOMPATIBLE,
    HOST_NO_COMPAT,
    LIBVIRT_COMPAT_RANGE,
    UNKNOWN_COMPAT,
)


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
    """ppc64CheckCompatibilityMode(): only the generation number matters, M <= N.

    >>> check_libvirt_compat("POWER9", "power8").result.value
    'identical'
    >>> check_libvirt_compat("POWER9", "power7+").message
    'Unknown compatibility mode power7+'
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
        return LibvirtVerdict(LibvirtResult.INCOMPATIBLE, CPU_INCOMPATIBLE)
    return LibvirtVerdict(LibvirtResult.IDENTICAL, None)


def libvirt_cpu_xml(compat: str | None) -> str:
    """The domain ``<cpu>`` element: host-model, with ``<model>`` naming the compat maximum."""
    if compat is None:
        return "<cpu mode='host-model'/>"
    return f"<cpu mode='host-model'>\n  <model>{compat}</model>\n</cpu>"


def qemu_args(cpu: str, compat: str | None, accel: Accel | str) -> list[str]:
    """QEMU arguments for the configuration. Under KVM the CPU is ``-cpu host`` (as libvirt
    generates for host-model) and ``kvm-type`` names the flavour (``auto`` lets HV win).

    >>> qemu_args("power9", "power8", "kvm-pr")
    ['-machine', 'pseries,max-cpu-compat=power8,kvm-type=pr', '-accel', 'kvm', '-cpu', 'host']
    """
    machine = "pseries" + (f",max-cpu-compat={compat}" if compat else "")
    kvm_type = Accel(accel).kvm_type
    if kvm_type is None:
        return ["-machine", machine, "-accel", "tcg", "-cpu", cpu]
    if kvm_type != "auto":
        machine += f",kvm-type={kvm_type}"
    return ["-machine", machine, "-accel", "kvm", "-cpu", "host"]
