"""Every issue #13 benchmark in one run, each ratio measured side by side.

1. Start-up: ``powercompat negotiate`` (text and ``--json``) against the floor
   ``python -c "import argparse, dataclasses, enum, json"``, CPU and wall, alternating
   (cli_startup.py). Goal: at most 1.3x. With it, the lower bound that the dataclass types
   on negotiate's path set before any of its code runs (startup_floor.py).
2. ``simulate`` text against ``--json`` for the same input, alternating: POWER9, 1024 vCPUs,
   realize,reset,cas and 100 hot-plugs; and 7,000 reboot,cas pairs at one vCPU. Goal: text at
   most 2x the JSON's time.
3. ``fleet plan --json`` on the 198-host, 5,544-guest matrix inventory (fleet_matrix.py).
   Goal: at most 5 s and 500 MB.
4. In-process ``negotiate()``, this tree against the baseline commit, alternating
   (negotiate_bench.py). Goal: at least 5x faster.

    python benchmarks/run_all.py [--quick]

Prints the machine's load average too: the machine is shared, and every absolute figure
moves with it (the ratios much less).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cli_startup  # noqa: E402
import fleet_matrix  # noqa: E402
import negotiate_bench  # noqa: E402
import startup_floor  # noqa: E402

SIMULATE_GOAL = 2.0
SIM_CASES = {
    "1024 vCPUs + 100 hot-plugs": ["--cpu", "POWER9", "--smp", "1024", "--events",
                                   ",".join(["realize", "reset", "cas", *["hotplug"] * 100])],
    "7,000 reboot,cas at 1 vCPU": ["--cpu", "POWER9", "--smp", "1", "--events",
                                   ",".join(["realize", "reset", "cas",
                                             *["reboot", "cas"] * 7000])],
}


def _timed(argv: list[str], out: Path) -> tuple[float, float]:
    """CPU and wall seconds of one run, stdout to ``out``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with out.open("wb") as sink:
        subprocess.run(argv, check=True, stdout=sink, timeout=3600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def simulate(rounds: int) -> dict[str, dict[str, float]]:
    """Median CPU and wall of text and JSON for each case, alternating."""
    cli = cli_startup.script()
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="sim-bench-") as tmp:
        sink = Path(tmp) / "out"
        for name, args in SIM_CASES.items():
            runs: dict[str, list[tuple[float, float]]] = {"text": [], "json": []}
            for r in range(rounds):
                order = ("text", "json") if r % 2 == 0 else ("json", "text")
                for kind in order:
                    argv = [cli, "simulate", *args, *(["--json"] if kind == "json" else [])]
                    runs[kind].append(_timed(argv, sink))
            out[name] = {f"{kind}_{what}": statistics.median(v[i] for v in runs[kind])
                         for kind in runs for i, what in enumerate(("cpu", "wall"))}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    quick = args.quick
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    verdicts: list[tuple[str, bool]] = []

    print("\n1. start-up (medians of alternating runs)")
    lines, obj, ok = cli_startup.report(cli_startup.startup(10 if quick else 30))
    print("\n".join("   " + line for line in lines))
    verdicts.append((f"start-up <= {cli_startup.GOAL}x floor (worst {obj['worst']:.2f}x)", ok))

    floor = startup_floor.measure(3 if quick else 7)
    print(f"   lower bound: the dataclass types the negotiate path instantiates cost "
          f"{floor['used_types_seconds'] * 1e3:.1f} ms to create; the goal leaves "
          f"{floor['budget_seconds'] * 1e3:.1f} ms above the floor (startup_floor.py)")

    print("\n2. simulate: text against --json, same input, alternating")
    for name, r in simulate(1 if quick else 3).items():
        ratio_cpu, ratio_wall = r["text_cpu"] / r["json_cpu"], r["text_wall"] / r["json_wall"]
        print(f"   {name:28} text {r['text_cpu']:6.2f} s CPU {r['text_wall']:6.2f} s wall; "
              f"json {r['json_cpu']:6.2f} s CPU {r['json_wall']:6.2f} s wall; text/json "
              f"{ratio_cpu:.2f}x CPU {ratio_wall:.2f}x wall")
        verdicts.append((f"simulate {name}: text <= {SIMULATE_GOAL}x json "
                         f"({max(ratio_cpu, ratio_wall):.2f}x)",
                         max(ratio_cpu, ratio_wall) <= SIMULATE_GOAL))

    print("\n3. fleet plan --json on the matrix inventory")
    f = fleet_matrix.measure()
    print(f"   {f['hosts']} hosts, {f['guests']} guests: {f['seconds']:.2f} s wall, "
          f"{f['cpu_seconds']:.2f} s CPU, peak RSS "
          f"{f['peak_rss'] / 1e6:.0f} MB, output {f['output_bytes'] / 1e6:.1f} MB")
    verdicts.append((f"fleet plan --json <= {fleet_matrix.GOAL_SECONDS:.0f} s and "
                     f"<= {fleet_matrix.GOAL_BYTES / 1e6:.0f} MB ({f['seconds']:.2f} s, "
                     f"{f['peak_rss'] / 1e6:.0f} MB)", bool(f["ok"])))

    print(f"\n4. negotiate() in-process, baseline {negotiate_bench.BASELINE} against this tree")
    n = negotiate_bench.compare(rounds=3 if quick else 7)
    for workload, sides in n.items():
        print(f"   {workload:10} baseline {sides['baseline'] * 1e6:7.1f} us   now "
              f"{sides['now'] * 1e6:7.1f} us   {sides['baseline'] / sides['now']:5.2f}x")
    same = n["same"]["baseline"] / n["same"]["now"]
    verdicts.append((f"negotiate() >= {negotiate_bench.GOAL:.0f}x faster ({same:.2f}x)",
                     same >= negotiate_bench.GOAL))

    print("\ngoals (issue #13):")
    for text, met in verdicts:
        print(f"   {'ok  ' if met else 'MISS'}  {text}")
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if all(met for _, met in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
