"""Boot the real-QEMU matrix, print its wall time and per-boot times, optionally record it.

Usage::

    python benchmarks/verify_matrix.py [--firmware vof|slof] [--jobs 2]
        [--cpus power7,power8] [--modes -,power8] [--record tests/data/real/X.json]

Set-up (installing QEMU, fetching the guest) is done before the clock starts.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
from pathlib import Path

from powercompat.verify.assets import ensure_assets
from powercompat.verify.matrix import DEFAULT_CPUS, DEFAULT_MODES, CellResult, run_matrix
from powercompat.verify.report import hex32, write_json


def _modes(text: str | None) -> list[str | None]:
    if text is None:
        return list(DEFAULT_MODES)
    return [None if m in ("-", "") else m for m in text.split(",")]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--firmware", default="vof", choices=["vof", "slof"])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cpus", default=",".join(DEFAULT_CPUS))
    ap.add_argument("--modes", default=None, help="comma list, '-' for unset")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--record", type=Path, default=None)
    args = ap.parse_args(argv)

    assets = ensure_assets(progress=lambda m: print(f"setup: {m}", file=sys.stderr))

    def show(c: CellResult) -> None:
        what = c.startup_error or (
            f"current={hex32(c.trace_current)} new={hex32(c.trace_new)} "
            f"dt={[hex32(v) for v in c.cpu_versions]} cpu={c.guest_cpu_line!r}"
            f"{' SIGILL' if c.init_sigill else ''}{' CAS-FAILED' if c.cas_failed else ''}"
        )
        print(f"{c.wall_seconds:6.2f}s {c.cpu:8} {c.max_cpu_compat or '(unset)':8} {what}")

    run = run_matrix(
        assets,
        cpus=args.cpus.split(","),
        modes=_modes(args.modes),
        firmware=args.firmware,
        jobs=args.jobs,
        progress=show,
        smp=args.smp,
    )
    booted = [c.wall_seconds for c in run.cells if c.startup_error is None]
    refused = [c.wall_seconds for c in run.cells if c.startup_error is not None]
    print(f"cells: {len(run.cells)} (booted {len(booted)}, refused {len(refused)})")
    print(f"matrix wall time: {run.wall_seconds:.2f} s with --jobs {args.jobs}")
    if booted:
        print(
            f"per boot: min {min(booted):.2f} s, median {statistics.median(booted):.2f} s, "
            f"max {max(booted):.2f} s, sum {sum(booted):.2f} s"
        )
    if refused:
        print(f"per refusal: max {max(refused):.3f} s")
    if args.record:
        cmd = "python benchmarks/verify_matrix.py " + shlex.join(argv)
        write_json(run, args.record, extra={"command": cmd})
        print(f"recorded {args.record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
