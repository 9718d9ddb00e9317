"""The catalogue against the values in QEMU's and Linux's headers (qemu.md, kernel_libvirt.md)."""

from __future__ import annotations

import pytest

from powercompat.catalog import kvm, pcr
from powercompat.catalog.cpus import FAMILIES
from powercompat.catalog.guests import GUESTS, guest_by_name
from powercompat.catalog.history import HEAD, build, changes_by
from powercompat.catalog.modes import mode_by_name, mode_by_pvr

# qemu.md section 1.2: name, logical PVR, pcr, pcr_level, max_vthreads (head)
HEAD_TABLE = [
    ("power6", 0x0F000002, 0x600000000000003E, 0x2, 2),
    ("power7", 0x0F000003, 0x200000000000003C, 0x4, 4),
    ("power7+", 0x0F100003, 0x200000000000003C, 0x4, 4),
    ("power8", 0x0F000004, 0x0000000000000038, 0x8, 8),
    ("power9", 0x0F000005, 0x0000000000000030, 0x10, 8),
    ("power10", 0x0F000006, 0x0000000000000020, 0x20, 8),
    ("power11", 0x0F000007, 0x0000000000000020, 0x20, 8),
]
# qemu.md section 1.3: the 2017 table
TABLE_2017 = [
    ("power6", 0x600000000000001E, 2),
    ("power7", 0x200000000000001C, 4),
    ("power7+", 0x200000000000001C, 4),
    ("power8", 0x18, 8),
    ("power9", 0x10, 4),
]


def test_table_order_and_values() -> None:
    got = [(m.name, m.pvr, m.pcr, m.pcr_level, m.max_vthreads) for m in HEAD.modes]
    assert got == HEAD_TABLE


@pytest.mark.parametrize(("name", "pcr_2017", "threads"), TABLE_2017)
def test_2017_rows(name: str, pcr_2017: int, threads: int) -> None:
    """The 2017 rows are what the history gives at 2.10/2.11, not fields of a head row."""
    for version in ((2, 10), (2, 11)):
        mode = mode_by_name(name, build(changes_by(version)).modes)
        assert mode is not None
        assert (mode.pcr, mode.max_vthreads) == (pcr_2017, threads)
    assert [m.name for m in build(changes_by((2, 11))).modes] == [n for n, _, _ in TABLE_2017]


def test_lookups_are_exact() -> None:
    assert mode_by_name("POWER8", HEAD.modes) is None  # case-sensitive, as QEMU's setter
    assert mode_by_name("power8", HEAD.modes) is mode_by_pvr(0x0F000004, HEAD.modes)
    assert mode_by_pvr(0, HEAD.modes) is None
    assert mode_by_pvr(0x0F000001, HEAD.modes) is None


def test_pcr_bits() -> None:
    assert (pcr.PCR_COMPAT_2_05, pcr.PCR_COMPAT_2_06, pcr.PCR_COMPAT_2_07) == (0x2, 0x4, 0x8)
    assert (pcr.PCR_COMPAT_3_00, pcr.PCR_COMPAT_3_10) == (0x10, 0x20)
    assert pcr.PCR_VEC_DIS == 0x8000000000000000
    assert pcr.PCR_VSX_DIS == 0x4000000000000000
    assert pcr.PCR_TM_DIS == 0x2000000000000000
    assert pcr.PCR_MASK == 0x0FFFFFFFFFFFFFE1
    assert pcr.SPR_PCR == 0x152


# qemu.md section 3.2
@pytest.mark.parametrize(("family", "mask", "supported", "logical"), [
    ("POWER7", 0xC000000000000002, 0x6, 0x0F100003),
    ("POWER8", 0x2000000000000006, 0xE, 0x0F000004),
    ("POWER9", 0x000000000000000E, 0x1E, 0x0F000005),
    ("POWER10", 0x000000000000001E, 0x3E, 0x0F000006),
    ("POWER11", 0x000000000000001E, 0x3E, 0x0F000007),
    ("POWER5+", 0, 0, 0),
    ("970", 0, 0, 0),
])
def test_family_fields(family: str, mask: int, supported: int, logical: int) -> None:
    fam = next(f for f in FAMILIES if f.name == family)
    assert (fam.pcr_mask, fam.pcr_supported, fam.spapr_logical_pvr) == (mask, supported, logical)


@pytest.mark.parametrize(("model", "pvr"), [
    ("power7_v2.3", 0x003F0203), ("power7p_v2.1", 0x004A0201), ("power8e_v2.1", 0x004B0201),
    ("power8nvl_v1.0", 0x004C0100), ("power8_v2.0", 0x004D0200), ("power9_v2.0", 0x004E1200),
    ("power9_v2.2", 0x004E1202), ("power10_v2.0", 0x00801200), ("power11_v2.0", 0x00821200),
])
def test_model_pvrs(model: str, pvr: int) -> None:
    # the newest PVR each model had: head, or 7.2 for the models f73b3168 removed
    newest = {m.name: m for m in (*build(changes_by((7, 2))).models, *HEAD.models)}
    assert newest[model].pvr == pvr


def test_ioctl_numbers_use_powerpc_layout() -> None:
    assert kvm.KVM_SET_ONE_REG == 0x8010AEAC
    assert kvm.KVM_GET_ONE_REG == 0x8010AEAB
    assert kvm.KVM_CREATE_VM == 0x2000AE01
    assert kvm.KVM_CHECK_EXTENSION == 0x2000AE03
    assert kvm.KVM_CREATE_VCPU == 0x2000AE41
    # the generic layout gives the x86 number: the mistake the powerpc layout avoids
    assert kvm.GENERIC_IOC.iow(kvm.KVMIO, 0xAC, 16) == 0x4010AEAC
    assert kvm.GENERIC_IOC.iow(kvm.KVMIO, 0xAC, 16) != kvm.KVM_SET_ONE_REG


def test_one_reg_ids() -> None:
    assert kvm.KVM_REG_PPC_ARCH_COMPAT == 0x10200000000000B7
    assert kvm.reg_size(kvm.KVM_REG_PPC_ARCH_COMPAT) == 4
    assert kvm.reg_size(kvm.KVM_REG_PPC_HIOR) == 8
    assert kvm.KVM_REG_PPC_HIOR == 0x1030000000000001


def test_linux_61_buffer_is_byte_exact() -> None:
    guest = guest_by_name("linux-6.1")
    assert guest is not None
    buf = guest.cas_buffer
    # oracle.md: 14 pairs, big-endian, ending with the 2.04 terminator
    assert len(guest.pvrs) == 14
    assert buf[:8] == bytes.fromhex("fffe0000003a0000")
    assert buf[8 * 13:8 * 14] == bytes.fromhex("fffffffe0f000001")
    assert bytes.fromhex("0f100003") not in buf[:112]


def test_guest_names_unique() -> None:
    names = [g.name for g in GUESTS]
    assert len(names) == len(set(names))
    assert {"linux-6.1", "logical-upto-power8", "raw-only"} <= set(names)


def test_linux_61_template_matches_the_real_kernel() -> None:
    """The whole 445-byte template, as read from Debian's vmlinux by the verify harness."""
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parents[1] / "data" / "real" /
                       "linux-6.1-ibm_architecture_vec_template.json").read_text())
    guest = guest_by_name("linux-6.1")
    assert guest is not None
    assert data["size"] == 445
    assert guest.cas_buffer == bytes.fromhex(data["hex"])
    assert guest.cas_buffer[112] == 0x05  # num_vectors
