"""Read the guest kernel's CAS vector straight out of its vmlinux.

Why: the engine's ``linux-6.1`` guest profile must offer QEMU exactly the PVR list and option
vectors that the booted kernel offers. Linux builds it as ``ibm_architecture_vec_template``
(``arch/powerpc/kernel/prom_init.c``, in ``.init.data``); ``prom_init`` copies it unchanged into
``ibm_architecture_vec`` and edits only option vectors 5 and 7 at run time (oracle.md). The
data is big-endian although the kernel is little-endian.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

SYMBOL = "ibm_architecture_vec_template"


@dataclass(frozen=True, slots=True)
class SymbolBytes:
    """The bytes of one ELF data symbol and where they came from."""

    name: str
    section: str
    address: int
    size: int
    data: bytes


def read_symbol(vmlinux: Path, name: str = SYMBOL) -> SymbolBytes:
    """Return the bytes of data symbol ``name`` from ``vmlinux``.

    :raises KeyError: when the symbol is absent or lies in no file-backed section.
    """
    with vmlinux.open("rb") as fh:
        elf = ELFFile(fh)
        symtab = elf.get_section_by_name(".symtab")
        if not isinstance(symtab, SymbolTableSection):
            raise KeyError(f"{vmlinux} has no .symtab")
        syms = symtab.get_symbol_by_name(name) or []
        if not syms:
            raise KeyError(f"{name} not in {vmlinux}")
        sym = syms[0]
        sec = elf.get_section(sym["st_shndx"])
        offset = sym["st_value"] - sec["sh_addr"]
        data = sec.data()[offset : offset + sym["st_size"]]
        return SymbolBytes(name, sec.name, sym["st_value"], sym["st_size"], bytes(data))


def pvr_pairs(vec: bytes) -> list[tuple[int, int]]:
    """The (mask, value) pairs at the start of a CAS vector, terminator included.

    The terminator is the first pair whose value has a bit outside its mask
    (``cas_check_pvr`` in QEMU's ``hw/ppc/spapr_hcall.c``).
    """
    pairs: list[tuple[int, int]] = []
    for off in range(0, len(vec) - 7, 8):
        mask = int.from_bytes(vec[off : off + 4], "big")
        value = int.from_bytes(vec[off + 4 : off + 8], "big")
        pairs.append((mask, value))
        if value & ~mask & 0xFFFFFFFF:
            break
    return pairs


# --- cpu_specs: the kernel's own names for each PVR -----------------------------------------

#: arch/powerpc/kernel/cputable.c: ``static struct cpu_spec cpu_specs[] __initdata`` (its rows
#: come from cpu_specs_book3s_64.h); ``the_cpu_spec`` is one struct, so its symbol size is
#: sizeof(struct cpu_spec) in this very build.
CPU_SPECS = "cpu_specs"
ONE_SPEC = "the_cpu_spec"
# Not read from here: whether "altivec supported" is printed. POWER6 and later rows carry no
# CPU_FTR_ALTIVEC; prom.c check_cpu_feature_properties() adds it at boot from the device
# tree's "ibm,vmx" property, which QEMU sets, so the table alone cannot tell.


@dataclass(frozen=True, slots=True)
class CpuSpecRow:
    """The first fields of one ``struct cpu_spec`` (arch/powerpc/include/asm/cputable.h):
    ``pvr_mask``, ``pvr_value``, ``cpu_name``, ``cpu_features``, ``cpu_user_features``; they
    have kept these offsets (0, 4, 8, 16, 24) since the struct began."""

    mask: int
    value: int
    name: str
    cpu_features: int
    user_features: int

    def to_json(self) -> dict[str, str]:
        return {"mask": f"0x{self.mask:08x}", "value": f"0x{self.value:08x}", "name": self.name,
                "cpu_features": f"0x{self.cpu_features:016x}",
                "user_features": f"0x{self.user_features:08x}"}


def _c_string(elf: ELFFile, address: int) -> str:
    """The NUL-terminated string at a kernel virtual address."""
    for sec in elf.iter_sections():
        start, size = sec["sh_addr"], sec["sh_size"]
        if sec["sh_type"] != "SHT_NOBITS" and start <= address < start + size:
            data = sec.data()[address - start : address - start + 256]
            return data.split(b"\0", 1)[0].decode("ascii", errors="replace")
    raise KeyError(f"address 0x{address:x} is in no section")


def read_cpu_specs(vmlinux: Path) -> tuple[CpuSpecRow, ...]:
    """Every row of the kernel's ``cpu_specs[]``, in table order (first match wins at boot).

    The kernel is little-endian here (ppc64el), so the struct is read as such (unlike the CAS
    vector, which is big-endian by definition).

    :raises KeyError: a symbol is missing or the sizes do not divide.
    """
    table = read_symbol(vmlinux, CPU_SPECS)
    stride = read_symbol(vmlinux, ONE_SPEC).size
    if stride < 32 or table.size % stride:
        raise KeyError(f"{CPU_SPECS} size {table.size} is not a multiple of {stride}")
    rows = []
    with vmlinux.open("rb") as fh:
        elf = ELFFile(fh)
        order: Literal["little", "big"] = "little" if elf.little_endian else "big"
        for off in range(0, table.size, stride):
            raw = table.data[off : off + stride]
            mask = int.from_bytes(raw[0:4], order)
            value = int.from_bytes(raw[4:8], order)
            name_ptr = int.from_bytes(raw[8:16], order)
            rows.append(CpuSpecRow(
                mask=mask, value=value, name=_c_string(elf, name_ptr),
                cpu_features=int.from_bytes(raw[16:24], order),
                user_features=int.from_bytes(raw[24:28], order),
            ))
    return tuple(rows)
