"""scenario.simulate timelines: where the guest is after a migration, and what goes across."""

from __future__ import annotations

from powercompat.machine.options import MachineOptions
from powercompat.scenario import parse_events, simulate


def test_refused_migration_leaves_the_guest_on_the_source() -> None:
    sim = simulate(MachineOptions(cpu="power9", accel="kvm-hv", smp=2),
                   parse_events("realize,reset,cas,migrate,reboot"), dst_cpu="power8")
    assert [(e.name, e.machine, e.ok) for e in sim.events] == [
        ("realize", "source", True), ("reset", "source", True), ("cas", "source", True),
        ("migrate-out", "source", True), ("realize", "destination", True),
        ("reset", "destination", True), ("migrate-in", "destination", False),
        ("reboot", "source", True)]
    assert sim.error is not None and sim.error.startswith(  # head: one chained line
        "load of migration failed: Invalid argument: Unknown section or instance "
        "'xive-source' 0.")
    assert sim.started
    assert [v.compat_pvr for v in sim.vcpus] == [0, 0]  # the source, rebooted to raw


def test_destination_gets_the_hotplugged_cores() -> None:
    sim = simulate(MachineOptions(cpu="power9", accel="kvm-hv", smp=2, max_cpu_compat="power8"),
                   parse_events("realize,reset,cas,hotplug,migrate"), dst_cpu="power8")
    assert sim.error is None
    assert sim.events[-1].name == "migrate-in" and sim.events[-1].ok
    assert [(v.index, v.compat_pvr, v.kernel_arch_compat) for v in sim.vcpus] == [
        (0, 0x0F000004, 0x0F000004), (1, 0x0F000004, 0x0F000004), (2, 0x0F000004, 0x0F000004)]


def test_first_failure_is_the_error() -> None:
    sim = simulate(MachineOptions(cpu="power8", accel="kvm-pr", qemu="2.10"),
                   parse_events("realize,reset,cas,reboot,cas"))
    assert sim.error == "Unable to set CPU compatibility mode in KVM: Invalid argument"
    assert sim.started and [e.name for e in sim.events][-1] == "cas"
