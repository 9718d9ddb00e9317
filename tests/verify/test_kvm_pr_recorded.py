"""Replay the recorded real KVM PR runs (tests/data/real/kvm-pr-*.json, issue #14) against the
engine's ``kvm-pr`` model: per L2 configuration, whether QEMU started, its error text, the
ordered ARCH_COMPAT calls of each phase (start-up, CAS, reboot, second CAS) with the kernel's
errno, and every vCPU's final cpu-version.

The files come from ``powercompat verify kvm --mode pr --record-dir tests/data/real``: the
KVM PR kernel that ``powercompat verify pr-kernel`` rebuilt from Debian's linux-source-6.1
(Debian's 64K pages, ``6.1-pr``, or ``--page-size 4``, ``6.1-pr4k``), as L1 in a hash-MMU
pseries guest of x86 TCG, Debian's QEMU 7.2 / 10.0 / 11.1 in L1 with ``kvm-type=PR``. The
engine is told L1's page size from the record (compare.py), as from any HV record. They
are never edited by hand. Disagreements are explained in /work/notes/kvm-kernel.md, "PR
disagreements".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from powercompat.accel.kernels import PrIgnoreKernel, PrKernel
from powercompat.catalog.kvm import KVM_REG_PPC_ARCH_COMPAT
from powercompat.errors import KvmError
from powercompat.verify.kvm.compare import compare_cell, load_kvm_record, predicted
from powercompat.verify.kvm.pr import kernel_label

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
FILES = sorted(REAL.glob("kvm-pr-*.json"))

#: (config id) -> why the engine disagrees today; each one explained in kvm-kernel.md
KNOWN: dict[str, str] = {}


def _records() -> list[dict[str, Any]]:
    return [load_kvm_record(p) for p in FILES]


def _cells() -> list[Any]:
    out = []
    for path in FILES:
        record = load_kvm_record(path)
        for cell in record["cells"]:
            cfg = cell["config"]
            marks = []
            reason = KNOWN.get(cfg["id"])
            if reason:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            out.append(pytest.param(record, cell, id=f"{path.stem}:{cfg['id']}", marks=marks))
    return out


def _calls(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [call for cell in record["cells"] if cell["run"]
            for phase in cell["run"]["phases"] for call in phase["calls"]]


def test_the_pr_runs_cover_the_matrix() -> None:
    """QEMU 7.2, 10.0 and 11.1 in L1, each with max-cpu-compat unset and every maximum the
    POWER8 allows, on the rebuilt kernel with KVM PR."""
    records = _records()
    assert records, "no tests/data/real/kvm-pr-*.json: run verify kvm --mode pr"
    for record in records:
        assert record["accel"] == "kvm-pr"
        assert record["host"]["name"] == "pseries-power8"
        assert "rebuilt with KVM PR" in record["l1_kernel"]["package"]
        assert any("kvm_pr:kvmppc_set_one_reg_pr" in p for p in record["kprobes"])
    seen = {(c["config"]["qemu"], c["config"]["max_cpu_compat"])
            for r in records for c in r["cells"] if c["config"]["cpu"] == "host"}
    for qemu in ("7.2", "10.0", "11.1"):
        for mode in (None, "power6", "power7", "power8"):
            assert (qemu, mode) in seen, (qemu, mode)


def test_each_pr_record_names_its_build() -> None:
    """The label is the build's (its ``uname -r``), whose page size the record carries: both
    builds of ``verify pr-kernel`` are recorded."""
    records = _records()
    for record in records:
        l1 = record["l1_kernel"]
        assert kernel_label(l1["release"]) == l1["label"]
        assert l1["page_size"] in (4096, 65536)
    assert {r["l1_kernel"]["page_size"] for r in records} == {4096, 65536}


def test_every_real_pr_answer_is_the_models() -> None:
    """Each ARCH_COMPAT call the real kvm-pr.ko answered, put to the engine's PR model:
    same errno (EINVAL for every SET; the book3s_pr.c handlers have no such case)."""
    calls = [c for r in _records() for c in _calls(r)]
    assert calls, "the PR runs recorded no ARCH_COMPAT call at all"
    for call in calls:
        kernel = PrKernel()
        kernel.create_vcpu(call["vcpu"])
        with pytest.raises(KvmError) as err:
            if call["op"] == "set":
                kernel.set_one_reg(call["vcpu"], KVM_REG_PPC_ARCH_COMPAT, int(call["value"], 16))
            else:
                kernel.get_one_reg(call["vcpu"], KVM_REG_PPC_ARCH_COMPAT)
        assert err.value.errno == call["errno"], call


def test_pr_ignore_is_not_the_real_kernel() -> None:
    """``kvm-pr-ignore`` is our proposal: the real PR kernel refuses what it would accept."""
    refused = [c for r in _records() for c in _calls(r) if c["op"] == "set" and c["errno"]]
    assert refused
    kernel = PrIgnoreKernel()
    kernel.create_vcpu(0)
    kernel.set_one_reg(0, KVM_REG_PPC_ARCH_COMPAT, int(refused[0]["value"], 16))  # no error


def test_pr_ignore_predicts_other_starts_than_the_real_runs() -> None:
    """With max-cpu-compat set, the real PR guest never starts (EINVAL at reset); the
    proposal's model would start it: the two must stay apart."""
    differ = 0
    for record in _records():
        for cell in record["cells"]:
            cfg = cell["config"]
            if cfg["qemu"] != "7.2" or cfg["max_cpu_compat"] is None or cell["run"] is None:
                continue
            ignore = predicted(cell, {**record, "accel": "kvm-pr-ignore"}, "7.2")
            real = compare_cell(cell, record).observed
            assert real is not None
            if ignore["started"] != real["started"]:
                differ += 1
    assert differ > 0


@pytest.mark.parametrize(("record", "cell"), _cells())
def test_recorded_pr_cell_agrees_with_the_engine(record: dict[str, Any],
                                                 cell: dict[str, Any]) -> None:
    comparison = compare_cell(cell, record)
    assert comparison.agree, "\n".join(comparison.diffs)

