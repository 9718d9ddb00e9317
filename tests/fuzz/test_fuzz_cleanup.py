"""``fuzz`` leaves nothing behind (issue #12 item 8): no ``powercompat-fuzz-*`` folder after a
run, a crash or a signal, no libFuzzer process after a signal; ``-jobs=2`` re-runs the
fuzzer, not the CLI. Corpus inputs go through the capped reader."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from powercompat.cli.main import main
from powercompat.fuzz.runner import SCRATCH_PREFIX, atheris_available, replay, self_command
from powercompat.inputs import InputFileError

needs_atheris = pytest.mark.skipif(not atheris_available(), reason="atheris is not installed")

RUNNER = "import sys; from powercompat.fuzz.runner import main; sys.exit(main(sys.argv[1:]))"


def scratch_dirs(tmp: Path) -> list[Path]:
    return sorted(tmp.glob(f"{SCRATCH_PREFIX}*"))


def processes_naming(text: str) -> list[int]:
    """PIDs whose command line mentions ``text`` (the scratch folder: libFuzzer and its
    workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return found


@needs_atheris
def test_jobs_rerun_the_fuzzer_not_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """libFuzzer starts each job as ``argv[0] FLAGS CORPUS`` through the shell; before, argv[0]
    was the ``powercompat`` CLI, which refused ``-runs=...`` and every job exited 2."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # libFuzzer writes fuzz-<job>.log in the working directory
    assert main(["fuzz", "migration", "-runs=5", "-jobs=2"]) == 0
    assert "working corpus" in capsys.readouterr().out
    logs = sorted(tmp_path.glob("fuzz-*.log"))
    assert len(logs) == 2
    for log in logs:
        assert re.search(r"^Done \d+ runs", log.read_text(errors="replace"), re.M), log
    assert scratch_dirs(tmp_path) == []  # before: one powercompat-fuzz-* folder per run
    assert self_command("cas").endswith("-m powercompat.fuzz cas")


@needs_atheris
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_stops_libfuzzer_and_removes_the_folder(tmp_path: Path, sig: int) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, "cas", "-max_total_time=120"],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "fuzz cas: working corpus <dir> ..."
        assert "working corpus" in line, line
        scratch = scratch_dirs(tmp_path)
        assert len(scratch) == 1
        deadline = time.monotonic() + 30
        while not processes_naming(str(scratch[0])) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_naming(str(scratch[0])), "libFuzzer never started"
        time.sleep(0.5)  # let libFuzzer get going
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 128 + sig
        assert scratch_dirs(tmp_path) == []
        assert processes_naming(str(scratch[0])) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_replay_refuses_special_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    zero = tmp_path / "zero"
    zero.symlink_to("/dev/zero")  # before: read until MemoryError
    big = tmp_path / "big"
    with big.open("wb") as out:
        out.truncate((1 << 20) + 1)
    for path, problem in ((fifo, "is a FIFO (named pipe), not a regular file"),
                          (zero, "is a character device, not a regular file"),
                          (big, "larger than 1 MiB, the cap for a fuzz input")):
        with pytest.raises(InputFileError) as info:
            replay("cas", [path])
        assert str(info.value) == f"{path}: {problem}"


def test_replay_skips_non_files_inside_a_directory(tmp_path: Path) -> None:
    (tmp_path / "seed").write_bytes(b"\xff" * 8)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    report = replay("cas", [tmp_path])
    assert (report.inputs, report.failures) == (1, [])


def test_replay_cli_exits_1_on_a_device(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    zero = tmp_path / "zero"
    zero.symlink_to("/dev/zero")
    assert main(["fuzz", "cas", "--replay", str(zero)]) == 1
    assert capsys.readouterr().err.endswith(f"{zero}: is a character device, not a regular "
                                            "file\n")
