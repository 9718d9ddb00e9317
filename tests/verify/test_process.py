"""Process hygiene (issue #12 items 1, 5, 6): no child outlives the harness, no temp folder
stays, every subprocess has a timeout, a QEMU that says nothing is a one-line error.

The last test sends SIGINT, SIGTERM and SIGHUP to a real ``powercompat verify run`` booting a
real guest that never finishes (a 970 under a little-endian kernel stays silent), then looks
for any process carrying the test's tag in its environment and for any ``pcv-*`` folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from powercompat.verify import process
from powercompat.verify.errors import AssetError, EnvironmentProblem
from powercompat.verify.qemu import QemuBinary, parse_version, query_version

TCG_LOCK = Path("/work/locks/tcg.lock")
_LOCK_BUSY: list[bool] = []


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    prog = _script(tmp_path / "p", f"sleep 300 & echo $! > {pidfile}; sleep 300")
    t0 = time.monotonic()
    with pytest.raises(EnvironmentProblem, match=r"did not finish within 0\.5 s"):
        process.run([str(prog)], timeout=0.5)
    assert time.monotonic() - t0 < 10
    grandchild = int(pidfile.read_text())
    for _ in range(50):
        if not _alive(grandchild):
            break
        time.sleep(0.1)
    assert not _alive(grandchild)
    assert process.live_children() == {}


def test_missing_program_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem) as err:
        process.run([str(tmp_path / "no-such-apt-get"), "update"], timeout=5)
    assert str(err.value) == f"cannot run {tmp_path / 'no-such-apt-get'}: not found"


def test_temp_dir_goes_on_every_path(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), process.temp_dir(parent=tmp_path) as d:
        (d / "f").write_text("x")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_cleanup_kills_registered_children_and_folders(tmp_path: Path) -> None:
    proc = process.popen(["sleep", "300"])
    with process.temp_dir(parent=tmp_path) as d:
        process.cleanup()
        assert not d.exists()
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL


def test_qemu_version_problems_are_one_line_errors(tmp_path: Path) -> None:
    silent = _script(tmp_path / "silent", "exit 0")
    with pytest.raises(EnvironmentProblem, match="--version printed nothing$"):
        query_version(silent)
    hangs = _script(tmp_path / "hangs", "sleep 300")
    with pytest.raises(EnvironmentProblem, match="did not finish within 0.5 s"):
        query_version(hangs, timeout=0.5)
    fails = _script(tmp_path / "fails", "echo 'libfoo.so: cannot open' >&2; exit 127")
    with pytest.raises(EnvironmentProblem, match="exited 127: libfoo.so: cannot open$"):
        query_version(fails)
    junk = _script(tmp_path / "junk", "echo hello")
    with pytest.raises(EnvironmentProblem, match="not a QEMU version line: 'hello'"):
        query_version(junk)


def test_version_lines() -> None:
    v = parse_version("QEMU emulator version 10.0.13 (Debian 1:10.0.13+ds-0+deb13u1)")
    assert (v.release, v.version, v.debian_version) == ("10.0", "10.0.13",
                                                        "1:10.0.13+ds-0+deb13u1")
    v = parse_version("QEMU emulator version 5.2.0 (Debian 1:5.2+dfsg-11+deb11u5)")
    assert (v.release, v.version) == ("5.2", "5.2.0")
    v = parse_version("QEMU emulator version 11.1.50 (v11.1.0-1234-gabcdef)")
    assert (v.release, v.version, v.debian_version) == ("11.1", "11.1.50", None)


def test_extracted_root_runs_through_its_own_loader(tmp_path: Path) -> None:
    for libdir in ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"):
        (tmp_path / libdir).mkdir(parents=True)
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/qemu-system-ppc64").write_bytes(b"")
    (tmp_path / "usr/share/qemu").mkdir(parents=True)
    (tmp_path / "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2").write_bytes(b"")  # bullseye
    q = QemuBinary.from_root(tmp_path)
    assert q.argv("-cpu", "help") == [
        f"{tmp_path}/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "--library-path",
        f"{tmp_path}/usr/lib/x86_64-linux-gnu:{tmp_path}/lib/x86_64-linux-gnu",
        f"{tmp_path}/usr/bin/qemu-system-ppc64", "-L", f"{tmp_path}/usr/share/qemu",
        "-cpu", "help"]
    assert QemuBinary.from_json(q.to_json()) == q
    (tmp_path / "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2").unlink()
    with pytest.raises(EnvironmentProblem, match="holds no ld-linux-x86-64.so.2"):
        QemuBinary.from_root(tmp_path)


# --- the real thing -------------------------------------------------------------------------


def _tagged(tag: str) -> list[tuple[int, str]]:
    """Live processes whose environment carries ``tag``: (pid, command line)."""
    found = []
    needle = f"POWERCOMPAT_TEST_TAG={tag}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes() and _alive(int(entry.name)):
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append((int(entry.name), cmd))
    return found


@contextlib.contextmanager
def _tcg_lock(wait: float = 300.0) -> Iterator[None]:
    """The machine's shared TCG lock, where there is one (TEAM.md); skipped loudly if another
    batch holds it longer than ``wait`` seconds (a test never hangs on it)."""
    if not TCG_LOCK.exists():
        yield
        return
    if _LOCK_BUSY:
        pytest.skip(f"SIGNAL TEST SKIPPED: {TCG_LOCK} was busy for {wait:g} s")
    with TCG_LOCK.open() as fh:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    _LOCK_BUSY.append(True)  # the other signals skip at once
                    pytest.skip(f"SIGNAL TEST SKIPPED: {TCG_LOCK} busy for {wait:g} s")
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def cache() -> Path:
    if shutil.which("qemu-system-ppc64") is None:
        pytest.skip("SIGNAL TEST SKIPPED: no qemu-system-ppc64 on this machine")
    from powercompat.verify.assets import default_cache_dir, ensure_assets

    try:
        ensure_assets()
    except AssetError as err:
        if err.registry:
            pytest.skip(f"SIGNAL TEST SKIPPED: Debian download failed: {err}")
        raise
    return default_cache_dir()


@pytest.mark.live
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_leaves_no_qemu_and_no_temp_folder(
    sig: signal.Signals, cache: Path, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "POWERCOMPAT_TEST_TAG": tag,
           "POWERCOMPAT_CACHE": str(cache)}
    argv = [sys.executable, "-c", "from powercompat.cli.main import run; run()",
            "verify", "run", "--cpus", "970", "--modes", "unset", "--jobs", "1",
            "--report-dir", str(tmp_path / "report")]
    with _tcg_lock():
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            deadline = time.monotonic() + 60
            while not any(" -kernel " in cmd for _pid, cmd in _tagged(tag)):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "QEMU never started"
                time.sleep(0.1)
            assert list(tmpdir.glob("pcv-*")), "the boot's temp folder should exist by now"
            time.sleep(0.5)  # the guest is running
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    left = []
    for _ in range(20):  # the kernel needs a moment to reap a killed group
        left = _tagged(tag)
        if not left:
            break
        time.sleep(0.1)
    assert left == [], f"left running: {left}"
    assert list(tmpdir.iterdir()) == []
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert err.endswith("powercompat: interrupted\n")
    else:
        assert proc.returncode == -sig


def _fake_cache(tmp_path: Path) -> tuple[Path, Path]:
    """A cache with one set-up guest (dummy files) and a stand-in QEMU that answers
    ``--version`` and start-up probes, and otherwise runs a child that never ends."""
    qemu = _script(tmp_path / "qemu-system-ppc64", """
case "$*" in
  *--version*) echo 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)'; exit 0;;
  *" -S "*) exit 0;;
esac
sleep 300 &
wait""")
    guest = tmp_path / "cache" / "bookworm" / "guest"
    guest.mkdir(parents=True)
    for name in ("vmlinux", "busybox", "initrd.gz"):
        (guest / name).write_bytes(b"x")
    (guest.parent / "guest.json").write_text(json.dumps({
        "suite": "bookworm", "guest": "linux-6.1", "kernel_package": "linux-image-6.1.0-50",
        "kernel_version": "6.1.176-1", "busybox_version": "1", "vmlinux": str(guest / "vmlinux"),
        "busybox": str(guest / "busybox"), "initrd": str(guest / "initrd.gz")}))
    return qemu, tmp_path / "cache"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_leaves_no_child_and_no_temp_folder(sig: signal.Signals, tmp_path: Path) -> None:
    """The same hygiene without a guest (no TCG): the child here is a stand-in whose own child
    sleeps, so the whole process group must go."""
    qemu, cache = _fake_cache(tmp_path)
    tag = uuid.uuid4().hex
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "POWERCOMPAT_TEST_TAG": tag}
    argv = [sys.executable, "-c", "from powercompat.cli.main import run; run()",
            "verify", "run", "--qemu-binary", str(qemu), "--cache", str(cache), "--cpus",
            "power9", "--modes", "unset,power8", "--report-dir", str(tmp_path / "report")]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while sum("sleep 300" in cmd for _pid, cmd in _tagged(tag)) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the two boots never started"
            time.sleep(0.05)
        assert len(list(tmpdir.glob("pcv-*"))) == 2
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = _tagged(tag)
    for _ in range(20):
        if not left:
            break
        time.sleep(0.1)
        left = _tagged(tag)
    assert left == [], f"left running: {left}"
    assert list(tmpdir.iterdir()) == []
    assert proc.returncode == (130 if sig == signal.SIGINT else -sig), err
