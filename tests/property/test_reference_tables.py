"""The reference model keeps its own copy of the kernel tables (so it can catch a wrong
catalogue); this compares the two copies row by row, so neither can drift alone."""

from __future__ import annotations

import pytest

from powercompat.catalog.cpus import FAMILIES, CpuFamily
from powercompat.catalog.kernels import KERNELS, KernelRelease
from powercompat.stress import reference


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_arch_compat_arms(kernel: KernelRelease) -> None:
    assert reference.GUEST_PCR_BIT[kernel.name] == dict(kernel.guest_pcr_bits)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_host_gated_arms(kernel: KernelRelease) -> None:
    gated = [(arm.pvr, arm.host) for arm in kernel.arms if arm.host is not None]
    assert gated == ([reference.P11_HOST_ONLY[kernel.name]]
                     if kernel.name in reference.P11_HOST_ONLY else [])


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_reserved_bits(kernel: KernelRelease) -> None:
    assert reference.PCR_RESERVED[kernel.name] == kernel.reserved_pcr


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_hv_capability_facts(kernel: KernelRelease) -> None:
    assert (reference.NESTED_HV[kernel.name], reference.AIL3_CAP[kernel.name],
            reference.P9_NO_MIXING[kernel.name]) == (
        kernel.nested_hv, kernel.ail_mode_3_cap, kernel.p9_split_mmu)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_host_levels(family: CpuFamily) -> None:
    assert reference.HOST_LEVEL[family.name] == family.host_pcr_bit


def test_no_row_is_missing_on_either_side() -> None:
    assert set(reference.GUEST_PCR_BIT) == set(reference.PCR_RESERVED) == {
        k.name for k in KERNELS}
    assert set(reference.NESTED_HV) == set(reference.AIL3_CAP) == set(
        reference.P9_NO_MIXING) == {k.name for k in KERNELS}
    assert set(reference.HOST_LEVEL) == {f.name for f in FAMILIES}
