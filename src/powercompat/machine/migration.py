"""The CPU part of a migration stream, in QEMU's savevm layout, and its strict reader.

Layout (migration/savevm.c, target/ppc/machine.c vmstate_ppc_cpu): magic ``QEVM``
(0x5145564d) and version 3; a ``xive-source`` section (instance 0, no fields modelled) when
the source machine has a XIVE interrupt controller, ahead of the CPUs as real QEMU 7.2 sends
it; per vCPU a QEMU_VM_SECTION_FULL (0x04) with section id, idstr
``cpu``, instance id and version id, the fields we model (SPR_PVR, SPR_PCR as be64), an
optional QEMU_VM_SUBSECTION (0x05) ``cpu/compat`` version 1 with ``compat_pvr`` (be32), sent
only when compat_pvr != 0, and a QEMU_VM_SECTION_FOOTER (0x7e); QEMU_VM_EOF (0x07) at the end.
Only the fields compat depends on are carried. The stream comes from another host: every
read is bounds-checked and every error names its byte offset.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from powercompat.errors import MigrationStreamError

MAGIC: Final = 0x5145564D
VERSION: Final = 3
SECTION_FULL: Final = 0x04
SUBSECTION: Final = 0x05
EOF_MARK: Final = 0x07
FOOTER: Final = 0x7E
CPU_IDSTR: Final = b"cpu"
XIVE_IDSTR: Final = b"xive-source"
XIVE_VERSION: Final = 1
CPU_VERSION: Final = 5
COMPAT_IDSTR: Final = b"cpu/compat"
COMPAT_VERSION: Final = 1
#: more sections than any pseries machine has vCPUs (spapr max_cpus is far below this)
MAX_CPUS: Final = 4096


@dataclass(frozen=True, slots=True)
class CpuRecord:
    """One vCPU in the stream; ``compat_pvr`` None when the subsection is absent."""

    index: int
    spr_pvr: int
    spr_pcr: int
    compat_pvr: int | None


@dataclass(frozen=True, slots=True)
class MigrationStream:
    """``xive``: the stream carries the XIVE interrupt controller's sections."""

    cpus: tuple[CpuRecord, ...]
    xive: bool = False


def encode_stream(stream: MigrationStream) -> bytes:
    out = [struct.pack(">II", MAGIC, VERSION)]
    first = 0
    if stream.xive:
        out.append(struct.pack(">BIB", SECTION_FULL, 0, len(XIVE_IDSTR)) + XIVE_IDSTR)
        out.append(struct.pack(">II", 0, XIVE_VERSION) + struct.pack(">BI", FOOTER, 0))
        first = 1
    for section_id, cpu in enumerate(stream.cpus, start=first):
        out.append(struct.pack(">BIB", SECTION_FULL, section_id, len(CPU_IDSTR)) + CPU_IDSTR)
        out.append(struct.pack(">IIQQ", cpu.index, CPU_VERSION, cpu.spr_pvr, cpu.spr_pcr))
        if cpu.compat_pvr:  # compat_needed(): only when compat_pvr != 0
            out.append(struct.pack(">BB", SUBSECTION, len(COMPAT_IDSTR)) + COMPAT_IDSTR)
            out.append(struct.pack(">II", COMPAT_VERSION, cpu.compat_pvr))
        out.append(struct.pack(">BI", FOOTER, section_id))
    out.append(bytes([EOF_MARK]))
    return b"".join(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str, what: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise MigrationStreamError(
                f"migration stream truncated at byte {len(self.data)} reading {what}",
                len(self.data))
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def name(self, what: str) -> bytes:
        (length,) = self.take(">B", f"{what} length")
        start = self.pos
        if start + length > len(self.data):
            raise MigrationStreamError(
                f"migration stream truncated at byte {len(self.data)} reading {what}",
                len(self.data))
        self.pos += length
        return self.data[start:start + length]

    def fail(self, offset: int, text: str) -> MigrationStreamError:
        return MigrationStreamError(f"migration stream: {text} at byte {offset}", offset)


def decode_stream(data: bytes) -> MigrationStream:
    """:raises MigrationStreamError: bad magic or version, unknown section or subsection,
    wrong idstr, duplicate instance, bad footer, trailing bytes or truncation."""
    r = _Reader(data)
    magic, version = r.take(">II", "the header")
    if magic != MAGIC:
        raise r.fail(0, f"bad magic 0x{magic:08x}")
    if version != VERSION:
        raise r.fail(4, f"unsupported version {version}")
    cpus: list[CpuRecord] = []
    seen: set[int] = set()
    xive = False
    while True:
        at = r.pos
        (kind,) = r.take(">B", "a section type")
        if kind == EOF_MARK:
            break
        if kind != SECTION_FULL:
            raise r.fail(at, f"unknown section type 0x{kind:02x}")
        if len(cpus) >= MAX_CPUS:
            raise r.fail(at, f"more than {MAX_CPUS} cpu sections")
        (section_id,) = r.take(">I", "a section id")
        name_at = r.pos
        idstr = r.name("a section name")
        if idstr == XIVE_IDSTR and not xive and not cpus:
            instance, version = r.take(">II", "the xive-source header")
            if (instance, version) != (0, XIVE_VERSION):
                raise r.fail(name_at, f"xive-source instance {instance} version {version}")
            at = r.pos
            tag, footer_id = r.take(">BI", "a section footer")
            if tag != FOOTER or footer_id != section_id:
                raise r.fail(at, "bad footer after xive-source")
            xive = True
            continue
        if idstr != CPU_IDSTR:
            raise r.fail(name_at, "section is not 'cpu' (or one leading 'xive-source')")
        index, cpu_version, spr_pvr, spr_pcr = r.take(">IIQQ", "the cpu fields")
        if cpu_version != CPU_VERSION:
            raise r.fail(name_at, f"cpu section version {cpu_version}, expected {CPU_VERSION}")
        if index in seen:
            raise r.fail(name_at, f"duplicate cpu instance {index}")
        if spr_pvr > 0xFFFFFFFF:
            raise r.fail(name_at, f"SPR_PVR 0x{spr_pvr:x} does not fit 32 bits")
        seen.add(index)
        compat: int | None = None
        at = r.pos
        (tag,) = r.take(">B", "a subsection or footer")
        if tag == SUBSECTION:
            if r.name("a subsection name") != COMPAT_IDSTR:
                raise r.fail(at, "unknown subsection (only cpu/compat is known)")
            sub_version, compat = r.take(">II", "cpu/compat")
            if sub_version != COMPAT_VERSION:
                raise r.fail(at, f"cpu/compat version {sub_version}, expected 1")
            if compat == 0:
                raise r.fail(at, "cpu/compat sent with compat_pvr 0 (never sent by QEMU)")
            at = r.pos
            (tag,) = r.take(">B", "a section footer")
        if tag != FOOTER:
            raise r.fail(at, f"expected section footer 0x7e, got 0x{tag:02x}")
        (footer_id,) = r.take(">I", "a footer id")
        if footer_id != section_id:
            raise r.fail(at, f"footer for section {footer_id} closes section {section_id}")
        cpus.append(CpuRecord(index, spr_pvr, spr_pcr, compat))
    if r.pos != len(data):
        raise r.fail(r.pos, f"{len(data) - r.pos} trailing bytes after the end")
    return MigrationStream(tuple(cpus), xive)
