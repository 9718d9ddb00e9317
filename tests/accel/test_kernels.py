"""Kernel models: the errno each returns, and HV's per-vcore state."""

from __future__ import annotations

import errno

import pytest

from powercompat.accel.kernels import HvKernel, PrIgnoreKernel, PrKernel
from powercompat.accel.transport import FaultInjector, RecordingTransport
from powercompat.catalog.cpus import POWER8, POWER9
from powercompat.catalog.kvm import KVM_REG_PPC_ARCH_COMPAT as AC
from powercompat.catalog.kvm import KVM_REG_PPC_HIOR
from powercompat.errors import KvmError


def _errno(fn, *args) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(KvmError) as info:
        fn(*args)
    return info.value.errno


def test_hv_accepts_up_to_host_level() -> None:
    k = HvKernel(POWER8)
    k.create_vcpu(0)
    k.set_one_reg(0, AC, 0x0F000003)
    assert k.get_one_reg(0, AC) == 0x0F000003
    assert k.inspect(0).pcr == 0x4 | 0x0FFFFFFFFFFFFFE1
    assert _errno(k.set_one_reg, 0, AC, 0x0F000005) == errno.EINVAL
    assert k.get_one_reg(0, AC) == 0x0F000003  # a refused write changes nothing
    k.set_one_reg(0, AC, 0)
    assert k.inspect(0).pcr == 0x0FFFFFFFFFFFFFE1
    assert _errno(k.get_one_reg, 0, KVM_REG_PPC_HIOR) == errno.EINVAL
    assert _errno(k.get_one_reg, 5, AC) == errno.EBADF


def test_hv_state_is_per_vcore() -> None:
    k = HvKernel(POWER9, threads_per_vcore=2)
    for i in range(4):
        k.create_vcpu(i)
    k.set_one_reg(1, AC, 0x0F000004)
    assert [k.get_one_reg(i, AC) for i in range(4)] == [0x0F000004, 0x0F000004, 0, 0]


def test_pr_has_no_arch_compat() -> None:
    k = PrKernel()
    k.create_vcpu(0)
    assert _errno(k.get_one_reg, 0, AC) == errno.EINVAL
    assert _errno(k.set_one_reg, 0, AC, 0) == errno.EINVAL
    assert _errno(k.set_one_reg, 0, AC, 0x0F000004) == errno.EINVAL
    assert not k.inspect(0).enforced


def test_pr_ignore_stores_but_does_not_enforce() -> None:
    k = PrIgnoreKernel()
    k.create_vcpu(0)
    k.set_one_reg(0, AC, 0x0F000004)
    view = k.inspect(0)
    assert (view.arch_compat, view.pcr, view.enforced) == (0x0F000004, None, False)
    assert "not enforced" in view.note


def test_recording_and_faults() -> None:
    k = HvKernel(POWER9)
    k.create_vcpu(0)
    faults = FaultInjector(k)
    rec = RecordingTransport(faults)
    faults.fail_next_set(errno.EBUSY)
    assert _errno(rec.set_one_reg, 0, AC, 0x0F000004) == errno.EBUSY
    assert k.get_one_reg(0, AC) == 0  # the kernel never saw the failed call
    rec.set_one_reg(0, AC, 0x0F000004)
    assert rec.get_one_reg(0, AC) == 0x0F000004
    assert [(c.op, c.value, c.errno) for c in rec.calls] == [
        ("set", 0x0F000004, errno.EBUSY), ("set", 0x0F000004, 0), ("get", 0x0F000004, 0)]
