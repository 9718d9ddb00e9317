"""The engine's hot-plug rule against real QEMU: a core added after CAS, read back from the
guest's device tree (tests/data/real/qemu-*-hotplug.json, one file per release)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from powercompat.catalog.guests import guest_by_name
from powercompat.errors import CompatError
from powercompat.machine.options import MachineOptions
from powercompat.machine.pseries import PseriesMachine
from powercompat.scenario import negotiate
from powercompat.verify.compare import guest_profile, qemu_profile
from powercompat.verify.hotplug import CASES

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
FILES = sorted(REAL.glob("qemu-*-hotplug.json"))


def _runs() -> list[Any]:
    out = []
    for f in FILES:
        data = json.loads(f.read_text())
        for real in data["hotplugs"]:
            label = f"{f.stem}:{real['cpu']}:{real['max_cpu_compat'] or 'unset'}"
            out.append(pytest.param(data, real, id=label + (":patched" if real["pvr_list"]
                                                             else "")))
    return out


def test_every_release_has_hotplugs() -> None:
    assert {f.name.split("-linux")[0] for f in FILES} >= {"qemu-5.2", "qemu-7.2", "qemu-10.0",
                                                           "qemu-11.1"}


@pytest.mark.parametrize(("data", "real"), _runs())
def test_hotplugged_vcpu_matches_engine(data: dict[str, Any], real: dict[str, Any]) -> None:
    guest = guest_by_name(guest_profile(data["kernel_version"]))
    assert guest is not None
    buffer = bytes.fromhex(real["pvr_list"]) if real["pvr_list"] else guest.cas_buffer
    n = negotiate(real["cpu"], real["max_cpu_compat"], guest.name, pvr_list=buffer,
                  qemu=qemu_profile(data["qemu_version"]))
    if n.userland_ok is False:  # init dies (5.2's POWER10 DD1: SIGILL): it never says READY
        assert real["cas_new"] == n.compat_pvr
        assert not real["reported"] and not real["plugged"] and real["core_type"] is None
        assert real["init_sigill"], "init should have been killed by SIGILL"
        return
    assert real["reported"], "the guest never reported its cpu-versions"
    assert not real.get("init_sigill")
    m = PseriesMachine.from_options(MachineOptions(
        cpu=real["cpu"], max_cpu_compat=real["max_cpu_compat"],
        qemu=qemu_profile(data["qemu_version"]), max_cpus=2))
    m.realize()
    m.reset()
    m.cas(buffer)
    assert m.boot_cpu.compat_pvr == real["cas_new"]
    try:
        [new] = m.hotplug()
    except CompatError as err:  # the engine refuses the core: so must QEMU have
        assert not real["plugged"], f"QEMU added the core; the engine refused: {err}"
        return
    assert real["plugged"], f"QEMU refused the core: {real.get('plug_error')}"
    assert [v for _, v in real["cpu_versions"]] == [m.vcpus[0].cpu_version,
                                                    m.vcpus[new].cpu_version]


def test_the_boot_cpu_rule_is_what_discriminates() -> None:
    # the patched case: CAS settles at power7 below max-cpu-compat=power8, and the new vCPU
    # follows the boot CPU, not the maximum (2.9's rule) nor raw mode (2.10/2.11's)
    for f in FILES:
        data = json.loads(f.read_text())
        patched = next(r for r in data["hotplugs"] if r["pvr_list"])
        assert [v for _, v in patched["cpu_versions"]] == [0x0F000003, 0x0F000003], f.name
        assert {(r["cpu"], r["max_cpu_compat"]) for r in data["hotplugs"]} <= {
            (c.cpu, c.max_cpu_compat) for c in CASES}
