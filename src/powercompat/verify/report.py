"""Write a matrix run as JSON (the recorded observation) and as a Markdown table (for people).

Why two: the JSON is the regression data the normal test suite replays against the engine; the
Markdown is what a reviewer reads. Both come from the same ``MatrixRun`` value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from powercompat.verify.errors import EnvironmentProblem
from powercompat.verify.matrix import CellResult, MatrixRun


def prepare_output_dir(path: Path, what: str = "report folder") -> Path:
    """Make sure ``path`` is a folder we can write, before any guest boots (issue #12 item 5).

    A test file is written and removed, since root passes ``access()`` checks even where a
    write fails (under ``/proc``).

    :raises EnvironmentProblem: it is a file, or cannot be made or written.
    """
    probe = path / f".powercompat-write-test-{os.getpid()}"
    try:
        if path.exists() and not path.is_dir():
            raise EnvironmentProblem(f"{what} {path} is not a folder")
        path.mkdir(parents=True, exist_ok=True)
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise EnvironmentProblem(
            f"{what} {path} is not writable: {err.strerror or err}") from err
    return path


def prepare_output_file(path: Path, what: str = "output file") -> Path:
    """Same check for a file to be written later: its folder must be writable, and the path
    itself must not be a folder.

    :raises EnvironmentProblem: it cannot be written.
    """
    if path.is_dir():
        raise EnvironmentProblem(f"{what} {path} is a folder")
    prepare_output_dir(path.parent, f"folder of {what}")
    return path


def hex32(value: int | None) -> str:
    """``0x%08x`` as QEMU prints a 32-bit PVR, or ``-``."""
    return "-" if value is None else f"0x{value:08x}"


def write_json(run: MatrixRun, path: Path, *, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``run`` (plus ``extra`` header keys, e.g. the command used) to ``path``."""
    data = run.to_json()
    if extra:
        cells = data.pop("cells")
        data.update(extra)
        data["cells"] = cells
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def _outcome(c: CellResult) -> str:
    if c.startup_error is not None:
        return f"refused: {c.startup_error}"
    bits = []
    if c.cas_failed:
        bits.append("CAS failed")
    if c.init_sigill:
        bits.append("init SIGILL")
    if c.stop_reason == "timeout":
        bits.append("hung")
    return ", ".join(bits) or "ok"


def markdown(run: MatrixRun, verdicts: Sequence[str] | None = None) -> str:
    """A Markdown report: provenance, then one table row per cell."""
    a = run.assets
    lines = [
        f"# Real QEMU matrix ({run.firmware})",
        "",
        f"- QEMU: `{a.qemu_version}`",
        f"- guest kernel: `{a.kernel_package}` `{a.kernel_version}`; busybox `{a.busybox_version}`",
        f"- date: {run.started_at}; jobs: {run.jobs}; matrix wall time: {run.wall_seconds:.1f} s",
        "",
        "| cpu | max-cpu-compat | trace current | trace new | DT cpu-version | guest cpu "
        "| outcome | s |" + (" verdict |" if verdicts else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if verdicts else ""),
    ]
    for i, c in enumerate(run.cells):
        dtv = ", ".join(hex32(v) for v in c.cpu_versions) or "-"
        row = (
            f"| {c.cpu} | {c.max_cpu_compat or '(unset)'} | {hex32(c.trace_current)} "
            f"| {hex32(c.trace_new)} | {dtv} | {c.guest_cpu_line or '-'} | {_outcome(c)} "
            f"| {c.wall_seconds:.2f} |"
        )
        if verdicts:
            row += f" {verdicts[i]} |"
        lines.append(row)
    return "\n".join(lines) + "\n"


def write_markdown(run: MatrixRun, path: Path, verdicts: Sequence[str] | None = None) -> Path:
    """Write :func:`markdown` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(run, verdicts))
    return path
