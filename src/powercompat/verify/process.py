"""Every child process and temp folder of the harnesses goes through here (issue #12, item 1).

Why one module: a QEMU left behind keeps burning a core of a shared machine (a 970 guest hangs
forever), and a ``pcv-*`` folder left behind fills the temp directory. So every child is
started in its own session (its own process group), registered while it lives, and killed with
its whole group when the harness ends by any path: normal return, exception, ``SIGINT``,
``SIGTERM``, ``SIGHUP`` or interpreter exit. On Linux a child also gets ``PR_SET_PDEATHSIG``
(SIGKILL), so even a ``SIGKILL`` of the harness cannot orphan it. Every synchronous run has a
timeout. Temp folders made by :func:`temp_dir` are removed on the same paths.

Use:

- :func:`run` for short programs (``qemu --version``, ``apt-get``, ``dpkg-deb``, start-up
  probes): a timeout is required, a missing program or a timeout is a one-line
  :class:`~powercompat.verify.errors.EnvironmentProblem`.
- :func:`spawn` (async) for long-lived children (QEMU guests) and :func:`release` when done.
- :func:`temp_dir` instead of ``tempfile.TemporaryDirectory``.
- :func:`guard` around a whole command: installs the signal handlers, and on leaving kills
  what is left and removes the registered folders.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from powercompat.verify.errors import EnvironmentProblem

#: the signals after which the harness cleans up and ends
HANDLED_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
TEMP_PREFIX = "pcv-"

_lock = threading.RLock()
_groups: dict[int, str] = {}  # pid (= its process group) -> program, for every live child
_temp_dirs: set[Path] = set()
_stopping = False

_PR_SET_PDEATHSIG = 1
try:
    _prctl: Callable[..., int] | None = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL me when the harness dies (even by SIGKILL)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold the handled signals while a child is created and registered, so no signal can
    fall between the fork and the registration (the child would then escape the cleanup)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _check_not_stopping() -> None:
    if _stopping:
        raise EnvironmentProblem("the harness is stopping; no new process is started")


def kill_group(pid: int) -> None:
    """SIGKILL the child's whole process group (QEMU and anything it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _register(pid: int, program: str) -> None:
    with _lock:
        _groups[pid] = program


def _unregister(pid: int) -> None:
    with _lock:
        _groups.pop(pid, None)


def live_children() -> dict[int, str]:
    """The registered children (pid -> program), for tests and reports."""
    with _lock:
        return dict(_groups)


def _missing(argv: Sequence[str], err: OSError) -> EnvironmentProblem:
    why = "not found" if isinstance(err, FileNotFoundError) else err.strerror or str(err)
    return EnvironmentProblem(f"cannot run {argv[0]}: {why}")


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a short program to completion in its own process group, output captured as text.

    The exit status is the caller's to judge (``check`` is never implied).

    :raises EnvironmentProblem: the program is missing or not executable, or it did not end
        within ``timeout`` seconds (its group is then killed).
    """
    _check_not_stopping()
    argv = [str(a) for a in argv]
    with _signals_blocked():
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=None if env is None else dict(env),
                stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as err:
            raise _missing(argv, err) from err
        _register(proc.pid, argv[0])
    try:
        out, err_text = proc.communicate(stdin_text, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        kill_group(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=5)
        raise EnvironmentProblem(
            f"{Path(argv[0]).name} did not finish within {timeout:g} s: {' '.join(argv[:6])}"
        ) from exc
    finally:
        # Only an unreaped child's pid is safe to use as a group id: once reaped, the number
        # can be reused. So the group is killed only when communicate() was interrupted.
        if proc.returncode is None:
            kill_group(proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        _unregister(proc.pid)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err_text)


async def spawn(
    argv: Sequence[str],
    *,
    stdin: int = subprocess.DEVNULL,
    stdout: int = subprocess.PIPE,
    stderr: int = subprocess.PIPE,
) -> asyncio.subprocess.Process:
    """Start a long-lived child (a QEMU guest) in its own session, registered for cleanup.

    The caller ends it with :func:`release` (in a ``finally``).

    :raises EnvironmentProblem: the program is missing or not executable.
    """
    _check_not_stopping()
    argv = [str(a) for a in argv]
    # No signal mask here: it would be held across the await, and two spawns interleaving
    # would leave the signals blocked for good. A signal that falls between the fork and the
    # registration ends the harness, and PR_SET_PDEATHSIG then ends this child too.
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    except OSError as err:
        raise _missing(argv, err) from err
    _register(proc.pid, argv[0])
    return proc


def release(proc: asyncio.subprocess.Process | subprocess.Popen[Any]) -> None:
    """Kill the child's group if it still runs and forget it (idempotent)."""
    if proc.returncode is None:
        kill_group(proc.pid)
    _unregister(proc.pid)


def popen(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """A synchronous long-lived child (migration's two QEMUs); end it with :func:`release`.

    :raises EnvironmentProblem: the program is missing or not executable.
    """
    _check_not_stopping()
    argv = [str(a) for a in argv]
    with _signals_blocked():
        try:
            proc: subprocess.Popen[Any] = subprocess.Popen(
                argv, start_new_session=True, preexec_fn=_die_with_parent, **kwargs
            )
        except OSError as err:
            raise _missing(argv, err) from err
        _register(proc.pid, argv[0])
    return proc


@contextlib.contextmanager
def temp_dir(prefix: str = TEMP_PREFIX, parent: Path | None = None) -> Iterator[Path]:
    """A private folder removed on leaving, and also on a handled signal or at exit."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    with _lock:
        _temp_dirs.add(path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        with _lock:
            _temp_dirs.discard(path)


def cleanup() -> None:
    """Kill every registered child's group and remove every registered temp folder."""
    with _lock:
        pids, dirs = list(_groups), list(_temp_dirs)
        _groups.clear()
        _temp_dirs.clear()
    for pid in pids:
        kill_group(pid)
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    """Clean up, then end as the signal asks: KeyboardInterrupt for SIGINT (the CLI prints
    one line and exits 130), death by the signal itself for SIGTERM and SIGHUP."""
    global _stopping
    _stopping = True
    cleanup()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signum])
    os.kill(os.getpid(), signum)


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Install the cleanup on SIGINT/SIGTERM/SIGHUP for the duration; clean up on leaving.

    Off the main thread (where handlers cannot be installed) it only cleans up on leaving.
    """
    global _stopping
    main = threading.current_thread() is threading.main_thread()
    previous: dict[signal.Signals, Any] = {}
    if main:
        for sig in HANDLED_SIGNALS:
            previous[sig] = signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        cleanup()
        for old_sig, handler in previous.items():
            signal.signal(old_sig, handler)
        _stopping = False


atexit.register(cleanup)
