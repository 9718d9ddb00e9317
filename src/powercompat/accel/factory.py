"""Build the accelerator a machine runs on: TCG, or KVM over a recorded transport."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from powercompat.catalog.accels import ACCELS, Accel
from powercompat.errors import InvalidValueError

if TYPE_CHECKING:
    from powercompat.accel.kernels import KernelModel, KernelView
    from powercompat.accel.transport import FaultInjector, RecordingTransport
    from powercompat.catalog.cpus import CpuModel
    from powercompat.catalog.kernels import KernelRelease

__all__ = ["ACCELS", "Accelerator", "make_accel"]


@dataclass
class Accelerator:
    """``transport`` is None under TCG. ``kernel`` is the model behind it (None for TCG and
    for the real kernel), used only to report what the kernel holds."""

    flavour: Accel
    transport: RecordingTransport | None
    kernel: KernelModel | None
    faults: FaultInjector | None

    @property
    def name(self) -> str:
        return self.flavour.value

    @property
    def kvm(self) -> bool:
        return self.transport is not None

    def create_vcpu(self, vcpu: int) -> None:
        if self.kernel is not None:
            self.kernel.create_vcpu(vcpu)

    def init_vcpu(self, vcpu: int, pvr: int) -> None:
        """kvm_arch_init_vcpu()'s KVM_SET_SREGS with the model's PVR (a modelled kernel only).

        :raises KvmError: the kernel refuses it.
        """
        if self.kernel is not None:
            self.kernel.set_sregs_pvr(vcpu, pvr)

    def kernel_view(self, vcpu: int) -> KernelView | None:
        return self.kernel.inspect(vcpu) if self.kernel is not None else None


@functools.cache
def _models() -> Mapping[Accel, Callable[[CpuModel, int, KernelRelease], KernelModel]]:
    """The kernel model of each modelled KVM flavour: (host CPU, threads per vcore, kernel).

    Imported on first use: a TCG machine (every ``negotiate`` by default) never needs the
    kernel models or the transports (#13, start-up)."""
    from powercompat.accel.kernels import HvKernel, PrIgnoreKernel, PrKernel

    def pr(host: CpuModel, threads: int, kernel: KernelRelease) -> KernelModel:
        # a PR with an ARCH_COMPAT case stores the value and enforces nothing (no PCR)
        return PrIgnoreKernel() if kernel.pr_arch_compat else PrKernel()

    return MappingProxyType({
        Accel.KVM_HV: lambda host, threads, kernel: HvKernel(host.family, threads, kernel,
                                                             host.pvr),
        Accel.KVM_PR: pr,
        Accel.KVM_PR_IGNORE: lambda host, threads, kernel: PrIgnoreKernel(),
    })


def make_accel(flavour: Accel, kernel: KernelRelease, host: CpuModel, threads: int,
               nr_vcpus: int, inject_faults: bool = False) -> Accelerator:
    """The accelerator on ``host`` (the host's processor: family and real PVR).

    :raises InvalidValueError: ``kvm`` off a ppc64 KVM host.
    """
    if flavour is Accel.TCG:
        return Accelerator(flavour, None, None, None)
    from powercompat.accel.transport import FaultInjector, OneRegTransport, RecordingTransport

    if flavour is Accel.KVM:
        # imported here: ctypes/fcntl cost start-up time that TCG and the models never need
        from powercompat.accel.linux import LinuxTransport, is_ppc64_kvm_host, open_linux_vm

        if not is_ppc64_kvm_host():
            raise InvalidValueError("accel 'kvm' needs a ppc64 host with /dev/kvm; "
                                    "use kvm-hv, kvm-pr or kvm-pr-ignore to model one")
        real: LinuxTransport = open_linux_vm(0, nr_vcpus)  # pragma: no cover - ppc64 only
        return Accelerator(flavour, RecordingTransport(real), None, None)  # pragma: no cover
    model = _models()[flavour](host, threads, kernel)
    inner: OneRegTransport = model
    faults = None
    if inject_faults:
        faults = FaultInjector(model)
        inner = faults
    return Accelerator(flavour, RecordingTransport(inner), model, faults)
