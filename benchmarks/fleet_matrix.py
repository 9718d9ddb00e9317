"""``fleet plan --json`` on the matrix inventory of issue #13: time, peak memory, output size.

The inventory: every CPU model of every QEMU profile (``cpus --qemu Q``) under each of the
three KVM flavours (hv, pr, pr-ignore), one host each (66 models x 3 = 198 hosts, every one a
host class of its own, grouped by profile), and on every host 28 guests: each guest profile
with no maximum and with each mode from power6 to power10 (5,544 guests, each a guest class of
its own, none restricted to a group, so every guest class faces all 198 host classes).

The plan runs in a child interpreter (``fleet plan FILE --json``), stdout to a file; wall time
is measured around it, CPU time and peak RSS come from ``os.wait4``. Goal (issue #13): at
most 5 s (wall) and 500 MB.

    python benchmarks/fleet_matrix.py [--text] [--all]

The issue's inventory is the seven profiles and four guest kernels it was written against
(2.9, 2.10-pre, 2.10, 2.11, 7.2, head, powercompat; linux-6.1, linux-2025 = linux-7.2,
logical-upto-power8, raw-only). ``--all`` takes every profile and guest the engine has now
(5.2, 10.0, 11.1; linux-6.12), a larger inventory than the goal was set for.
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
from typing import Any

GOAL_SECONDS = 5.0
GOAL_BYTES = 500 * 1000 * 1000
KVMS = ("hv", "pr", "pr-ignore")
#: the inventory issue #13 measured (198 hosts, 5,544 guests)
ISSUE_PROFILES = ("2.9", "2.10-pre", "2.10", "2.11", "7.2", "head", "powercompat")
ISSUE_GUESTS = ("linux-6.1", "linux-7.2", "logical-upto-power8", "raw-only")
MAXIMA = (None, "power6", "power7", "power7+", "power8", "power9", "power10")
RUN = "from powercompat.cli.main import main; import sys; sys.exit(main(sys.argv[1:]))"


def write_matrix_inventory(path: Path, every: bool = False) -> tuple[int, int]:
    """Write the inventory (JSON); the host and guest counts."""
    from powercompat.catalog.guests import GUESTS
    from powercompat.profiles import ALL_PROFILES

    profiles = [p for p in ALL_PROFILES if every or p.name in ISSUE_PROFILES]
    kinds = [g for g in GUESTS if every or g.name in ISSUE_GUESTS]
    hosts: list[dict[str, object]] = []
    guests: list[dict[str, object]] = []
    for profile in profiles:
        for model in profile.cpu_models:
            for kvm in KVMS:
                name = f"{profile.name}-{model.name}-{kvm}"
                hosts.append({"name": name, "cpu": model.name, "kvm": kvm,
                              "qemu": profile.name, "group": f"qemu-{profile.name}"})
                for guest in kinds:
                    for maximum in MAXIMA:
                        guests.append({"name": f"{name}/{guest.name}/{maximum or 'none'}",
                                       "host": name, "profile": guest.name,
                                       "max_cpu_compat": maximum, "group": None})
    path.write_text(json.dumps({"hosts": hosts, "guests": guests}))
    return len(hosts), len(guests)


def run_plan(inventory: Path, out: Path, as_json: bool = True
             ) -> tuple[float, float, int, int]:
    """Wall and CPU seconds, peak RSS (bytes) and output bytes of one ``fleet plan`` in a
    child."""
    argv = [sys.executable, "-c", RUN, "fleet", "plan", str(inventory),
            *(["--json"] if as_json else [])]
    start = time.perf_counter()
    with out.open("wb") as sink:
        child = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    err = child.stderr.read().decode() if child.stderr else ""
    child.wait()
    if status:
        raise SystemExit(f"fleet plan failed ({status}): {err}")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss * 1024, out.stat().st_size  # Linux reports KiB


def measure(as_json: bool = True, every: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fleet-matrix-") as tmp:
        inventory = Path(tmp) / "matrix.json"
        hosts, guests = write_matrix_inventory(inventory, every)
        seconds, cpu, rss, size = run_plan(inventory, Path(tmp) / "plan.out", as_json)
        return {"hosts": hosts, "guests": guests, "inventory_bytes": inventory.stat().st_size,
                "seconds": seconds, "cpu_seconds": cpu, "peak_rss": rss, "output_bytes": size,
                "ok": seconds <= GOAL_SECONDS and rss <= GOAL_BYTES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", action="store_true", help="the table output instead")
    parser.add_argument("--all", action="store_true",
                        help="every profile and guest the engine has (not the issue's set)")
    args = parser.parse_args()
    r = measure(not args.text, args.all)
    print(f"fleet plan{'' if args.text else ' --json'}: {r['hosts']} hosts, {r['guests']} "
          f"guests ({r['inventory_bytes']} bytes): {r['seconds']:.2f} s wall, "
          f"{r['cpu_seconds']:.2f} s CPU, peak RSS "
          f"{r['peak_rss'] / 1e6:.0f} MB, output {r['output_bytes'] / 1e6:.1f} MB; goal "
          f"<= {GOAL_SECONDS:.0f} s and <= {GOAL_BYTES / 1e6:.0f} MB: "
          f"{'ok' if r['ok'] else 'OVER'}")
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
