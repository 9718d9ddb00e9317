"""Guests: what each lists at CAS, what its kernel calls each PVR, what its userland needs.

Sources: Linux arch/powerpc/kernel/prom_init.c ``ibm_architecture_vec_template`` (the
(mask, value) list is big-endian even on LE kernels), cpu_specs_book3s_64.h (``cpu_name``),
setup-common.c show_cpuinfo() (", altivec supported"), and the real boots of
../shared/reference/oracle.md (Debian bookworm's 6.1 kernel, 14 pairs; userland built for
POWER8, so init dies with SIGILL below ISA 2.07).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final


@dataclass(frozen=True, slots=True)
class LinuxCpuSpec:
    """One cpu_specs[] row of the guest kernel: pvr_mask, pvr_value, cpu_name, and two of
    its user features: altivec (PPC_FEATURE_HAS_ALTIVEC) and vsx (PPC_FEATURE_HAS_VSX, in
    COMMON_USER_POWER7 and later, not in COMMON_USER_POWER6)."""

    mask: int
    value: int
    name: str
    altivec: bool
    vsx: bool = True


# arch/powerpc/kernel/cpu_specs_book3s_64.h as of 6.1 (first match wins; the last row is the
# default match). Architected rows use mask 0xffffffff. 0x0f100003 (power7+) has no row.
LINUX_6_1_CPU_SPECS: Final[tuple[LinuxCpuSpec, ...]] = (
    LinuxCpuSpec(0xFFFF0000, 0x00390000, "PPC970", True, vsx=False),
    LinuxCpuSpec(0xFFFF0000, 0x00440000, "PPC970MP", True, vsx=False),
    LinuxCpuSpec(0xFFFF0000, 0x003A0000, "POWER5 (gr)", False, vsx=False),
    LinuxCpuSpec(0xFFFF0000, 0x003B0000, "POWER5+ (gs)", False, vsx=False),
    LinuxCpuSpec(0xFFFFFFFF, 0x0F000002, "POWER6 (architected)", True, vsx=False),
    LinuxCpuSpec(0xFFFF0000, 0x003E0000, "POWER6 (raw)", True, vsx=False),
    LinuxCpuSpec(0xFFFFFFFF, 0x0F000003, "POWER7 (architected)", True),
    LinuxCpuSpec(0xFFFF0000, 0x003F0000, "POWER7 (raw)", True),
    LinuxCpuSpec(0xFFFF0000, 0x004A0000, "POWER7+ (raw)", True),
    LinuxCpuSpec(0xFFFFFFFF, 0x0F000004, "POWER8 (architected)", True),
    LinuxCpuSpec(0xFFFF0000, 0x004B0000, "POWER8E (raw)", True),
    LinuxCpuSpec(0xFFFF0000, 0x004C0000, "POWER8NVL (raw)", True),
    LinuxCpuSpec(0xFFFF0000, 0x004D0000, "POWER8 (raw)", True),
    LinuxCpuSpec(0xFFFFFFFF, 0x0F000005, "POWER9 (architected)", True),
    LinuxCpuSpec(0xFFFF0000, 0x004E0000, "POWER9 (raw)", True),
    LinuxCpuSpec(0xFFFFFFFF, 0x0F000006, "POWER10 (architected)", True),
    LinuxCpuSpec(0xFFFF0000, 0x00800000, "POWER10 (raw)", True),
    LinuxCpuSpec(0x00000000, 0x00000000, "POWER4 (compatible)", False, vsx=False),
)

# c2ed087ed35c (2024) added Power11 (mixed case in the kernel's own spelling).
LINUX_2025_CPU_SPECS: Final[tuple[LinuxCpuSpec, ...]] = (
    *LINUX_6_1_CPU_SPECS[:-1],
    LinuxCpuSpec(0xFFFFFFFF, 0x0F000007, "Power11 (architected)", True),
    LinuxCpuSpec(0xFFFF0000, 0x00820000, "Power11 (raw)", True),
    LINUX_6_1_CPU_SPECS[-1],
)

Pair = tuple[int, int]

#: Linux 6.1 ibm_architecture_vec_template.pvrs[14], in order (oracle.md, read from Debian's
#: vmlinux-6.1.0-50-powerpc64le). The last pair is the terminator: its value has bit 0x1
#: outside its mask 0xfffffffe, and QEMU's cas_check_pvr() stops there without evaluating it.
LINUX_6_1_PVRS: Final[tuple[Pair, ...]] = (
    (0xFFFE0000, 0x003A0000),  # POWER5/POWER5+
    (0xFFFF0000, 0x003E0000),  # POWER6
    (0xFFFF0000, 0x003F0000),  # POWER7
    (0xFFFF0000, 0x004B0000),  # POWER8E
    (0xFFFF0000, 0x004C0000),  # POWER8NVL
    (0xFFFF0000, 0x004D0000),  # POWER8
    (0xFFFF0000, 0x004E0000),  # POWER9
    (0xFFFF0000, 0x00800000),  # POWER10
    (0xFFFFFFFF, 0x0F000006),  # all 3.1-compliant
    (0xFFFFFFFF, 0x0F000005),  # all 3.00-compliant
    (0xFFFFFFFF, 0x0F000004),  # all 2.07-compliant
    (0xFFFFFFFF, 0x0F000003),  # all 2.06-compliant
    (0xFFFFFFFF, 0x0F000002),  # all 2.05-compliant
    (0xFFFFFFFE, 0x0F000001),  # all 2.04-compliant and earlier (terminator)
)

#: the 2025 tree's 16 pairs (kernel_libvirt.md section 4.2): adds Power11 raw and logical
LINUX_2025_PVRS: Final[tuple[Pair, ...]] = (
    *LINUX_6_1_PVRS[:8],
    (0xFFFF0000, 0x00820000),  # POWER11
    (0xFFFFFFFF, 0x0F000007),  # P11 compliant
    *LINUX_6_1_PVRS[8:],
)

_TERMINATOR: Final[Pair] = (0xFFFFFFFE, 0x0F000001)

#: Linux 6.1's ibm_architecture_vec_template after its 14 pairs: num_vectors (0x05, firmware
#: counts n-1) and the option vectors OV1..OV7 (333 bytes), read with pyelftools from the
#: ``.init.data`` of Debian's vmlinux-6.1.0-50-powerpc64le (6.1.176-1; recorded in
#: tests/data/real/linux-6.1-ibm_architecture_vec_template.json). prom_init edits OV5
#: (MMU, max_cpus) and OV7 (the banner) at run time; this is the template as shipped.
LINUX_6_1_VECTORS: Final = bytes.fromhex(
    "050200ffc020200000ffffffffffffffffffffffffffffffffffffffff000002"
    "00ffffffff00300100e00100011900f30000e00500000000080000000000e000"
    "000001c00000000002000002ff00000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000"
)


def pack_pvrs(pairs: tuple[Pair, ...]) -> bytes:
    """Big-endian (mask, value) words, as prom_init lays them out and QEMU reads them."""
    return b"".join(struct.pack(">II", mask, value) for mask, value in pairs)


@dataclass(frozen=True, slots=True)
class GuestProfile:
    """A guest OS as CAS and the boot see it.

    ``userland_isa`` names the compat mode whose ISA the userland's instructions need
    (Debian ppc64el: POWER8, ISA 2.07); ``userland_vsx``: it also needs the kernel to enable
    VSX. Without them the kernel boots but init dies with SIGILL. None: not modelled.
    ``vectors`` are the bytes after the PVR list (num_vectors and the option vectors).
    The synthetic guests are Linux 6.1 with its PVR list patched (as oracle.md's runs did).
    """

    name: str
    description: str
    pvrs: tuple[Pair, ...]
    cpu_specs: tuple[LinuxCpuSpec, ...]
    userland_isa: str | None
    userland_vsx: bool = False
    vectors: bytes = b""
    #: a Linux kernel with radix support that asks for radix in OV5 when it is offered
    radix: bool = True
    #: a ppc64le kernel: it needs MSR[LE] before it can run at all
    little_endian: bool = True
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        # hashed once: the guest keys the cached decisions about it (issue #13)
        object.__setattr__(self, "_hash", hash((self.name, self.pvrs, self.vectors)))

    def __hash__(self) -> int:
        return self._hash

    @property
    def cas_buffer(self) -> bytes:
        return _cas_buffer(self.pvrs, self.vectors)


@lru_cache(maxsize=64)
def _cas_buffer(pvrs: tuple[Pair, ...], vectors: bytes) -> bytes:
    """One bytes object per guest, built once (it keys the cached CAS parse; issue #13)."""
    return pack_pvrs(pvrs) + vectors


GUESTS: Final[tuple[GuestProfile, ...]] = (
    GuestProfile(
        "linux-6.1",
        "Debian bookworm's Linux 6.1 (linux-image-powerpc64le), POWER8 userland",
        LINUX_6_1_PVRS, LINUX_6_1_CPU_SPECS, "power8", userland_vsx=True,
        vectors=LINUX_6_1_VECTORS),
    GuestProfile(
        "linux-2025",
        "Linux with Power11 support (2024+, 16 PVR pairs), POWER8 userland",
        LINUX_2025_PVRS, LINUX_2025_CPU_SPECS, "power8", userland_vsx=True),
    GuestProfile(
        "logical-upto-power8",
        "a guest that lists only logical PVRs up to power8 (2.07, 2.06, 2.05)",
        ((0xFFFFFFFF, 0x0F000004), (0xFFFFFFFF, 0x0F000003), (0xFFFFFFFF, 0x0F000002),
         _TERMINATOR),
        LINUX_6_1_CPU_SPECS, None),
    GuestProfile(
        "raw-only",
        "a guest that lists only raw family PVRs (Linux 6.1's raw entries)",
        (*LINUX_6_1_PVRS[:8], _TERMINATOR), LINUX_6_1_CPU_SPECS, None),
)


#: the guest a run boots when none is named: Debian bookworm's kernel, the one recorded most
DEFAULT_GUEST: Final = "linux-6.1"


def guest_by_name(name: str) -> GuestProfile | None:
    for guest in GUESTS:
        if guest.name == name:
            return guest
    return None


def linux_cpu_spec(pvr: int, specs: tuple[LinuxCpuSpec, ...]) -> LinuxCpuSpec:
    """identify_cpu(): the first row whose masked value matches (the default always does)."""
    for spec in specs:
        if pvr & spec.mask == spec.value:
            return spec
    raise AssertionError("cpu_specs has no default row")
