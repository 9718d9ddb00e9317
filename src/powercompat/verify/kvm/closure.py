"""Unpack a suite's QEMU and keep only what its binary really loads.

Why: the apt closure of ``qemu-system-ppc`` is 70-120 packages (140-170 MB), but the L1
initramfs needs just the binary, the shared libraries its ELF ``DT_NEEDED`` entries reach, the
dynamic loader, and the firmware blobs the machine uses. A library deb that the mirror cannot
serve (mirror lag, releases.md) matters only if the binary needs it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from powercompat.verify.errors import AssetError

#: where Debian puts shared libraries, per architecture triplet
LIB_DIRS = ("usr/lib/{t}", "lib/{t}", "usr/lib", "lib")
TRIPLETS = {"ppc64el": "powerpc64le-linux-gnu", "amd64": "x86_64-linux-gnu"}
LOADERS = {"ppc64el": "ld64.so.2", "amd64": "ld-linux-x86-64.so.2"}


def unpack(debs: Iterable[Path], root: Path) -> Path:
    """``dpkg-deb -x`` every deb into ``root`` (cleared first)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for deb in debs:
        proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], capture_output=True,
                              text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise AssetError(f"dpkg-deb -x {deb.name}: {proc.stderr.strip()[-200:]}")
    return root


def needed(path: Path) -> list[str]:
    """The ``DT_NEEDED`` names of an ELF file (empty for a static one)."""
    try:
        with path.open("rb") as f:
            elf = ELFFile(f)
            out: list[str] = []
            for sec in elf.iter_sections():
                if isinstance(sec, DynamicSection):
                    out.extend(str(t.needed) for t in sec.iter_tags()  # type: ignore[attr-defined]
                               if t.entry.d_tag == "DT_NEEDED")
            return out
    except ELFError as err:
        raise AssetError(f"{path}: not an ELF file ({err})") from err


def find_lib(root: Path, name: str, arch: str) -> Path | None:
    for d in LIB_DIRS:
        cand = root / d.format(t=TRIPLETS[arch]) / name
        if cand.exists():
            return cand
    return None


@dataclass(frozen=True, slots=True)
class Closure:
    """A binary with its libraries: paths relative to the unpacked root."""

    root: Path
    binary: str
    libraries: tuple[str, ...]
    loader: str
    missing: tuple[str, ...]


def library_closure(root: Path, binary: str, arch: str) -> Closure:
    """Follow ``DT_NEEDED`` from ``root/binary`` through the unpacked libraries."""
    seen: dict[str, str] = {}
    missing: list[str] = []
    todo = list(needed(root / binary))
    while todo:
        name = todo.pop()
        if name in seen or name in missing:
            continue
        lib = find_lib(root, name, arch)
        if lib is None:
            missing.append(name)
            continue
        seen[name] = str(lib.relative_to(root))
        todo.extend(needed(lib.resolve()))
    loader = find_lib(root, LOADERS[arch], arch)
    if loader is None:
        missing.append(LOADERS[arch])
    return Closure(root, binary, tuple(sorted(seen.values())),
                   str(loader.relative_to(root)) if loader else "", tuple(sorted(missing)))
