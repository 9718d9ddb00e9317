"""The real thing: ONE_REG ioctls on a ppc64 host's /dev/kvm vCPU fds, through fcntl.ioctl.

``struct kvm_one_reg`` is two native-endian u64 (id, then the address of the value buffer);
KVM_SET_ONE_REG / KVM_GET_ONE_REG are _IOW with powerpc's _IOC layout (catalog.kvm).
Off ppc64 the encoding is still exercised by the tests; the ioctls themselves are not.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import platform
import struct
from collections.abc import Callable

from powercompat.accel.transport import check_value_size
from powercompat.catalog.kvm import (
    KVM_CREATE_VCPU,
    KVM_CREATE_VM,
    KVM_GET_ONE_REG,
    KVM_ONE_REG_SIZE,
    KVM_SET_ONE_REG,
    reg_size,
)
from powercompat.errors import KvmError
from powercompat.messages import EBADF

#: struct kvm_one_reg: native-endian u64 id, u64 addr, no padding
ONE_REG_STRUCT = struct.Struct("=QQ")
assert ONE_REG_STRUCT.size == KVM_ONE_REG_SIZE

IoctlFn = Callable[[int, int, bytes], object]


def pack_one_reg(reg_id: int, addr: int) -> bytes:
    """The 16 bytes of struct kvm_one_reg."""
    return ONE_REG_STRUCT.pack(reg_id, addr)


def is_ppc64_kvm_host() -> bool:
    """True on a ppc64/ppc64le machine with /dev/kvm: where this transport can really run."""
    return platform.machine().startswith("ppc64") and os.path.exists("/dev/kvm")


class LinuxTransport:
    """ONE_REG on real vCPU fds. ``ioctl`` is injectable so tests see exact bytes."""

    def __init__(self, vcpu_fds: dict[int, int], ioctl: IoctlFn | None = None) -> None:
        self.vcpu_fds = vcpu_fds
        self._ioctl: IoctlFn = ioctl if ioctl is not None else fcntl.ioctl

    def _call(self, op: str, vcpu: int, reg_id: int, request: int,
              buf: ctypes.Array[ctypes.c_char]) -> None:
        fd = self.vcpu_fds.get(vcpu)
        if fd is None:
            raise KvmError(EBADF, op, vcpu, reg_id)
        arg = pack_one_reg(reg_id, ctypes.addressof(buf))
        try:
            self._ioctl(fd, request, arg)
        except OSError as err:
            raise KvmError(err.errno or 0, op, vcpu, reg_id) from err

    def get_one_reg(self, vcpu: int, reg_id: int) -> int:
        size = reg_size(reg_id)
        buf = ctypes.create_string_buffer(size)
        self._call("get", vcpu, reg_id, KVM_GET_ONE_REG, buf)
        return int.from_bytes(buf.raw, "little" if _little() else "big")

    def set_one_reg(self, vcpu: int, reg_id: int, value: int) -> None:
        check_value_size("set", vcpu, reg_id, value)
        size = reg_size(reg_id)
        buf = ctypes.create_string_buffer(
            value.to_bytes(size, "little" if _little() else "big"), size)
        self._call("set", vcpu, reg_id, KVM_SET_ONE_REG, buf)


def _little() -> bool:
    import sys

    return sys.byteorder == "little"


def open_linux_vm(vm_type: int, nr_vcpus: int) -> LinuxTransport:  # pragma: no cover - ppc64
    """Open /dev/kvm, create a VM of ``vm_type`` (0 auto, 1 HV, 2 PR) and its vCPUs."""
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    vm = fcntl.ioctl(kvm, KVM_CREATE_VM, vm_type)
    fds = {i: fcntl.ioctl(vm, KVM_CREATE_VCPU, i) for i in range(nr_vcpus)}
    return LinuxTransport(fds)
