"""Run a fuzz target under atheris (libFuzzer), or replay a corpus through it without.

``main(["cas", "-runs=1000", "some/dir"])``: arguments starting with ``-`` go to libFuzzer
as they are; the rest are corpus files or directories (default: a scratch copy of the seed
corpus, so libFuzzer never writes into the package). ``--replay`` (or atheris missing) runs
each corpus file through the target once and reports, which needs nothing but Python.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from powercompat.errors import InvalidValueError
from powercompat.fuzz.corpus import CORPUS_DIR, load_corpus, seed_corpus
from powercompat.fuzz.targets import TARGETS, Target

Echo = Callable[[str], None]


@dataclass
class ReplayReport:
    target: str
    inputs: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def atheris_available() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_target(name: str) -> Target:
    """:raises InvalidValueError: not a fuzz target name."""
    if name not in TARGETS:
        raise InvalidValueError(f"unknown fuzz target '{name}' (valid: {', '.join(TARGETS)})")
    return TARGETS[name]


def default_corpus(target: str) -> list[tuple[str, bytes]]:
    """The packaged seed files, or the generated seeds when the files are not installed."""
    directory = CORPUS_DIR / target
    if directory.is_dir():
        return load_corpus([directory])
    return sorted(seed_corpus(target).items())


def replay(target: str, paths: list[Path]) -> ReplayReport:
    """Every corpus input through the target once; failures keep the file and the error.

    :raises InvalidValueError: unknown target, or a corpus path that does not exist.
    """
    fn = resolve_target(target)
    for path in paths:
        if not path.exists():
            raise InvalidValueError(f"fuzz corpus '{path}' does not exist")
    inputs = load_corpus(paths) if paths else default_corpus(target)
    report = ReplayReport(target)
    start = time.perf_counter()
    for name, data in inputs:
        report.inputs += 1
        try:
            fn(data)
        except Exception as err:
            report.failures.append(f"{name}: {type(err).__name__}: {err}")
    report.seconds = time.perf_counter() - start
    return report


def run_atheris(target: str, flags: list[str], paths: list[Path], echo: Echo) -> None:
    """Hand over to libFuzzer; it exits the process when done (``-runs``, a crash, ...)."""
    import atheris

    fn = resolve_target(target)
    dirs = [str(p) for p in paths]
    if not dirs:
        scratch = Path(tempfile.mkdtemp(prefix=f"powercompat-fuzz-{target}-"))
        for i, (_, data) in enumerate(default_corpus(target)):
            (scratch / f"seed-{i:03d}").write_bytes(data)
        dirs = [str(scratch)]
        echo(f"fuzz {target}: working corpus {scratch} (seeded from {CORPUS_DIR / target})")
    _instrument_powercompat(atheris)
    atheris.Setup([sys.argv[0] or "powercompat-fuzz", *flags, *dirs], fn)
    atheris.Fuzz()


def _instrument_powercompat(atheris: object) -> int:
    """Add coverage hooks to powercompat's own functions and methods (not the stdlib, which
    atheris.instrument_all() would try, noisily); returns how many were instrumented."""
    import inspect

    instrument = atheris.instrument_func  # type: ignore[attr-defined]
    done = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("powercompat") or module is None:
            continue
        for obj in list(vars(module).values()):
            members = [obj] if inspect.isfunction(obj) else (
                [m for m in vars(obj).values() if inspect.isfunction(m)]
                if inspect.isclass(obj) else [])
            for fn in members:
                if getattr(fn, "__module__", None) == name:
                    instrument(fn)
                    done += 1
    return done


def main(argv: list[str], echo: Echo = print, force_replay: bool = False) -> int:
    """``TARGET [--replay] [-libfuzzer_flag=...] [corpus ...]``; returns the exit status.

    :raises InvalidValueError: no or unknown target, or a missing corpus path.
    """
    if not argv:
        raise InvalidValueError(f"give a fuzz target ({', '.join(TARGETS)})")
    target, rest = argv[0], argv[1:]
    resolve_target(target)
    replay_mode = force_replay or "--replay" in rest
    flags = [a for a in rest if a.startswith("-") and a != "--replay"]
    paths = [Path(a) for a in rest if not a.startswith("-")]
    if not replay_mode and atheris_available():
        run_atheris(target, flags, paths, echo)
        return 0  # pragma: no cover - libFuzzer exits the process itself
    if not replay_mode:
        echo("atheris is not installed (pip install 'powercompat[fuzz]'): replaying the "
             "corpus instead")
    report = replay(target, paths)
    echo(f"fuzz {target} (replay): {report.inputs} inputs in {report.seconds:.2f} s, "
         f"{len(report.failures)} failure(s)")
    for failure in report.failures[:20]:
        echo(f"  {failure}")
    return 1 if report.failures else 0


def copy_seed_corpus(target: str, into: Path) -> None:
    """Copy the packaged seeds of ``target`` into a fresh working directory."""
    shutil.copytree(CORPUS_DIR / target, into, dirs_exist_ok=True)
