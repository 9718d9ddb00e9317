"""Struct member offsets from a kernel's BTF (what ``pahole`` prints), read in Python.

Why: the kprobes read ``kvm_vcpu.vcpu_id`` and friends at fixed offsets from the vCPU pointer;
the offsets differ between kernels and must come from the kernel actually booted, not from a
constant checked once (kvm-nested.md). Debian builds with ``CONFIG_DEBUG_INFO_BTF``: vmlinux
has a ``.BTF`` section, and each module a split ``.BTF`` whose type ids and string offsets
continue those of vmlinux. Format: ``Documentation/bpf/btf.rst`` in the Linux tree.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.elffile import ELFFile

from powercompat.verify.errors import AssetError

_MAGIC = 0xEB9F
_STRUCT, _UNION, _TYPEDEF, _CONST, _VOLATILE = 4, 5, 8, 10, 9
#: bytes that follow the 12-byte common header, per kind: (fixed, per vlen item)
_EXTRA = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8), 14: (4, 0),
          15: (0, 12), 17: (4, 0), 19: (0, 12)}


@dataclass
class Btf:
    """Types (id -> (kind, name, size_or_type, members)) and strings of one BTF blob chain."""

    types: dict[int, tuple[int, str, int, list[tuple[str, int, int]]]] = field(
        default_factory=dict)
    count: int = 0  # highest type id so far (split BTF continues from it)
    strings: bytes = b""

    def _string(self, off: int) -> str:
        end = self.strings.index(b"\0", off)
        return self.strings[off:end].decode()

    def add(self, blob: bytes) -> None:
        """Parse one ``.BTF`` section (vmlinux first, then split module sections)."""
        if len(blob) < 24:
            raise AssetError("BTF section too short")
        magic, _ver, _flags, hdr_len = struct.unpack_from("<HBBI", blob, 0)
        order = "<"
        if magic != _MAGIC:
            magic, _ver, _flags, hdr_len = struct.unpack_from(">HBBI", blob, 0)
            order = ">"
            if magic != _MAGIC:
                raise AssetError(f"no BTF magic (0x{magic:04x})")
        type_off, type_len, str_off, str_len = struct.unpack_from(order + "IIII", blob, 8)
        base = hdr_len
        self.strings += blob[base + str_off: base + str_off + str_len]
        pos, end = base + type_off, base + type_off + type_len
        # a split blob's string offsets are global: past the base's strings they index its own
        str_base = 0
        while pos < end:
            name_off, info, size = struct.unpack_from(order + "III", blob, pos)
            pos += 12
            kind, vlen, kflag = (info >> 24) & 0x1F, info & 0xFFFF, info >> 31
            members: list[tuple[str, int, int]] = []
            fixed, per = _EXTRA.get(kind, (0, 0))
            if kind in (_STRUCT, _UNION):
                for i in range(vlen):
                    m_name, m_type, m_off = struct.unpack_from(order + "III", blob, pos + 12 * i)
                    bits = m_off & 0xFFFFFF if kflag else m_off
                    members.append((self._string(str_base + m_name) if m_name else "",
                                    m_type, bits))
            pos += fixed + per * vlen
            self.count += 1
            name = self._string(str_base + name_off) if name_off else ""
            self.types[self.count] = (kind, name, size, members)

    def struct(self, name: str) -> int:
        """Type id of the complete ``struct name`` (not a forward declaration)."""
        for tid, (kind, tname, _s, members) in self.types.items():
            if kind == _STRUCT and tname == name and members:
                return tid
        raise AssetError(f"struct {name} not in BTF")

    def _resolve(self, tid: int) -> int:
        while self.types[tid][0] in (_TYPEDEF, _CONST, _VOLATILE):
            tid = self.types[tid][2]
        return tid

    def offset(self, struct_name: str, path: str) -> int:
        """Byte offset of ``path`` (``arch.vcore``: dotted members, anonymous unions searched)
        inside ``struct struct_name``."""
        tid, total = self.struct(struct_name), 0
        for part in path.split("."):
            found = self._member(tid, part)
            if found is None:
                raise AssetError(f"struct {struct_name} has no member {path}")
            bits, tid = found
            total += bits
        if total % 8:
            raise AssetError(f"{struct_name}.{path} is a bit field")
        return total // 8

    def _member(self, tid: int, name: str) -> tuple[int, int] | None:
        _k, _n, _s, members = self.types[self._resolve(tid)]
        for m_name, m_type, bits in members:
            if m_name == name:
                return bits, m_type
            if not m_name:  # anonymous struct/union: look inside
                inner = self._member(m_type, name)
                if inner is not None:
                    return bits + inner[0], inner[1]
        return None


def btf_section(path: Path) -> bytes:
    """The ``.BTF`` section of an ELF file (vmlinux or a .ko)."""
    with path.open("rb") as f:
        sec = ELFFile(f).get_section_by_name(".BTF")
        if sec is None:
            raise AssetError(f"{path} has no .BTF section")
        return bytes(sec.data())


def load_btf(vmlinux: Path, module: Path | None = None) -> Btf:
    """vmlinux's BTF, extended by one module's split BTF (each module is split against
    vmlinux alone, so two modules are two loads)."""
    btf = Btf()
    btf.add(btf_section(vmlinux))
    if module is not None:
        btf.add(btf_section(module))
    return btf
