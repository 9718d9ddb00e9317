"""The KVM HV capabilities a pseries machine asks the host kernel at every reset.

Sources (kvm-kernel.md items 1, 7, 8; read in Linux 6.1.176 / 6.12.118 / 7.2.13):
arch/powerpc/kvm/powerpc.c kvm_vm_ioctl_check_extension(): ``KVM_CAP_PPC_MMU_RADIX`` is
``radix_enabled()`` (an ISA 3.00 host runs radix), ``KVM_CAP_PPC_MMU_HASH_V3`` is
book3s_hv.c kvmppc_hash_v3_possible() (ISA 3.00, hypervisor mode, and since 5.12 not a radix
POWER9 before DD2.2, whose threads cannot mix hash and radix), ``KVM_CAP_PPC_AIL_MODE_3`` is
on for a nested hypervisor whose own hypervisor relocates interrupts
(pseries_reloc_on_exception(): QEMU and PowerVM do) and on bare metal for ISA 2.07S without
CPU_FTR_P9_RADIX_PREFETCH_BUG (POWER9 DD2.0/DD2.1, cpufeatures_cpu_quirks());
book3s_hv.c kvm_arch_vm_ioctl_hv() KVM_PPC_ALLOCATE_HTAB: ``-EOPNOTSUPP`` when
kvmhv_on_pseries() ("If we're a nested hypervisor, we currently only support radix").
"""

from __future__ import annotations

from typing import Final, NamedTuple

from powercompat.catalog.cpus import POWER9_BASE, CpuFamily
from powercompat.catalog.kernels import HostPlatform, KernelRelease
from powercompat.catalog.pcr import PCR_ARCH_207, PCR_ARCH_300
from powercompat.messages import HPT_ORDER_DEFAULT_RAM

#: the PVR bits that tell POWER9's DD level apart from its chip variant (0x1000)
_P9_DD_MASK: Final = 0xFFFFEFFF
#: DD2.0 and DD2.1: CPU_FTR_P9_RADIX_PREFETCH_BUG (arch/powerpc/kernel/dt_cpu_ftrs.c)
_P9_PREFETCH_BUG: Final = frozenset({POWER9_BASE | 0x0200, POWER9_BASE | 0x0201})


class KvmHvCaps(NamedTuple):
    """What KVM HV answers; ``hpt``: KVM_PPC_ALLOCATE_HTAB gives the guest a hash table."""

    mmu_radix: bool
    mmu_hash_v3: bool
    hpt: bool
    ail_mode_3: bool


def _p9_split(pvr: int) -> bool:
    """kvmppc_hash_v3_possible(): a POWER9 before DD2.02 (or its 0x2000 variant before
    1.01) cannot have some threads in HPT mode and some in radix."""
    if pvr >> 16 != POWER9_BASE >> 16:
        return False
    variant, level = pvr & 0xE000, pvr & 0xFFF
    return (variant == 0 and level < 0x202) or (variant == 0x2000 and level < 0x101)


def kvm_hv_caps(kernel: KernelRelease, platform: HostPlatform, host: CpuFamily,
                host_pvr: int | None) -> KvmHvCaps:
    """The capabilities of KVM HV in ``kernel`` on a ``host`` (family and real PVR) running
    on ``platform``. ``host_pvr`` None: a host of that family whose DD level has none of the
    quirks (POWER9 DD2.2 and later), for a host that was not named.

    >>> from powercompat.catalog.cpus import POWER9
    >>> from powercompat.catalog.kernels import LINUX_6_1
    >>> kvm_hv_caps(LINUX_6_1, HostPlatform.POWERNV, POWER9, 0x004E1200)
    KvmHvCaps(mmu_radix=True, mmu_hash_v3=False, hpt=True, ail_mode_3=False)
    """
    radix = host.host_pcr_bit >= PCR_ARCH_300
    nested = platform is HostPlatform.PSERIES
    known = host_pvr is not None
    hash_v3 = (radix and not nested
               and not (kernel.p9_split_mmu and known and _p9_split(host_pvr or 0)))
    if nested:
        ail = kernel.ail_mode_3_cap
    else:
        ail = (kernel.ail_mode_3_cap and host.host_pcr_bit >= PCR_ARCH_207
               and not (known and (host_pvr or 0) & _P9_DD_MASK in _P9_PREFETCH_BUG))
    return KvmHvCaps(radix, hash_v3, not nested, ail)


def vrma_limit_mib(page_shift: int, htab_shift: int = HPT_ORDER_DEFAULT_RAM) -> int:
    """The largest RMA a hash guest's VRMA maps, in MiB: target/ppc/kvm.c
    kvmppc_vrma_limit(), 2^(page + htab_shift - 7) bytes, where page is the largest segment
    page size KVM lists (KVM_PPC_GET_SMMU_INFO: 4K, 64K, 16M for HV and PR alike) that is
    no bigger than the page backing guest RAM, the host's base page for anonymous memory.

    >>> vrma_limit_mib(16), vrma_limit_mib(12)  # 64K and 4K pages, 512 MiB of RAM
    (2048, 128)
    """
    return 1 << (page_shift + htab_shift - 7 - 20)
