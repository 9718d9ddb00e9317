"""Run a fuzz target under atheris (libFuzzer), or replay a corpus through it without.

``main(["cas", "-runs=1000", "some/dir"])``: arguments starting with ``-`` go to libFuzzer
as they are; the rest are corpus files or directories. ``--replay`` (or atheris missing) runs
each corpus file through the target once and reports, which needs nothing but Python.

Without a corpus, libFuzzer works in a scratch copy of the seed corpus (so it never writes
into the package). libFuzzer ends its process with C ``exit()``, where no Python cleanup
runs, so the scratch folder is owned by a parent process: it runs libFuzzer as a child in its
own process group and, on every path (done, crash, error, SIGINT, SIGTERM, SIGHUP), kills
that group (libFuzzer's ``-jobs``/``-fork`` workers included) and removes the folder.

libFuzzer starts more processes of itself for ``-jobs``, ``-fork`` and ``-merge`` by running
its ``argv[0]`` and its flags through the shell; ``argv[0]`` is therefore
``python -m powercompat.fuzz TARGET`` (:func:`self_command`), never the ``powercompat`` CLI,
which does not take libFuzzer's flags.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Final

from powercompat.errors import InvalidValueError
from powercompat.fuzz.corpus import CORPUS_DIR, iter_corpus, load_corpus, seed_corpus
from powercompat.fuzz.targets import TARGETS, Target

#: prefix of the scratch corpus folders (under $TMPDIR)
SCRATCH_PREFIX: Final = "powercompat-fuzz-"
#: seconds libFuzzer gets to exit after SIGTERM before the group is killed
_STOP_GRACE: Final = 5.0
#: signals that stop a run cleanly (SIGINT arrives as KeyboardInterrupt)
_STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGHUP)

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
    Inputs are read one at a time, so a corpus of any size needs one input's memory.

    :raises InvalidValueError: unknown target, or a corpus path that does not exist.
    :raises InputFileError: a corpus path that is a FIFO or device, or an input over 1 MiB.
    """
    fn = resolve_target(target)
    for path in paths:
        if not path.exists():
            raise InvalidValueError(f"fuzz corpus '{path}' does not exist")
    inputs = iter_corpus(paths) if paths else iter(default_corpus(target))
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


def self_command(target: str) -> str:
    """The shell words that start this fuzzer again: libFuzzer's ``argv[0]``."""
    return shlex.join([sys.executable, "-m", "powercompat.fuzz", target])


def run_atheris(target: str, flags: list[str], paths: list[Path], echo: Echo) -> int:
    """Fuzz ``paths`` in this process (libFuzzer exits it when done), or, without a corpus,
    in a child working on a scratch copy of the seeds; returns the child's exit status."""
    resolve_target(target)
    if paths:
        _fuzz_here(target, flags, paths)
    return _fuzz_in_scratch(target, flags, echo)


def _fuzz_here(target: str, flags: list[str], paths: list[Path]) -> None:
    """Hand this process over to libFuzzer; it exits the process itself."""
    import atheris

    _instrument_powercompat(atheris)
    atheris.Setup([self_command(target), *flags, *(str(p) for p in paths)], TARGETS[target])
    atheris.Fuzz()  # pragma: no cover - never returns


class _Stopped(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def _stop_signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`_Stopped` here, so ``finally`` blocks run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP while a child starts or the run is cleaned up; a
    signal that arrives meanwhile is delivered afterwards."""
    stops = {signal.SIGINT, *_STOP_SIGNALS}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _fuzz_in_scratch(target: str, flags: list[str], echo: Echo) -> int:
    scratch: Path | None = None
    child: subprocess.Popen[bytes] | None = None
    try:
        with _stop_signals_raise():
            try:
                scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{target}-"))
                for i, (_, data) in enumerate(default_corpus(target)):
                    (scratch / f"seed-{i:03d}").write_bytes(data)
                echo(f"fuzz {target}: working corpus {scratch} (seeded from "
                     f"{CORPUS_DIR / target}; removed at the end)")
                with _signals_blocked():  # no signal between fork and ``child =``
                    child = subprocess.Popen(
                        [sys.executable, "-m", "powercompat.fuzz", target, *flags,
                         str(scratch)], start_new_session=True)
                return child.wait()  # as long as the libFuzzer flags say: no timeout here
            except _Stopped as stop:
                return 128 + stop.signum
            except KeyboardInterrupt:
                return 128 + signal.SIGINT
    finally:
        with _signals_blocked():
            if child is not None:
                _stop_group(child)
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)


def _stop_group(child: subprocess.Popen[bytes]) -> None:
    """End libFuzzer and every worker it started (they share its process group): SIGTERM
    first (libFuzzer prints its statistics), SIGKILL after the grace time and for any worker
    left in the group once the leader is gone."""
    _killpg(child.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        child.wait(timeout=_STOP_GRACE)
    _killpg(child.pid, signal.SIGKILL)
    child.wait()


def _killpg(pgid: int, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


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
        return run_atheris(target, flags, paths, echo)
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
