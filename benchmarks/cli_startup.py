"""Whole-process start-up cost of ``powercompat negotiate`` against the floor of an idiomatic
Python CLI (issue #13).

The floor is ``python -c "import argparse, dataclasses, enum, json"``: the interpreter plus the
standard library such a tool needs. It and the bare ``python -c pass`` run on the interpreter
*binary* of this environment (``sys.executable``, checked to be a real executable and not a
pyenv/asdf shim script, whose own start-up would be charged to whatever it runs); the
``powercompat`` console script beside it has that same interpreter in its ``#!`` line.

Every command runs ``--runs`` times, alternating (round r runs each command once, in an order
rotated by r), after a warm-up run each, so load drifting on a shared machine hits all alike.
Two costs per run: CPU time (user + system, the child's own rusage from ``os.wait4``) and
wall time. The ratios are medians over the floor's median.

Bytecode: an installed package has its ``.pyc`` files, so by default the runs use a bytecode
cache (``PYTHONPYCACHEPREFIX`` in a temporary directory, nothing written to the tree) even when
``PYTHONDONTWRITEBYTECODE`` is set in the environment.

    python benchmarks/cli_startup.py [--runs 30] [--json]

Exit status 1 when ``negotiate`` or ``negotiate --json`` is over the goal (1.3x the floor) in
CPU time or wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

#: issue #13: start-up within 1.3x the floor
GOAL = 1.3
NEGOTIATE = ("negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power8")
FLOOR = "import argparse, dataclasses, enum, json"


@dataclass
class Samples:
    """CPU and wall seconds of every run of one command."""

    argv: list[str]
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)

    def median(self, kind: str) -> float:
        samples: list[float] = getattr(self, kind)
        return statistics.median(samples)


def interpreter() -> str:
    """This environment's interpreter, refusing a shim script (it would be charged to us)."""
    exe = sys.executable
    with open(os.path.realpath(exe), "rb") as binary:
        if binary.read(2) == b"#!":
            sys.exit(f"{exe} is a script (a pyenv/asdf shim?), not an interpreter binary; "
                     "run this benchmark with the environment's python")
    return exe


def script() -> str:
    """The console script beside this interpreter (never one found on PATH)."""
    beside = Path(sys.executable).with_name("powercompat")
    if not beside.is_file():
        sys.exit(f"{beside} is missing: pip install -e . in this environment")
    return str(beside)


#: --breakdown: the floor plus one more layer each, to say where the time goes
BREAKDOWN = {
    "floor + import powercompat": "import powercompat",
    "floor + import powercompat.scenario": "import powercompat.scenario",
    "floor + scenario.negotiate() in-process":
        "from powercompat.scenario import negotiate; negotiate('POWER9', 'power8')",
}


def commands(breakdown: bool = False) -> dict[str, list[str]]:
    python, cli = interpreter(), script()
    out = {
        "python -c pass": [python, "-c", "pass"],
        f'python -c "{FLOOR}"': [python, "-c", FLOOR],
        "powercompat negotiate ...": [cli, *NEGOTIATE],
        "powercompat negotiate ... --json": [cli, *NEGOTIATE, "--json"],
        "powercompat --version": [cli, "--version"],
    }
    if breakdown:
        out.update({name: [python, "-c", f"{FLOOR}; {code}"]
                    for name, code in BREAKDOWN.items()})
    return out


def bytecode_env(cache_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache_dir
    return env


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """CPU seconds (user + system) and wall seconds of one run.

    The child is reaped with a blocking ``os.wait4``, which also gives its own rusage. Not
    ``subprocess.run(timeout=...)``: with a timeout, Popen.wait polls with sleeps doubling
    from 0.5 ms up to 50 ms, so a 32 ms run was timed as 31.5 ms or 63.5 ms depending on
    which side of a sleep it ended (the wall ratios of stop 22 and before had that error).
    A watchdog kills a run that hangs.
    """
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=env)
    watchdog = threading.Timer(60, child.kill)
    watchdog.start()
    try:
        _, status, usage = os.wait4(child.pid, 0)
    finally:
        watchdog.cancel()
        child.returncode = 0  # reaped above: keep Popen from waiting on the pid again
    wall = time.perf_counter() - start
    if status:
        raise SystemExit(f"{' '.join(argv)} failed (wait status {status})")
    return usage.ru_utime + usage.ru_stime, wall


def measure(runs: int, env: dict[str, str], breakdown: bool = False) -> dict[str, Samples]:
    """Alternating runs: round r runs every command once, starting at a rotating offset."""
    samples = {name: Samples(argv) for name, argv in commands(breakdown).items()}
    order = list(samples.values())
    for s in order:
        run_once(s.argv, env)  # warm the page cache and write the .pyc files
    for r in range(runs):
        k = r % len(order)
        for s in order[k:] + order[:k]:
            cpu, wall = run_once(s.argv, env)
            s.cpu.append(cpu)
            s.wall.append(wall)
    return samples


def startup(runs: int, breakdown: bool = False) -> dict[str, Samples]:
    with tempfile.TemporaryDirectory(prefix="pycache-") as cache_dir:
        return measure(runs, bytecode_env(cache_dir), breakdown)


def report(samples: dict[str, Samples]) -> tuple[list[str], dict[str, object], bool]:
    """Printable lines, the JSON object and whether the goal is met."""
    names = list(samples)
    bare, floor = samples[names[0]], samples[names[1]]
    lines = [f"{'command':52} {'CPU ms':>7} {'/floor':>6} {'/bare':>6}   "
             f"{'wall ms':>7} {'/floor':>6} {'/bare':>6}"]
    rows: dict[str, object] = {}
    ok = True
    for name, s in samples.items():
        cpu, wall = s.median("cpu"), s.median("wall")
        ratios = {"cpu_vs_floor": cpu / floor.median("cpu"),
                  "cpu_vs_bare": cpu / bare.median("cpu"),
                  "wall_vs_floor": wall / floor.median("wall"),
                  "wall_vs_bare": wall / bare.median("wall")}
        rows[name] = {"cpu_ms": cpu * 1000, "wall_ms": wall * 1000, **ratios}
        lines.append(f"{name:52} {cpu * 1000:7.1f} {ratios['cpu_vs_floor']:5.2f}x "
                     f"{ratios['cpu_vs_bare']:5.2f}x   {wall * 1000:7.1f} "
                     f"{ratios['wall_vs_floor']:5.2f}x {ratios['wall_vs_bare']:5.2f}x")
        if name.startswith("powercompat negotiate"):
            ok = ok and ratios["cpu_vs_floor"] <= GOAL and ratios["wall_vs_floor"] <= GOAL
    worst = max(max(r["cpu_vs_floor"], r["wall_vs_floor"])  # type: ignore[index]
                for n, r in rows.items() if n.startswith("powercompat negotiate"))
    lines.append(f"goal: negotiate within {GOAL}x the floor in CPU and wall: "
                 f"{'ok' if ok else 'OVER'} (worst {worst:.2f}x)")
    return lines, {"goal": GOAL, "ok": ok, "worst": worst, "commands": rows}, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs per command (default 30)")
    parser.add_argument("--json", action="store_true", help="print the medians as JSON")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the floor plus each layer of the engine")
    args = parser.parse_args()
    samples = startup(args.runs, args.breakdown)
    lines, obj, ok = report(samples)
    if args.json:
        print(json.dumps(obj, indent=2))
    else:
        print(f"median of {args.runs} alternating runs, bytecode cached, interpreter "
              f"{interpreter()} -> {os.path.realpath(interpreter())} "
              f"({sys.version.split()[0]}), script {script()}")
        print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
