"""What a KVM HV host cannot give a pseries machine at reset (kvm-kernel.md items 1, 7, 8;
recorded in tests/data/real/kvm-hv-*.json): a hash page table on a nested hypervisor, a hash
MMU on a radix POWER9 before DD2.2, and spapr's cap-ail-mode-3 where KVM lacks it. Each of
these cases started before the rules existed."""

from __future__ import annotations

import pytest

from powercompat import messages
from powercompat.catalog.cpus import POWER8, POWER9, POWER10
from powercompat.catalog.kernels import HostPlatform, kernel_by_name
from powercompat.decisions.kvmcaps import KvmHvCaps, kvm_hv_caps
from powercompat.errors import InvalidValueError
from powercompat.scenario import negotiate

P9_DD20 = "004e1200"
P9_DD22 = "004e1202"
HPT_29 = messages.hpt_alloc_failed(22, messages.EOPNOTSUPP)


def _caps(kernel: str, platform: HostPlatform, family: object, pvr: int | None) -> KvmHvCaps:
    found = kernel_by_name(kernel)
    assert found is not None
    return kvm_hv_caps(found, platform, family, pvr)  # type: ignore[arg-type]


def test_capabilities_per_host() -> None:
    nv, ps = HostPlatform.POWERNV, HostPlatform.PSERIES
    # a radix POWER9 DD2.0: no hash-v3 (5.12+) and the prefetch bug (no AIL 3)
    assert _caps("linux-6.1", nv, POWER9, 0x004E1200) == KvmHvCaps(True, False, True, False)
    assert _caps("linux-6.1", nv, POWER9, 0x004E1202) == KvmHvCaps(True, True, True, True)
    # before 5.12 such a host kept hash-v3; before 5.18 no kernel had the AIL 3 capability
    assert _caps("linux-4.19", nv, POWER9, 0x004E1200) == KvmHvCaps(True, True, True, False)
    # a nested hypervisor: radix only, no HPT, AIL 3 from its own hypervisor
    assert _caps("linux-7.2", ps, POWER10, 0x00801200) == KvmHvCaps(True, False, False, True)
    # POWER8 runs hash only
    assert _caps("linux-6.12", nv, POWER8, 0x004D0200) == KvmHvCaps(False, False, True, True)
    # a host not named: its family at a level without DD quirks
    assert _caps("linux-6.1", nv, POWER9, None) == KvmHvCaps(True, True, True, True)


@pytest.mark.parametrize("qemu", ["5.2", "7.2", "10.0", "11.1", "head"])
def test_nested_hypervisor_has_no_hpt(qemu: str) -> None:
    n = negotiate("host", "power8", accel="kvm-hv", host_cpu=P9_DD22, qemu=qemu,
                  host_kernel="linux-6.1", host_platform="pseries")
    assert (n.started, n.error, n.one_reg_total) == (False, messages.HPT_NESTED, 0)
    # power9 and newer run radix: no HPT is asked for
    n = negotiate("host", "power9", accel="kvm-hv", host_cpu=P9_DD22, qemu=qemu,
                  host_kernel="linux-6.1", host_platform="pseries")
    assert n.started and n.error is None


def test_nested_hypervisor_in_2017_releases() -> None:
    """2.9 allocates an HPT at every reset; 2.10/2.11 skip it whenever KVM offers radix."""
    n = negotiate("power9_v2.0", "power8", accel="kvm-hv", qemu="2.11",
                  host_platform="pseries")
    assert n.started
    n = negotiate("power9_v1.0,compat=power8", accel="kvm-hv", qemu="2.9",
                  host_platform="pseries")
    assert (n.started, n.error) == (False, HPT_29)


@pytest.mark.parametrize("qemu", ["7.2", "10.0", "11.1"])
def test_radix_power9_before_dd22_cannot_run_hash(qemu: str) -> None:
    """The reset's sets succeed, then the device tree's MMU check stops QEMU (7.2 on); in
    10.0 on, power7 (AIL 3 off below power8) reaches the same check."""
    mode = "power7" if qemu != "7.2" else "power8"
    n = negotiate("host", mode, accel="kvm-hv", host_cpu=P9_DD20, qemu=qemu,
                  host_kernel="linux-6.1")
    assert (n.started, n.error) == (False, messages.MMU_HASH_UNAVAILABLE)
    assert n.one_reg_total == 1  # the start-up reset's set on the one vCPU
    # DD2.2 mixes hash and radix
    n = negotiate("host", mode, accel="kvm-hv", host_cpu=P9_DD22, qemu=qemu,
                  host_kernel="linux-6.1")
    assert n.started


def test_5_2_has_no_mmu_check_at_reset() -> None:
    n = negotiate("host", "power8", accel="kvm-hv", host_cpu=P9_DD20, qemu="5.2",
                  host_kernel="linux-6.1")
    assert n.started


@pytest.mark.parametrize("mode", [None, "power9", "power8"])
def test_ail_mode_3_where_kvm_lacks_it(mode: str | None) -> None:
    n = negotiate("host", mode, accel="kvm-hv", host_cpu=P9_DD20, qemu="10.0",
                  host_kernel="linux-6.12", hpt_max_page_size=4)
    assert (n.started, n.error, n.one_reg_total) == (
        False, messages.AIL_MODE_3_UNSUPPORTED, 0)
    # 7.2 has no such cap; a 4.19 host has no such capability at all
    assert negotiate("host", mode, accel="kvm-hv", host_cpu=P9_DD20, qemu="7.2",
                     host_kernel="linux-6.12",
                     hpt_max_page_size=4).error != messages.AIL_MODE_3_UNSUPPORTED
    n = negotiate("host", mode, accel="kvm-hv", host_cpu=P9_DD22, qemu="11.1",
                  host_kernel="linux-4.19")
    assert n.error == messages.AIL_MODE_3_UNSUPPORTED


def test_a_host_not_named_by_its_pvr_has_no_dd_quirks() -> None:
    """7.2's POWER9 is the DD2.0 model; without --host-cpu, or with a model name (QEMU's
    representative of the family), the host is a POWER9, not that early silicon, so the
    classic POWER9 host running a POWER8 guest starts. Named by its PVR, DD2.0 is DD2.0."""
    n = negotiate("POWER9", "power8", accel="kvm-hv", qemu="7.2")
    assert n.started and n.compat == "power8"
    n = negotiate("POWER9", "power8", accel="kvm-hv", qemu="7.2", host_cpu="power9_v2.0")
    assert n.started
    n = negotiate("host", "power8", accel="kvm-hv", qemu="7.2", host_cpu=P9_DD20)
    assert n.error == messages.MMU_HASH_UNAVAILABLE


def test_platform_is_checked() -> None:
    with pytest.raises(InvalidValueError, match="modelled KVM"):
        negotiate("POWER9", host_platform="pseries")
    with pytest.raises(InvalidValueError, match="nested HV came with v4.20"):
        negotiate("POWER9", accel="kvm-hv", host_kernel="linux-4.19", host_platform="pseries")
    with pytest.raises(Exception, match="host platform"):
        negotiate("POWER9", accel="kvm-hv", host_platform="lpar")


# --------------------------------------------------------------------- the VRMA of a hash guest
# hw/ppc/spapr.c spapr_setup_hpt(): the RMA (pseries' 512 MiB) must fit the VRMA, 2^(page +
# htab - 7) bytes; recorded on powernv9 with L1 6.12 and 7.2 (4K pages), which refuse every
# hash guest, while L1 6.1 (64K) runs them (tests/data/real/kvm-hv-powernv9-l1-*.json)
VRMA_4K = "Unable to create 512MiB RMA (VRMA only allows 128MiB"


@pytest.mark.parametrize(("kernel", "page", "refused"), [
    ("linux-6.1", None, False), ("linux-6.12", None, True), ("linux-7.2", None, True),
    (None, None, False), ("linux-7.2", 64, False), ("linux-6.1", 4, True), (None, 4, True)])
def test_a_hash_guest_needs_64k_host_pages(kernel: str | None, page: int | None,
                                            refused: bool) -> None:
    # cap-hpt-max-page-size=4k, as a 4K-page host needs (next test)
    n = negotiate("host", "power8", accel="kvm-hv", host_cpu=P9_DD22, qemu="7.2",
                  host_kernel=kernel, host_page_size=page, hpt_max_page_size=4)
    assert n.started is not refused
    assert (n.error == VRMA_4K) is refused
    if refused:  # before any vCPU is set: spapr_setup_hpt runs before ppc_set_compat_all
        assert n.one_reg_total == 0


def test_radix_guests_and_old_releases_do_not_care() -> None:
    # a POWER9 mode on a radix host needs no hash table
    assert negotiate("host", None, accel="kvm-hv", host_cpu=P9_DD22,
                     host_kernel="linux-7.2", hpt_max_page_size=4).started
    # 2.11's spapr_setup_hpt_and_vrma() clamped the RMA to the VRMA instead
    assert negotiate("POWER8", None, accel="kvm-hv", qemu="2.11",
                     host_kernel="linux-7.2").started
    assert negotiate("POWER8", None, accel="kvm-hv", qemu="5.2", host_kernel="linux-7.2",
                     hpt_max_page_size=4).error == VRMA_4K


CAP_64K_ON_4K = ("Can't support 64 kiB guest pages with 4 kiB host pages with this KVM "
                 "implementation")


def test_a_4k_page_host_needs_the_page_size_cap() -> None:
    # spapr_caps_apply(): pseries-3.0 and later default cap-hpt-max-page-size to 64 KiB; KVM
    # HV refuses it on 4K pages, radix guests too, before anything else (the harness passes
    # cap-hpt-max-page-size=4k on its 4K-page L1s)
    n = negotiate("host", None, accel="kvm-hv", host_cpu=P9_DD22, host_kernel="linux-6.12")
    assert n.error == CAP_64K_ON_4K and n.one_reg_total == 0
    assert negotiate("host", None, accel="kvm-hv", host_cpu=P9_DD22, host_kernel="linux-6.12",
                     hpt_max_page_size=16384).error == CAP_64K_ON_4K.replace("64 kiB",
                                                                               "16384 kiB")
    # pseries-2.12 and older take the host's page; 64K pages take the default; KVM PR backs
    # no guest page with host-contiguous memory (no KVM_PPC_PAGE_SIZES_REAL)
    assert negotiate("host", None, accel="kvm-hv", host_cpu=P9_DD22, qemu="7.2",
                     host_kernel="linux-6.12", machine="pseries-2.12").started
    assert negotiate("host", None, accel="kvm-hv", host_cpu=P9_DD22,
                     host_kernel="linux-6.1").started
    assert negotiate("POWER8", None, accel="kvm-pr", host_page_size=64).started
    with pytest.raises(InvalidValueError, match="cap-hpt-max-page-size must be"):
        negotiate("POWER8", accel="kvm-hv", hpt_max_page_size=8)


def test_kvm_pr_always_runs_hash() -> None:
    # no radix under PR: the VRMA rule holds for every guest; its ARCH_COMPAT EINVAL is not
    # reached on 4K pages
    n = negotiate("POWER8", "power7", accel="kvm-pr", host_kernel="linux-6.12")
    assert n.error == VRMA_4K and n.one_reg_total == 0
    n = negotiate("POWER8", "power7", accel="kvm-pr")  # no kernel named: a 64K build
    assert n.error != VRMA_4K and n.one_reg_total > 0


def test_host_page_size_is_checked() -> None:
    with pytest.raises(InvalidValueError, match="4 or 64"):
        negotiate("POWER8", accel="kvm-hv", host_page_size=16)
    with pytest.raises(InvalidValueError, match="modelled KVM"):
        negotiate("POWER8", host_page_size=64)
