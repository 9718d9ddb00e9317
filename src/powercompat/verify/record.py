"""Record real-QEMU observations under ``tests/data/real/`` (never edited by hand).

Why a module of its own: each file carries its provenance (QEMU version string, kernel and
busybox package versions, date, command) so a later reader can tell which QEMU said what.

Usage: ``python -m powercompat.verify.record KIND OUT.json [--release R] [--guest G]
[--cpus LIST] [--modes LIST] [--firmware vof|slof] [--jobs N]`` with KIND one of matrix,
probes, smt, vector, cpuspecs, oldcpus, pcr, patched, migration, hotplug. Assets come from the cache
(``verify setup`` fetches what is missing). Boots belong under the machine's TCG lock.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from powercompat.verify import process
from powercompat.verify.assets import Assets, ensure_assets
from powercompat.verify.boot import BootSpec, Firmware
from powercompat.verify.catalog import METHOD as CATALOG_METHOD
from powercompat.verify.catalog import run_startup_probe
from powercompat.verify.errors import BootError
from powercompat.verify.gdbpcr import HOLD_INIT, HOLD_TAG, GuestStopped, read_pcr
from powercompat.verify.initramfs import build_initramfs
from powercompat.verify.matrix import (
    DEFAULT_CPUS,
    DEFAULT_MODES,
    default_firmware,
    matrix_specs,
    run_matrix,
)
from powercompat.verify.probes import DEFAULT_PROBES, run_probe, smt_probes
from powercompat.verify.qemu import QemuBinary
from powercompat.verify.report import prepare_output_file, write_json
from powercompat.verify.vector import CPU_SPECS, SYMBOL, pvr_pairs, read_cpu_specs, read_symbol


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _header(assets: Assets, argv: list[str]) -> dict[str, Any]:
    return {
        **assets.header(),
        "date": _now(),
        "command": _command(argv),
    }


def _command(argv: list[str]) -> str:
    return "python -m powercompat.verify.record " + shlex.join(argv)


def record_probes(assets: Assets, out: Path, argv: list[str]) -> dict[str, Any]:
    """Start-up probes (``-machine dumpdtb``): exact refusals and pre-CAS ``cpu-version``."""
    data = {
        **_header(assets, argv),
        "method": "qemu-system-ppc64 -M pseries[,max-cpu-compat=X],dumpdtb=FILE -cpu CPU "
        "-m 1G -nodefaults -display none -monitor none [extra]",
        "probes": [run_probe(assets.qemu, p).to_json() for p in DEFAULT_PROBES],
    }
    out.write_text(json.dumps(data, indent=2) + "\n")
    return data


def record_smt(assets: Assets, out: Path, argv: list[str]) -> dict[str, Any]:
    """Threads per core under TCG (no guest runs): every ``--cpus`` x ``--modes`` x
    probes.SMT_SPECS, started or refused with each release's words (verify catalog's
    ``-S``/``quit`` method, which every release takes)."""
    qemu = QemuBinary.of(assets.qemu)
    data = {
        **_header(assets, argv),
        "method": f"{CATALOG_METHOD}; with -smp N,threads=T",
        "probes": [run_startup_probe(qemu, p.cpu, p.max_cpu_compat, p.note, p.extra).to_json()
                   for p in smt_probes(_OPTIONS.cpus, _OPTIONS.modes)],
    }
    out.write_text(json.dumps(data, indent=2) + "\n")
    return data


def record_vector(assets: Assets, out: Path, argv: list[str]) -> dict[str, Any]:
    """The guest kernel's ``ibm_architecture_vec_template`` bytes, as hex."""
    sym = read_symbol(assets.vmlinux, SYMBOL)
    data = {
        **_header(assets, argv),
        "vmlinux": assets.vmlinux.name,
        "symbol": sym.name,
        "section": sym.section,
        "address": f"0x{sym.address:016x}",
        "size": sym.size,
        "byte_order": "big",
        "pvr_pairs": [[f"0x{m:08x}", f"0x{v:08x}"] for m, v in pvr_pairs(sym.data)],
        "hex": sym.data.hex(),
    }
    out.write_text(json.dumps(data, indent=2) + "\n")
    return data


def record_cpu_specs(assets: Assets, out: Path, argv: list[str]) -> dict[str, Any]:
    """The guest kernel's ``cpu_specs[]`` rows: the names it prints for each PVR."""
    rows = read_cpu_specs(assets.vmlinux)
    data = {
        **_header(assets, argv),
        "vmlinux": assets.vmlinux.name,
        "symbol": CPU_SPECS,
        "method": "struct cpu_spec rows of the vmlinux symbol cpu_specs (stride: the size of "
        "the_cpu_spec), fields pvr_mask, pvr_value, cpu_name, cpu_features, cpu_user_features "
        "read little-endian; first match wins",
        "rows": [r.to_json() for r in rows],
    }
    out.write_text(json.dumps(data, indent=2) + "\n")
    return data


def record_matrix(assets: Assets, out: Path, argv: list[str]) -> dict[str, Any]:
    """A CPU x max-cpu-compat matrix of real boots (``--cpus``, ``--modes``, ``--firmware``)."""
    opts = _OPTIONS
    firmware = opts.firmware or default_firmware(assets.qemu_release).value
    run = run_matrix(assets, cpus=opts.cpus, modes=opts.modes, firmware=firmware,
                     jobs=opts.jobs, timeout=opts.timeout, smp=opts.smp, threads=opts.threads)
    write_json(run, out, extra={"command": _command(argv)})
    return run.to_json()


def record_oldcpus(assets: Assets, out: Path, argv: list[str]) -> dict[str, Any]:
    """Boot CPUs older than POWER6 (no compat modes at all): what CAS does with them."""
    run = run_matrix(assets, cpus=["970", "power5+"], modes=[None, "power6"],
                     firmware=default_firmware(assets.qemu_release).value)
    write_json(run, out, extra={"command": _command(argv)})
    return run.to_json()


def record_pcr(assets: Assets, out: Path, argv: list[str]) -> dict[str, Any]:
    """PCR and PVR of vCPU 0 after CAS, read through the gdbstub, for every ``--cpus`` x
    ``--modes`` cell (the release's default firmware unless ``--firmware``)."""

    async def all_cells() -> list[dict[str, Any]]:
        gate = asyncio.Semaphore(2)

        async def one(spec: BootSpec) -> dict[str, Any]:
            async with gate:
                try:
                    try:
                        reading = await read_pcr(spec, assets.qemu, assets.vmlinux, initrd,
                                                 ready=HOLD_TAG)
                    except GuestStopped:  # its init dies: the kernel's first line it is
                        reading = await read_pcr(spec, assets.qemu, assets.vmlinux, initrd)
                except BootError as err:
                    return {"cpu": spec.cpu, "max_cpu_compat": spec.max_cpu_compat,
                            "error": str(err)}  # fmt: skip
                return reading.to_json()

        opts = _OPTIONS
        firmware = Firmware(opts.firmware or default_firmware(assets.qemu_release).value)
        specs = matrix_specs(opts.cpus, opts.modes, firmware, timeout=opts.timeout)
        # every cell runs to its end (each stops its own QEMU) before a harness bug in one of
        # them is raised: one cell's surprise must not leave the others' cleanup pending
        got = await asyncio.gather(*(one(s) for s in specs), return_exceptions=True)
        for g in got:
            if isinstance(g, BaseException):
                raise g
        return [g for g in got if isinstance(g, dict)]

    with process.temp_dir(prefix="pcv-pcr-") as work:
        initrd = build_initramfs(assets.busybox, work / "initrd.gz", HOLD_INIT)
        readings = asyncio.run(all_cells())
    data = {
        **_header(assets, argv),
        "method": "boot with -gdb tcp:127.0.0.1:PORT; after CAS, once the guest's /init says "
        f"{HOLD_TAG} (then sleeps; a guest whose init dies is booted again and read at the "
        "kernel's first line), attach (QEMU stops the VM), read target.xml features, 'p' the "
        "pvr and pcr registers",
        "readings": readings,
    }
    out.write_text(json.dumps(data, indent=2) + "\n")
    return data


def record_patched(assets: Assets, out: Path, argv: list[str]) -> dict[str, Any]:
    """Boots of the real kernel with its PVR list patched (verify/patched.py CASES)."""
    from powercompat.verify.patched import CASES, run_case

    async def all_cases(work: Path) -> list[dict[str, Any]]:
        return [await run_case(case, assets, work) for case in CASES]

    with process.temp_dir(prefix="pcv-patched-") as tmp:
        observations = asyncio.run(all_cases(tmp))
    data = {
        **_header(assets, argv),
        "method": "the kernel's ibm_architecture_vec_template PVR list overwritten in a copy "
        "of vmlinux (same length, terminator last), booted with VOF; kernel_reached_userspace "
        "is true when the initramfs printed anything or init died with SIGILL",
        "boots": observations,
    }
    out.write_text(json.dumps(data, indent=2) + "\n")
    return data


def record_migration(assets: Assets, out: Path, argv: list[str]) -> dict[str, Any]:
    """Live migrations between two real QEMUs on loopback (verify/migration.py CASES)."""
    from powercompat.verify.migration import APPEND, CASES, run_case

    async def all_cases() -> list[dict[str, Any]]:
        return [await run_case(case, assets) for case in CASES]

    data = {
        **_header(assets, argv),
        "method": "source: VOF, -action panic=pause, kernel append '" + APPEND + "', booted "
        "through CAS; destination: the same with -incoming tcp:127.0.0.1:PORT; QMP migrate, "
        "then query-migrate on the source and query-status on the destination",
        "migrations": asyncio.run(all_cases()),
    }
    out.write_text(json.dumps(data, indent=2) + "\n")
    return data


def record_hotplug(assets: Assets, out: Path, argv: list[str]) -> dict[str, Any]:
    """CPU hot-plug after CAS, read back from the guest's device tree (verify/hotplug.py)."""
    from powercompat.verify.hotplug import CASES, run_case

    async def all_cases() -> list[dict[str, Any]]:
        return [await run_case(case, assets) for case in CASES]

    data = {
        **_header(assets, argv),
        "method": "VOF, -smp 1,maxcpus=2; after the guest's /init prints READY (CAS is over), "
        "QMP device_add of core 1; /init waits for the second cpus/*@* node and prints every "
        "cpu-version",
        "hotplugs": asyncio.run(all_cases()),
    }
    out.write_text(json.dumps(data, indent=2) + "\n")
    return data


_RECORDERS = {
    "cpuspecs": record_cpu_specs,
    "hotplug": record_hotplug,
    "matrix": record_matrix,
    "migration": record_migration,
    "patched": record_patched,
    "probes": record_probes,
    "smt": record_smt,
    "vector": record_vector,
    "oldcpus": record_oldcpus,
    "pcr": record_pcr,
}


@dataclass
class _Options:
    cpus: list[str]
    modes: list[str | None]
    firmware: str | None
    jobs: int
    timeout: float | None = None
    smp: int = 1
    threads: int = 1


_OPTIONS = _Options(list(DEFAULT_CPUS), list(DEFAULT_MODES), None, 2)


def _modes(text: str) -> list[str | None]:
    return [None if m == "unset" else m for m in text.split(",")]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m powercompat.verify.record",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(_RECORDERS))
    parser.add_argument("out", type=Path)
    parser.add_argument("--release", default=None)
    parser.add_argument("--guest", default=None)
    parser.add_argument("--cpus", default=",".join(DEFAULT_CPUS))
    parser.add_argument("--modes", default=",".join(m or "unset" for m in DEFAULT_MODES))
    parser.add_argument("--firmware", choices=("vof", "slof"), default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--smp", type=int, default=1, help="matrix: vCPUs per guest")
    parser.add_argument("--threads", type=int, default=1, help="matrix: threads per core")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per boot (default: 30 VOF, 60 SLOF)")
    args = parser.parse_args(argv)
    global _OPTIONS
    _OPTIONS = _Options(args.cpus.split(","), _modes(args.modes), args.firmware, args.jobs,
                        args.timeout, args.smp, args.threads)
    prepare_output_file(args.out)
    with process.guard():
        assets = ensure_assets(progress=lambda m: print(f"setup: {m}", file=sys.stderr),
                               release=args.release, guest=args.guest)
        _RECORDERS[args.kind](assets, args.out, argv)
    print(f"recorded {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
