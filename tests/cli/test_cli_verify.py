"""``powercompat verify check`` and ``run`` on recorded data and bad input (no booting)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import Result, Runner

REAL = Path(__file__).parents[1] / "data" / "real"


def test_check_recorded_matrix_matches(run: Runner) -> None:
    r = run("verify", "check", str(REAL / "qemu-7.2-linux-6.1-vof.json"))
    assert r.code == 0, r.err
    assert r.lines[-1] == "22 match, 6 refusal-matched"
    assert any(line.split()[:3] == ["power8", "power9", "refusal-matched"] for line in r.lines)


def test_check_json(run: Runner) -> None:
    r = run("verify", "check", "--json", str(REAL / "qemu-7.2-linux-6.1-slof.json"))
    assert r.code == 0
    data = r.json
    assert data["mismatches"] == 0
    assert {v["outcome"] for v in data["verdicts"]} <= {"match", "refusal-matched"}


def test_check_reports_reality_s_verdict_beside_the_engine_s(run: Runner) -> None:
    """issue #11: verify reports the verdict the real run showed, and the engine's."""
    r = run("verify", "check", "--json", str(REAL / "qemu-7.2-linux-6.1-vof.json"))
    by_cell = {(v["cpu"], v["max_cpu_compat"]): v for v in r.json["verdicts"]}  # type: ignore[attr-defined]
    sigill = by_cell[("power9", "power6")]
    assert (sigill["verdict"], sigill["verdict_reason"]) == ("userland-dies",
                                                              "init was killed by SIGILL")
    assert sigill["engine_verdict"] == "userland-dies"
    assert by_cell[("power8", "power9")]["verdict"] == "qemu-refuses"
    assert by_cell[("power9", "power8")]["verdict"] == "works"
    assert all(v["verdict"] == v["engine_verdict"] for v in by_cell.values())


def test_a_verdict_the_engine_gets_wrong_is_a_mismatch(run: Runner, tmp_path: Path) -> None:
    """A kernel that panicked after CAS (no SIGILL) where the engine says it works."""
    data = json.loads((REAL / "qemu-7.2-linux-6.1-vof.json").read_text())
    cell = next(c for c in data["cells"] if c["cpu"] == "power9" and c["max_cpu_compat"]
                == "power8")
    cell.update(stop_reason="panic", os_panic="OS panic: Kernel panic - not syncing")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    r = run("verify", "check", "--json", str(bad))
    assert r.code == 1
    wrong = [v for v in r.json["verdicts"] if v["outcome"] == "mismatch"]  # type: ignore[attr-defined]
    assert [(v["verdict"], v["engine_verdict"]) for v in wrong] == [("kernel-hangs", "works")]
    assert "verdict: observed 'kernel-hangs', engine 'works'" in wrong[0]["detail"]


def test_check_fails_on_a_mismatch(run: Runner, tmp_path: Path) -> None:
    data = json.loads((REAL / "qemu-7.2-linux-6.1-vof.json").read_text())
    cell = next(c for c in data["cells"] if c["cpu"] == "power9" and c["max_cpu_compat"]
                == "power8")
    cell["trace_new"] = 0x0F000005  # pretend QEMU negotiated power9
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    r = run("verify", "check", str(bad))
    assert r.code == 1
    assert any("mismatch" in line for line in r.lines)


def test_unknown_qemu_version_is_an_error(run: Runner, tmp_path: Path) -> None:
    data = json.loads((REAL / "qemu-7.2-linux-6.1-vof.json").read_text())
    data["qemu_version"] = "QEMU emulator version 12.0.1"
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    r = run("verify", "check", str(path))
    assert r.code == 1
    assert r.err.count("\n") == 1 and r.err.startswith("powercompat: error: ")
    assert "12.0.1" in r.err


def test_run_rejects_bad_jobs_before_booting(run: Runner) -> None:
    r = run("verify", "run", "--jobs", "0")
    assert (r.code, r.err) == (1, "powercompat: error: --jobs must be 1..16, got 0\n")


def test_run_rejects_threads_that_do_not_divide_smp(run: Runner) -> None:
    r = run("verify", "run", "--smp", "2", "--threads", "3")
    assert (r.code, r.err) == (1, "powercompat: error: --threads must divide --smp 2, got 3\n")


def test_check_an_smt_boot_matrix(run: Runner) -> None:
    """-smp 2,threads=2 boots: one device-tree node per core, SMT refused below POWER8."""
    r = run("verify", "check", str(REAL / "qemu-10.0-linux-6.12-vof-smp2-threads2.json"))
    assert r.code == 0, r.err
    assert r.lines[-1] == "14 match, 26 refusal-matched"
    assert any(line.split()[:3] == ["power9", "power7", "refusal-matched"]
               and "TCG only supports SMT on POWER8 or newer CPUs" in line for line in r.lines)


def test_malformed_recorded_files_are_one_line_errors(run: Runner, tmp_path: Path) -> None:
    cases = {
        "empty.json": ("", "not a readable JSON file"),
        "object.json": ("{}", "not a recorded matrix (no 'cells' list)"),
        "header.json": ('{"cells": []}', "header lacks qemu_version, kernel_version"),
        "cell.json": ('{"qemu_version": "QEMU emulator version 7.2.22", '
                      '"kernel_version": "6.1.176-1", "cells": [{"cpu": "x"}]}',
                      "cell 0 is malformed"),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        r = run("verify", "check", str(path))
        assert r.code == 1, name
        assert r.err.count("\n") == 1 and expected in r.err, r.err


# --- environment errors are one line, exit 1, before any boot (issue #12 items 5, 6) --------


def _one_line(r: Result, code: int = 1) -> str:
    assert r.code == code, (r.code, r.err)
    err = r.err
    assert err.count("\n") == 1 and err.startswith("powercompat: error: "), err
    return err


def test_report_dir_is_checked_before_anything_boots(run: Runner, tmp_path: Path) -> None:
    err = _one_line(run("verify", "run", "--report-dir", "/proc/powercompat/report",
                        "--cache", str(tmp_path)))
    assert "--report-dir /proc/powercompat/report is not writable" in err
    (tmp_path / "file").write_text("")
    err = _one_line(run("verify", "run", "--report-dir", str(tmp_path / "file" / "r")))
    assert "is not writable: Not a directory" in err


def test_cache_that_is_a_file(run: Runner, tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("")
    for command in ("run", "setup"):
        err = _one_line(run("verify", command, "--cache", str(tmp_path / "cache"),
                            "--report-dir", str(tmp_path / "r")) if command == "run" else
                        run("verify", command, "--cache", str(tmp_path / "cache")))
        assert err.endswith(f"cache {tmp_path / 'cache'} is not a folder\n")


def test_run_never_installs_and_says_which_setup(run: Runner, tmp_path: Path) -> None:
    err = _one_line(run("verify", "run", "--release", "trixie", "--cache",
                        str(tmp_path / "cache"), "--report-dir", str(tmp_path / "r")))
    assert err.endswith("run: powercompat verify setup --release trixie\n")
    assert not (tmp_path / "cache").exists()  # nothing fetched, nothing made


def test_a_qemu_that_prints_nothing(run: Runner, tmp_path: Path) -> None:
    silent = tmp_path / "qemu-system-ppc64"
    silent.write_text("#!/bin/sh\nexit 0\n")
    silent.chmod(0o755)
    err = _one_line(run("verify", "run", "--qemu-binary", str(silent), "--cache",
                        str(tmp_path), "--report-dir", str(tmp_path / "r")))
    assert err.endswith(f"{silent} --version printed nothing\n")
    err = _one_line(run("verify", "catalog", "--qemu-binary", str(silent)))
    assert err.endswith(f"{silent} --version printed nothing\n")


def test_setup_without_apt_get(
    run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    err = _one_line(run("verify", "setup", "--release", "sid", "--cache", str(tmp_path / "c")))
    assert err.endswith("cannot run apt-get: not found (verify setup needs Debian's apt and "
                        "dpkg)\n")


def test_unknown_release_and_guest(run: Runner, tmp_path: Path) -> None:
    err = _one_line(run("verify", "setup", "--release", "jessie", "--cache", str(tmp_path)))
    assert "unknown release 'jessie'; known: bullseye (5.2), bookworm (7.2), trixie (10.0), " \
        "sid (11.1)" in err
    err = _one_line(run("verify", "run", "--release", "sid", "--guest", "linux-9.9", "--cache",
                        str(tmp_path), "--report-dir", str(tmp_path / "r")))
    assert "not set up" in err or "unknown guest 'linux-9.9'" in err


def test_libvirt_check_reports_each_case_s_verdict(run: Runner) -> None:
    r = run("verify", "libvirt", "--check", str(REAL / "libvirt-9.0-qemu-7.2-cpu.json"),
            "--json")
    verdicts = {c["id"]: c["verdict"] for c in r.json["cases"]}  # type: ignore[attr-defined]
    assert (verdicts["none"], verdicts["custom-power8"]) == ("works", "libvirt-refuses")
    assert verdicts["custom-POWER9-pseries-7.2"] is None  # started, no guest booted
