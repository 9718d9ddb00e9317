"""The fast table layout gives rich's characters, and never crops a value."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from cli_runner import Runner
from hypothesis import given, settings
from hypothesis import strategies as st

from powercompat.cli import tables

rich_console = pytest.importorskip("rich.console")

WORD = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
CELL = st.lists(WORD, min_size=1, max_size=3).map("\n".join)


def _rich(item: tables.Item, width: int) -> list[str]:
    console = rich_console.Console(file=io.StringIO(), width=width, highlight=False,
                                   markup=False, emoji=False, soft_wrap=False)
    with console.capture() as captured:
        console.print(tables.to_rich(item))
    value = captured.get()
    assert value.endswith("\n")
    return [line.rstrip() for line in value[:-1].split("\n")]


@st.composite
def grids(draw: st.DrawFn) -> tables.Table:
    columns = draw(st.lists(WORD.filter(lambda w: "\n" not in w), min_size=1, max_size=6))
    wrap = tuple(c for c in columns if draw(st.booleans()))
    grid = tables.table(*columns, title=draw(st.none() | WORD), caption=draw(st.none() | WORD),
                        wrap=wrap)
    for _ in range(draw(st.integers(0, 5))):
        grid.add_row(*draw(st.lists(CELL, max_size=len(columns))))
    return grid


@settings(max_examples=600, deadline=None)
@given(grid=grids(), width=st.integers(20, 140), by=st.sampled_from([0, 4]))
def test_fast_layout_is_what_rich_draws(grid: tables.Table, width: int, by: int) -> None:
    """Every table the fast layout lays out is drawn as rich draws it, folded wrap columns
    included; the one deliberate difference is a too-wide table with no column that may
    wrap (printed whole, where rich crops)."""
    item: tables.Item = tables.indent(grid, by) if by else grid
    lines = tables._layout(item, width)
    natural = sum(max([len(c), *(len(x) for r in grid.rows for x in r[i].split("\n"))])
                  for i, c in enumerate(grid.columns)) + 3 * (len(grid.columns) - 1)
    if lines is not None and (natural <= width - by or grid.wrap):
        assert [line.rstrip() for line in lines] == _rich(item, width)


@settings(max_examples=400, deadline=None)
@given(grid=grids(), width=st.integers(8, 60))
def test_folded_tables_are_laid_out_here(grid: tables.Table, width: int) -> None:
    """Narrow widths force folding: the fast layout takes those tables too (not only rich),
    and what it draws is rich's drawing."""
    lines = tables.layout_table(grid, width)
    if lines is not None and grid.wrap:
        assert [line.rstrip() for line in lines] == _rich(grid, width)


def test_a_folded_reason_is_laid_out_without_rich() -> None:
    grid = tables.table("group", "why not newer", wrap=("why not newer",))
    grid.add_row("p10-00", "raw: cannot migrate from POWER10 power10_v2.0 kvm-hv qemu head "
                 "to POWER10 power10_v2.0 kvm-hv qemu 7.2: cpu/slb: incoming version_id 2 is "
                 "too new for local version_id 1")
    lines = tables.layout_table(grid, 60)
    assert lines is not None and max(len(x.rstrip()) for x in lines) <= 60
    assert [x.rstrip() for x in lines] == _rich(grid, 60)


def test_too_wide_table_without_wrap_columns_is_printed_whole() -> None:
    grid = tables.table("a", "b")
    grid.add_row("0x" + "f" * 70, "power8 (0x0f000004)" * 3)
    lines = tables._layout(grid, 40)
    assert lines is not None
    assert lines[2].split() == ["0x" + "f" * 70, "power8", "(0x0f000004)power8",
                                "(0x0f000004)power8", "(0x0f000004)"]


def test_simulate_kvm_pr_ignore_keeps_every_hex_digit(run: Runner) -> None:
    r = run("simulate", "--cpu", "POWER9", "--max-cpu-compat", "power8", "--accel",
            "kvm-pr-ignore", "--smp", "2", "--events", "realize,reset")
    assert r.code == 0
    row = next(line.split() for line in r.lines
               if line.split()[:3] == ["0", "power8", "(0x0f000004)"])
    assert row[3:] == ["0x0000000000000008", "0x0f000004", "power8", "(0x0f000004)", "none",
                       "NO", "(requested,", "not", "enforced)"]


def test_a_large_simulate_does_not_import_rich(tmp_path: object) -> None:
    import subprocess
    import sys

    code = ("import sys, contextlib, io\n"
            "from powercompat.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['simulate', '--cpu', 'POWER9', '--smp', '64', '--events',\n"
            "          'realize,reset,cas,hotplug,hotplug'])\n"
            "print('rich' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out == "False\n"


def test_upgrade_order_shows_limit_steps(run: Runner) -> None:
    """The order table costs what it shows (issue #13/#15): --limit steps per group, then a
    row saying how many more; --limit 0 shows every step."""
    example = str(Path(__file__).resolve().parents[2] / "examples" / "fleet" / "upgrade.json")
    short = run("fleet", "plan", example, "--upgrade-to", "11.1", "--limit", "2")
    full = run("fleet", "plan", example, "--upgrade-to", "11.1", "--limit", "0")
    assert (short.code, full.code) == (0, 0)
    assert any("... 3 more steps" in line for line in short.lines)
    assert not any("more steps" in line for line in full.lines)
    assert any(line.startswith("web     5 ") for line in full.lines)
