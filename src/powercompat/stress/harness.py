"""Drive a real machine and the reference model side by side, checking after every step.

Shared by ``powercompat stress`` and the stateful property test. A step that raises anything
but a PowerCompatError is itself a violation (the engine must never crash).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from powercompat.errors import (
    CasBufferError,
    CasError,
    CompatNotValidError,
    KvmSetCompatError,
    MigrationError,
    MigrationStreamError,
    PowerCompatError,
    StateError,
    UnknownCompatPvrError,
)
from powercompat.machine.options import MachineOptions
from powercompat.machine.pseries import PseriesMachine
from powercompat.machine.state import Lifecycle
from powercompat.stress.invariants import (
    check_agreement,
    check_bounds,
    check_set_count,
    check_unchanged,
    snapshot,
)
from powercompat.stress.reference import RefFailure, RefMachine

#: errnos the fault injector uses: what KVM_SET_ONE_REG can really return
FAULT_ERRNOS: Final[tuple[int, ...]] = (22, 14, 16)  # EINVAL, EFAULT, EBUSY


def category(err: PowerCompatError) -> str:
    """The reference model's name for an error class."""
    if isinstance(err, StateError):
        return "state"
    if isinstance(err, UnknownCompatPvrError):
        return "unknown-pvr"
    if isinstance(err, CompatNotValidError):
        return "not-valid"
    if isinstance(err, KvmSetCompatError):
        return f"kvm:{err.errno}"
    if isinstance(err, CasBufferError):
        return "cas-buffer"
    if isinstance(err, CasError):
        return "cas-multi"
    if isinstance(err, MigrationStreamError):
        return "stream"
    if isinstance(err, MigrationError):
        return "migration"
    return "refused"


class Pair:
    """One machine and its reference model, compared after every step."""

    def __init__(self, options: MachineOptions, violations: list[str], tag: str) -> None:
        self.machine = PseriesMachine.from_options(options, inject_faults=True)
        self.ref = RefMachine(self.machine.config)
        self.violations = violations
        self.tag = tag
        #: a stream was loaded: the mode may now exceed this side's max-cpu-compat (QEMU)
        self.loaded_stream = False

    def _violation(self, step: str, text: str) -> None:
        self.violations.append(f"{self.tag} {step}: {text}")

    def step(self, name: str, real: Callable[[], object], model: Callable[[], object],
             stream: bytes | None = None) -> tuple[str, object]:
        """Run one step on both; return (category, result of the real machine)."""
        before = snapshot(self.machine)
        try:
            expected: object = model()
            want = "ok"
        except RefFailure as fail:
            expected, want = None, fail.category
        result: object = None
        try:
            result = real()
            got = "ok"
        except PowerCompatError as err:
            got = category(err)
            if "\n" in str(err) or not str(err):
                self._violation(name, f"error message is not one line: {str(err)!r}")
        except Exception as err:
            self._violation(name, f"crashed with {type(err).__name__}: {err}")
            return "crash", None
        if got != want:
            self._violation(name, f"machine says {got}, QEMU model says {want}")
        if name == "cas" and got == "ok":
            cas = self.machine.last_cas
            if cas is None or (cas.hcall_ret, cas.raw_fallback) != expected:
                self._violation(name, f"CAS returned {cas and (cas.hcall_ret, cas.raw_fallback)}"
                                f", QEMU model says {expected}")
        self._compare()
        failed = got != "ok" or (name == "cas" and self.ref.last_cas is not None
                                 and self.ref.last_cas[0] != 0)
        if name == "migrate-in" and got == "ok":
            self.loaded_stream = True
        elif (name in ("reset", "reboot") and got == "ok"
              and not self.machine.profile.switches.reset.at_cpu_init):
            self.loaded_stream = False  # every vCPU is back at max-cpu-compat
        for text in (*check_bounds(self.machine, not self.loaded_stream),
                     *check_agreement(self.machine),
                     *check_set_count(self.machine, before, name, stream)):
            self._violation(name, text)
        if failed and self.machine.profile.switches.all_or_nothing:
            for text in check_unchanged(self.machine, before, name):
                self._violation(name, text)
        return got, result

    def _compare(self) -> None:
        m, r = self.machine, self.ref
        if m.state.value != r.state:
            self._violation("state", f"machine is {m.state.value}, QEMU model {r.state}")
        mine = [(c.index, c.compat_pvr, c.spr_pcr) for c in m.vcpus]
        theirs = [(c.index, c.compat, c.pcr) for c in r.cpus]
        if mine != theirs:
            self._violation("vcpus", f"machine {mine}, QEMU model {theirs}")
            return
        for cpu in m.vcpus:
            view = m.accel.kernel_view(cpu.index)
            got = None if view is None else (view.arch_compat, view.pcr)
            if got != r.kernel.view(cpu.index):
                self._violation("kernel", f"vCPU {cpu.index}: machine's kernel {got}, "
                                f"model {r.kernel.view(cpu.index)}")
        transport = m.accel.transport
        calls = [(c.vcpu, c.op, c.value, c.errno) for c in transport.calls] if transport else []
        if calls != r.kernel.calls:
            self._violation("one_reg", f"calls {calls[-6:]}, QEMU model {r.kernel.calls[-6:]}")

    # ------------------------------------------------------------ the steps

    def realize(self) -> str:
        return self.step("realize", self.machine.realize, self.ref.realize)[0]

    def reset(self) -> str:
        return self.step("reset", self.machine.reset, self.ref.reset)[0]

    def reboot(self) -> str:
        return self.step("reboot", self.machine.reboot, lambda: self.ref.reset(reboot=True))[0]

    def cas(self, buffer: bytes) -> str:
        return self.step("cas", lambda: self.machine.cas(buffer),
                         lambda: self.ref.cas(buffer))[0]

    def hotplug(self) -> str:
        return self.step("hotplug", self.machine.hotplug, self.ref.hotplug)[0]

    def inject(self, errno: int, after: int = 0) -> None:
        faults = self.machine.accel.faults
        if faults is not None:
            faults.fail_next_set(errno, after)
            self.ref.kernel.fail_next_set(errno, after)

    def migrate_out(self) -> bytes | None:
        def model() -> None:
            self.ref._need("running")

        got, stream = self.step("migrate-out", self.machine.migrate_out, model)
        return stream if got == "ok" and isinstance(stream, bytes) else None

    def migrate_in(self, stream: bytes) -> str:
        return self.step("migrate-in", lambda: self.machine.migrate_in(stream),
                         lambda: self.ref.migrate_in(stream), stream)[0]


class Harness:
    """A machine's life: the current pair, plus migration to a new destination pair."""

    def __init__(self, options: MachineOptions) -> None:
        self.violations: list[str] = []
        self.options = options
        self.pair = Pair(options, self.violations, "source")
        self.steps = 0
        self.migrations = 0

    @property
    def machine(self) -> PseriesMachine:
        return self.pair.machine

    def migrate(self, dst_options: MachineOptions,
                corrupt: Callable[[bytes], bytes] | None = None,
                dst_faults: tuple[tuple[int, int], ...] = ()) -> str:
        """Start a destination, send it the stream (optionally corrupted), and on success
        carry on with the destination; a refused stream must leave it as it was."""
        stream = self.pair.migrate_out()
        if stream is None:
            return "refused"
        dst = Pair(dst_options, self.violations, "destination")
        if dst.realize() != "ok" or dst.reset() != "ok":
            return "refused"
        for errno, after in dst_faults:
            dst.inject(errno, after)
        if corrupt is not None:
            stream = corrupt(stream)
        before = snapshot(dst.machine)
        got = dst.migrate_in(stream)
        if got in ("stream", "migration") and dst.machine.state is not Lifecycle.EXITED:
            # refused before anything was loaded (or rolled back): nothing may change
            for text in check_unchanged(dst.machine, before, "migrate-in"):
                self.violations.append(f"destination migrate-in: {text}")
        if got == "ok":
            self.pair = dst
            self.migrations += 1
        return got
