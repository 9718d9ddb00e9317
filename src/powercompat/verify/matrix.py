"""Run a CPU model x max-cpu-compat matrix of real boots and keep each cell's observations.

Why a matrix: it covers every branch of QEMU's start-up check (``pcc_compat``) and of CAS
(``cas_check_pvr``) that one Linux guest can reach; comparison with the engine is a separate
step (compare.py), so recorded files hold observations only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from powercompat.inputs import (
    RECORDED_RESULTS,
    InputFileError,
    check_record,
    decode_utf8,
    display_path,
    loads_json,
    read_capped,
)
from powercompat.verify import signals
from powercompat.verify.assets import Assets, ensure_assets
from powercompat.verify.boot import BootOutput, BootSpec, Firmware, StopReason, boot
from powercompat.verify.errors import RecordError
from powercompat.verify.qemu import QemuBinary

#: QEMU ``-cpu`` names of the default matrix, oldest first.
DEFAULT_CPUS = ("power7", "power8", "power9", "power10")
#: ``None`` = max-cpu-compat left unset; the rest are QEMU 7.2's table names (compat.c).
DEFAULT_MODES: tuple[str | None, ...] = (
    None, "power6", "power7", "power7+", "power8", "power9", "power10",
)  # fmt: skip
#: max-cpu-compat power11 and the POWER11 CPU arrived in QEMU 10.0
NEWEST_MODE = "power11"
#: VOF (x-vof=on) arrived in QEMU 6.1; older releases boot with SLOF
VOF_SINCE = (6, 1)
CONSOLE_TAIL_LINES = 40
SCHEMA = "powercompat-verify/1"


@dataclass(frozen=True, slots=True)
class CellResult:
    """What one real boot showed; every field is an observation, none is a verdict."""

    cpu: str
    max_cpu_compat: str | None
    firmware: str
    argv: tuple[str, ...]
    startup_error: str | None  # QEMU's exact message, prefix split off
    startup_error_prefix: str | None
    trace_current: int | None  # spapr_cas_pvr: mode before CAS (0 = raw)
    trace_new: int | None  # spapr_cas_pvr: chosen mode (0 = raw or failed)
    trace_explicit_match: bool | None
    cas_trace_count: int
    cpu_versions: tuple[int, ...]  # DT cpu-version of each vCPU, as the guest read it
    guest_cpu_line: str | None  # /proc/cpuinfo "cpu"
    guest_revision: str | None  # /proc/cpuinfo "revision" (always the real PVR)
    guest_mmu: str | None  # /proc/cpuinfo "MMU"
    hardware_name: str | None
    hardware_real_pvr: int | None
    hardware_compat_pvr: int | None
    cas_failed: bool
    init_sigill: bool
    os_panic: str | None
    returncode: int | None
    stop_reason: str
    stopped_by: str
    console_tail: tuple[str, ...]
    wall_seconds: float
    smp: int = 1  # vCPUs booted (files recorded before this field were all -smp 1)
    threads: int = 1  # threads per core (files recorded before this field: 1)

    @property
    def started(self) -> bool:
        return self.startup_error is None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["argv"] = list(self.argv)
        d["cpu_versions"] = list(self.cpu_versions)
        d["console_tail"] = list(self.console_tail)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CellResult:
        d = dict(d)
        for k in ("argv", "cpu_versions", "console_tail"):
            d[k] = tuple(d[k])
        return cls(**d)


def cell_from_output(spec: BootSpec, out: BootOutput) -> CellResult:
    """Apply every parser of signals.py to one boot's raw output."""
    traces = signals.cas_traces(out.stderr)
    last = traces[-1] if traces else None
    # A refusal is QEMU ending by itself with a failure status before CAS or any console
    # output; a guest that hangs silently (stopped on timeout) was not refused.
    refused = (
        out.stop_reason is StopReason.EXITED
        and out.returncode != 0
        and not traces
        and not out.console.strip()
    )
    err = signals.startup_error(out.stderr) if refused else None
    info = signals.cpuinfo(out.console)
    hw = signals.hardware_name(out.console)
    tail = [ln.rstrip("\r") for ln in out.console.splitlines()][-CONSOLE_TAIL_LINES:]
    return CellResult(
        cpu=spec.cpu,
        max_cpu_compat=spec.max_cpu_compat,
        firmware=spec.firmware.value,
        argv=out.argv,
        startup_error=err.message if err else None,
        startup_error_prefix=err.prefix if err else None,
        trace_current=last.current if last else None,
        trace_new=last.new if last else None,
        trace_explicit_match=last.explicit_match if last else None,
        cas_trace_count=len(traces),
        cpu_versions=tuple(v for _path, v in signals.cpu_versions(out.console)),
        guest_cpu_line=signals.cpuinfo_field(info, "cpu"),
        guest_revision=signals.cpuinfo_field(info, "revision"),
        guest_mmu=signals.cpuinfo_field(info, "MMU"),
        hardware_name=hw.line if hw else None,
        hardware_real_pvr=hw.real_pvr if hw else None,
        hardware_compat_pvr=hw.compat_pvr if hw else None,
        cas_failed=signals.cas_failed(out.stderr),
        init_sigill=signals.init_sigill(out.console),
        os_panic=signals.os_panic(out.stderr),
        returncode=out.returncode,
        stop_reason=out.stop_reason.value,
        stopped_by=out.stopped_by,
        console_tail=tuple(tail),
        wall_seconds=out.seconds,
        smp=spec.smp,
        threads=spec.threads,
    )


def default_firmware(release: str) -> Firmware:
    """VOF where the release has it (6.1 and later), else SLOF."""
    major, _, minor = release.partition(".")
    try:
        have_vof = (int(major), int(minor or 0)) >= VOF_SINCE
    except ValueError:
        have_vof = True
    return Firmware.VOF if have_vof else Firmware.SLOF


def knows_mode(qemu: QemuBinary, mode: str = NEWEST_MODE) -> bool:
    """Does this binary have ``max-cpu-compat=mode``? Asked with one start-up probe: a
    release without it says 'Invalid compatibility mode' (no timing involved)."""
    from powercompat.verify.catalog import run_startup_probe

    probe = run_startup_probe(qemu, "power10", mode)
    return not (probe.startup_error or "").startswith("Invalid compatibility mode")


def matrix_specs(
    cpus: Sequence[str] = DEFAULT_CPUS,
    modes: Sequence[str | None] = DEFAULT_MODES,
    firmware: Firmware = Firmware.VOF,
    smp: int = 1,
    timeout: float | None = None,
    threads: int = 1,
) -> list[BootSpec]:
    """Cells in row order: each CPU with every mode."""
    return [BootSpec(cpu=c, max_cpu_compat=m, firmware=firmware, smp=smp, timeout=timeout,
                     threads=threads) for c in cpus for m in modes]


@dataclass(frozen=True, slots=True)
class MatrixRun:
    """A finished matrix with the provenance every recorded file carries."""

    assets: Assets
    firmware: str
    jobs: int
    started_at: str
    wall_seconds: float
    cells: tuple[CellResult, ...]
    host: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            **self.assets.header(),
            "firmware": self.firmware,
            "date": self.started_at,
            "jobs": self.jobs,
            "host": self.host,
            "kernel_append": self.cells[0].argv[-1] if self.cells else None,
            "matrix_wall_seconds": self.wall_seconds,
            "cells": [c.to_json() for c in self.cells],
        }


async def run_matrix_async(
    specs: Sequence[BootSpec],
    assets: Assets,
    *,
    jobs: int = 2,
    progress: Callable[[CellResult], None] | None = None,
) -> MatrixRun:
    """Boot every spec, at most ``jobs`` at a time; results keep the order of ``specs``."""
    gate = asyncio.Semaphore(max(1, jobs))
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()

    async def one(spec: BootSpec) -> CellResult:
        async with gate:
            out = await boot(spec, assets.qemu, assets.vmlinux, assets.initrd)
        cell = cell_from_output(spec, out)
        if progress is not None:
            progress(cell)
        return cell

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    cells = await asyncio.gather(*(one(s) for s in specs))
    wall = round(loop.time() - t0, 3)
    firmware = ",".join(sorted({s.firmware.value for s in specs}))
    host = {"machine": platform.machine(), "python": platform.python_version()}
    return MatrixRun(assets, firmware, jobs, started_at, wall, tuple(cells), host)


def run_matrix(
    assets: Assets | None = None,
    *,
    cpus: Sequence[str] = DEFAULT_CPUS,
    modes: Sequence[str | None] = DEFAULT_MODES,
    firmware: Firmware | str = Firmware.VOF,
    jobs: int = 2,
    progress: Callable[[CellResult], None] | None = None,
    smp: int = 1,
    timeout: float | None = None,
    threads: int = 1,
) -> MatrixRun:
    """Plain entry point for the CLI: run the matrix and return its results.

    Without ``assets`` it calls :func:`ensure_assets` (default cache) first; pass them to keep
    set-up out of the measured time. ``progress`` is called once per finished cell.
    """
    if assets is None:
        assets = ensure_assets()
    specs = matrix_specs(cpus, modes, Firmware(firmware), smp, timeout, threads)
    return asyncio.run(run_matrix_async(specs, assets, jobs=jobs, progress=progress))


#: header keys every recorded matrix file carries (judge_file needs the two versions)
_HEADER_KEYS = ("qemu_version", "kernel_version")


def load_cells(path: Path) -> tuple[dict[str, Any], tuple[CellResult, ...]]:
    """Read a recorded file: its header and its cells.

    :raises RecordError: not a regular file, over 16 MiB, not strict JSON, not a matrix file,
        or a cell with a missing, extra or wrongly typed field (named with the cell).
    """
    label = display_path(path)
    try:  # the capped reader and strict JSON (issue #12)
        data = loads_json(decode_utf8(read_capped(path, RECORDED_RESULTS), label), label)
    except InputFileError as err:
        spot = f"{err.where}: " if err.where else ""
        raise RecordError(f"{label}: not a readable JSON file ({spot}{err.problem})") from err
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise RecordError(f"{label}: not a recorded matrix (no 'cells' list)")
    missing = [k for k in _HEADER_KEYS if not isinstance(data.get(k), str)]
    if missing:
        raise RecordError(f"{label}: header lacks {', '.join(missing)}")
    cells = []
    for i, raw in enumerate(data["cells"]):
        try:  # every field typed: a wrong type is a malformed record, never a mismatch
            checked = check_record(raw, CellResult, label, None, free_text=("console_tail",))
            if checked.get("smp", 1) < 1:
                raise InputFileError(label, "field 'smp': must be at least 1")
            if checked.get("threads", 1) < 1:
                raise InputFileError(label, "field 'threads': must be at least 1")
        except InputFileError as err:
            raise RecordError(f"{label}: cell {i} is malformed ({err.problem})") from err
        cells.append(CellResult.from_json(checked))
    return {k: v for k, v in data.items() if k != "cells"}, tuple(cells)
