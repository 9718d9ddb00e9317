"""KVM ioctl numbers, ONE_REG ids and capabilities for powerpc, computed from their parts.

Sources: include/uapi/linux/kvm.h (KVMIO, KVM_GET/SET_ONE_REG, KVM_REG_* fields, KVM_CAP_*),
arch/powerpc/include/uapi/asm/kvm.h (KVM_REG_PPC_ARCH_COMPAT) and
arch/powerpc/include/uapi/asm/ioctl.h: powerpc's _IOC layout differs from the generic one
(13 size bits, 3 direction bits, NONE = 1, READ = 2, WRITE = 4), so _IOW(0xAE, 0xac, 16 bytes)
is 0x8010aeac there and 0x4010aeac on x86.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class IocLayout:
    """One architecture's ioctl number layout (asm/ioctl.h)."""

    nrbits: int
    typebits: int
    sizebits: int
    dirbits: int
    none: int
    read: int
    write: int

    def ioc(self, direction: int, type_: int, nr: int, size: int) -> int:
        """The kernel's _IOC(dir, type, nr, size)."""
        assert 0 <= size < (1 << self.sizebits), "ioctl argument too large for the size field"
        typeshift = self.nrbits
        sizeshift = typeshift + self.typebits
        dirshift = sizeshift + self.sizebits
        return (direction << dirshift) | (size << sizeshift) | (type_ << typeshift) | nr

    def io(self, type_: int, nr: int) -> int:
        return self.ioc(self.none, type_, nr, 0)

    def iow(self, type_: int, nr: int, size: int) -> int:
        return self.ioc(self.write, type_, nr, size)


#: arch/powerpc/include/uapi/asm/ioctl.h
POWERPC_IOC: Final = IocLayout(nrbits=8, typebits=8, sizebits=13, dirbits=3,
                               none=1, read=2, write=4)
#: include/uapi/asm-generic/ioctl.h (x86, arm64): only for the test that catches the mix-up
GENERIC_IOC: Final = IocLayout(nrbits=8, typebits=8, sizebits=14, dirbits=2,
                               none=0, read=2, write=1)

KVMIO: Final = 0xAE
#: struct kvm_one_reg { __u64 id; __u64 addr; }: 16 bytes, no padding
KVM_ONE_REG_SIZE: Final = 16

# include/uapi/linux/kvm.h; both are _IOW, even GET.  Available with KVM_CAP_ONE_REG.
KVM_GET_ONE_REG: Final = POWERPC_IOC.iow(KVMIO, 0xAB, KVM_ONE_REG_SIZE)  # 0x8010aeab
KVM_SET_ONE_REG: Final = POWERPC_IOC.iow(KVMIO, 0xAC, KVM_ONE_REG_SIZE)  # 0x8010aeac
KVM_CREATE_VM: Final = POWERPC_IOC.io(KVMIO, 0x01)  # 0x2000ae01
KVM_CHECK_EXTENSION: Final = POWERPC_IOC.io(KVMIO, 0x03)  # 0x2000ae03
KVM_CREATE_VCPU: Final = POWERPC_IOC.io(KVMIO, 0x41)  # 0x2000ae41

# ONE_REG id fields (include/uapi/linux/kvm.h)
KVM_REG_ARCH_MASK: Final = 0xFF00000000000000
KVM_REG_PPC: Final = 0x1000000000000000
KVM_REG_SIZE_SHIFT: Final = 52
KVM_REG_SIZE_MASK: Final = 0x00F0000000000000
KVM_REG_SIZE_U32: Final = 0x0020000000000000
KVM_REG_SIZE_U64: Final = 0x0030000000000000

# arch/powerpc/include/uapi/asm/kvm.h, "Architecture compatibility level"
KVM_REG_PPC_ARCH_COMPAT: Final = KVM_REG_PPC | KVM_REG_SIZE_U32 | 0xB7  # 0x10200000000000b7
KVM_REG_PPC_LPCR: Final = KVM_REG_PPC | KVM_REG_SIZE_U32 | 0xB5
KVM_REG_PPC_HIOR: Final = KVM_REG_PPC | KVM_REG_SIZE_U64 | 0x1

#: names for the registers powercompat prints
ONE_REG_NAMES: Final[dict[int, str]] = {
    KVM_REG_PPC_ARCH_COMPAT: "KVM_REG_PPC_ARCH_COMPAT",
    KVM_REG_PPC_LPCR: "KVM_REG_PPC_LPCR",
    KVM_REG_PPC_HIOR: "KVM_REG_PPC_HIOR",
}

# KVM_CREATE_VM machine types on ppc (powerpc.c kvm_arch_init_vm)
KVM_VM_PPC_HV: Final = 1
KVM_VM_PPC_PR: Final = 2

# Capabilities (include/uapi/linux/kvm.h). None of them says "ARCH_COMPAT supported":
# userspace has to try the register (GET) and read the errno.
KVM_CAP_PPC_GET_PVINFO: Final = 57  # 1 on PR, 0 on HV: QEMU's kvmppc_is_pr(), never used here
KVM_CAP_PPC_HIOR: Final = 67
KVM_CAP_ONE_REG: Final = 70


def reg_size(reg_id: int) -> int:
    """Bytes of a ONE_REG value, decoded from the id's size field (kvm-ioctls' reg_size)."""
    return 1 << ((reg_id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT)


def reg_name(reg_id: int) -> str:
    return ONE_REG_NAMES.get(reg_id, f"0x{reg_id:016x}")
