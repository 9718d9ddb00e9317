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
