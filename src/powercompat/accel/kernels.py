"""Models of Linux Book3S KVM behind the ONE_REG transport: HV, PR, and PR-ignore.

They are implementations of documented kernel behaviour, not mocks: the machine cannot tell
them from the real kernel, because they fail with the errno the kernel uses.

Sources: arch/powerpc/kvm/book3s_hv.c kvmppc_set_one_reg_hv() / kvmppc_get_one_reg_hv() /
kvmppc_set_arch_compat() (per-vcore arch_compat and pcr under vc->lock),
kvm_arch_vcpu_ioctl_set_sregs_hv() (only the host's PVR);
book3s_pr.c kvmppc_{get,set}_one_reg_pr() (no ARCH_COMPAT case: -EINVAL after the generic
fallbacks in book3s.c and powerpc.c). ``PrIgnoreKernel`` is ours (a proposal), not Linux's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from powercompat.accel.transport import check_value_size
from powercompat.catalog.cpus import CpuFamily
from powercompat.catalog.kernels import DEFAULT_KERNEL, KernelRelease
from powercompat.catalog.kvm import KVM_REG_PPC_ARCH_COMPAT
from powercompat.decisions.pcr import kvm_hv_pcr
from powercompat.errors import KvmError
from powercompat.messages import EBADF, EINVAL


@dataclass(frozen=True, slots=True)
class KernelView:
    """What the kernel holds for one vCPU. ``pcr`` None: the kernel enforces nothing."""

    arch_compat: int
    pcr: int | None
    enforced: bool
    note: str


class KernelModel(Protocol):
    """A kernel behind the transport; ``create_vcpu`` stands for KVM_CREATE_VCPU,
    ``set_sregs_pvr`` for KVM_SET_SREGS reduced to the one field a model checks, and
    ``inspect`` is the test oracle's view (never consulted by the machine's decisions)."""

    name: str

    def create_vcpu(self, vcpu: int) -> None: ...

    def set_sregs_pvr(self, vcpu: int, pvr: int) -> None:
        """KVM_SET_SREGS with the CPU model's PVR (QEMU at vCPU init).

        :raises KvmError: the kernel refuses the PVR.
        """
        ...

    def get_one_reg(self, vcpu: int, reg_id: int) -> int: ...

    def set_one_reg(self, vcpu: int, reg_id: int, value: int) -> None: ...

    def inspect(self, vcpu: int) -> KernelView: ...


class HvKernel:
    """KVM HV: ARCH_COMPAT lives in the virtual core, shared by its threads."""

    name = "hv"

    def __init__(self, host: CpuFamily, threads_per_vcore: int = 1,
                 kernel: KernelRelease = DEFAULT_KERNEL, host_pvr: int | None = None) -> None:
        self.host = host
        self.threads = threads_per_vcore
        self.kernel = kernel
        #: the host's own PVR (mfspr(SPRN_PVR)); None: not known, any PVR is taken
        self.host_pvr = host_pvr
        self.vcpus: set[int] = set()
        #: vcore id -> (arch_compat, pcr)
        self.vcores: dict[int, tuple[int, int]] = {}

    def _vcore(self, op: str, vcpu: int, reg_id: int) -> int:
        if vcpu not in self.vcpus:
            raise KvmError(EBADF, op, vcpu, reg_id)
        return vcpu // self.threads

    def create_vcpu(self, vcpu: int) -> None:
        self.vcpus.add(vcpu)
        # A new vcore is raw; since 13c7bb3c57dc the guest is entered with vc->pcr | PCR_MASK,
        # so its effective PCR is the reserved bits alone, as after a raw write.
        self.vcores.setdefault(vcpu // self.threads, (0, self.kernel.reserved_pcr))

    def set_sregs_pvr(self, vcpu: int, pvr: int) -> None:
        """kvm_arch_vcpu_ioctl_set_sregs_hv(): only the host's PVR ("we can't spoof it")."""
        self._vcore("set_sregs", vcpu, 0)
        if self.host_pvr is not None and pvr != self.host_pvr:
            raise KvmError(EINVAL, "set_sregs", vcpu, 0)

    def get_one_reg(self, vcpu: int, reg_id: int) -> int:
        core = self._vcore("get", vcpu, reg_id)
        if reg_id != KVM_REG_PPC_ARCH_COMPAT:
            raise KvmError(EINVAL, "get", vcpu, reg_id)
        return self.vcores[core][0]

    def set_one_reg(self, vcpu: int, reg_id: int, value: int) -> None:
        core = self._vcore("set", vcpu, reg_id)
        check_value_size("set", vcpu, reg_id, value)
        if reg_id != KVM_REG_PPC_ARCH_COMPAT:
            raise KvmError(EINVAL, "set", vcpu, reg_id)
        result = kvm_hv_pcr(self.host, value, self.kernel)
        if result.errno:
            if result.stored is not None:  # 7.2: a refused Power11 still poisons the vcore
                self.vcores[core] = (result.stored, result.pcr)
            raise KvmError(result.errno, "set", vcpu, reg_id)
        self.vcores[core] = (value, result.pcr)

    def inspect(self, vcpu: int) -> KernelView:
        arch_compat, pcr = self.vcores[vcpu // self.threads]
        return KernelView(arch_compat, pcr, True,
                          f"vcore {vcpu // self.threads} on a {self.host.name} host")


class PrKernel:
    """KVM PR of a kernel without an ARCH_COMPAT case (``pr_arch_compat`` False, every
    kernel so far): get and set both end in -EINVAL."""

    name = "pr"

    def __init__(self) -> None:
        self.vcpus: set[int] = set()

    def create_vcpu(self, vcpu: int) -> None:
        self.vcpus.add(vcpu)

    def set_sregs_pvr(self, vcpu: int, pvr: int) -> None:
        """PR emulates the PVR: any model's is taken."""

    def get_one_reg(self, vcpu: int, reg_id: int) -> int:
        if vcpu not in self.vcpus:
            raise KvmError(EBADF, "get", vcpu, reg_id)
        raise KvmError(EINVAL, "get", vcpu, reg_id)

    def set_one_reg(self, vcpu: int, reg_id: int, value: int) -> None:
        if vcpu not in self.vcpus:
            raise KvmError(EBADF, "set", vcpu, reg_id)
        check_value_size("set", vcpu, reg_id, value)
        raise KvmError(EINVAL, "set", vcpu, reg_id)

    def inspect(self, vcpu: int) -> KernelView:
        return KernelView(0, None, False, "KVM PR has no ARCH_COMPAT: the guest runs raw")


class PrIgnoreKernel:
    """powercompat's own proposal, **not a real kernel**: KVM PR with an ARCH_COMPAT handler
    that accepts and stores the value and enforces nothing (PR emulates the PVR; no PCR is
    programmed). No Linux release has it: 6.1, 6.12 and 7.2 answer EINVAL (``PrKernel``),
    as the recorded PR runs show (tests/data/real/kvm-pr-*.json)."""

    name = "pr-ignore"

    def __init__(self) -> None:
        self.values: dict[int, int] = {}

    def create_vcpu(self, vcpu: int) -> None:
        self.values.setdefault(vcpu, 0)

    def set_sregs_pvr(self, vcpu: int, pvr: int) -> None:
        """PR emulates the PVR: any model's is taken."""

    def get_one_reg(self, vcpu: int, reg_id: int) -> int:
        if vcpu not in self.values:
            raise KvmError(EBADF, "get", vcpu, reg_id)
        if reg_id != KVM_REG_PPC_ARCH_COMPAT:
            raise KvmError(EINVAL, "get", vcpu, reg_id)
        return self.values[vcpu]

    def set_one_reg(self, vcpu: int, reg_id: int, value: int) -> None:
        if vcpu not in self.values:
            raise KvmError(EBADF, "set", vcpu, reg_id)
        check_value_size("set", vcpu, reg_id, value)
        if reg_id != KVM_REG_PPC_ARCH_COMPAT:
            raise KvmError(EINVAL, "set", vcpu, reg_id)
        self.values[vcpu] = value

    def inspect(self, vcpu: int) -> KernelView:
        value = self.values[vcpu]
        note = ("mode requested but not enforced: PR stores ARCH_COMPAT and programs no PCR"
                if value else "raw")
        return KernelView(value, None, False, note)
