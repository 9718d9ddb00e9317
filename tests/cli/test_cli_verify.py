"""``powercompat verify check`` and ``run`` on recorded data and bad input (no booting)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import Runner

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
