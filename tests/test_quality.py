"""The project's own checks run with the tests: ruff and mypy (strict) must be clean."""

from __future__ import annotations

import ast
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


#: DESIGN.md's layers, lowest first: a package may import only packages of a lower rank (and
#: itself); peers of one rank never import each other. ``messages`` and ``errors`` are the
#: leaves everything may use; ``catalog`` imports nothing of ours at all. ``inputs`` (the
#: capped readers, over errors) and ``arguments`` (the entry-point checks, over inputs) are
#: helpers just above the leaves: scenario and the front-ends use them. ``upgrade`` (the
#: upgrade diff) is a front-end over two others: it reads fleet inventories and verify's
#: recordings of the real binaries.
RANKS: dict[str, int] = {
    "messages": 0, "version": 0, "errors": 1, "inputs": 2, "arguments": 3,
    "catalog": 2, "decisions": 3, "profiles": 4, "accel": 5,
    "machine": 6, "scenario": 7, "stress": 7, "fuzz": 8, "fleet": 8, "verify": 8,
    "upgrade": 9, "cli": 10, "__init__": 11, "__main__": 11,
}
ISOLATED = frozenset({"catalog"})


def _unit(path: Path, pkg: Path) -> str:
    rel = path.relative_to(pkg)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_units(tree: ast.AST, path: Path, pkg: Path) -> list[tuple[int, str]]:
    """(line, top-level unit of powercompat) for every import statement, nothing else: a
    docstring or comment naming a module is not an import."""
    out: list[tuple[int, str]] = []
    here = path.relative_to(pkg).parent.parts
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this file's package
                base = ["powercompat", *here[: len(here) - node.level + 1]]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names = ([f"{module}.{a.name}" for a in node.names] if module == "powercompat"
                     else [module])
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "powercompat" and len(parts) > 1:
                out.append((node.lineno, parts[1]))
    return out


def layer_violations(pkg: Path) -> list[str]:
    """Every import in ``pkg`` (the powercompat source tree) that points up or sideways."""
    bad = []
    for path in sorted(pkg.rglob("*.py")):
        me = _unit(path, pkg)
        for line, target in _imported_units(ast.parse(path.read_text()), path, pkg):
            if target == me:
                continue
            if me in ISOLATED or target not in RANKS or RANKS[target] >= RANKS[me]:
                bad.append(f"{path.relative_to(pkg)}:{line} ({me}) imports powercompat.{target}")
    return bad


def test_layers_import_downwards_only() -> None:
    """DESIGN.md: catalog imports nothing of ours; decisions never import machine, accel,
    profiles or cli; nothing but cli imports cli; in general, imports point down."""
    pkg = ROOT / "src" / "powercompat"
    assert {_unit(p, pkg) for p in pkg.rglob("*.py")} <= set(RANKS), "a package without a rank"
    assert layer_violations(pkg) == []


def test_layer_check_catches_a_planted_import(tmp_path: Path) -> None:
    """The check can fail: an upward import in any spelling is caught, a docstring is not."""
    pkg = tmp_path / "powercompat"
    (pkg / "catalog").mkdir(parents=True)
    (pkg / "decisions").mkdir()
    (pkg / "machine").mkdir()
    (pkg / "catalog" / "modes.py").write_text("from powercompat import machine\n")
    (pkg / "decisions" / "cas.py").write_text(
        '"""Called by powercompat.machine.pseries; see powercompat.cli."""\n'
        "import powercompat.catalog.modes\n"
        "# from powercompat.machine import pseries\n")
    (pkg / "decisions" / "pcr.py").write_text("from ..machine import pseries\n")
    (pkg / "machine" / "pseries.py").write_text("from powercompat.cli.main import run\n")
    assert layer_violations(pkg) == [
        "catalog/modes.py:1 (catalog) imports powercompat.machine",
        "decisions/pcr.py:1 (decisions) imports powercompat.machine",
        "machine/pseries.py:1 (machine) imports powercompat.cli",
    ]


def _raised_names(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            out.append((node.lineno, name))
    return out


def test_no_bare_root_error_is_raised() -> None:
    """Callers catch typed errors: the root PowerCompatError is never raised itself."""
    pkg = ROOT / "src" / "powercompat"
    bad = [f"{p.relative_to(pkg)}:{line}" for p in sorted(pkg.rglob("*.py"))
           for line, name in _raised_names(ast.parse(p.read_text()))
           if name == "PowerCompatError"]
    assert bad == []


#: fragments of QEMU's own texts: they belong in messages.py and nowhere else in the engine
QEMU_TEXTS = ("Unknown savevm section", "TCG cannot support", "TCG only supports",
              "can't apply global", "Unable to set CPU compatibility", "not valid for CPU",
              "Couldn't negotiate", "Invalid compatibility mode", "unable to find CPU model",
              "load of migration failed", "error while loading state")
ENGINE = ("catalog", "decisions", "profiles.py", "accel", "machine", "scenario.py", "errors.py")


def _qemu_texts_outside_messages(pkg: Path) -> list[str]:
    bad = []
    for part in ENGINE:
        where = pkg / part
        for path in sorted(where.rglob("*.py") if where.is_dir() else [where] * where.exists()):
            tree = ast.parse(path.read_text())
            docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                          if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)
                          and n.body and isinstance(n.body[0], ast.Expr)}
            for node in ast.walk(tree):
                if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                        and id(node) not in docstrings):
                    bad += [f"{path.relative_to(pkg)}:{node.lineno}: {t}" for t in QEMU_TEXTS
                            if t in node.value]
    return bad


def test_qemu_texts_live_in_messages(tmp_path: Path) -> None:
    pkg = ROOT / "src" / "powercompat"
    assert _qemu_texts_outside_messages(pkg) == []
    planted = tmp_path / "machine"
    planted.mkdir()
    (planted / "x.py").write_text(
        '"""Prints TCG cannot support ..."""\nE = "TCG only supports SMT"\n')
    assert _qemu_texts_outside_messages(tmp_path) == ["machine/x.py:2: TCG only supports"]


def _set_up_commands(readme: str) -> list[str]:
    """The two commands of the README's Set-up block."""
    block = readme.split("## Set-up", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run must call exactly the README's test command (in its venv), last."""
    commands = _set_up_commands((ROOT / "README.md").read_text())
    assert len(commands) == 2 and commands[1].endswith("python -m pytest")
    assert all(c.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
               for c in commands)
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#")]
    assert ci[-1] == commands[1]
    assert _set_up_commands("## Set-up\n```sh\na\nb\n```\n") == ["a", "b"]
