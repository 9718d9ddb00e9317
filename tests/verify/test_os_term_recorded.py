"""What QEMU printed when a recorded guest's init died (``OS terminated: ...``, from the
guest's ibm,os-term buffer) against the engine's line for that guest kernel
(GuestProfile.os_term_text, messages.guest_init_killed): every matrix cell of every recorded
release and kernel, and every nested KVM cell whose L2 init died."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from powercompat.messages import OS_TERMINATED, SIGILL, guest_init_killed
from powercompat.scenario import parse_guest
from powercompat.verify.compare import guest_profile

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
#: (file, kernel version, what QEMU printed after "OS terminated: ") for every init death
DEATHS = [(p.name, data["kernel_version"], cell["os_panic"])
          for p in sorted(REAL.glob("qemu-*-linux-*.json"))
          for data in [json.loads(p.read_text())] if "cells" in data
          for cell in data["cells"] if cell.get("init_sigill") and cell.get("os_panic") is not None]


@pytest.mark.parametrize(("name", "kernel", "text"), DEATHS,
                         ids=[f"{d[0]}-{i}" for i, d in enumerate(DEATHS)])
def test_the_engine_says_what_qemu_printed(name: str, kernel: str, text: str) -> None:
    guest = parse_guest(guest_profile(kernel))
    assert guest_init_killed(SIGILL, guest.os_term_text) == OS_TERMINATED + text


def test_both_kinds_of_kernel_are_recorded() -> None:
    texts = {text for _, _, text in DEATHS}
    assert "" in texts and f"OS panic: Attempted to kill init! exitcode=0x{SIGILL:08x}" in texts
    assert len(DEATHS) >= 100
