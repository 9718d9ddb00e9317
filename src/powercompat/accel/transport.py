"""The ONE_REG seam: one protocol with two methods, and a recorder that wraps any transport.

Shape after rust-vmm kvm-ioctls ``VcpuFd::set_one_reg``/``get_one_reg``: a failed call raises
one typed error that keeps the errno (KvmError), never returns a bool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from powercompat.catalog.kvm import reg_size
from powercompat.errors import KvmError
from powercompat.messages import EINVAL


@runtime_checkable
class OneRegTransport(Protocol):
    """What KVM_GET_ONE_REG / KVM_SET_ONE_REG on a vCPU fd do."""

    def get_one_reg(self, vcpu: int, reg_id: int) -> int:
        """:raises KvmError: with the kernel's errno."""
        ...

    def set_one_reg(self, vcpu: int, reg_id: int, value: int) -> None:
        """:raises KvmError: with the kernel's errno."""
        ...


def check_value_size(op: str, vcpu: int, reg_id: int, value: int) -> None:
    """Refuse a value that does not fit the size encoded in the register id (EINVAL), as
    kvm-ioctls checks the buffer length before any syscall."""
    if not 0 <= value < 1 << (8 * reg_size(reg_id)):
        raise KvmError(EINVAL, op, vcpu, reg_id)


@dataclass(frozen=True, slots=True)
class OneRegCall:
    """One recorded ioctl. ``value``: written (set) or read (get; None if it failed)."""

    vcpu: int
    op: str
    reg_id: int
    value: int | None
    errno: int

    def to_json(self) -> dict[str, object]:
        return {
            "vcpu": self.vcpu,
            "op": self.op,
            "id": f"0x{self.reg_id:016x}",
            "value": None if self.value is None else f"0x{self.value:08x}",
            "errno": self.errno,
        }


class RecordingTransport:
    """Wraps a transport and records every call, successful or not, in order."""

    def __init__(self, inner: OneRegTransport) -> None:
        self.inner = inner
        self.calls: list[OneRegCall] = []

    def get_one_reg(self, vcpu: int, reg_id: int) -> int:
        try:
            value = self.inner.get_one_reg(vcpu, reg_id)
        except KvmError as err:
            self.calls.append(OneRegCall(vcpu, "get", reg_id, None, err.errno))
            raise
        self.calls.append(OneRegCall(vcpu, "get", reg_id, value, 0))
        return value

    def set_one_reg(self, vcpu: int, reg_id: int, value: int) -> None:
        try:
            self.inner.set_one_reg(vcpu, reg_id, value)
        except KvmError as err:
            self.calls.append(OneRegCall(vcpu, "set", reg_id, value, err.errno))
            raise
        self.calls.append(OneRegCall(vcpu, "set", reg_id, value, 0))


class FaultInjector:
    """Wraps a transport and fails chosen calls with a chosen errno, for tests and stress.

    ``plan`` maps the index of a *set* call (counted from 0 across the injector's life) to
    the errno that call must fail with; the inner transport never sees a failed call.
    """

    def __init__(self, inner: OneRegTransport) -> None:
        self.inner = inner
        self.plan: dict[int, int] = {}
        self.sets_seen = 0

    def fail_next_set(self, errno: int, after: int = 0) -> None:
        self.plan[self.sets_seen + after] = errno

    def get_one_reg(self, vcpu: int, reg_id: int) -> int:
        return self.inner.get_one_reg(vcpu, reg_id)

    def set_one_reg(self, vcpu: int, reg_id: int, value: int) -> None:
        index = self.sets_seen
        self.sets_seen += 1
        err = self.plan.pop(index, 0)
        if err:
            raise KvmError(err, "set", vcpu, reg_id)
        self.inner.set_one_reg(vcpu, reg_id, value)
