"""Guests: the Linux kernels a pseries VM boots, named after the real kernels, and what each
lists at CAS, calls each PVR, and needs from the CPU for its userland.

Sources: Linux arch/powerpc/kernel/prom_init.c ``ibm_architecture_vec_template`` (the
(mask, value) list is big-endian even on LE kernels, then num_vectors and the option
vectors), cpu_specs_book3s_64.h ``cpu_specs`` (first match wins), setup-common.c
show_cpuinfo(). Each kernel's bytes and rows were read from Debian's vmlinux by the verify
harness (``tests/data/real/linux-X-{ibm_architecture_vec_template,cpu_specs}.json``) and are
shipped as ``data/linux-X.json`` (held equal by tests/catalog/test_guests.py); they are
parsed on first use. The userland: Debian's ppc64el is built for POWER8 (ISA 2.07, VSX), so
init dies with SIGILL below that (oracle.md, and the recorded boots).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Final, NamedTuple

from powercompat.catalog.data import read_data

Pair = tuple[int, int]


class LinuxCpuSpec(NamedTuple):
    """One cpu_specs[] row of the guest kernel: pvr_mask, pvr_value, cpu_name."""

    mask: int
    value: int
    name: str


class KernelImage(NamedTuple):
    """What the engine reads from one guest kernel's vmlinux."""

    name: str
    package: str
    version: str
    pvrs: tuple[Pair, ...]
    vectors: bytes
    cpu_specs: tuple[LinuxCpuSpec, ...]


def is_terminator(pair: Pair) -> bool:
    """PAPR: a value with a bit outside its mask ends the list (QEMU's cas_check_pvr)."""
    mask, value = pair
    return bool(~mask & value & 0xFFFFFFFF)


@cache
def kernel_image(name: str) -> KernelImage:
    """The recorded kernel ``name`` (``linux-6.12``), parsed once.

    :raises FileNotFoundError: no kernel of that name was recorded.
    """
    data = read_data(f"{name}.json")
    blob = bytes.fromhex(data["ibm_architecture_vec_template"])
    pairs: list[Pair] = []
    for offset in range(0, len(blob) - 7, 8):
        pair: Pair = struct.unpack_from(">II", blob, offset)
        pairs.append(pair)
        if is_terminator(pair):
            break
    specs = tuple(LinuxCpuSpec(int(r["mask"], 16), int(r["value"], 16), r["name"])
                  for r in data["cpu_specs"])
    return KernelImage(name, data["kernel_package"], data["kernel_version"], tuple(pairs),
                       blob[8 * len(pairs):], specs)


def pack_pvrs(pairs: tuple[Pair, ...]) -> bytes:
    """Big-endian (mask, value) words, as prom_init lays them out and QEMU reads them."""
    return b"".join(struct.pack(">II", mask, value) for mask, value in pairs)


def _logical(pair: Pair) -> bool:
    return pair[1] & 0xFF000000 == 0x0F000000


def _upto_power8(pair: Pair) -> bool:
    return _logical(pair) and pair[1] <= 0x0F000004


@dataclass(frozen=True, slots=True)
class GuestProfile:
    """A guest OS as CAS and the boot see it.

    ``kernel`` names the recorded kernel image; ``pvr_filter`` (a patched guest) keeps only
    some of its PVR pairs and drops the option vectors (as oracle.md's patched boots did).
    ``userland_isa`` names the compat mode whose ISA the userland's instructions need;
    ``userland_vsx``: it also needs VSX. Without them the kernel boots but init dies with
    SIGILL. None: not modelled. ``userland_scv``: at ISA 3.00 or newer the kernel offers the
    vectored system call (PPC_FEATURE2_SCV) and the userland's glibc (2.33 on) uses it.
    """

    name: str
    description: str
    kernel: str
    userland_isa: str | None
    userland_vsx: bool = False
    pvr_filter: Callable[[Pair], bool] | None = None
    userland_scv: bool = False
    #: a Linux kernel with radix support that asks for radix in OV5 when it is offered
    radix: bool = True
    #: a ppc64le kernel: it needs MSR[LE] before it can run at all
    little_endian: bool = True
    #: QEMU's "OS terminated: " line (hw/ppc/spapr_rtas.c rtas_ibm_os_term) quotes the
    #: kernel's "OS panic: ..." text from the ibm,os-term buffer. Debian's 6.12 and 7.2 leave
    #: it empty: every recorded init death with them (TCG on 5.2 to 11.1, VOF and SLOF, and
    #: nested KVM HV) printed "OS terminated: " and nothing more; 6.1 always quoted the text.
    #: The kernel change behind it is not pinned.
    os_term_text: bool = True
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        # hashed once, without reading the kernel: the guest keys cached decisions (#13)
        object.__setattr__(self, "_hash", hash((self.name, self.kernel, self.pvr_filter,
                                                self.radix, self.little_endian)))

    def __hash__(self) -> int:
        return self._hash

    @property
    def image(self) -> KernelImage:
        return kernel_image(self.kernel)

    @property
    def pvrs(self) -> tuple[Pair, ...]:
        """The (mask, value) pairs it lists at CAS, terminator last."""
        pairs = self.image.pvrs
        if self.pvr_filter is None:
            return pairs
        return (*(p for p in pairs if not is_terminator(p) and self.pvr_filter(p)), pairs[-1])

    @property
    def vectors(self) -> bytes:
        """The bytes after the PVR list (num_vectors and the option vectors)."""
        return b"" if self.pvr_filter is not None else self.image.vectors

    @property
    def cpu_specs(self) -> tuple[LinuxCpuSpec, ...]:
        return self.image.cpu_specs

    @property
    def cas_buffer(self) -> bytes:
        return _cas_buffer(self)


@cache
def _cas_buffer(guest: GuestProfile) -> bytes:
    """One bytes object per guest, built once (it keys the cached CAS parse; issue #13)."""
    return pack_pvrs(guest.pvrs) + guest.vectors


_DEBIAN_USERLAND = "Debian ppc64el userland (POWER8)"

GUESTS: Final[tuple[GuestProfile, ...]] = (
    GuestProfile("linux-6.1", f"Debian bookworm's Linux 6.1, {_DEBIAN_USERLAND}", "linux-6.1",
                 "power8", userland_vsx=True, userland_scv=True),
    GuestProfile("linux-6.12", f"Debian trixie's Linux 6.12 (Power11), {_DEBIAN_USERLAND}",
                 "linux-6.12", "power8", userland_vsx=True, userland_scv=True,
                 os_term_text=False),
    GuestProfile("linux-7.2", f"Debian sid's Linux 7.2 (Power11), {_DEBIAN_USERLAND}",
                 "linux-7.2", "power8", userland_vsx=True, userland_scv=True,
                 os_term_text=False),
    GuestProfile("logical-upto-power8",
                 "Linux 6.1 listing only its logical PVRs up to power8 (2.07, 2.06, 2.05)",
                 "linux-6.1", None, pvr_filter=_upto_power8),
    GuestProfile("raw-only", "Linux 6.1 listing only its raw family PVRs", "linux-6.1", None,
                 pvr_filter=lambda pair: not _logical(pair)),
)
#: other names a guest answers to: ``linux-2025`` was this project's name for a kernel with
#: Power11 support before the guests were named after real kernels
GUEST_ALIASES: Final[Mapping[str, str]] = MappingProxyType({"linux-2025": "linux-7.2"})

#: the guest a run boots when none is named: Debian bookworm's kernel, the one recorded most
DEFAULT_GUEST: Final = "linux-6.1"


def guest_by_name(name: str) -> GuestProfile | None:
    name = GUEST_ALIASES.get(name, name)
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
