"""CPU lookup and QEMU's pvr_match callbacks (target/ppc/cpu_init.c)."""

from __future__ import annotations

import pytest

from powercompat.catalog.cpus import CpuModel
from powercompat.catalog.history import HEAD
from powercompat.decisions.cpu_match import (
    class_by_pvr_mask,
    migration_pvr_match,
    pvr_match,
    resolve_cpu,
)
from powercompat.errors import UnknownCpuError
from powercompat.profiles import parse_profile


def model(name: str) -> CpuModel:
    return next(m for m in HEAD.models if m.name == name)


@pytest.mark.parametrize(("pvr", "v20", "v22"), [
    (0x004E1200, True, False),  # DD2.0
    (0x004E1201, True, False),  # DD2.1
    (0x004E1202, False, True),  # DD2.2
    (0x004E1203, False, True),  # DD2.3
    (0x004E1100, False, False),  # DD1: no class since 2024-01
    (0x004D0200, False, False),  # a POWER8
])
def test_power9_dd_rule(pvr: int, v20: bool, v22: bool) -> None:
    assert pvr_match(model("power9_v2.0"), pvr, best=True) is v20
    assert pvr_match(model("power9_v2.2"), pvr, best=True) is v22


def test_family_match_without_best() -> None:
    p9 = model("power9_v2.2")
    assert pvr_match(p9, 0x004E1100, best=False)  # any POWER9 is the family
    p7 = model("power7_v2.3")
    assert pvr_match(p7, 0x004A0201, best=False)  # POWER7+ is the POWER7 family
    assert not pvr_match(p7, 0x004A0201, best=True)
    p8 = model("power8_v2.0")
    assert not pvr_match(p8, 0x004B0201, best=False)  # 8E: not since f73b3168 (head)
    p8_72 = next(m for m in parse_profile("7.2").cpu_models if m.name == "power8_v2.0")
    assert pvr_match(p8_72, 0x004B0201, best=False)  # 8E, before f73b3168
    assert pvr_match(model("power10_v2.0"), 0x00801100, best=False)
    assert not pvr_match(model("power10_v2.0"), 0x00801100, best=True)  # other DD major


def test_exact_match_for_other_classes() -> None:
    assert pvr_match(model("970_v2.2"), 0x00390202, best=True)
    assert not pvr_match(model("970_v2.2"), 0x00390203, best=True)


def test_kvm_host_class_by_pvr() -> None:
    assert class_by_pvr_mask(0x004E1203, HEAD.models) == model("power9_v2.2")
    assert class_by_pvr_mask(0x004D0201, HEAD.models) == model("power8_v2.0")
    assert class_by_pvr_mask(0x00820000, HEAD.models) is None  # DD0: no class


def test_migration_match() -> None:
    assert migration_pvr_match(model("power9_v2.2"), 0x004E1202)
    assert migration_pvr_match(model("power9_v2.2"), 0x004E1203)
    assert not migration_pvr_match(model("power9_v2.2"), 0x004E1200)
    assert not migration_pvr_match(model("power8_v2.0"), 0x004E1202)


@pytest.mark.parametrize(("name", "expected"), [
    ("POWER9", "power9_v2.2"), ("power7+", "power7p_v2.1"), ("Power8", "power8_v2.0"),
    ("0x004d0200", "power8_v2.0"), ("004D0200", "power8_v2.0"), ("power5+", "power5p_v2.1"),
])
def test_resolve(name: str, expected: str) -> None:
    assert resolve_cpu(name, HEAD.models, dict(HEAD.aliases)).name == expected


@pytest.mark.parametrize("name", ["power12", "0x12345678", "", "power9 ", "0x4d0200"])
def test_unknown(name: str) -> None:
    with pytest.raises(UnknownCpuError) as info:
        resolve_cpu(name, HEAD.models, dict(HEAD.aliases))
    assert str(info.value) == f"unable to find CPU model '{name}'"
