"""The installed ``powercompat`` script: exit statuses, stderr, and lazy imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

SCRIPT = shutil.which("powercompat")
needs_script = pytest.mark.skipif(SCRIPT is None, reason="powercompat script not installed "
                                  "(pip install -e .)")


def _script(*argv: str) -> subprocess.CompletedProcess[str]:
    assert SCRIPT is not None
    env = {k: v for k, v in os.environ.items() if k != "POWERCOMPAT_DEBUG"}
    return subprocess.run([SCRIPT, *argv], capture_output=True, text=True, check=False,
                          env=env, timeout=60)


@needs_script
@pytest.mark.parametrize(("argv", "code", "stderr"), [
    (["negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power8", "--json"], 0, ""),
    (["negotiate", "--cpu", "foo"], 1, "powercompat: error: unable to find CPU model 'foo'\n"),
    (["negotiate", "--cpu", "POWER9", "--max-cpu-compat", "POWER8"], 1,
     'powercompat: error: Invalid compatibility mode "POWER8"\n'),
    (["negotiate", "--cpu", "POWER9", "--pvr-list", "ffff0000004d00"], 1,
     "powercompat: error: CAS buffer truncated at byte 7\n"),
    (["negotiate", "--cpu", "POWER8", "--accel", "kvm-pr", "--qemu", "2.10-pre"], 1,
     "powercompat: error: Unable to set CPU compatibility mode in KVM: Invalid argument\n"),
    (["negotiate", "--cpu", "POWER9", "--xyzzy"], 2,
     "powercompat: error: unrecognized arguments: --xyzzy "
     "(see 'powercompat negotiate --help')\n"),
])
def test_exit_status_and_one_line(argv: list[str], code: int, stderr: str) -> None:
    proc = _script(*argv)
    assert proc.returncode == code
    assert proc.stderr == stderr


@needs_script
def test_json_on_stdout() -> None:
    proc = _script("negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power8", "--json")
    data = json.loads(proc.stdout)
    assert (data["compat"], data["compat_pvr"], data["pcr"]) == (
        "power8", "0x0f000004", "0x0000000000000008")


@needs_script
def test_demo_runs_without_traceback() -> None:
    proc = _script("demo")
    assert proc.returncode == 0
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(("argv", "loaded", "not_loaded"), [
    (["negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power8", "--json"],
     ["powercompat.scenario"], ["rich", "click", "powercompat.cli.demo_cmd",
                                "powercompat.cli.tables", "powercompat.cli.fleet_cmd"]),
    (["negotiate", "--cpu", "POWER9"], ["powercompat.scenario"], ["rich", "click"]),
    (["--version"], [], ["rich", "click", "powercompat.scenario", "powercompat.cli.common"]),
    (["--help"], [], ["rich", "click"]),
])
def test_imports_stay_lazy(argv: list[str], loaded: list[str], not_loaded: list[str]) -> None:
    code = ("import sys, contextlib, io\n"
            "from powercompat.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    main({argv!r})\n"
            "print(','.join(sorted(m for m in sys.modules)))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    modules = set(proc.stdout.strip().split(","))
    assert set(loaded) <= modules
    assert not {m for m in modules for prefix in not_loaded
                if m == prefix or m.startswith(prefix + ".")}
