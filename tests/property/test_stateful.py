"""Random sequences of reset, CAS, reboot, hotplug, migration and injected ONE_REG faults, on
every kernel model and under every profile, checked after each step against an independent
model of QEMU's per-profile behaviour (powercompat.stress.reference) and the invariants
(powercompat.stress.invariants): failed steps change nothing (powercompat) or exactly what
QEMU would; QEMU's and the kernel's views agree after accepted writes; one set per real
change under the fixed profiles; never above max, CPU or host."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from tests.property.strategies import cas_buffers, machine_options

from powercompat.machine.options import MachineOptions
from powercompat.machine.state import Lifecycle
from powercompat.stress.generator import corrupt_stream
from powercompat.stress.harness import FAULT_ERRNOS, Harness


class MachineLife(RuleBasedStateMachine):
    harness: Harness

    @initialize(options=machine_options(), boot=st.booleans())
    def start(self, options: MachineOptions, boot: bool) -> None:
        self.new_machine(options, boot)

    @property
    def life(self) -> Lifecycle:
        return self.harness.machine.state

    @rule(options=machine_options(), boot=st.booleans())
    def new_machine(self, options: MachineOptions, boot: bool) -> None:
        """Start over (also how a run continues after QEMU would have exited); ``boot``
        realizes and resets it at once (each a checked step)."""
        self.harness = Harness(options)
        if boot and self.harness.pair.realize() == "ok":
            self.harness.pair.reset()

    @precondition(lambda self: self.life is Lifecycle.CREATED)
    @rule()
    def realize(self) -> None:
        self.harness.pair.realize()

    @precondition(lambda self: self.life in (Lifecycle.REALIZED, Lifecycle.RUNNING))
    @rule()
    def reset(self) -> None:
        self.harness.pair.reset()

    @precondition(lambda self: self.life is Lifecycle.RUNNING)
    @rule()
    def reboot(self) -> None:
        self.harness.pair.reboot()

    @precondition(lambda self: self.life is Lifecycle.RUNNING)
    @rule(buffer=cas_buffers)
    def cas(self, buffer: bytes) -> None:
        self.harness.pair.cas(buffer)

    @precondition(lambda self: self.life in (Lifecycle.REALIZED, Lifecycle.RUNNING))
    @rule()
    def hotplug(self) -> None:
        self.harness.pair.hotplug()

    @rule(errno=st.sampled_from(FAULT_ERRNOS), after=st.integers(0, 3))
    def inject_fault(self, errno: int, after: int) -> None:
        self.harness.pair.inject(errno, after)

    @precondition(lambda self: self.life in (Lifecycle.RUNNING, Lifecycle.EXITED))
    @rule()
    def refused_step(self) -> None:
        """Any step in a state that does not allow it: StateError, nothing changes."""
        pair = self.harness.pair
        if self.life is not Lifecycle.RUNNING:
            pair.cas(b"")
        else:
            pair.realize()

    @precondition(lambda self: self.life is Lifecycle.RUNNING)
    @rule(cpu=st.none() | st.sampled_from(["power8", "power9", "power10"]),
          host=st.none() | st.sampled_from(["power8", "power9", "power10"]),
          fault=st.none() | st.tuples(st.sampled_from(FAULT_ERRNOS), st.integers(0, 3)),
          corrupt=st.none() | st.randoms(use_true_random=False))
    def migrate(self, cpu: str | None, host: str | None, fault: tuple[int, int] | None,
                corrupt: object) -> None:
        opts = replace(self.harness.options, incoming=True)
        known = self.harness.machine.config.profile.cpu_aliases
        if cpu in known:
            opts = replace(opts, cpu=cpu)
        if host in known and opts.accel == "kvm-hv":
            # another host: -cpu host there unless a model was drawn (refused if not the host's)
            opts = replace(opts, host_cpu=host, cpu=opts.cpu if cpu in known else "host")
        self.harness.migrate(opts, corrupt=corrupt_stream(corrupt) if corrupt else None,  # type: ignore[arg-type]
                             dst_faults=(fault,) if fault else ())

    @invariant()
    def no_violation(self) -> None:
        assert self.harness.violations == [], "\n".join(self.harness.violations[:5])


MachineLife.TestCase.settings = settings(
    max_examples=200, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestMachineLife = MachineLife.TestCase
