"""The pseries lifecycle under each QEMU profile: the facts issue 2 asks the engine to show."""

from __future__ import annotations

import errno

import pytest

from powercompat.catalog.kvm import KVM_REG_PPC_ARCH_COMPAT
from powercompat.errors import (
    CasBufferError,
    CasError,
    CompatNotValidError,
    HotplugError,
    InvalidModeError,
    KvmSetCompatError,
    SmtError,
    StateError,
    UnknownCpuError,
)
from powercompat.machine.options import MachineOptions
from powercompat.machine.pseries import PseriesMachine
from powercompat.machine.state import Lifecycle

KVM_PR_FAIL = "Unable to set CPU compatibility mode in KVM: Invalid argument"
QEMU_PROFILES = ["2.9", "2.10-pre", "2.10", "2.11", "7.2", "head"]


def machine(**kw: object) -> PseriesMachine:
    """A machine; under 2.9 a max-cpu-compat is spelled -cpu X,compat=Y (its only way)."""
    if kw.get("qemu") == "2.9" and kw.get("max_cpu_compat"):
        kw["cpu"] = f"{kw.get('cpu', 'power9')},compat={kw.pop('max_cpu_compat')}"
    return PseriesMachine.from_options(MachineOptions(**kw))  # type: ignore[arg-type]


def sets(m: PseriesMachine) -> list[tuple[int, int, int]]:
    assert m.accel.transport is not None
    return [(c.vcpu, c.value or 0, c.errno) for c in m.accel.transport.calls if c.op == "set"]


def boot(m: PseriesMachine) -> None:
    m.realize()
    m.reset()


def test_kvm_pr_no_max_does_not_start_under_2_10_pre() -> None:
    m = machine(cpu="power8", accel="kvm-pr", qemu="2.10-pre")
    m.realize()
    with pytest.raises(KvmSetCompatError) as info:
        m.reset()
    assert str(info.value) == KVM_PR_FAIL
    assert info.value.errno == errno.EINVAL
    assert m.state is Lifecycle.EXITED and m.exit_error == KVM_PR_FAIL
    assert sets(m) == [(0, 0, errno.EINVAL)]  # a write of 0 -> 0, refused by PR


def test_kvm_pr_no_max_starts_under_2_9(linux: bytes) -> None:
    m = machine(cpu="power8", accel="kvm-pr", qemu="2.9")
    boot(m)
    assert m.state is Lifecycle.RUNNING and sets(m) == []


@pytest.mark.parametrize("qemu", ["2.11", "7.2", "head"])
def test_kvm_pr_fixed_profiles_fall_back_to_raw(qemu: str, linux: bytes) -> None:
    m = machine(cpu="power8", accel="kvm-pr", qemu=qemu, smp=2)
    boot(m)
    assert sets(m) == []  # no ONE_REG set at reset: 0 -> 0 is no change
    result = m.cas(linux)
    assert result.choice is not None and result.choice.cas_pvr == 0x0F000004
    assert result.raw_fallback and result.hcall_ret == 0
    assert sets(m) == [(0, 0x0F000004, errno.EINVAL)]  # tried the best mode once, failed
    assert [c.cpu_version for c in m.vcpus] == [0x004D0200, 0x004D0200]
    assert all(c.compat_pvr == 0 for c in m.vcpus)


def test_kvm_pr_under_2_10_cas_fails_and_guest_stays_raw(linux: bytes) -> None:
    m = machine(cpu="power8", accel="kvm-pr", qemu="2.10")
    boot(m)
    result = m.cas(linux)
    assert result.hcall_ret == -1 and result.error == KVM_PR_FAIL
    assert m.boot_cpu.cpu_version == 0x004D0200


@pytest.mark.parametrize("qemu", [*QEMU_PROFILES, "powercompat"])
def test_kvm_pr_with_max_fails_to_start_everywhere(qemu: str) -> None:
    m = machine(cpu="power8", accel="kvm-pr", qemu=qemu, max_cpu_compat="power8")
    with pytest.raises(KvmSetCompatError) as info:
        m.realize()  # 2.9 sets the mode at CPU creation
        m.reset()
    assert str(info.value) == KVM_PR_FAIL
    assert not m.started
    assert m.events[-1].name == ("realize" if qemu == "2.9" else "reset")


@pytest.mark.parametrize(("qemu", "expected"), [
    ("head", [0x0F000005] * 4 + [0] * 4),
    ("2.11", [0x0F000005] * 4 + [0] * 4),
    ("powercompat", [0x0F000005] * 4 + [0] * 4),
    ("2.10-pre", [0] * 4 + [0x0F000005] * 4 + [0] * 4),
    ("2.9", [0x0F000005] * 4),
])
def test_kvm_hv_power9_reset_cas_reset(qemu: str, expected: list[int], linux: bytes) -> None:
    m = machine(cpu="power9", accel="kvm-hv", smp=4, qemu=qemu)
    boot(m)
    m.cas(linux)
    m.reset()
    assert [v for _, v, _ in sets(m)] == expected
    final = 0x0F000005 if qemu == "2.9" else 0  # 2.9: the CAS mode survives the reboot
    assert [c.compat_pvr for c in m.vcpus] == [final] * 4
    assert [v.kernel_arch_compat for v in m.vcpu_states()] == [final] * 4


def test_head_cas_sets_are_per_vcpu_in_order(linux: bytes) -> None:
    m = machine(cpu="power9", accel="kvm-hv", smp=4)
    boot(m)
    m.cas(linux)
    assert sets(m) == [(i, 0x0F000005, 0) for i in range(4)]


def test_2_10_sends_the_old_value(linux: bytes) -> None:
    m = machine(cpu="power8", accel="kvm-hv", qemu="2.10", max_cpu_compat="power7")
    boot(m)
    m.cas(linux)
    assert m.boot_cpu.compat_pvr == 0x0F000003  # QEMU holds power7 ...
    assert m.boot_cpu.spr_pcr == 0x2000000000000004
    view = m.vcpu_states()[0]
    assert view.kernel_arch_compat == 0  # ... the kernel got the old value, 0: raw
    assert view.kernel_pcr == 0x0FFFFFFFFFFFFFE1  # no architecture bits: ISA 2.07 allowed
    assert sets(m) == [(0, 0, 0)]


@pytest.mark.parametrize("qemu", ["2.11", "head"])
def test_fixed_profiles_agree_with_the_kernel(qemu: str, linux: bytes) -> None:
    m = machine(cpu="power8", accel="kvm-hv", qemu=qemu, max_cpu_compat="power7")
    boot(m)
    m.cas(linux)
    view = m.vcpu_states()[0]
    assert m.boot_cpu.compat_pvr == view.kernel_arch_compat == 0x0F000003
    assert view.kernel_pcr == 0x4 | 0x0FFFFFFFFFFFFFE1


def test_max_cpu_compat_is_case_sensitive() -> None:
    with pytest.raises(InvalidModeError) as info:
        machine(cpu="power9", max_cpu_compat="POWER8")
    assert str(info.value) == 'Invalid compatibility mode "POWER8"'


def test_newer_max_is_fatal_at_reset() -> None:
    m = machine(cpu="power9", max_cpu_compat="power10")
    m.realize()
    with pytest.raises(CompatNotValidError) as info:
        m.reset()
    assert str(info.value) == "Compatibility PVR 0x0f000006 not valid for CPU"
    assert m.state is Lifecycle.EXITED


def test_power7plus_on_power9_7_2_vs_head(linux: bytes) -> None:
    m = machine(cpu="power9", max_cpu_compat="power7+", qemu="7.2")
    boot(m)
    assert m.boot_cpu.cpu_version == 0x0F100003
    m.cas(linux)
    assert m.boot_cpu.compat_pvr == 0x0F000003  # Linux lists no power7+
    m = machine(cpu="power9", max_cpu_compat="power7+", qemu="head")
    m.realize()
    with pytest.raises(CompatNotValidError):
        m.reset()


def test_cpu_names() -> None:
    assert machine(cpu="POWER9").config.model.name == "power9_v2.2"
    assert machine(cpu="POWER9", qemu="7.2").config.model.name == "power9_v2.0"
    assert machine(cpu="004e1202").config.model.name == "power9_v2.2"
    assert machine(cpu="power8e", qemu="7.2").config.model.name == "power8e_v2.1"
    with pytest.raises(UnknownCpuError) as info:
        machine(cpu="power8e")  # removed at head by f73b3168
    assert str(info.value) == "unable to find CPU model 'power8e'"
    with pytest.raises(UnknownCpuError):
        machine(cpu="power10", qemu="2.11")


@pytest.mark.parametrize(("qemu", "message"), [
    ("7.2", "TCG cannot support more than 1 thread/core on a pseries machine"),
    ("2.11", "TCG cannot support more than 1 thread/core on a pseries machine"),
])
def test_tcg_smt_refused_before_2023(qemu: str, message: str) -> None:
    m = machine(cpu="power9", smp=2, threads=2, qemu=qemu)
    with pytest.raises(Exception) as info:
        m.realize()
    assert str(info.value) == message


def test_tcg_smt_at_head_needs_power8() -> None:
    boot(machine(cpu="power9", smp=4, threads=4))
    m = machine(cpu="power9", smp=2, threads=2, max_cpu_compat="power7")
    with pytest.raises(SmtError) as info:
        m.realize()
    assert str(info.value) == "TCG only supports SMT on POWER8 or newer CPUs"
    assert m.state is Lifecycle.EXITED


def test_hotplug_without_a_slot_is_typed() -> None:
    m = machine(cpu="power9", smp=2, max_cpus=2)
    boot(m)
    with pytest.raises(HotplugError) as info:
        m.hotplug()
    assert str(info.value) == "cannot hotplug: all 2 vCPU slots are in use (maxcpus)"
    assert len(m.vcpus) == 2 and m.state is Lifecycle.RUNNING


def test_state_guards() -> None:
    m = machine()
    with pytest.raises(StateError) as info:
        m.cas(b"")
    assert str(info.value) == "cannot cas: machine is created, needs running"
    # the lifecycle enum is kept, not turned into text
    assert info.value.state is Lifecycle.CREATED
    assert info.value.required == (Lifecycle.RUNNING,)
    m.realize()
    with pytest.raises(StateError):
        m.realize()


def test_bad_cas_buffer_changes_nothing(linux: bytes) -> None:
    m = machine(accel="kvm-hv", max_cpu_compat="power8")
    boot(m)
    before = m.vcpu_states()
    with pytest.raises(CasBufferError):
        m.cas(linux[:13])
    with pytest.raises(CasError):
        m.cas(linux, active_vcpus=2)
    assert m.vcpu_states() == before and m.state is Lifecycle.RUNNING


@pytest.mark.parametrize(("qemu", "expected"), [
    ("2.9", 0x0F000004),  # spapr_cpu_init: max-cpu-compat
    ("2.10", 0),  # nothing sets it: raw (51f84465 fixed this)
    ("2.11", 0),
    ("7.2", 0x0F000003),  # spapr_core_plug: the boot CPU's mode
    ("head", 0x0F000003),
])
def test_hotplug(qemu: str, expected: int) -> None:
    m = machine(cpu="power9", accel="kvm-hv", qemu=qemu, max_cpu_compat="power8")
    boot(m)
    buf = bytes.fromhex("ffffffff0f000003fffffffe0f000001")  # a guest listing only power7
    m.cas(buf)
    assert m.boot_cpu.compat_pvr == 0x0F000003
    [new] = m.hotplug()
    assert m.vcpus[new].compat_pvr == expected
    assert m.vcpu_states()[new].kernel_arch_compat == expected


def test_powercompat_rolls_back_and_records_it(linux: bytes) -> None:
    m = PseriesMachine.from_options(
        MachineOptions(cpu="power9", accel="kvm-hv", smp=4, qemu="powercompat"),
        inject_faults=True)
    boot(m)
    assert m.accel.faults is not None
    m.accel.faults.fail_next_set(errno.EBUSY, after=2)  # the third vCPU's write fails
    before = [c.snapshot() for c in m.vcpus]
    result = m.cas(linux)
    assert result.raw_fallback  # the guest listed its raw PVR, no max: QEMU's fallback
    assert [c.snapshot() for c in m.vcpus] == before
    assert [v.kernel_arch_compat for v in m.vcpu_states()] == [0, 0, 0, 0]
    calls = [(c.op, c.vcpu, c.value, c.errno) for c in m.events[-1].one_reg]
    assert calls == [
        ("get", 0, 0, 0),  # probe
        ("set", 0, 0x0F000005, 0), ("set", 1, 0x0F000005, 0),
        ("set", 2, 0x0F000005, errno.EBUSY),
        ("set", 1, 0, 0), ("set", 0, 0, 0),  # rollback, newest first
    ]


def test_qemu_stops_at_first_failure_and_keeps_earlier_vcpus(linux: bytes) -> None:
    m = PseriesMachine.from_options(
        MachineOptions(cpu="power9", accel="kvm-hv", smp=4, max_cpu_compat="power9"),
        inject_faults=True)
    m.realize()
    assert m.accel.faults is not None
    m.accel.faults.fail_next_set(errno.EFAULT, after=2)
    with pytest.raises(KvmSetCompatError) as info:
        m.reset()
    assert str(info.value) == "Unable to set CPU compatibility mode in KVM: Bad address"
    assert [c.compat_pvr for c in m.vcpus] == [0x0F000005, 0x0F000005, 0, 0]
    assert m.state is Lifecycle.EXITED


def test_powercompat_probes_pr_and_writes_nothing(linux: bytes) -> None:
    m = machine(cpu="power8", accel="kvm-pr", qemu="powercompat")
    boot(m)
    result = m.cas(linux)
    assert result.raw_fallback
    assert m.accel.transport is not None
    assert [(c.op, c.errno) for c in m.accel.transport.calls] == [("get", errno.EINVAL)]
    assert any("no ARCH_COMPAT" in r for r in m.events[-1].reasons)


def test_pr_ignore_is_requested_not_enforced(linux: bytes) -> None:
    m = machine(cpu="power8", accel="kvm-pr-ignore", max_cpu_compat="power7")
    boot(m)
    m.cas(linux)
    view = m.vcpu_states()[0]
    assert m.boot_cpu.compat_pvr == view.kernel_arch_compat == 0x0F000003
    assert view.kernel_enforced is False and view.kernel_pcr is None
    assert "requested but not enforced" in (view.kernel_note or "")


def test_tcg_writes_the_emulated_pcr_only(linux: bytes) -> None:
    m = machine(cpu="power9", max_cpu_compat="power8")
    boot(m)
    assert m.accel.transport is None
    assert m.boot_cpu.spr_pcr == 0x8
    assert m.vcpu_states()[0].kernel_arch_compat is None


def test_every_one_reg_call_is_arch_compat(linux: bytes) -> None:
    m = machine(cpu="power9", accel="kvm-hv", smp=2)
    boot(m)
    m.cas(linux)
    m.reboot()
    assert m.accel.transport is not None
    assert {c.reg_id for c in m.accel.transport.calls} == {KVM_REG_PPC_ARCH_COMPAT}


def test_accelerator_parsed_once_into_flavour_and_kernel() -> None:
    from powercompat.catalog.accels import Accel
    from powercompat.catalog.kernels import DEFAULT_KERNEL, LINUX_4_19
    from powercompat.errors import InvalidValueError, UnknownProfileError
    from powercompat.machine.options import parse_accel

    assert parse_accel("kvm-hv", "linux-4.19") == (Accel.KVM_HV, LINUX_4_19)
    assert parse_accel("tcg") == (Accel.TCG, DEFAULT_KERNEL)
    with pytest.raises(InvalidValueError):
        parse_accel("tcg", "linux-4.19")
    with pytest.raises(UnknownProfileError) as info:
        parse_accel("kvm-hv", "linux-9.9")
    assert str(info.value).startswith("unknown host kernel 'linux-9.9' (valid: linux-4.19")
    # 7.2: 10.0 and later cannot start on 4.19 at all (no KVM_CAP_PPC_AIL_MODE_3)
    m = machine(cpu="power10", accel="kvm-hv", host_kernel="linux-4.19",
                max_cpu_compat="power10", qemu="7.2")
    m.realize()
    with pytest.raises(KvmSetCompatError):  # 4.19's KVM predates ISA 3.1 guests
        m.reset()
    assert m.config.accel is Accel.KVM_HV and m.config.host_kernel is LINUX_4_19


def test_steps_have_one_table() -> None:
    from powercompat.machine.steps import STEP_CALLS, STEP_NAMES, Step
    from powercompat.scenario import EVENT_NAMES
    from powercompat.stress.generator import _EXTRA, EVENTS

    assert set(STEP_CALLS) == set(Step) and EVENT_NAMES == STEP_NAMES
    assert set(EVENTS) <= set(STEP_NAMES) | set(_EXTRA)
