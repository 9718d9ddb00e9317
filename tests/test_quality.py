"""The project's own checks run with the tests: ruff and mypy (strict) must be clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("cmd", [["ruff", "check", "src", "tests"], ["mypy"]])
def test_tool_is_clean(cmd: list[str]) -> None:
    if shutil.which(cmd[0]) is None:
        pytest.fail(f"{cmd[0]} is not installed: pip install -e '.[dev]'")
    proc = subprocess.run([sys.executable, "-m", *cmd], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_layers_import_downwards_only() -> None:
    """catalog imports nothing of ours; decisions never import machine, accel, profiles or
    cli; nothing but cli imports cli (DESIGN.md)."""
    pkg = ROOT / "src" / "powercompat"
    forbidden = {
        "catalog": ("powercompat.decisions", "powercompat.machine", "powercompat.accel",
                    "powercompat.profiles", "powercompat.cli", "powercompat.scenario"),
        "decisions": ("powercompat.machine", "powercompat.accel", "powercompat.profiles",
                      "powercompat.cli", "powercompat.scenario"),
        "accel": ("powercompat.machine", "powercompat.cli", "powercompat.scenario"),
        "machine": ("powercompat.cli", "powercompat.scenario", "powercompat.fleet",
                    "powercompat.verify"),
    }
    bad = []
    for layer, names in forbidden.items():
        for path in (pkg / layer).rglob("*.py"):
            text = path.read_text()
            bad += [f"{path.relative_to(ROOT)} imports {n}" for n in names if n in text]
    for path in pkg.rglob("*.py"):
        if "cli" not in path.relative_to(pkg).parts and "powercompat.cli" in path.read_text():
            bad.append(f"{path.relative_to(ROOT)} imports powercompat.cli")
    assert bad == []
