"""A tiny initramfs (gzip newc cpio) written in pure Python.

Why: the guest only has to print what it negotiated and power off; a cpio tool or root is not
needed for that. The newc format is described in the Linux tree,
``Documentation/driver-api/early-userspace/buffer-format.rst``: a 110-byte ASCII header
(``070701`` + 13 eight-digit hex fields), the NUL-terminated name padded to 4 bytes, the data
padded to 4 bytes, and a ``TRAILER!!!`` entry.
"""

from __future__ import annotations

import gzip
import stat
from dataclasses import dataclass
from pathlib import Path

#: Console markers printed by ``/init``; signals.py reads between them.
CPUINFO_BEGIN = "@@POWERCOMPAT-CPUINFO-BEGIN@@"
CPUINFO_END = "@@POWERCOMPAT-CPUINFO-END@@"
CPU_VERSION_TAG = "@@POWERCOMPAT-CPU-VERSION"
DONE = "@@POWERCOMPAT-DONE@@"

#: the pieces every ``/init`` is made of: set up, print each CPU's cpu-version, finish
INIT_PROLOGUE = """#!/bin/sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
"""
PRINT_CPU_VERSIONS = f"""for f in /proc/device-tree/cpus/*@*/cpu-version; do
  echo "{CPU_VERSION_TAG} $f $(hexdump -v -e '1/1 "%02x"' "$f")"
done
"""
INIT_EPILOGUE = f"""echo {DONE}
poweroff -f
"""

INIT_SCRIPT = (INIT_PROLOGUE + f"""echo {CPUINFO_BEGIN}
cat /proc/cpuinfo
echo {CPUINFO_END}
""" + PRINT_CPU_VERSIONS + INIT_EPILOGUE)

_MAGIC = b"070701"
_TRAILER = "TRAILER!!!"
_DIRS = ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp")


@dataclass(frozen=True, slots=True)
class CpioEntry:
    """One member of a newc archive."""

    name: str
    mode: int
    data: bytes = b""
    rdevmajor: int = 0
    rdevminor: int = 0


def _pad4(n: int) -> bytes:
    return b"\0" * (-n % 4)


def _header(ino: int, entry: CpioEntry) -> bytes:
    name = entry.name.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = (
        ino, entry.mode, 0, 0, nlink, 0, len(entry.data),
        0, 0, entry.rdevmajor, entry.rdevminor, len(name), 0,
    )  # fmt: skip
    head = _MAGIC + b"".join(b"%08X" % f for f in fields) + name
    return head + _pad4(len(head))


def write_newc(entries: list[CpioEntry]) -> bytes:
    """Serialise ``entries`` as an uncompressed newc archive, trailer included."""
    out = bytearray()
    for ino, entry in enumerate([*entries, CpioEntry(_TRAILER, 0)], start=1):
        out += _header(ino, entry) + entry.data + _pad4(len(entry.data))
    return bytes(out)


def read_newc(blob: bytes) -> list[CpioEntry]:
    """Parse a newc archive back into entries (for tests and for checking a cached initrd)."""
    entries: list[CpioEntry] = []
    pos = 0
    while True:
        if blob[pos : pos + 6] != _MAGIC:
            raise ValueError(f"bad newc magic at byte {pos}")
        f = [int(blob[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = f[11], f[6]
        name_start = pos + 110
        name = blob[name_start : name_start + namesize - 1].decode()
        data_start = name_start + namesize + (-(110 + namesize) % 4)
        data = blob[data_start : data_start + filesize]
        pos = data_start + filesize + (-filesize % 4)
        if name == _TRAILER:
            return entries
        entries.append(CpioEntry(name, f[1], data, f[9], f[10]))


def initramfs_entries(busybox: bytes, init: str = INIT_SCRIPT) -> list[CpioEntry]:
    """The members of the harness initramfs: dirs, ``/dev/console`` (5:1), busybox, ``/init``."""
    entries = [CpioEntry(d, stat.S_IFDIR | 0o755) for d in _DIRS]
    entries.append(CpioEntry("dev/console", stat.S_IFCHR | 0o600, rdevmajor=5, rdevminor=1))
    entries.append(CpioEntry("bin/busybox", stat.S_IFREG | 0o755, busybox))
    entries.append(CpioEntry("bin/sh", stat.S_IFLNK | 0o777, b"busybox"))
    entries.append(CpioEntry("init", stat.S_IFREG | 0o755, init.encode()))
    return entries


def build_initramfs(busybox: Path, dest: Path, init: str = INIT_SCRIPT) -> Path:
    """Write the gzip-compressed initramfs for ``busybox`` to ``dest`` (atomically)."""
    blob = gzip.compress(write_newc(initramfs_entries(busybox.read_bytes(), init)), mtime=0)
    tmp = dest.with_suffix(dest.suffix + ".tmp")
    tmp.write_bytes(blob)
    tmp.replace(dest)
    return dest
