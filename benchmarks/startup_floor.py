"""What ``powercompat negotiate`` must pay at start-up whatever its code does (issue #13).

Issue #13 asks for start-up within 1.3x of ``python -c "import argparse, dataclasses, enum,
json"`` while dataclasses, enums and typed errors stay. This measures what that leaves: the
budget (0.3x the floor's CPU time) against the cost of creating, at import, the dataclass
types that one ``negotiate`` run instantiates. CPython's ``@dataclass`` compiles each type's
generated methods from source when the class is created (dataclasses._process_class, one
``exec`` per method up to 3.12, one per class in 3.13), so a frozen dataclass costs about half
a millisecond to define, whatever the program does with it afterwards.

A child interpreter imports the CLI's negotiate path with ``dataclasses._process_class``
timed and every dataclass ``__init__`` counted (the catalogue's tables are built at import),
then runs ``powercompat negotiate --cpu POWER9 --max-cpu-compat power8`` in-process. Best of
``--runs`` children; the floor's CPU time is the median of as many runs of the floor command
(``os.wait4``'s rusage, as cli_startup.py).

    python benchmarks/startup_floor.py [--runs 7] [--json]

It prints the types, their creation time, and whether the negotiate run used them; the sum
over the used ones is a lower bound on the start-up cost above the floor, before a single
module is loaded or a line of the engine runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cli_startup  # noqa: E402

CHILD = r"""
import argparse, dataclasses, enum, json, time, sys, io, contextlib
created = []
used = {}
process = dataclasses._process_class
def timed(cls, *args, **kwargs):
    start = time.perf_counter()
    out = process(cls, *args, **kwargs)
    created.append((out, time.perf_counter() - start))
    def counting(self, *a, _init=out.__init__, _cls=out, **k):  # module tables count too
        used[_cls] = used.get(_cls, 0) + 1
        return _init(self, *a, **k)
    out.__init__ = counting
    return out
dataclasses._process_class = timed
start = time.process_time()
from powercompat.cli.main import main
import powercompat.cli.negotiate_cmd
imported = time.process_time() - start
with contextlib.redirect_stdout(io.StringIO()):
    main(["negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power8"])
print(json.dumps({"import_cpu": imported, "types": [
    {"name": f"{c.__module__}.{c.__qualname__}", "seconds": s,
     "instances": used.get(c, 0)} for c, s in created]}))
"""


def child(env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run([cli_startup.interpreter(), "-c", CHILD], env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    result: dict[str, object] = json.loads(out)
    return result


def measure(runs: int) -> dict[str, Any]:
    """Per type the best creation time over ``runs`` children; the floor's median CPU."""
    with tempfile.TemporaryDirectory(prefix="pycache-") as cache:
        env = cli_startup.bytecode_env(cache)
        floor_argv = [cli_startup.interpreter(), "-c", cli_startup.FLOOR]
        cli_startup.run_once(floor_argv, env)  # warm the bytecode cache
        child(env)
        floors, results = [], []
        for _ in range(runs):
            floors.append(cli_startup.run_once(floor_argv, env)[0])
            results.append(child(env))
    best: dict[str, dict[str, float]] = {}
    for result in results:
        for t in result["types"]:  # type: ignore[attr-defined]
            row = best.setdefault(t["name"], {"seconds": t["seconds"],
                                              "instances": t["instances"]})
            row["seconds"] = min(row["seconds"], t["seconds"])
    floor = statistics.median(floors)
    used = sum(r["seconds"] for r in best.values() if r["instances"])
    return {"floor_cpu_seconds": floor, "budget_seconds": (cli_startup.GOAL - 1) * floor,
            "used_types_seconds": used, "all_types_seconds": sum(
                r["seconds"] for r in best.values()),
            "import_cpu_seconds": min(r["import_cpu"] for r in results),  # type: ignore[type-var]
            "types": best}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.runs)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    types: dict[str, dict[str, float]] = result["types"]
    print(f"dataclass types created importing the negotiate path (best of {args.runs}; "
          f"Python {sys.version.split()[0]}):")
    for name, row in sorted(types.items(), key=lambda kv: -kv[1]["seconds"]):
        use = f"{int(row['instances'])} made" if row["instances"] else "unused"
        print(f"  {row['seconds'] * 1e3:6.2f} ms  {name:55} {use}")
    ms = {k: float(v) * 1e3 for k, v in result.items() if k.endswith("seconds")}
    used = sum(1 for r in types.values() if r["instances"])
    print(f"floor CPU {ms['floor_cpu_seconds']:.1f} ms; the 1.3x goal leaves "
          f"{ms['budget_seconds']:.1f} ms for everything above it")
    print(f"the {used} types the import and one negotiate run instantiate cost "
          f"{ms['used_types_seconds']:.1f} ms to create ({len(types)} types created: "
          f"{ms['all_types_seconds']:.1f} ms); "
          f"importing the path: {ms['import_cpu_seconds']:.1f} ms CPU")
    verdict = "within" if ms["used_types_seconds"] <= ms["budget_seconds"] else "over"
    print(f"lower bound vs budget: {ms['used_types_seconds']:.1f} ms {verdict} "
          f"{ms['budget_seconds']:.1f} ms")
    return 0


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.exit(main())
