"""libvirt's facts for ppc64 pseries domains (Debian bookworm's libvirt 9.0.0).

Read from libvirt 9.0.0's sources (Debian's source package ``libvirt_9.0.0-4+deb12u2``) and
its installed data (``/usr/share/libvirt/cpu_map/ppc64_*.xml``, ``index.xml``), and checked
against a running libvirtd (``tests/data/real/libvirt-9.0-qemu-7.2-cpu.json``). Each fact
names its source as ``path:function``. Messages are libvirt's own, as a client receives
them: ``virErrorMsg()`` (src/util/virerror.c) puts the error class's text in front
("unsupported configuration: ...", "internal error: ...").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

LIBVIRT_VERSION: Final = "9.0.0"


@dataclass(frozen=True, slots=True)
class CpuMapModel:
    """One ``<model>`` of libvirt's ppc64 CPU map: its name and the (value, mask) PVRs that
    ``ppc64ModelFindPVR`` matches the host's ``mfpvr`` against."""

    name: str
    vendor: str
    pvrs: tuple[tuple[int, int], ...]


#: src/cpu_map/index.xml ``<arch name='ppc64'>`` order, with ppc64_<NAME>.xml's PVRs
CPU_MAP_PPC64: Final[tuple[CpuMapModel, ...]] = (
    CpuMapModel("POWER6", "IBM", ((0x003E0000, 0xFFFF0000),)),
    CpuMapModel("POWER7", "IBM", ((0x003F0000, 0xFFFF0000), (0x004A0000, 0xFFFF0000))),
    CpuMapModel("POWER8", "IBM", ((0x004B0000, 0xFFFF0000), (0x004C0000, 0xFFFF0000),
                                  (0x004D0000, 0xFFFF0000))),
    CpuMapModel("POWER9", "IBM", ((0x004E0000, 0xFFFF0000),)),
    CpuMapModel("POWER10", "IBM", ((0x00800000, 0xFFFF0000),)),
    CpuMapModel("POWERPC_e5500", "Freescale", ((0x80240000, 0xFFFF0000),)),
    CpuMapModel("POWERPC_e6500", "Freescale", ((0x80400000, 0xFFFF0000),)),
)

#: src/cpu/cpu_ppc64.c:virCPUppc64ConvertLegacy: these names are cut to "POWERx"
LEGACY_MODELS: Final = ("POWER7_v2.1", "POWER7_v2.3", "POWER7+_v2.1", "POWER8_v1.0")

#: inclusive range of N in "POWERN" (host) and "powerN" (compat) that
#: src/cpu/cpu_ppc64.c:ppc64CheckCompatibilityMode accepts (9.0: 6..10; 2017: 6..8)
LIBVIRT_COMPAT_RANGE: Final = (6, 10)
LIBVIRT_COMPAT_RANGE_2017: Final = (6, 8)

#: src/qemu/qemu_capabilities.c QEMU_MIN_MAJOR/QEMU_MIN_MINOR: older QEMU binaries are skipped
QEMU_MIN_VERSION: Final = (4, 2)

#: the emulator libvirt picks for ppc64le guests on Debian (src/qemu/qemu_capabilities.c:
#: virQEMUCapsFindBinaryForArch tries ``qemu-system-<arch>`` first; Debian ships the
#: ``qemu-system-ppc64le`` symlink), as domcapabilities reports it
EMULATOR: Final = "/usr/bin/qemu-system-ppc64le"

#: the ``-machine`` properties libvirt 9.0 puts after the machine type for a pseries domain
#: with default settings: src/qemu/qemu_command.c:qemuBuildMachineCommandLine (``usb=off``
#: always; ``dump-guest-core=off`` from qemu.conf's default; ``memory-backend=`` the machine's
#: default RAM id, ``ppc_spapr.ram``, when QEMU reports one)
MACHINE_PROPS: Final = ("usb=off", "dump-guest-core=off", "memory-backend=ppc_spapr.ram")

# -- messages, word for word -----------------------------------------------------------------

#: src/qemu/qemu_process.c:qemuProcessUpdateGuestCPU, when virQEMUCapsIsCPUModeSupported fails
MODE_UNSUPPORTED: Final = ("unsupported configuration: CPU mode '{mode}' for {arch} {virt} "
                           "domain on {host} host is not supported by hypervisor")
#: src/qemu/qemu_validate.c:qemuValidateDomainDefCpu (no ``max`` CPU model in QEMU's list)
MAXIMUM_UNSUPPORTED: Final = ("unsupported configuration: maximum CPU is not supported by QEMU "
                              "binary")
#: src/qemu/qemu_validate.c:qemuValidateDomainDef (the emulator has no such accelerator)
VIRT_TYPE_UNSUPPORTED: Final = ("unsupported configuration: Emulator '{emulator}' does not "
                                "support virt type '{virt}'")
#: src/cpu/cpu.c:virCPUTranslate, fallback='forbid'
MODEL_NOT_SUPPORTED: Final = ("unsupported configuration: CPU model {model} is not supported "
                              "by hypervisor")
#: src/cpu/cpu.c:virCPUTranslate, fallback='allow' (ppc64 has no translate callback)
CANNOT_TRANSLATE: Final = ("this function is not supported by the connection driver: cannot "
                           "translate CPU model {model} to a supported model")
#: src/cpu/cpu_ppc64.c:ppc64CheckCompatibilityMode
HOST_NO_COMPAT: Final = "internal error: Host CPU does not support compatibility modes"
UNKNOWN_COMPAT: Final = "internal error: Unknown compatibility mode {}"
#: src/cpu/cpu_ppc64.c:virCPUppc64Compare (VIR_ERR_CPU_INCOMPATIBLE, with or without detail)
CPU_INCOMPATIBLE: Final = "the CPU is incompatible with host CPU"
#: src/cpu/cpu_ppc64.c:ppc64Compute, a custom model other than the host's
MODEL_MISMATCH: Final = "host CPU model does not match required CPU model {}"
#: src/cpu/cpu_ppc64.c:ppc64ModelFromCPU
UNKNOWN_MODEL: Final = "internal error: Unknown CPU model {}"
#: src/cpu/cpu_ppc64.c:virCPUppc64Compare / src/cpu/cpu_x86.c:virCPUx86Compare, no host CPU
UNKNOWN_HOST_CPU: Final = "the CPU is incompatible with host CPU: unknown host CPU"
#: src/qemu/qemu_monitor.c (QEMU exited before its monitor answered), then QEMU's stderr
QEMU_CLOSED: Final = "internal error: qemu unexpectedly closed the monitor: "
