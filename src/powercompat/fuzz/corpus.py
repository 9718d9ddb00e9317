"""The seed corpus: real and synthetic CAS buffers, and valid streams from a few machines.

The files under ``corpus/<target>/`` are what ``seed_corpus()`` returns plus the real
linux-6.1 ``ibm_architecture_vec_template`` (445 bytes, read from Debian's vmlinux; see
tests/data/real/linux-6.1-ibm_architecture_vec_template.json). ``write_seed_corpus``
regenerates them; a test keeps the two in step.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from powercompat.catalog.guests import GUESTS
from powercompat.inputs import FUZZ_INPUT, display_path, read_capped
from powercompat.machine.options import MachineOptions
from powercompat.machine.pseries import PseriesMachine

CORPUS_DIR: Final = Path(__file__).parent / "corpus"
REAL_CAS_SEED: Final = "linux-6.1-ibm_architecture_vec_template"

#: machines whose outgoing stream is a seed: (name, options, run CAS with linux-6.1)
_STREAM_MACHINES: Final[tuple[tuple[str, MachineOptions, bool], ...]] = (
    ("head-power9-raw", MachineOptions(cpu="power9", smp=2), False),
    ("head-power9-cas", MachineOptions(cpu="power9", smp=2), True),
    ("head-power9-max-power8-kvm-hv",
     MachineOptions(cpu="power9", smp=2, max_cpu_compat="power8", accel="kvm-hv"), True),
    ("head-power10-smt4", MachineOptions(cpu="power10", smp=8, threads=4,
                                         max_cpu_compat="power9", accel="kvm-hv"), True),
    ("7.2-power9-max-power7+", MachineOptions(cpu="power9", smp=1, max_cpu_compat="power7+",
                                              qemu="7.2"), True),
    ("2.9-power8", MachineOptions(cpu="power8,compat=power7", smp=2, qemu="2.9",
                                  accel="kvm-hv"), True),
    # a stable build without the icp/server sections (24ee9229 until 10.0.5)
    ("10.0.2-power9-no-icp", MachineOptions(cpu="power9", smp=2, qemu="10.0.2"), True),
)


def _stream(options: MachineOptions, cas: bool) -> bytes:
    machine = PseriesMachine.from_options(options)
    machine.realize()
    machine.reset()
    if cas:
        machine.cas(GUESTS[0].cas_buffer)
    return machine.migrate_out()


def seed_corpus(target: str) -> dict[str, bytes]:
    """The synthetic seeds of ``target`` (``cas`` or ``migration``), by file name."""
    if target == "cas":
        seeds = {f"guest-{g.name}": g.cas_buffer for g in GUESTS}
        seeds["terminator-only"] = struct.pack(">II", 0xFFFFFFFE, 0x0F000001)
        seeds["all-zero-512"] = bytes(4096)
        seeds["all-ones-pair"] = b"\xff" * 8
        seeds["truncated-pair"] = GUESTS[0].cas_buffer[:13]
        return seeds
    return {f"stream-{name}": _stream(options, cas) for name, options, cas in _STREAM_MACHINES}


def iter_corpus(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    """Every input under ``paths`` (files or directories, sorted by name), read one at a time.

    Inside a directory only regular files are inputs (libFuzzer skips the rest too); a path
    named directly must be a regular file or a directory. Each file goes through the capped
    reader (:data:`powercompat.inputs.FUZZ_INPUT`, 1 MiB).

    :raises InputFileError: a FIFO, device or socket named directly, or an input over the cap.
    """
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            yield display_path(file), read_capped(file, FUZZ_INPUT)


def load_corpus(paths: list[Path]) -> list[tuple[str, bytes]]:
    """Every input under ``paths``, as :func:`iter_corpus` reads them."""
    return list(iter_corpus(paths))


def write_seed_corpus(root: Path = CORPUS_DIR, real_cas: bytes | None = None) -> None:
    """Write the seeds (and the real buffer, when given) under ``root/<target>/``."""
    for target in ("cas", "migration"):
        directory = root / target
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in seed_corpus(target).items():
            (directory / name).write_bytes(data)
    if real_cas is not None:
        (root / "cas" / REAL_CAS_SEED).write_bytes(real_cas)
