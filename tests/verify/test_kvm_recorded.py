"""Replay every recorded nested-KVM session (tests/data/real/kvm-hv-*.json) against the
engine: per L2 configuration, whether QEMU started, its error text, the ordered ARCH_COMPAT
calls of each phase with the kernel's errno, and the final cpu-version of every vCPU.

The files come from ``powercompat verify kvm --record-dir tests/data/real`` (real kvm-hv.ko
in an L1 Linux under TCG, Debian's QEMU in L1) and are never edited by hand. Every cell is
an ordinary comparison: the disagreements found on the way (/work/notes/kvm-kernel.md,
"Engine disagreements") were fixed in the engine from the sources.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from powercompat.verify.errors import RecordError
from powercompat.verify.kvm.compare import compare_cell, load_kvm_record

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
FILES = sorted(REAL.glob("kvm-hv-*.json"))

def _cells() -> list[Any]:
    """One param per recorded configuration; the engine models every release, host kernel
    and host platform recorded (kvm-kernel.md's disagreements 1-8 are fixed in the engine),
    so none is expected to fail."""
    out = []
    for path in FILES:
        record = load_kvm_record(path)
        for cell in record["cells"]:
            out.append(pytest.param(record, cell, id=f"{path.stem}:{cell['config']['id']}"))
    return out


def test_recorded_files_exist_and_cover_the_matrix() -> None:
    """At least: QEMU 7.2, 10.0, 11.1 in L1; L1 kernels 6.1, 6.12 and 7.2 (sid's, on the
    POWER9 host); POWER9 and Power11 hosts; hash guests on powernv9 (issue #10); a POWER8
    bare-metal host, whose every guest runs hash."""
    records = [load_kvm_record(p) for p in FILES]
    assert {r["host"]["name"] for r in records} >= {"pseries-power9", "pseries-power11",
                                                     "powernv9", "powernv8"}
    assert {r["l1_kernel"]["label"] for r in records} >= {"6.1", "6.12", "7.2"}
    qemus = {c["config"]["qemu"] for r in records for c in r["cells"] if c["run"]}
    assert qemus >= {"7.2", "10.0", "11.1"}
    for r in records:
        for key in ("l0_qemu", "l1_kernel", "l1_qemus", "l2_kernel"):
            assert r[key], f"{r['host']['name']}: {key} missing"


@pytest.mark.parametrize(("record", "cell"), _cells())
def test_engine_matches_the_real_kernel(record: dict[str, Any], cell: dict[str, Any]) -> None:
    comp = compare_cell(cell, record)
    assert comp.gap is None, comp.gap
    assert comp.agree, "\n".join(comp.diffs)


def test_every_cell_ran_and_the_offset_held() -> None:
    """The harness itself: every configuration produced a run, no L2 QEMU hit its timeout,
    and the +36 vcpu_id offset read the requested id wherever a vCPU was created."""
    for path in FILES:
        record = load_kvm_record(path)
        assert record["l1"]["kvm"] == "yes", path.name
        for cell in record["cells"]:
            run = cell["run"]
            assert run is not None, f"{path.name}: {cell['config']['id']} did not run"
            assert not run["timed_out"], f"{path.name}: {cell['config']['id']} timed out"
            assert run["vid_offset_checked"] in (True, None)


def test_malformed_record_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "kvm-hv-x.json"
    bad.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(RecordError, match="not a nested-KVM record"):
        load_kvm_record(bad)
    bad.write_text("{")
    with pytest.raises(RecordError, match="not a readable JSON file"):
        load_kvm_record(bad)


def test_debian_kernel_rows_have_the_recorded_page_size() -> None:
    """catalog.kernels says which base page each Debian build uses (the VRMA of a hash guest
    depends on it); every recorded L1 kernel's config agrees."""
    from powercompat.catalog.kernels import kernel_by_name
    from powercompat.verify.kvm.compare import host_kernel

    seen = set()
    for path in FILES:
        record = load_kvm_record(path)
        kernel = kernel_by_name(host_kernel(record))
        assert kernel is not None
        assert 1 << kernel.page_shift == record["l1_kernel"]["page_size"], path.name
        seen.add(kernel.name)
    assert seen >= {"linux-6.1", "linux-6.12", "linux-7.2"}
