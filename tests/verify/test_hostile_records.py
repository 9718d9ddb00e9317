"""Hostile recorded files for ``verify check`` (issue #12 items 3, 4 and 9): a cell of the
wrong type is a malformed record naming the cell and the field, never a TypeError (exit 70)
nor an engine mismatch; special files and oversized files are refused before reading."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from powercompat.cli.main import main
from powercompat.verify.errors import RecordError
from powercompat.verify.matrix import load_cells

REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "qemu-7.2-linux-6.1-vof.json"


pytestmark = pytest.mark.usefixtures("no_hang")  # tests/conftest.py


def recorded(cell: object) -> dict[str, Any]:
    data = json.loads(REAL.read_text())
    data["cells"] = [cell]
    return data


def real_cell(**changes: object) -> dict[str, Any]:
    cell = dict(json.loads(REAL.read_text())["cells"][0])
    cell.update(changes)
    return cell


#: (case, cell, the malformation named after "cell 0 is malformed (")
CELLS = [
    ("smp-string", real_cell(smp="2"), "field 'smp': must be an integer, not a string"),
    ("smp-bool", real_cell(smp=True), "field 'smp': must be an integer, not true or false"),
    ("smp-zero", real_cell(smp=0), "field 'smp': must be at least 1"),
    ("cpu-null", real_cell(cpu=None), "field 'cpu': must be a string, not null"),
    ("cpu-int", real_cell(cpu=7), "field 'cpu': must be a string, not an integer"),
    ("cpu-newline", real_cell(cpu="power9\nx"),
     "field 'cpu': contains a control character U+000A"),
    ("cpu-surrogate", real_cell(cpu="power9\ud800"),
     "field 'cpu': contains a lone surrogate U+D800"),
    ("revision-int", real_cell(guest_revision=5),
     "field 'guest_revision': must be a string or null, not an integer"),
    ("max-int", real_cell(max_cpu_compat=8),
     "field 'max_cpu_compat': must be a string or null, not an integer"),
    ("versions", real_cell(cpu_versions=["0x0f000005"]),
     "field 'cpu_versions': must be a list of integers, not a list"),
    ("versions-null", real_cell(cpu_versions=None),
     "field 'cpu_versions': must be a list of integers, not null"),
    ("sigill", real_cell(init_sigill="no"),
     "field 'init_sigill': must be true or false, not a string"),
    ("string-cell", "power9", "must be an object, not a string"),
    ("list-cell", [], "must be an object, not a list"),
    ("extra", real_cell(colour="red"), "field 'colour': unknown field"),
]


@pytest.mark.parametrize(("cell", "problem"), [c[1:] for c in CELLS], ids=[c[0] for c in CELLS])
def test_wrongly_typed_cells_are_malformed_records(tmp_path: Path, cell: object,
                                                   problem: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(recorded(cell)))
    with pytest.raises(RecordError) as info:
        load_cells(path)
    assert str(info.value).startswith(f"{path}: cell 0 is malformed ({problem}")
    assert str(info.value).isprintable()


@pytest.mark.parametrize(("case", "cell", "problem"), CELLS[:6] + CELLS[7:9],
                         ids=[c[0] for c in CELLS[:6] + CELLS[7:9]])
def test_verify_check_refuses_instead_of_judging(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 case: str, cell: object,
                                                 problem: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(recorded(cell)))
    code = main(["verify", "check", str(path)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.startswith(f"powercompat: error: {path}: cell 0 is malformed "
                                   f"({problem}")
    assert captured.err.count("\n") == 1
    assert "mismatch" not in captured.out


def test_real_recorded_files_still_load() -> None:
    header, cells = load_cells(REAL)
    assert len(cells) == 28 and header["qemu_version"].startswith("QEMU emulator version 7.2")


@pytest.mark.parametrize(("text", "problem"), [
    ('{"cells": [], "cells": []}', "not accepted JSON: duplicate key 'cells'"),
    ('{"cells": [' + "[" * 50_000 + "]" * 50_000 + "]}",
     "not accepted JSON: nested too deeply"),
    ('{"cells": [], "jobs": ' + "1" * 5000 + "}",
     "not accepted JSON: an integer of 5000 digits (at most 64)"),
    ('{"cells": [], "matrix_wall_seconds": NaN}', "not accepted JSON: NaN is not JSON"),
], ids=["duplicate", "deep", "bigint", "nan"])
def test_hostile_json(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(RecordError) as info:
        load_cells(path)
    assert str(info.value) == f"{path}: not a readable JSON file ({problem})"


def test_duplicate_key_in_a_cell(tmp_path: Path) -> None:
    text = json.dumps(recorded(real_cell(smp=1)))
    text = text.replace('"smp": 1', '"smp": 1, "smp": 2')
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(RecordError, match="duplicate key 'smp'"):
        load_cells(path)


def test_special_and_oversized_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")  # before: read until MemoryError (exit 70)
    big = tmp_path / "big.json"
    with big.open("wb") as out:
        out.truncate((16 << 20) + 1)
    for path, problem in ((fifo, "is a FIFO (named pipe), not a regular file"),
                          (zero, "is a character device, not a regular file"),
                          (big, "larger than 16 MiB, the cap for a recorded results file")):
        with pytest.raises(RecordError) as info:
            load_cells(path)
        assert str(info.value) == f"{path}: not a readable JSON file ({problem})"
