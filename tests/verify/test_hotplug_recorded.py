"""The engine's hot-plug rule against real QEMU 7.2: a core added after CAS, read back from the
guest's device tree (tests/data/real/qemu-7.2-linux-6.1-hotplug.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from powercompat.catalog.guests import guest_by_name
from powercompat.machine.options import MachineOptions
from powercompat.machine.pseries import PseriesMachine
from powercompat.verify.compare import qemu_profile
from powercompat.verify.hotplug import CASES

DATA = json.loads((Path(__file__).resolve().parents[1] / "data" / "real" /
                   "qemu-7.2-linux-6.1-hotplug.json").read_text())
PROFILE = qemu_profile(DATA["qemu_version"])


@pytest.mark.parametrize("real", DATA["hotplugs"],
                         ids=lambda r: f"{r['cpu']}:{r['max_cpu_compat'] or 'unset'}")
def test_hotplugged_vcpu_matches_engine(real: dict[str, Any]) -> None:
    assert real["plugged"] and real["reported"]
    guest = guest_by_name("linux-6.1")
    assert guest is not None
    buffer = bytes.fromhex(real["pvr_list"]) if real["pvr_list"] else guest.cas_buffer
    m = PseriesMachine.from_options(MachineOptions(
        cpu=real["cpu"], max_cpu_compat=real["max_cpu_compat"], qemu=PROFILE, max_cpus=2))
    m.realize()
    m.reset()
    m.cas(buffer)
    assert m.boot_cpu.compat_pvr == real["cas_new"]
    [new] = m.hotplug()
    assert [v for _, v in real["cpu_versions"]] == [m.vcpus[0].cpu_version,
                                                    m.vcpus[new].cpu_version]


def test_the_boot_cpu_rule_is_what_discriminates() -> None:
    # the patched case: CAS settles at power7 below max-cpu-compat=power8, and the new vCPU
    # follows the boot CPU, not the maximum (2.9's rule) nor raw mode (2.10/2.11's)
    patched = next(r for r in DATA["hotplugs"] if r["pvr_list"])
    assert [v for _, v in patched["cpu_versions"]] == [0x0F000003, 0x0F000003]
    assert [(r["cpu"], r["max_cpu_compat"]) for r in DATA["hotplugs"]] == [
        (c.cpu, c.max_cpu_compat) for c in CASES]
