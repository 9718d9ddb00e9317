"""Replay every recorded nested-KVM session (tests/data/real/kvm-hv-*.json) against the
engine: per L2 configuration, whether QEMU started, its error text, the ordered ARCH_COMPAT
calls of each phase with the kernel's errno, and the final cpu-version of every vCPU.

The files come from ``powercompat verify kvm --record-dir tests/data/real`` (real kvm-hv.ko
in an L1 Linux under TCG, Debian's QEMU in L1) and are never edited by hand. Where the
engine has no profile for the L1 QEMU (10.0, 11.1) or lacks the host kernel as a dimension,
the comparison is an xfail(strict=True) with the reason: it must start passing, and then
fail loudly, once the engine learns it. The causes are in /work/notes/kvm-kernel.md,
"Engine disagreements".
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

#: (host, L1 kernel label or None for any, config id) -> why the engine disagrees today.
#: Each entry is a disagreement found by this test and explained in kvm-kernel.md.
_NESTED_HPT = ("engine bug: under KVM a max-cpu-compat below power9 makes spapr_machine_reset "
               "allocate an HPT; a nested hypervisor refuses KVM_PPC_ALLOCATE_HTAB "
               "(-EOPNOTSUPP) and QEMU exits with 'HPT not supported in nested guests' "
               "before any ARCH_COMPAT call; the engine has no nested-host notion")
_SREGS = ("engine bug: KVM HV accepts only the host's PVR in KVM_SET_SREGS "
          "(kvm_arch_vcpu_ioctl_set_sregs_hv: EINVAL); QEMU exits at vCPU init with 'Register "
          "sync failed... If you're using kvm-hv.ko, only \"-cpu host\" is possible'; the "
          "engine starts a non-host model under kvm-hv")
_NO_HOST_CLASS = ("engine bug: QEMU 7.2 has no CPU class for the Power11 PVR, so "
                  "kvm_ppc_register_host_cpu_type registers no 'host' type and QEMU says "
                  "\"unable to find CPU model 'host'\"; the engine names the host PVR instead")
_COMPAT_PARSE_FIRST = ("engine bug: the machine property is parsed before -cpu is resolved: "
                       "QEMU 7.2 says 'Invalid compatibility mode \"power11\"' (its table "
                       "ends at power10); the engine reports the unknown host PVR first")
_HOST_NOT_NEEDED = ("engine bug: with a named -cpu model the host PVR need not be a model of "
                    "the release; QEMU 7.2 starts -cpu POWER9 on a Power11 host and KVM "
                    "refuses its PVR in KVM_SET_SREGS ('Register sync failed...'), while the "
                    "engine refuses the unknown host PVR")
_NO_HASH = ("engine bug: on a POWER9 DD2.0 host whose kernel runs radix, KVM reports "
            "KVM_CAP_PPC_MMU_RADIX but not KVM_CAP_PPC_MMU_HASH_V3 (no mixed mode, Linux >= "
            "5.12); after the reset's ARCH_COMPAT sets, building the device tree for a "
            "pre-3.00 mode calls spapr_check_mmu_mode(false): 'Guest requested unavailable MMU "
            "mode (hash).', exit 1; the engine has no host MMU capabilities")
KNOWN: dict[tuple[str, str | None, str], str] = {
    ("powernv9", None, "q72-power8"): _NO_HASH,
    ("powernv9", None, "q72-power7"): _NO_HASH,
    **{("pseries-power11", None, f"q72-{m}"): _NO_HOST_CLASS
       for m in ("unset", "power9", "power10", "power8")},
    ("pseries-power11", None, "q72-power11"): _COMPAT_PARSE_FIRST,
    ("pseries-power11", None, "q72-cpu-power9"): _HOST_NOT_NEEDED,
    ("pseries-power9", None, "q72-power8"): _NESTED_HPT,
    ("pseries-power9", None, "q72-cpu-power8"): _SREGS,
    ("powernv9", None, "q72-cpu-power8"): _SREGS,
}


def _known(record: dict[str, Any], cfg_id: str) -> str | None:
    host, kernel = record["host"]["name"], record["l1_kernel"]["label"]
    return KNOWN.get((host, kernel, cfg_id)) or KNOWN.get((host, None, cfg_id))


def _cells() -> list[Any]:
    out = []
    for path in FILES:
        record = load_kvm_record(path)
        for cell in record["cells"]:
            cfg = cell["config"]
            marks = []
            # what the engine lacks is asked of the engine itself, so a new profile or host
            # kernel turns these into real comparisons without editing this file
            gap = compare_cell(cell, record).gap if cell["run"] else None
            reason = f"{gap} (engine helper)" if gap else _known(record, cfg["id"])
            if reason:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            out.append(pytest.param(record, cell, id=f"{path.stem}:{cfg['id']}", marks=marks))
    return out


def test_recorded_files_exist_and_cover_the_matrix() -> None:
    """At least: QEMU 7.2, 10.0, 11.1 in L1; L1 kernels 6.1 and 6.12; POWER9 and Power11
    hosts; hash guests on powernv9 (issue #10)."""
    records = [load_kvm_record(p) for p in FILES]
    assert {r["host"]["name"] for r in records} >= {"pseries-power9", "pseries-power11",
                                                     "powernv9"}
    assert {r["l1_kernel"]["label"] for r in records} >= {"6.1", "6.12"}
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
