"""Throughput of ``powercompat stress`` per profile, and where the time goes.

Usage: python benchmarks/stress_bench.py [LIFECYCLES] [--profile-top N]
Prints lifecycles/s for each QEMU profile and for a random mix, then (with --profile-top)
the N functions with the most cumulative time over a random-mix run (cProfile).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys

from powercompat.profiles import PROFILE_NAMES
from powercompat.stress.runner import run_stress


def main(argv: list[str]) -> int:
    lifecycles = int(argv[0]) if argv and argv[0].isdigit() else 5000
    top = int(argv[argv.index("--profile-top") + 1]) if "--profile-top" in argv else 0
    print(f"{'profile':<12} {'lifecycles':>10} {'events':>8} {'seconds':>8} "
          f"{'per s':>8} {'violations':>10}")
    for profile in (*PROFILE_NAMES, None):
        report = run_stress(lifecycles, seed=1, profile=profile)
        print(f"{profile or 'random mix':<12} {report.lifecycles:>10} {report.steps:>8} "
              f"{report.seconds:>8.2f} {report.rate:>8.0f} {report.violations:>10}")
    if top:
        profiler = cProfile.Profile()
        profiler.enable()
        run_stress(lifecycles, seed=2)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
