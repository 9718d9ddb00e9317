"""The real ioctl transport, tested by its bytes (no /dev/kvm needed)."""

from __future__ import annotations

import ctypes
import errno
import struct
import sys

import pytest

from powercompat.accel.linux import LinuxTransport, is_ppc64_kvm_host, pack_one_reg
from powercompat.catalog.kvm import (
    KVM_GET_ONE_REG,
    KVM_REG_PPC_ARCH_COMPAT,
    KVM_REG_PPC_HIOR,
    KVM_SET_ONE_REG,
)
from powercompat.errors import KvmError

ORDER = sys.byteorder


class FakeKernelFd:
    """Plays the kernel's side of the ioctl on a buffer: reads struct kvm_one_reg and the
    value at its address (or writes one), exactly as copy_from_user/copy_to_user would."""

    def __init__(self, fail: int = 0, stored: int = 0) -> None:
        self.calls: list[tuple[int, int, bytes]] = []
        self.fail = fail
        self.stored = stored
        self.seen_values: list[int] = []

    def __call__(self, fd: int, request: int, arg: bytes) -> object:
        self.calls.append((fd, request, arg))
        if self.fail:
            raise OSError(self.fail, "injected")
        reg_id, addr = struct.unpack("=QQ", arg)
        size = 1 << ((reg_id >> 52) & 0xF)
        if request == KVM_SET_ONE_REG:
            self.seen_values.append(int.from_bytes(ctypes.string_at(addr, size), ORDER))
        else:
            ctypes.memmove(addr, self.stored.to_bytes(size, ORDER), size)
        return 0


def test_struct_layout() -> None:
    packed = pack_one_reg(KVM_REG_PPC_ARCH_COMPAT, 0x1122334455667788)
    assert len(packed) == 16
    assert packed[:8] == KVM_REG_PPC_ARCH_COMPAT.to_bytes(8, ORDER)  # id at 0
    assert packed[8:] == (0x1122334455667788).to_bytes(8, ORDER)  # addr at 8


def test_set_sends_request_id_and_4_byte_value() -> None:
    fake = FakeKernelFd()
    LinuxTransport({0: 7}, ioctl=fake).set_one_reg(0, KVM_REG_PPC_ARCH_COMPAT, 0x0F000004)
    fd, request, arg = fake.calls[0]
    assert (fd, request) == (7, 0x8010AEAC)
    assert struct.unpack("=Q", arg[:8])[0] == 0x10200000000000B7
    assert fake.seen_values == [0x0F000004]


def test_get_reads_the_value_back() -> None:
    fake = FakeKernelFd(stored=0x0F000005)
    value = LinuxTransport({3: 9}, ioctl=fake).get_one_reg(3, KVM_REG_PPC_ARCH_COMPAT)
    assert value == 0x0F000005
    assert fake.calls[0][1] == KVM_GET_ONE_REG == 0x8010AEAB


@pytest.mark.parametrize("err", [errno.EINVAL, errno.EFAULT, errno.EBUSY, errno.ENOENT])
def test_oserror_becomes_kvm_error_with_same_errno(err: int) -> None:
    transport = LinuxTransport({0: 5}, ioctl=FakeKernelFd(fail=err))
    with pytest.raises(KvmError) as info:
        transport.set_one_reg(0, KVM_REG_PPC_ARCH_COMPAT, 0x0F000004)
    assert (info.value.errno, info.value.op, info.value.vcpu) == (err, "set", 0)
    assert info.value.reg_id == KVM_REG_PPC_ARCH_COMPAT


def test_value_too_large_for_register_is_einval_before_any_syscall() -> None:
    fake = FakeKernelFd()
    with pytest.raises(KvmError) as info:
        LinuxTransport({0: 5}, ioctl=fake).set_one_reg(0, KVM_REG_PPC_ARCH_COMPAT, 1 << 32)
    assert info.value.errno == errno.EINVAL
    assert fake.calls == []
    LinuxTransport({0: 5}, ioctl=fake).set_one_reg(0, KVM_REG_PPC_HIOR, 1 << 40)  # u64 fits
    assert fake.seen_values == [1 << 40]


def test_unknown_vcpu_is_ebadf() -> None:
    with pytest.raises(KvmError) as info:
        LinuxTransport({}, ioctl=FakeKernelFd()).get_one_reg(4, KVM_REG_PPC_ARCH_COMPAT)
    assert info.value.errno == errno.EBADF


def test_bad_fd_through_the_real_ioctl_is_ebadf() -> None:
    with pytest.raises(KvmError) as info:
        LinuxTransport({0: 10_000}).set_one_reg(0, KVM_REG_PPC_ARCH_COMPAT, 0)
    assert info.value.errno == errno.EBADF


@pytest.mark.skipif(not is_ppc64_kvm_host(), reason="needs a ppc64 host with /dev/kvm")
def test_real_kvm_host() -> None:  # pragma: no cover - ppc64 only
    from powercompat.accel.linux import open_linux_vm

    transport = open_linux_vm(0, 1)
    try:
        value = transport.get_one_reg(0, KVM_REG_PPC_ARCH_COMPAT)
    except KvmError as err:
        assert err.errno == errno.EINVAL  # KVM PR: no ARCH_COMPAT case
    else:
        # KVM HV: a new vcore is raw (arch_compat 0, kernel_libvirt.md 1.1)
        assert value == 0
