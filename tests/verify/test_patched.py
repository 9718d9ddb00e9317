"""The engine against real boots of the guest kernel with its PVR list patched
(tests/data/real/qemu-R-linux-G-patched-lists.json, recorded by
``python -m powercompat.verify.record patched OUT --release R``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from powercompat.scenario import negotiate
from powercompat.verify.compare import guest_profile, qemu_profile
from powercompat.verify.patched import CASES, PatchedCase, buffer_for

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
FILES = sorted(REAL.glob("qemu-*-patched-lists.json"))
DATA = json.loads((REAL / "qemu-7.2-linux-6.1-patched-lists.json").read_text())


def _id(boot: dict[str, Any]) -> str:
    return (f"{boot['list']}:{boot['cpu']}:{boot['max_cpu_compat'] or 'unset'}"
            + (":disable_radix" if boot["disable_radix"] else ""))


def _boots() -> list[Any]:
    out = []
    for f in FILES:
        data = json.loads(f.read_text())
        out.extend(pytest.param(data, boot, id=f"{f.stem}:{_id(boot)}")
                   for boot in data["boots"])
    return out


def test_every_release_has_patched_boots() -> None:
    assert {qemu_profile(json.loads(f.read_text())["qemu_version"]) for f in FILES} >= {
        "5.2", "7.2", "10.0", "11.1"}


@pytest.mark.parametrize(("data", "boot"), _boots())
def test_patched_boot_matches_engine(data: dict[str, Any], boot: dict[str, Any]) -> None:
    n = negotiate(boot["cpu"], boot["max_cpu_compat"], pvr_list=bytes.fromhex(boot["pvr_list"]),
                  qemu=qemu_profile(data["qemu_version"]),
                  guest=guest_profile(data["kernel_version"]),
                  disable_radix=boot["disable_radix"])
    assert boot["startup_error"] is None and n.started
    # the trace prints new=0x0 for raw mode and for a failed CAS alike
    assert boot["cas_failed"] == n.cas_failed
    assert boot["trace_new"] == (0 if n.cas_failed else n.compat_pvr)
    assert boot["kernel_reached_userspace"] == n.kernel_boots
    if boot["kernel_reached_userspace"]:
        assert boot["init_sigill"] == (n.userland_ok is False)
        if not boot["init_sigill"]:  # an init that dies prints nothing (5.2's POWER10 DD1)
            assert boot["cpu_versions"] == [n.cpu_version]
            assert boot["guest_cpu_line"] == n.guest_cpu_line


@pytest.mark.parametrize("path", FILES, ids=lambda f: f.stem)
def test_recorded_cases_are_the_current_ones(path: Path) -> None:
    boots = json.loads(path.read_text())["boots"]
    pairs = len(boots[0]["pvr_list"]) // 16  # this kernel's list length, terminator included

    def key(case: PatchedCase) -> tuple[object, ...]:
        return (case.name, case.cpu, case.max_cpu_compat, case.disable_radix,
                buffer_for(case, pairs).hex())

    recorded = [(b["list"], b["cpu"], b["max_cpu_compat"], b["disable_radix"], b["pvr_list"])
                for b in boots]
    assert recorded == [key(c) for c in CASES]


def test_the_radix_hang_is_really_observed() -> None:
    hung = [b for b in DATA["boots"] if not b["kernel_reached_userspace"]]
    assert {(b["cpu"], b["max_cpu_compat"]) for b in hung} == {("power9", None),
                                                               ("power9", "power9")}
    assert all(b["stop_reason"] == "timeout" and b["trace_new"] == 0x0F000004 for b in hung)
