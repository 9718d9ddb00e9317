"""The verdict of simulate and migrate-check timelines (issue #11 item 1): the first thing
that goes wrong for the guest, in timeline order."""

from __future__ import annotations

import pytest

from powercompat.decisions.verdict import Fate, Verdict, boot_fate, refusal_fate
from powercompat.errors import InvalidValueError, UnknownCpuError
from powercompat.machine.options import MachineOptions
from powercompat.machine.pseries import PseriesMachine
from powercompat.messages import EINVAL
from powercompat.scenario import (
    migrate_check,
    parse_events,
    parse_guest,
    run_timeline,
    simulate,
)

KVM_EINVAL = "Unable to set CPU compatibility mode in KVM: Invalid argument"
SIGILL_P6 = ("linux-6.1 userland needs ISA 2.07 and VSX: the guest is given no VSX (ibm,vmx: "
             "cap-vsx is off, or the CPU has none): init dies with SIGILL")
#: QEMU 7.2's words (migration/savevm.c qemu_loadvm_section_start_full() under
#: qemu_loadvm_state()'s "load of migration failed" prefix, as recorded)
XIVE = ("load of migration failed: Invalid argument: Unknown section or instance 'xive-source' "
        "0. Make sure that your current VM setup matches your saved VM setup, including any "
        "hotplugged devices")


def test_boot_fate_takes_the_first_failure_in_order() -> None:
    assert boot_fate(refused="r", exited="e", cas_error="c") == Fate(Verdict.QEMU_REFUSES, "r")
    assert boot_fate(exited="e", cas_error="c").verdict is Verdict.QEMU_EXITS
    assert boot_fate(reaches_cas=False, kernel_stops="k", cas_error="c") == Fate(
        Verdict.KERNEL_HANGS, "k")
    assert boot_fate(cas_error="c", kernel_ok=False, userland_ok=False).verdict is \
        Verdict.CAS_FAILS
    assert boot_fate(kernel_ok=False, kernel_reason="p", userland_ok=False) == Fate(
        Verdict.KERNEL_HANGS, "p")
    assert boot_fate(userland_ok=False, userland_reason="u") == Fate(Verdict.USERLAND_DIES, "u")
    # not modelled is not a failure
    assert boot_fate(kernel_ok=None, userland_ok=None, works="w") == Fate(Verdict.WORKS, "w")
    assert [v.exit_status for v in Verdict] == [0] + [1] * (len(Verdict) - 1)


def test_refusal_fate_only_for_qemus_own_refusals() -> None:
    assert refusal_fate(UnknownCpuError("x")) == Fate(
        Verdict.QEMU_REFUSES, "unable to find CPU model 'x'")
    assert refusal_fate(InvalidValueError("--smp must be 1..8")) is None


@pytest.mark.parametrize(("options", "events", "verdict", "reason"), [
    (MachineOptions(cpu="power9", max_cpu_compat="power6"), "realize,reset,cas",
     Verdict.USERLAND_DIES, SIGILL_P6),
    (MachineOptions(cpu="power8", accel="kvm-pr", qemu="2.10-pre"), "realize,reset,cas",
     Verdict.QEMU_REFUSES, KVM_EINVAL),
    (MachineOptions(cpu="power8", accel="kvm-pr", qemu="2.10"), "realize,reset,cas,reboot",
     Verdict.CAS_FAILS, KVM_EINVAL),
    (MachineOptions(cpu="power9", accel="kvm-hv", smp=2), "realize,reset,cas,migrate,reboot",
     Verdict.MIGRATION_REFUSED, XIVE),
    (MachineOptions(cpu="power9", max_cpus=1), "realize,reset,cas,hotplug,reboot",
     Verdict.QEMU_REFUSES, "cannot hotplug: all 1 vCPU slots are in use (maxcpus)"),
    (MachineOptions(cpu="970"), "realize,reset,cas", Verdict.KERNEL_HANGS,
     "the guest never reaches CAS: a little-endian kernel cannot run on a 970 (no MSR[LE]): "
     "it stops before CAS"),
    (MachineOptions(cpu="power9", max_cpu_compat="power8"), "realize,reset,cas,reboot,cas",
     Verdict.WORKS,
     "linux-6.1 userland needs ISA 2.07 and VSX; it gets ISA 2.07: init runs"),
    (MachineOptions(cpu="power9"), "realize,reset", Verdict.WORKS,
     "QEMU ran every event; no CAS among them, so the guest's kernel and userland are not "
     "judged"),
])
def test_simulate_verdict(options: MachineOptions, events: str, verdict: Verdict,
                          reason: str) -> None:
    sim = simulate(options, parse_events(events), dst_cpu="power8")
    assert (sim.verdict, sim.verdict_reason) == (verdict, reason)
    assert sim.to_json()["verdict"] == verdict.value
    assert sim.to_json()["verdict_reason"] == reason


def test_simulate_migration_to_a_cpu_the_userland_cannot_use() -> None:
    """TCG: the guest moves in power7 compat; the power8 userland ran on the POWER9 source's
    hardware (TCG enforces no PCR) but not on a POWER7 destination."""
    sim = simulate(MachineOptions(cpu="power9", max_cpu_compat="power7"),
                   parse_events("realize,reset,cas,migrate"), dst_cpu="power7")
    assert sim.events[-1].name == "migrate-in" and sim.events[-1].ok
    assert sim.verdict is Verdict.USERLAND_DIES
    assert sim.verdict_reason == ("after the migration: linux-6.1 userland needs ISA 2.07 and "
                                  "VSX: the CPU implements only ISA 2.06+: init dies with SIGILL")


def test_qemu_exits_when_kvm_refuses_the_reboots_reset() -> None:
    """A set KVM refuses after the guest started: QEMU's reset is error_fatal, so it exits."""
    options = MachineOptions(cpu="power9", accel="kvm-hv")
    machine = PseriesMachine.from_options(options, inject_faults=True)
    assert machine.accel.faults is not None
    machine.accel.faults.fail_next_set(EINVAL, after=1)  # CAS's set passes, the reboot's fails
    sim = run_timeline(machine, parse_events("realize,reset,cas,reboot,cas"),
                       parse_guest("linux-6.1"), parse_guest("linux-6.1").cas_buffer,
                       options)
    assert [e.name for e in sim.events] == ["realize", "reset", "cas", "reboot"]
    assert (sim.verdict, sim.verdict_reason) == (Verdict.QEMU_EXITS, KVM_EINVAL)


@pytest.mark.parametrize(("cpu", "dst", "maximum", "verdict", "reason"), [
    ("power9", "power8", "power8", Verdict.WORKS,
     "the destination loads the guest, which runs on in power8: linux-6.1 userland needs ISA "
     "2.07 and VSX; it gets ISA 2.07: init runs"),
    ("power9", "power8", None, Verdict.MIGRATION_REFUSED,
     XIVE),
    ("power7", "power8", "power7", Verdict.USERLAND_DIES,
     "linux-6.1 userland needs ISA 2.07 and VSX: the CPU implements only ISA 2.06+: init "
     "dies with SIGILL"),
    ("power8", "power9", "power9", Verdict.QEMU_REFUSES,
     "Compatibility PVR 0x0f000005 not valid for CPU"),
])
def test_migrate_check_verdict(cpu: str, dst: str, maximum: str | None, verdict: Verdict,
                               reason: str) -> None:
    check = migrate_check(cpu, dst, maximum)
    assert (check.verdict, check.verdict_reason) == (verdict, reason)
    assert check.to_json()["verdict"] == verdict.value
