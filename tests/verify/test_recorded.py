"""Replay every recorded real-QEMU observation (tests/data/real/) against the engine.

No booting: the files were written by the harness from real boots (QEMU 5.2, 7.2, 10.0,
11.1; Debian's Linux 6.1, 6.12, 7.2) and are never edited by hand. The QEMU profile comes
from each file's QEMU version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from powercompat.verify.compare import (
    Outcome,
    Verdict,
    guest_profile,
    judge_cell,
    judge_pcr,
    judge_probe,
    qemu_profile,
)
from powercompat.verify.matrix import CellResult, load_cells
from powercompat.verify.probes import ProbeResult
from powercompat.verify.vector import pvr_pairs

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
# other recordings: gdbstub PCR readings (judged below), patched-list boots and live
# migrations and hot-plugs (test_patched.py, test_migration_recorded.py,
# test_hotplug_recorded.py)
NOT_MATRIX = ("-pcr", "-patched-lists", "-migration", "-hotplug")
MATRIX_FILES = sorted(f for f in REAL.glob("qemu-*-linux-*.json")
                      if not f.stem.endswith(NOT_MATRIX))
#: start-up probes: the catalogue's -S/quit matrix per release, each release's threads per
#: core under TCG (record smt), and 7.2's dumpdtb probes
PROBE_FILES = sorted([*REAL.glob("qemu-*-startup-probes.json"),
                      *REAL.glob("qemu-*-smt-probes.json"),
                      *REAL.glob("qemu-*-dumpdtb-probes.json")])


def _cells() -> list[Any]:
    """One param per cell of every recorded matrix, every release and guest: the engine
    models them all (issue #9), so none is expected to fail."""
    out = []
    for f in MATRIX_FILES:
        header, cells = load_cells(f)
        for c in cells:
            mode = "unset" if c.max_cpu_compat is None else c.max_cpu_compat
            out.append(pytest.param(header, (c,), id=f"{f.stem}:{c.cpu}:{mode}"))
    return out


def _probes() -> list[Any]:
    """One param per start-up probe of every release."""
    out = []
    for f in PROBE_FILES:
        data = json.loads(f.read_text())
        for p in data["probes"]:
            probe = ProbeResult.from_json(p)
            pid = f"{f.stem}:{probe.cpu}:{probe.max_cpu_compat}:{' '.join(probe.extra)}"
            out.append(pytest.param(data, [probe], id=pid))
    return out


def test_the_recorded_files_are_there() -> None:
    names = {f.name for f in MATRIX_FILES}
    assert "qemu-7.2-linux-6.1-vof.json" in names
    assert "qemu-7.2-linux-6.1-slof.json" in names
    # every Debian release, each with its own suite's kernel where there is one, and the
    # cross pairs 7.2 x linux-7.2 and 11.1 x linux-6.1 (issue #9)
    assert {"qemu-5.2-linux-6.1-slof.json", "qemu-10.0-linux-6.12-vof.json",
            "qemu-11.1-linux-7.2-vof.json", "qemu-7.2-linux-7.2-vof.json",
            "qemu-11.1-linux-6.1-vof.json"} <= names
    assert {f.name for f in PROBE_FILES} >= {f"qemu-{r}-{kind}-probes.json"
                                              for r in ("5.2", "7.2", "10.0", "11.1")
                                              for kind in ("startup", "smt")}


def test_every_recorded_release_and_guest_is_modelled() -> None:
    """Each recorded file names a QEMU the engine has a profile for and a kernel it has a
    guest for (the resolver and the guest table, not a marker, decide)."""
    for f in [*MATRIX_FILES, *PROBE_FILES]:
        header = json.loads(f.read_text())
        assert qemu_profile(header["qemu_version"]), f.name
        if "kernel_version" in header:
            assert guest_profile(header["kernel_version"]), f.name


def _assert_ok(v: Verdict | None) -> None:
    """A recorded run counts only if the engine was judged on it and agreed: no verdict
    (an option the engine cannot replay) and an inconclusive one fail too."""
    assert v is not None, "the engine could not replay this recorded run"
    assert v.outcome in (Outcome.MATCH, Outcome.REFUSAL_MATCHED), str(v)


@pytest.mark.parametrize("verdict", [
    None,
    Verdict("power9", None, Outcome.INCONCLUSIVE, note="no CAS seen"),
    Verdict("power9", None, Outcome.MISMATCH),
])
def test_assert_ok_refuses_what_proves_nothing(verdict: Verdict | None) -> None:
    with pytest.raises(AssertionError):
        _assert_ok(verdict)


@pytest.mark.parametrize(("header", "cells"), _cells())
def test_cell_matches_engine(header: dict[str, Any], cells: tuple[CellResult, ...]) -> None:
    qemu = qemu_profile(header["qemu_version"])
    guest = guest_profile(header["kernel_version"])
    for cell in cells:
        _assert_ok(judge_cell(cell, qemu=qemu, guest=guest))


@pytest.mark.parametrize(("header", "probes"), _probes())
def test_startup_probe_matches_engine(header: dict[str, Any], probes: list[ProbeResult]) -> None:
    # start-up verdicts do not depend on the guest; catalogue probe files boot none
    guest = guest_profile(header["kernel_version"]) if "kernel_version" in header \
        else "linux-6.1"
    qemu = qemu_profile(header["qemu_version"])
    for probe in probes:
        _assert_ok(judge_probe(probe, qemu=qemu, guest=guest))


def test_full_vof_matrix_was_recorded() -> None:
    header, cells = load_cells(REAL / "qemu-7.2-linux-6.1-vof.json")
    assert header["firmware"] == "vof"
    assert len(cells) == 28
    assert {c.cpu for c in cells} == {"power7", "power8", "power9", "power10"}
    booted = [c for c in cells if c.startup_error is None]
    # every booted cell gave the CAS trace; none hung
    assert all(c.cas_trace_count >= 1 and c.stop_reason != "timeout" for c in booted)


def test_cas_vector_file() -> None:
    data = json.loads((REAL / "linux-6.1-ibm_architecture_vec_template.json").read_text())
    blob = bytes.fromhex(data["hex"])
    assert data["size"] == len(blob) == 445
    pairs = pvr_pairs(blob)
    assert len(pairs) == 14
    assert pairs[-1] == (0xFFFFFFFE, 0x0F000001)  # terminator: value bit outside mask
    assert blob[112] == 0x05  # num_vectors follows the 14 pairs
    assert [[f"0x{m:08x}", f"0x{v:08x}"] for m, v in pairs] == data["pvr_pairs"]


@pytest.mark.parametrize(("kernel", "size", "pairs"), [("6.12", 461, 16), ("7.2", 461, 16)])
def test_newer_cas_vector_files(kernel: str, size: int, pairs: int) -> None:
    """6.12 and 7.2 add Power11: raw 0x00820000 after POWER10 raw, 0x0f000007 first."""
    data = json.loads((REAL / f"linux-{kernel}-ibm_architecture_vec_template.json").read_text())
    blob = bytes.fromhex(data["hex"])
    assert data["size"] == len(blob) == size and data["byte_order"] == "big"
    got = pvr_pairs(blob)
    assert len(got) == pairs and got[-1] == (0xFFFFFFFE, 0x0F000001)
    assert got[8] == (0xFFFF0000, 0x00820000) and got[9] == (0xFFFFFFFF, 0x0F000007)
    assert blob[8 * pairs] == 0x05  # num_vectors follows the pairs
    assert [[f"0x{m:08x}", f"0x{v:08x}"] for m, v in got] == data["pvr_pairs"]


@pytest.mark.parametrize("kernel", ["6.1", "6.12", "7.2"])
def test_cpu_specs_files(kernel: str) -> None:
    """The kernel's own names for architected and raw PVRs (first match wins)."""
    data = json.loads((REAL / f"linux-{kernel}-cpu_specs.json").read_text())
    names = {(r["mask"], r["value"]): r["name"] for r in data["rows"]}
    assert names[("0xffffffff", "0x0f000004")] == "POWER8 (architected)"
    assert names[("0xffff0000", "0x004e0000")] == "POWER9 (raw)"
    assert data["rows"][-1]["mask"] == "0x00000000"  # the catch-all row comes last
    power11 = names.get(("0xffffffff", "0x0f000007"))
    assert power11 == (None if kernel == "6.1" else "Power11 (architected)")


def _pcr_readings() -> list[Any]:
    out = []
    for f in sorted(REAL.glob("qemu-*-pcr.json")):
        data = json.loads(f.read_text())
        for r in data["readings"]:
            out.append(pytest.param(data, r, id=f"{r['cpu']}:{r['max_cpu_compat']}"))
    return out


def test_every_release_has_pcr_readings() -> None:
    """The PCR is read through the gdbstub on every Debian release, not only one."""
    profiles = {qemu_profile(json.loads(f.read_text())["qemu_version"])
                for f in REAL.glob("qemu-*-pcr.json")}
    assert profiles >= {"5.2", "7.2", "10.0", "11.1"}, profiles


@pytest.mark.parametrize(("header", "reading"), _pcr_readings())
def test_pcr_matches_engine(header: dict[str, Any], reading: dict[str, Any]) -> None:
    v = judge_pcr(
        reading,
        qemu=qemu_profile(header["qemu_version"]),
        guest=guest_profile(header["kernel_version"]),
    )
    _assert_ok(v)
