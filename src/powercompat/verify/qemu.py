"""One QEMU binary, however it is run: installed, extracted from another suite, or one's own.

Why an argv prefix: another Debian suite's QEMU is not installed here, only its package
closure extracted into a folder (releases.md), so it must be started through that folder's own
dynamic loader with that folder's libraries and firmware::

    ROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 \\
        --library-path ROOT/usr/lib/x86_64-linux-gnu:ROOT/lib/x86_64-linux-gnu \\
        ROOT/usr/bin/qemu-system-ppc64 -L ROOT/usr/share/qemu ...

(bullseye keeps its loader in ``ROOT/lib/x86_64-linux-gnu``). Every spawn of QEMU asks a
:class:`QemuBinary` for its argv, so the boot, the probes and the catalogue never care which
kind they run. The release a run is judged under comes from the binary's own ``--version``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from powercompat.verify import process
from powercompat.verify.errors import EnvironmentProblem

PROGRAM = "qemu-system-ppc64"
LOADER = "ld-linux-x86-64.so.2"
LIB_DIRS = ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu")
#: ``qemu --version`` must answer within this many seconds (a hung binary is an error)
VERSION_TIMEOUT = 15.0

# "QEMU emulator version 10.0.13 (Debian 1:10.0.13+ds-0+deb13u1)" (softmmu/vl.c version())
_VERSION = re.compile(r"\bversion (\d+)\.(\d+)(?:\.(\d+))?")
_DEBIAN = re.compile(r"\(Debian ([^)\s]+)\)")


@dataclass(frozen=True, slots=True)
class QemuBinary:
    """How to start one ``qemu-system-ppc64``: optional loader and library path, the binary,
    an optional firmware/data folder (``-L``)."""

    binary: Path
    loader: Path | None = None
    library_path: tuple[Path, ...] = ()
    datadir: Path | None = None

    @classmethod
    def of(cls, qemu: QemuBinary | str | Path) -> QemuBinary:
        """A plain path or program name means a binary run directly."""
        return qemu if isinstance(qemu, QemuBinary) else cls(Path(qemu))

    @classmethod
    def from_root(cls, root: Path) -> QemuBinary:
        """The QEMU of an extracted package closure, run through the root's own loader.

        :raises EnvironmentProblem: the root holds no loader or no ``qemu-system-ppc64``.
        """
        binary = root / "usr" / "bin" / PROGRAM
        if not binary.is_file():
            raise EnvironmentProblem(f"{root} holds no usr/bin/{PROGRAM}")
        loaders = [root / d / LOADER for d in LIB_DIRS if (root / d / LOADER).exists()]
        if not loaders:
            raise EnvironmentProblem(f"{root} holds no {LOADER} under {' or '.join(LIB_DIRS)}")
        datadir = root / "usr" / "share" / "qemu"
        return cls(
            binary=binary,
            loader=loaders[0],
            library_path=tuple(root / d for d in LIB_DIRS),
            datadir=datadir if datadir.is_dir() else None,
        )

    @property
    def prefix(self) -> list[str]:
        """The argv before QEMU's own options."""
        head: list[str] = []
        if self.loader is not None:
            head = [str(self.loader), "--library-path", ":".join(map(str, self.library_path))]
        head.append(str(self.binary))
        if self.datadir is not None:
            head += ["-L", str(self.datadir)]
        return head

    def argv(self, *args: str) -> list[str]:
        """The full command line for QEMU options ``args``."""
        return [*self.prefix, *args]

    @property
    def name(self) -> str:
        """What to call this binary in messages."""
        return str(self.binary)

    def to_json(self) -> dict[str, Any]:
        return {
            "binary": str(self.binary),
            "loader": None if self.loader is None else str(self.loader),
            "library_path": [str(p) for p in self.library_path],
            "datadir": None if self.datadir is None else str(self.datadir),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> QemuBinary:
        return cls(
            binary=Path(d["binary"]),
            loader=None if d.get("loader") is None else Path(d["loader"]),
            library_path=tuple(Path(p) for p in d.get("library_path", ())),
            datadir=None if d.get("datadir") is None else Path(d["datadir"]),
        )


@dataclass(frozen=True, slots=True)
class QemuVersion:
    """What ``--version`` said: the first line word for word, and the parts read from it."""

    line: str
    release: str  # "10.0": major.minor, what a profile is chosen by
    version: str  # "10.0.13"
    debian_version: str | None  # "1:10.0.13+ds-0+deb13u1" for a Debian build

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "release": self.release, "version": self.version,
                "debian_version": self.debian_version}


def parse_version(line: str) -> QemuVersion:
    """Read release, version and Debian version out of a ``--version`` first line.

    :raises EnvironmentProblem: the line names no ``version X.Y``.
    """
    m = _VERSION.search(line)
    if m is None:
        raise EnvironmentProblem(f"not a QEMU version line: {line!r}")
    major, minor, micro = m.group(1), m.group(2), m.group(3) or "0"
    d = _DEBIAN.search(line)
    return QemuVersion(
        line=line,
        release=f"{int(major)}.{int(minor)}",
        version=f"{int(major)}.{int(minor)}.{int(micro)}",
        debian_version=d.group(1) if d else None,
    )


def query_version(qemu: QemuBinary | str | Path, timeout: float = VERSION_TIMEOUT) -> QemuVersion:
    """Ask the binary itself (``--version``) which QEMU it is.

    :raises EnvironmentProblem: it cannot be run, fails, hangs past ``timeout``, or prints
        no version line.
    """
    binary = QemuBinary.of(qemu)
    proc = process.run(binary.argv("--version"), timeout=timeout)
    lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(
            f"{binary.name} --version exited {proc.returncode}: {tail}")
    if not lines:
        raise EnvironmentProblem(f"{binary.name} --version printed nothing")
    return parse_version(lines[0])
