"""Guests named after real kernels: each one's CAS bytes and cpu_specs are the recorded
vmlinux's, byte for byte and row for row (tests/data/real/linux-X-*.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from powercompat.catalog.guests import GUESTS, guest_by_name, kernel_image, linux_cpu_spec
from powercompat.catalog.history import HEAD
from powercompat.catalog.modes import mode_by_name
from powercompat.decisions.guest import guest_cpu_line
from powercompat.profiles import parse_profile

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
KERNELS = ["6.1", "6.12", "7.2"]


@pytest.mark.parametrize("kernel", KERNELS)
def test_cas_bytes_are_the_recorded_vmlinux(kernel: str) -> None:
    data = json.loads((REAL / f"linux-{kernel}-ibm_architecture_vec_template.json").read_text())
    guest = guest_by_name(f"linux-{kernel}")
    assert guest is not None
    assert guest.cas_buffer == bytes.fromhex(data["hex"]) and len(guest.cas_buffer) == data["size"]
    assert [[f"0x{m:08x}", f"0x{v:08x}"] for m, v in guest.pvrs] == data["pvr_pairs"]
    assert guest.image.version == data["kernel_version"]


@pytest.mark.parametrize("kernel", KERNELS)
def test_cpu_specs_are_the_recorded_vmlinux(kernel: str) -> None:
    data = json.loads((REAL / f"linux-{kernel}-cpu_specs.json").read_text())
    rows = kernel_image(f"linux-{kernel}").cpu_specs
    assert [(f"0x{r.mask:08x}", f"0x{r.value:08x}", r.name) for r in rows] == [
        (r["mask"], r["value"], r["name"]) for r in data["rows"]]


@pytest.mark.parametrize(("kernel", "pvr", "name"), [
    ("6.1", 0x0F000007, "POWER5 (compatible)"),  # 6.1 knows no Power11: the default row
    ("6.12", 0x0F000007, "Power11 (architected)"),
    ("7.2", 0x0F000007, "Power11 (architected)"),
    ("7.2", 0x00821200, "Power11 (raw)"),
    ("6.1", 0x004E1202, "POWER9 (raw)"),
])
def test_cpuinfo_names(kernel: str, pvr: int, name: str) -> None:
    assert linux_cpu_spec(pvr, kernel_image(f"linux-{kernel}").cpu_specs).name == name


def test_power11_cpu_line_on_the_newer_kernels() -> None:
    p11 = next(m for m in parse_profile("11.1").cpu_models if m.name == "power11_v2.0")
    for kernel, line in (("linux-6.12", "Power11 (architected), altivec supported"),
                         ("linux-7.2", "Power11 (architected), altivec supported"),
                         ("linux-6.1", "POWER5 (compatible), altivec supported")):
        guest = guest_by_name(kernel)
        assert guest is not None
        assert guest_cpu_line(guest, p11.pvr, 0x0F000007, p11.family) == line


def test_names_and_alias() -> None:
    names = [g.name for g in GUESTS]
    assert len(names) == len(set(names))
    assert {"linux-6.1", "linux-6.12", "linux-7.2"} <= set(names)
    legacy = guest_by_name("linux-2025")
    assert legacy is not None and legacy.name == "linux-7.2"


def test_patched_guests_keep_only_their_pairs() -> None:
    upto8 = guest_by_name("logical-upto-power8")
    raw = guest_by_name("raw-only")
    assert upto8 is not None and raw is not None
    assert [v for _, v in upto8.pvrs] == [0x0F000004, 0x0F000003, 0x0F000002, 0x0F000001]
    assert len(raw.pvrs) == 9 and all(v & 0xFF000000 == 0 for _, v in raw.pvrs[:-1])
    assert upto8.vectors == b"" and mode_by_name("power8", HEAD.modes) is not None
