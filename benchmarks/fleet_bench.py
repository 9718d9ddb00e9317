"""How long ``powercompat fleet plan`` takes, and how much memory, as the fleet grows.

For each size N (hosts = guests = N) it writes a synthetic inventory with ``fleet synth``,
then runs ``powercompat fleet plan FILE`` (the table output, as an operator runs it) in a
fresh interpreter and reports the wall time and the peak resident memory of that process
(``os.wait4``'s rusage, so each child is measured on its own), best of ``--repeat`` runs.
The same work is timed in-process too, split into reading the inventory and planning.
Last line: the time ratio from 10,000 to 100,000 (linear growth is 10x).

    python benchmarks/fleet_bench.py [--sizes 1000,10000,100000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from powercompat.fleet.inventory import load_inventory
from powercompat.fleet.plan import plan
from powercompat.fleet.synth import synthesize, write_inventory

RUN = "from powercompat.cli.main import main; import sys; sys.exit(main(sys.argv[1:]))"
#: the targets of issue #6
TARGET_SECONDS = 10.0
TARGET_BYTES = 2 << 30


def run_cli(path: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one ``fleet plan`` in a child interpreter."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", RUN, "fleet", "plan", str(path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if status:
        err = child.stderr.read().decode() if child.stderr else ""
        raise SystemExit(f"fleet plan {path} failed ({status}): {err}")
    child.wait()
    return seconds, usage.ru_maxrss * 1024  # Linux reports KiB


def in_process(path: Path) -> tuple[float, float, int, int]:
    """Seconds to read, seconds to plan; host and guest class counts."""
    start = time.perf_counter()
    inventory = load_inventory([path])
    read = time.perf_counter() - start
    start = time.perf_counter()
    result = plan(inventory)
    return read, time.perf_counter() - start, len(result.host_classes), len(
        result.guest_classes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON object instead")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        for n in sizes:
            path = Path(tmp) / f"fleet-{n}.json"
            hosts, guests = synthesize(n, n, args.seed)
            write_inventory(path, hosts, guests)
            cli = [run_cli(path) for _ in range(args.repeat)]
            inner = min((in_process(path) for _ in range(args.repeat)),
                        key=lambda r: r[0] + r[1])
            rows.append({
                "hosts": n, "guests": n, "inventory_mb": round(path.stat().st_size / 1e6, 1),
                "cli_seconds": round(min(s for s, _ in cli), 3),
                "cli_peak_rss_mib": round(max(m for _, m in cli) / (1 << 20), 1),
                "read_seconds": round(inner[0], 3), "plan_seconds": round(inner[1], 3),
                "host_classes": inner[2], "guest_classes": inner[3]})
    by_n = {r["hosts"]: r for r in rows}
    ratio = None
    if 10_000 in by_n and 100_000 in by_n:
        ratio = round(by_n[100_000]["cli_seconds"] / by_n[10_000]["cli_seconds"], 2)
    if args.json:
        print(json.dumps({"rows": rows, "ratio_100k_10k": ratio}, indent=2))
        return 0
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, best of {args.repeat}")
    print(f"{'hosts=guests':>12} {'file MB':>8} {'plan (CLI) s':>13} {'peak RSS MiB':>13} "
          f"{'read s':>8} {'plan s':>8} {'classes':>12}")
    for r in rows:
        print(f"{r['hosts']:>12,} {r['inventory_mb']:>8} {r['cli_seconds']:>13} "
              f"{r['cli_peak_rss_mib']:>13} {r['read_seconds']:>8} {r['plan_seconds']:>8} "
              f"{r['host_classes']:>5}/{r['guest_classes']:<6}")
    if ratio is not None:
        big = by_n[100_000]
        ok = (big["cli_seconds"] <= TARGET_SECONDS
              and big["cli_peak_rss_mib"] * (1 << 20) <= TARGET_BYTES and ratio <= 10.5)
        print(f"time ratio 100k/10k: {ratio}x (linear: 10x); 100k target <= "
              f"{TARGET_SECONDS:g} s and <= 2 GiB: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
