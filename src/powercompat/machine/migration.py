"""The CPU part of a migration stream, in QEMU's savevm layout, and its strict reader.

Layout (migration/savevm.c, target/ppc/machine.c vmstate_ppc_cpu): magic ``QEVM``
(0x5145564d) and version 3; the QEMU_VM_CONFIGURATION record (0x07) with the machine type's
name (``vmstate_configuration``: a be32 length, then the name; the destination compares it
with its own); a ``xive-source`` section (instance 0, no fields modelled) when the source
machine has a XIVE interrupt controller, ahead of the CPUs as real QEMU sends it; per vCPU a
QEMU_VM_SECTION_FULL (0x04) with section id, idstr ``cpu``, instance id and version id, the
fields we model (SPR_PVR, SPR_PCR as be64), a QEMU_VM_SUBSECTION (0x05) ``cpu/slb`` with its
version (no fields modelled; sent for every 64-bit MMU, so by every pseries CPU), an optional
``cpu/compat`` version 1 with ``compat_pvr`` (be32), sent only when compat_pvr != 0, and a
QEMU_VM_SECTION_FOOTER (0x7e); when the release registers it, an ``icp/server`` section
(instance: the vCPU's index, version 1, no fields modelled) right after each vCPU's, as
icp_realize() registers it just after the CPU's own vmstate; a ``spapr_iommu`` section (the
TCE table, no fields modelled) after the CPUs, as real QEMU orders them; QEMU_VM_EOF (0x00) at
the end. Only what compat and the cross-release checks depend on is carried. The stream comes
from another host: every read is bounds-checked and every error names its byte offset.
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
CONFIGURATION: Final = 0x07
EOF_MARK: Final = 0x00
FOOTER: Final = 0x7E
#: a machine type name longer than any QEMU has (the vmstate field is a uint32 length)
MAX_MACHINE_NAME: Final = 256
CPU_IDSTR: Final = b"cpu"
XIVE_IDSTR: Final = b"xive-source"
XIVE_VERSION: Final = 1
CPU_VERSION: Final = 5
COMPAT_IDSTR: Final = b"cpu/compat"
COMPAT_VERSION: Final = 1
SLB_IDSTR: Final = b"cpu/slb"
IOMMU_IDSTR: Final = b"spapr_iommu"
ICP_IDSTR: Final = b"icp/server"
ICP_VERSION: Final = 1
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
    """``xive``: the stream carries the XIVE interrupt controller's sections; ``machine``:
    the configuration record's machine type (None: no record); ``slb_version``: the cpu/slb
    subsection's version (None: not sent); ``iommu_version``: the spapr_iommu section's
    (None: no such section); ``icp``: every vCPU's section is followed by its icp/server."""

    cpus: tuple[CpuRecord, ...]
    xive: bool = False
    machine: str | None = None
    slb_version: int | None = None
    iommu_version: int | None = None
    icp: bool = False


def _section(section_id: int, idstr: bytes, instance: int, version: int) -> bytes:
    return struct.pack(">BIB", SECTION_FULL, section_id, len(idstr)) + idstr + struct.pack(
        ">II", instance, version)


def encode_stream(stream: MigrationStream) -> bytes:
    out = [struct.pack(">II", MAGIC, VERSION)]
    if stream.machine is not None:
        name = stream.machine.encode()
        out.append(struct.pack(">BI", CONFIGURATION, len(name)) + name)
    section_id = 0
    if stream.xive:
        out.append(_section(section_id, XIVE_IDSTR, 0, XIVE_VERSION))
        out.append(struct.pack(">BI", FOOTER, section_id))
        section_id += 1
    for cpu in stream.cpus:
        out.append(_section(section_id, CPU_IDSTR, cpu.index, CPU_VERSION))
        out.append(struct.pack(">QQ", cpu.spr_pvr, cpu.spr_pcr))
        if stream.slb_version is not None:  # slb_needed(): every 64-bit MMU
            out.append(struct.pack(">BB", SUBSECTION, len(SLB_IDSTR)) + SLB_IDSTR)
            out.append(struct.pack(">I", stream.slb_version))
        if cpu.compat_pvr:  # compat_needed(): only when compat_pvr != 0
            out.append(struct.pack(">BB", SUBSECTION, len(COMPAT_IDSTR)) + COMPAT_IDSTR)
            out.append(struct.pack(">II", COMPAT_VERSION, cpu.compat_pvr))
        out.append(struct.pack(">BI", FOOTER, section_id))
        section_id += 1
        if stream.icp:
            out.append(_section(section_id, ICP_IDSTR, cpu.index, ICP_VERSION))
            out.append(struct.pack(">BI", FOOTER, section_id))
            section_id += 1
    if stream.iommu_version is not None:
        out.append(_section(section_id, IOMMU_IDSTR, 0, stream.iommu_version))
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
    """:raises MigrationStreamError: bad magic or version, a bad configuration record,
    unknown section or subsection, sections out of order, wrong idstr, duplicate instance,
    bad footer, trailing bytes or truncation."""
    r = _Reader(data)
    magic, version = r.take(">II", "the header")
    if magic != MAGIC:
        raise r.fail(0, f"bad magic 0x{magic:08x}")
    if version != VERSION:
        raise r.fail(4, f"unsupported version {version}")
    machine: str | None = None
    if r.pos < len(data) and data[r.pos] == CONFIGURATION:
        at = r.pos
        r.take(">B", "the configuration record")
        (length,) = r.take(">I", "the machine name length")
        if not 0 < length <= MAX_MACHINE_NAME:
            raise r.fail(at, f"machine name of {length} bytes")
        start = r.pos
        if start + length > len(data):
            raise MigrationStreamError(
                f"migration stream truncated at byte {len(data)} reading the machine name",
                len(data))
        r.pos += length
        try:
            machine = data[start:start + length].decode("ascii")
        except UnicodeDecodeError:
            raise r.fail(start, "machine name is not ASCII") from None
        if not machine.isprintable():
            raise r.fail(start, "machine name is not printable")
    cpus: list[CpuRecord] = []
    seen: set[int] = set()
    icps = 0  # icp/server sections read, each right after its vCPU's
    xive = False
    slb_version: int | None = None
    iommu_version: int | None = None
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
        if iommu_version is not None:
            raise r.fail(name_at, "a section after spapr_iommu")
        if idstr == XIVE_IDSTR and not xive and not cpus:
            instance, sec_version = r.take(">II", "the xive-source header")
            if (instance, sec_version) != (0, XIVE_VERSION):
                raise r.fail(name_at, f"xive-source instance {instance} version {sec_version}")
            _footer(r, section_id, "xive-source")
            xive = True
            continue
        if idstr == IOMMU_IDSTR and cpus:
            instance, sec_version = r.take(">II", "the spapr_iommu header")
            if instance != 0 or sec_version == 0:
                raise r.fail(name_at, f"spapr_iommu instance {instance} version {sec_version}")
            _footer(r, section_id, "spapr_iommu")
            iommu_version = sec_version
            continue
        if idstr == ICP_IDSTR and cpus and icps == len(cpus) - 1:
            instance, sec_version = r.take(">II", "the icp/server header")
            if (instance, sec_version) != (cpus[-1].index, ICP_VERSION):
                raise r.fail(name_at, f"icp/server instance {instance} version {sec_version} "
                             f"after cpu {cpus[-1].index}")
            _footer(r, section_id, "icp/server")
            icps += 1
            continue
        if idstr != CPU_IDSTR:
            raise r.fail(name_at, "section is not 'cpu' (or one leading 'xive-source', an "
                         "'icp/server' after each cpu, one trailing 'spapr_iommu')")
        if 0 < icps < len(cpus):
            raise r.fail(at, f"cpu {cpus[-1].index} has no icp/server section; the first had")
        index, cpu_version, spr_pvr, spr_pcr = r.take(">IIQQ", "the cpu fields")
        if cpu_version != CPU_VERSION:
            raise r.fail(name_at, f"cpu section version {cpu_version}, expected {CPU_VERSION}")
        if index in seen:
            raise r.fail(name_at, f"duplicate cpu instance {index}")
        if spr_pvr > 0xFFFFFFFF:
            raise r.fail(name_at, f"SPR_PVR 0x{spr_pvr:x} does not fit 32 bits")
        seen.add(index)
        compat: int | None = None
        this_slb: int | None = None
        at = r.pos
        (tag,) = r.take(">B", "a subsection or footer")
        sub = r.name("a subsection name") if tag == SUBSECTION else None
        if sub == SLB_IDSTR:
            (this_slb,) = r.take(">I", "cpu/slb")
            if this_slb == 0:
                raise r.fail(at, "cpu/slb version 0")
            at = r.pos
            (tag,) = r.take(">B", "a subsection or footer")
            sub = r.name("a subsection name") if tag == SUBSECTION else None
        if cpus and this_slb != slb_version:
            raise r.fail(at, "cpu/slb differs from the first cpu's")
        slb_version = this_slb
        if sub is not None:
            if sub != COMPAT_IDSTR:
                raise r.fail(at, "unknown subsection (only cpu/slb, then cpu/compat are known)")
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
    if 0 < icps < len(cpus):
        raise r.fail(len(data) - 1, f"cpu {cpus[-1].index} has no icp/server section; the "
                     "first had")
    return MigrationStream(tuple(cpus), xive, machine, slb_version, iommu_version, icps > 0)


def _footer(r: _Reader, section_id: int, what: str) -> None:
    at = r.pos
    tag, footer_id = r.take(">BI", "a section footer")
    if tag != FOOTER or footer_id != section_id:
        raise r.fail(at, f"bad footer after {what}")
