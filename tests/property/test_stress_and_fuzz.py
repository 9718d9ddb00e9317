"""The stress runner over every profile x accelerator, its CLI, the fuzz targets in replay
mode (and under atheris when installed), and proof that the checker has teeth."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from powercompat.catalog.behaviour import SetCompat
from powercompat.fuzz.corpus import CORPUS_DIR, REAL_CAS_SEED, seed_corpus
from powercompat.fuzz.runner import atheris_available, replay
from powercompat.fuzz.targets import FuzzInvariantError, cas_target, migration_target
from powercompat.machine.pseries import PseriesMachine
from powercompat.profiles import PROFILE_NAMES
from powercompat.stress.generator import MODEL_ACCELS
from powercompat.stress.runner import run_stress

main = pytest.importorskip("powercompat.cli.main").main
REAL = Path(__file__).parents[1] / "data" / "real" / "linux-6.1-ibm_architecture_vec_template.json"


@pytest.mark.parametrize("accel", MODEL_ACCELS)
@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_stress_every_profile_and_kernel(profile: str, accel: str) -> None:
    report = run_stress(150, seed=11, profile=profile, accel=accel)
    assert report.violations == 0, report.to_json()["failures"]


def test_checker_catches_a_broken_rollback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation check: with the powercompat rollback disabled, stress must complain."""
    monkeypatch.setattr(PseriesMachine, "_rollback", lambda self, done, event: None)
    report = run_stress(400, seed=5, profile="powercompat", accel="kvm-hv")
    assert report.violations > 0


def test_checker_catches_a_redundant_ioctl(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation check: an ioctl on every set (2.10-pre's behaviour) under head is caught."""
    from dataclasses import replace

    from powercompat import profiles

    head = profiles.parse_profile("head")
    broken = replace(head, switches=head.switches._replace(set_compat=SetCompat.STATE_FIRST))
    monkeypatch.setattr(PseriesMachine, "profile", property(
        lambda self: broken, lambda self, value: None), raising=False)
    report = run_stress(200, seed=3, profile="head", accel="kvm-hv")
    assert report.violations > 0


def test_stress_cli_reports_throughput_and_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stress", "--lifecycles", "200", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "lifecycles/s" in out and "invariant violations: 0" in out
    assert main(["stress", "-n", "20", "--profile", "2.10", "--accel", "kvm-hv",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["violations"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--lifecycles", "0"], "--lifecycles must be at least 1, got 0"),
    (["--profile", "3.2"], "unknown QEMU profile '3.2' (valid: "),
    (["--accel", "kvm"], "stress runs the modelled accelerators only"),
    (["--accel", "xen"], "unknown accelerator 'xen' (valid: tcg, kvm-hv, kvm-pr, "
                         "kvm-pr-ignore, kvm)"),
])
def test_stress_cli_bad_input(args: list[str], message: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stress", *args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_stress_cli_exits_1_on_violation(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(PseriesMachine, "_rollback", lambda self, done, event: None)
    assert main(["stress", "-n", "400", "-s", "5", "--profile", "powercompat",
                 "--accel", "kvm-hv"]) == 1
    assert "lifecycle seed" in capsys.readouterr().out


# ---------------------------------------------------------------- fuzz


def test_seed_corpus_files_match_generated_seeds() -> None:
    for target in ("cas", "migration"):
        for name, data in seed_corpus(target).items():
            assert (CORPUS_DIR / target / name).read_bytes() == data, name
    real = bytes.fromhex(json.loads(REAL.read_text())["hex"])
    assert (CORPUS_DIR / "cas" / REAL_CAS_SEED).read_bytes() == real


@pytest.mark.parametrize("target", ["cas", "migration"])
def test_replay_mode_runs_the_seed_corpus_clean(target: str) -> None:
    report = replay(target, [])
    assert report.inputs >= 6 and report.failures == []


def test_replay_reports_an_invariant_failure(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PseriesMachine, "_rollback", lambda self, done, event: None)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00" * 3)
    monkeypatch.setattr("powercompat.fuzz.targets.check_cas_parse",
                        lambda data: ["planted"])
    report = replay("cas", [bad])
    assert len(report.failures) == 1 and "FuzzInvariantError" in report.failures[0]


def test_targets_swallow_typed_errors_only() -> None:
    for blob in (b"", b"\xff" * 9, bytes(4096), b"QEVM\x00\x00\x00\x03\x07", b"QEVM"):
        cas_target(blob)
        migration_target(blob)
    assert issubclass(FuzzInvariantError, AssertionError)


def test_fuzz_cli_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fuzz", "cas", "--replay"]) == 0
    assert "0 failure(s)" in capsys.readouterr().out
    shutil.copytree(CORPUS_DIR / "migration", tmp_path / "m")
    assert main(["fuzz", "migration", "--replay", str(tmp_path / "m")]) == 0
    assert main(["fuzz", "migration", "--replay", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.skipif(not atheris_available(), reason="atheris is not installed")
@pytest.mark.parametrize("target", ["cas", "migration"])
def test_atheris_runs(target: str, tmp_path: Path) -> None:
    shutil.copytree(CORPUS_DIR / target, tmp_path / "corpus")
    proc = subprocess.run(
        [sys.executable, "-m", "powercompat.fuzz", target, "-runs=300", str(tmp_path / "corpus")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Done 300 runs" in proc.stderr
