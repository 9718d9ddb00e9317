"""How long ``powercompat fleet plan --upgrade-to R`` takes on a mixed-release fleet, beside
the plain plan of the same fleet and of the same fleet with every host on one release.

For each size N (hosts = guests = N) ``fleet synth`` writes a synthetic inventory (hosts on
QEMU 7.2 or head, as synth draws them); a copy has every host on ``head`` (the same-release
fleet). Each command runs in a fresh interpreter, stdout discarded; the wall time is the best
of ``--repeat`` runs, the peak resident memory the largest (``os.wait4``'s rusage):

1. ``fleet plan SAME``                  (one release: the reference, issue #15)
2. ``fleet plan MIXED``                 (7.2 and head)
3. ``fleet plan MIXED --upgrade-to R``  (the rolling upgrade of every group to R)

Last line per size: the ratio of (3) to (1); issue #15 asks for at most 1x.

    python benchmarks/upgrade_bench.py [--sizes 1000,10000] [--repeat 3] [--target head]
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

from powercompat.fleet.synth import synthesize, write_inventory

RUN = "from powercompat.cli.main import main; import sys; sys.exit(main(sys.argv[1:]))"


def run_cli(*args: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one ``powercompat ARGS`` in a child."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", RUN, *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, status, usage = os.wait4(child.pid, 0)
    except BaseException:
        child.kill()
        child.wait()
        raise
    seconds = time.perf_counter() - start
    err = child.stderr.read().decode() if child.stderr else ""
    child.wait()
    if status:
        raise SystemExit(f"powercompat {' '.join(args)} failed ({status}): {err}")
    return seconds, usage.ru_maxrss * 1024  # Linux reports KiB


def same_release(mixed: Path, out: Path, qemu: str) -> int:
    """Copy of the inventory with every host on ``qemu``; how many hosts were changed."""
    data = json.loads(mixed.read_text())
    changed = sum(1 for h in data["hosts"] if h["qemu"] != qemu)
    for h in data["hosts"]:
        h["qemu"] = qemu
    out.write_text(json.dumps(data))
    return changed


def best(args: tuple[str, ...], repeat: int) -> tuple[float, float]:
    runs = [run_cli(*args) for _ in range(repeat)]
    return min(s for s, _ in runs), max(m for _, m in runs) / (1 << 20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--target", default="head", help="--upgrade-to (default: head)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="upgrade-bench-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            mixed, same = Path(tmp) / f"mixed-{n}.json", Path(tmp) / f"same-{n}.json"
            write_inventory(mixed, *synthesize(n, n, args.seed))
            moved = same_release(mixed, same, "head")
            ref = best(("fleet", "plan", str(same)), args.repeat)
            plain = best(("fleet", "plan", str(mixed)), args.repeat)
            up = best(("fleet", "plan", str(mixed), "--upgrade-to", args.target), args.repeat)
            rows.append({"hosts": n, "guests": n, "hosts_not_on_head": moved,
                         "same_release_s": round(ref[0], 3), "same_release_mib": round(ref[1], 1),
                         "mixed_s": round(plain[0], 3), "mixed_mib": round(plain[1], 1),
                         "upgrade_s": round(up[0], 3), "upgrade_mib": round(up[1], 1),
                         "upgrade_over_same": round(up[0] / ref[0], 2)})
    if args.json:
        print(json.dumps({"target": args.target, "repeat": args.repeat, "rows": rows},
                         indent=2))
        return 0
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, best of {args.repeat}, "
          f"--upgrade-to {args.target}, load average {os.getloadavg()[0]:.2f}")
    print(f"{'hosts=guests':>12} {'on 7.2':>7} {'same-release s':>15} {'mixed s':>8} "
          f"{'upgrade s':>10} {'upgrade MiB':>12} {'upgrade/same':>13}")
    for r in rows:
        print(f"{r['hosts']:>12,} {r['hosts_not_on_head']:>7,} {r['same_release_s']:>15} "
              f"{r['mixed_s']:>8} {r['upgrade_s']:>10} {r['upgrade_mib']:>12} "
              f"{r['upgrade_over_same']:>12}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
