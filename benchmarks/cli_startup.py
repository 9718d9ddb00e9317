"""Whole-process start-up time of the ``powercompat`` command against the bare interpreter.

Runs each command N times through subprocess (interleaved, after one warm-up run each) and
prints the median wall time and its ratio to ``python -c pass`` measured in the same run.
The goal is a ratio of at most 3.

Bytecode: an installed package has its ``.pyc`` files, so by default the runs use a
bytecode cache (``PYTHONPYCACHEPREFIX`` in a temporary directory, nothing written to the
tree) even when ``PYTHONDONTWRITEBYTECODE`` is set in the environment. ``--no-cache`` measures
the other case, every module compiled from source at every start.

    python benchmarks/cli_startup.py [--runs 20] [--no-cache]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 3.0
NEGOTIATE = ["negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power8"]


def _script() -> str:
    """The console script next to this interpreter (not a pyenv or asdf shim on PATH, whose
    own start-up would be charged to powercompat)."""
    beside = Path(sys.executable).with_name("powercompat")
    if beside.is_file():
        return str(beside)
    found = shutil.which("powercompat")
    if found is None:
        sys.exit("powercompat is not installed (pip install -e .)")
    return found


NAMES = ("python -c pass", "powercompat negotiate ...", "powercompat negotiate ... --json")


def _commands() -> dict[str, list[str]]:
    script = _script()
    return dict(zip(NAMES, ([sys.executable, "-c", "pass"], [script, *NEGOTIATE],
                            [script, *NEGOTIATE, "--json"]), strict=True))


def _env(cache_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if cache_dir is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache_dir
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per command (default 20)")
    parser.add_argument("--no-cache", action="store_true",
                        help="compile every module from source at every start")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pycache-") as cache_dir:
        return _measure(args.runs, _env(None if args.no_cache else cache_dir), args.no_cache)


def _measure(runs: int, env: dict[str, str], no_cache: bool) -> int:
    commands = _commands()
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():
        _time(argv, env)  # warm the page cache and write the .pyc files
    for _ in range(runs):
        for name, argv in commands.items():  # interleaved: load drifts hit all alike
            samples[name].append(_time(argv, env))
    base = statistics.median(samples[NAMES[0]])
    print(f"median of {runs} runs, whole process (subprocess), "
          f"{sys.executable} {sys.version.split()[0]}, script {commands[NAMES[1]][0]}, "
          + ("no bytecode cache" if no_cache else "bytecode cached"))
    worst = 0.0
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = median / base
        worst = max(worst, ratio)
        print(f"  {name:36} {median * 1000:7.1f} ms   {ratio:4.2f}x   "
              f"(min {min(values) * 1000:6.1f} ms)")
    verdict = "ok" if worst <= GOAL else "OVER"
    print(f"goal: at most {GOAL:.0f}x the bare interpreter: {verdict} (worst {worst:.2f}x)")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
