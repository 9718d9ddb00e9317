"""Build the accelerator a machine runs on: TCG, or KVM over a recorded transport."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from powercompat.accel.kernels import (
    HvKernel,
    KernelModel,
    KernelView,
    PrIgnoreKernel,
    PrKernel,
)
from powercompat.accel.transport import FaultInjector, OneRegTransport, RecordingTransport
from powercompat.catalog.cpus import CpuFamily
from powercompat.errors import InvalidValueError

#: accelerator names as the CLI spells them
ACCELS: Final[tuple[str, ...]] = ("tcg", "kvm-hv", "kvm-pr", "kvm-pr-ignore", "kvm")


@dataclass
class Accelerator:
    """``transport`` is None under TCG. ``kernel`` is the model behind it (None for TCG and
    for the real kernel), used only to report what the kernel holds."""

    name: str
    transport: RecordingTransport | None
    kernel: KernelModel | None
    faults: FaultInjector | None

    @property
    def kvm(self) -> bool:
        return self.transport is not None

    def create_vcpu(self, vcpu: int) -> None:
        if self.kernel is not None:
            self.kernel.create_vcpu(vcpu)

    def kernel_view(self, vcpu: int) -> KernelView | None:
        return self.kernel.inspect(vcpu) if self.kernel is not None else None


def make_accel(name: str, host: CpuFamily, threads: int, nr_vcpus: int,
               reserved_bits: bool = True, inject_faults: bool = False) -> Accelerator:
    """:raises InvalidValueError: unknown name, or ``kvm`` off a ppc64 KVM host."""
    kernel: KernelModel
    if name == "tcg":
        return Accelerator(name, None, None, None)
    if name == "kvm-hv":
        kernel = HvKernel(host, threads, reserved_bits)
    elif name == "kvm-pr":
        kernel = PrKernel()
    elif name == "kvm-pr-ignore":
        kernel = PrIgnoreKernel()
    elif name == "kvm":
        # imported here: ctypes/fcntl cost start-up time that TCG and the models never need
        from powercompat.accel.linux import LinuxTransport, is_ppc64_kvm_host, open_linux_vm

        if not is_ppc64_kvm_host():
            raise InvalidValueError("accel 'kvm' needs a ppc64 host with /dev/kvm; "
                                    "use kvm-hv, kvm-pr or kvm-pr-ignore to model one")
        real: LinuxTransport = open_linux_vm(0, nr_vcpus)  # pragma: no cover - ppc64 only
        return Accelerator(name, RecordingTransport(real), None, None)  # pragma: no cover
    else:
        raise InvalidValueError(f"unknown accelerator '{name}' (valid: {', '.join(ACCELS)})")
    inner: OneRegTransport = kernel
    faults = None
    if inject_faults:
        faults = FaultInjector(kernel)
        inner = faults
    return Accelerator(name, RecordingTransport(inner), kernel, faults)
