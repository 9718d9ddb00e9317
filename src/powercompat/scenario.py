"""Standard runs of the machine that the front-ends share: a boot up to CAS (negotiate) and
an event timeline (simulate). Machine-layer code: it composes machine, guests and profiles,
and prints nothing."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

from powercompat.arguments import checked
from powercompat.catalog.guests import DEFAULT_GUEST as DEFAULT_GUEST  # one default, re-exported
from powercompat.catalog.guests import GUEST_ALIASES, GUESTS, GuestProfile, guest_by_name
from powercompat.catalog.modes import mode_by_pvr
from powercompat.catalog.modes import mode_name as _mode_name
from powercompat.decisions.cas import H_SUCCESS, parse_cas_pvrs
from powercompat.decisions.guest import (
    KernelVerdict,
    UserlandVerdict,
    cpuinfo_revision,
    effective_level,
    guest_cpu_line,
    kernel_runs,
    kernel_verdict,
    smp_kernel_verdict,
    userland_verdict,
    vsx_offered,
)
from powercompat.decisions.threads import max_vthreads
from powercompat.decisions.verdict import Fate, Judged, Verdict, boot_fate, refusal_text
from powercompat.errors import (
    CpuNotPseriesError,
    InputError,
    InvalidValueError,
    MigrationError,
    PowerCompatError,
    UnknownCpuError,
    UnknownProfileError,
    UnsupportedMachineError,
)
from powercompat.machine.options import (
    MachineConfig,
    MachineOptions,
    is_host_cpu,
    is_kvm,
    machine_types,
    parse_options,
)
from powercompat.machine.pseries import PseriesMachine
from powercompat.machine.state import Event, Lifecycle, VcpuState
from powercompat.machine.steps import STEP_NAMES, Step, run_step
from powercompat.messages import SIGILL, guest_init_killed, hex32, hex64
from powercompat.profiles import DEFAULT_PROFILE, parse_profile

EVENT_NAMES: Final[tuple[str, ...]] = STEP_NAMES
DEFAULT_EVENTS: Final[tuple[str, ...]] = (Step.REALIZE, Step.RESET, Step.CAS)


@checked()
def parse_guest(name: str) -> GuestProfile:
    """:raises UnknownProfileError: not a known guest profile."""
    guest = guest_by_name(name)
    if guest is None:
        raise UnknownProfileError("guest", name, [*(g.name for g in GUESTS), *GUEST_ALIASES])
    return guest


@checked()
def parse_events(text: str) -> tuple[Step, ...]:
    """``realize,reset,cas`` into a checked tuple.

    :raises InvalidValueError: an empty list or an unknown event name.
    """
    names = tuple(part.strip() for part in text.split(","))
    if not names or any(not n for n in names):
        raise InvalidValueError(f"empty event in '{text}' (valid: {', '.join(EVENT_NAMES)})")
    return _steps(names)


def _steps(names: tuple[str, ...]) -> tuple[Step, ...]:
    """:raises InvalidValueError: a name that is not a step."""
    for name in names:
        if name not in EVENT_NAMES:
            raise InvalidValueError(
                f"unknown event '{name}' (valid: {', '.join(EVENT_NAMES)})")
    return tuple(Step(name) for name in names)


@dataclass(frozen=True, slots=True)
class Negotiation(Judged):
    """A boot up to and through CAS: what the guest ends up in, and why."""

    cpu: str
    raw_pvr: int
    max_cpu_compat: str | None
    started: bool
    initial_compat_pvr: int
    compat_pvr: int
    cas_reached: bool
    cas_failed: bool
    raw_fallback: bool
    cpu_version: int
    pcr: int
    max_vthreads: int | None
    guest_threads: int
    guest: str
    guest_cpu_line: str
    #: the guest's /proc/cpuinfo revision line: the real PVR, whatever the mode
    guest_revision: str
    kernel_boots: bool | None
    kernel_reason: str
    userland_ok: bool | None
    userland_reason: str
    kernel_arch_compat: int | None
    kernel_pcr: int | None
    kernel_enforced: bool | None
    kernel_note: str | None
    qemu: str
    accel: str
    reasons: tuple[str, ...]
    error: str | None
    one_reg_total: int
    #: the configuration's verdict (decisions.verdict): the first thing that goes wrong
    fate: Fate

    @property
    def initial_compat(self) -> str | None:
        return mode_name(self.initial_compat_pvr, self.qemu)

    @property
    def compat(self) -> str | None:
        return mode_name(self.compat_pvr, self.qemu)

    @property
    def ok(self) -> bool:
        return self.started and self.error is None

    def to_json(self) -> dict[str, object]:
        """The ``negotiate --json`` contract (README); extra keys may be added."""
        return {
            "cpu": self.cpu,
            "raw_pvr": hex32(self.raw_pvr),
            "max_cpu_compat": self.max_cpu_compat,
            "started": self.started,
            "initial_compat": self.initial_compat,
            "initial_compat_pvr": hex32(self.initial_compat_pvr),
            "compat": self.compat,
            "compat_pvr": hex32(self.compat_pvr),
            "cas_reached": self.cas_reached,
            "cas_failed": self.cas_failed,
            "raw_fallback": self.raw_fallback,
            "cpu_version": hex32(self.cpu_version),
            "pcr": hex64(self.pcr),
            "max_vthreads": self.max_vthreads,
            "guest_threads_per_core": self.guest_threads,
            "guest": self.guest,
            "guest_cpu_line": self.guest_cpu_line,
            "guest_revision": self.guest_revision,
            "guest_kernel_boots": self.kernel_boots,
            "userland_ok": self.userland_ok,
            "kernel_arch_compat": _opt_hex32(self.kernel_arch_compat),
            "kernel_pcr": None if self.kernel_pcr is None else hex64(self.kernel_pcr),
            "kernel_enforced": self.kernel_enforced,
            "kernel_note": self.kernel_note,
            "qemu": self.qemu,
            "accel": self.accel,
            "one_reg_total": self.one_reg_total,
            "reasons": list(self.reasons),
            "error": self.error,
            **self.fate.to_json(),
        }


def _opt_hex32(value: int | None) -> str | None:
    return None if value is None else hex32(value)


@checked()
def mode_name(pvr: int, qemu: str) -> str | None:
    """A mode's table name under QEMU profile ``qemu``; None for raw (0), the hex for a PVR
    the profile's table lacks."""
    return _mode_name(pvr, parse_profile(qemu).rules.modes)


@checked()
def negotiate(
    cpu: str,
    max_cpu_compat: str | None = None,
    guest: str = DEFAULT_GUEST,
    pvr_list: bytes | None = None,
    accel: str = "tcg",
    host_cpu: str | None = None,
    qemu: str = DEFAULT_PROFILE,
    smp: int = 1,
    threads: int = 1,
    disable_radix: bool = False,
    host_kernel: str | None = None,
    host_platform: str | None = None,
    machine: str = "pseries",
    host_page_size: int | None = None,
    hpt_max_page_size: int | None = None,
) -> Negotiation:
    """Start the machine and run CAS with the guest's buffer (or ``pvr_list``).

    A refused start or a failed CAS is a result (``error`` set), not an exception.
    ``disable_radix``: the guest kernel is booted with ``disable_radix`` (hash MMU only).
    ``host_kernel``: the host's Linux under a modelled KVM (catalog.kernels; default the
    newest); ``host_platform``: where it runs (``powernv``, the default, or ``pseries``: a
    nested hypervisor); ``machine``: ``-M`` (plain ``pseries``: the release's newest type);
    ``host_page_size``: the host kernel's base page in KiB, ``hpt_max_page_size`` the
    machine's cap-hpt-max-page-size in KiB (MachineOptions).

    :raises InputError: unknown CPU, mode, profile, guest or accelerator.
    :raises CasBufferError: ``pvr_list`` is malformed.
    """
    options = MachineOptions(cpu=cpu, smp=smp, threads=threads, max_cpu_compat=max_cpu_compat,
                             accel=accel, host_cpu=host_cpu, qemu=qemu, host_kernel=host_kernel,
                             host_platform=host_platform, machine=machine,
                             host_page_size=host_page_size,
                             hpt_max_page_size=hpt_max_page_size)
    profile_guest = parse_guest(guest)
    vm = PseriesMachine.from_options(options)
    config = vm.config
    buffer = pvr_list if pvr_list is not None else profile_guest.cas_buffer
    parse_cas_pvrs(buffer)  # a malformed buffer is bad input: refuse before starting
    reasons: list[str] = []
    error: str | None = None
    refusal: str | None = None  # QEMU's words when it does not start (both lines)
    cas_failed = raw_fallback = cas_reached = False
    initial = 0
    runs = kernel_runs(profile_guest, vm.config.model)
    try:
        vm.realize()
        vm.reset()
    except PowerCompatError as err:
        error = str(err)
        refusal = refusal_text(err)
    else:
        initial = vm.boot_cpu.compat_pvr
        if not runs.reaches_cas:  # the guest never calls CAS: it stays in its reset mode
            error = f"the guest never reaches CAS: {runs.reason}"
        else:
            cas_reached = True
            result = vm.cas(buffer)
            raw_fallback = result.raw_fallback
            if result.hcall_ret != H_SUCCESS:
                cas_failed = True
                error = result.error or f"CAS returned H_HARDWARE ({result.hcall_ret})"
    for event in vm.events:
        reasons.extend(f"{event.name}: {r}" for r in event.reasons)
        if event.error:
            reasons.append(f"{event.name}: error: {event.error}")
    started = vm.state is Lifecycle.RUNNING
    boot = vm.vcpus[0] if vm.vcpus else None
    compat_pvr = boot.compat_pvr if boot and started else 0
    mode = mode_by_pvr(compat_pvr, config.profile.rules.modes) if compat_pvr else None
    state: VcpuState | None = vm.vcpu_states()[0] if boot else None
    cpu_version = boot.cpu_version if boot else config.model.pvr
    kernel, verdict = judge_guest(profile_guest, config, initial, compat_pvr, state,
                                  disable_radix, reached=started)
    fate = boot_fate(
        refused=None if started else (refusal or error or "the machine did not start"),
        reaches_cas=runs.reaches_cas, kernel_stops=error or "",
        cas_error=error if cas_failed else None,
        kernel_ok=kernel.ok, kernel_reason=kernel.reason,
        userland_ok=verdict.ok, userland_reason=verdict.reason)
    return Negotiation(
        cpu=config.model.name,
        raw_pvr=config.model.pvr,
        max_cpu_compat=config.max_compat.name if config.max_compat else None,
        started=started,
        initial_compat_pvr=initial,
        compat_pvr=compat_pvr,
        cas_reached=cas_reached,
        cas_failed=cas_failed,
        raw_fallback=raw_fallback,
        cpu_version=cpu_version,
        pcr=boot.spr_pcr if boot else 0,
        max_vthreads=mode.max_vthreads if mode else None,
        guest_threads=max_vthreads(config.threads, mode),
        guest=profile_guest.name,
        guest_cpu_line=guest_cpu_line(profile_guest, config.model.pvr, cpu_version,
                                      config.model.family),
        guest_revision=cpuinfo_revision(config.model.pvr),
        kernel_boots=kernel.ok if started else None,
        kernel_reason=kernel.reason,
        userland_ok=verdict.ok if started else None,
        userland_reason=verdict.reason,
        kernel_arch_compat=state.kernel_arch_compat if state else None,
        kernel_pcr=state.kernel_pcr if state else None,
        kernel_enforced=state.kernel_enforced if state else None,
        kernel_note=state.kernel_note if state else None,
        qemu=config.profile.name,
        accel=config.accel,
        reasons=tuple(reasons),
        error=error,
        one_reg_total=len(vm.accel.transport.calls) if vm.accel.transport else 0,
        fate=fate,
    )


def judge_guest(guest: GuestProfile, config: MachineConfig, initial: int, compat_pvr: int,
                state: VcpuState | None, disable_radix: bool = False, reached: bool = True
                ) -> tuple[KernelVerdict, UserlandVerdict]:
    """What the guest kernel and its init make of a boot that went through CAS from mode
    ``initial`` to ``compat_pvr`` on this machine (``state``: the boot vCPU, for whether the
    kernel enforces the PCR). ``reached`` False: the machine never ran the guest."""
    mode = mode_by_pvr(compat_pvr, config.profile.rules.modes) if compat_pvr else None
    enforced = bool(state and state.kernel_enforced)  # TCG and KVM PR enforce no PCR
    vsx = vsx_offered(config.model.family, config.max_compat_pvr,
                      config.profile.switches.vsx_cap, config.profile.rules)
    scv = config.accel.kvm or config.model.family.scv  # the hardware runs it under KVM
    userland = userland_verdict(guest, config.model, mode, config.profile.rules,
                                pcr_enforced=enforced, vsx=vsx, scv=scv,
                                hardware_cpu=config.host if config.accel.kvm else None)
    booted_guest = replace(guest, radix=False) if disable_radix else guest
    kernel = kernel_verdict(booted_guest, config.model, initial, compat_pvr,
                            config.profile.rules)
    if kernel.ok is not False:
        kernel = smp_kernel_verdict(
            effective_level(config.model, mode, config.profile.rules), config.smp,
            not config.accel.kvm, config.profile.switches.tcg_isa31_smp_hang) or kernel
    if reached and kernel.ok is False:  # init is never reached
        userland = replace(userland, ok=None, reason=f"not reached: {kernel.reason}")
    return kernel, userland


@dataclass
class Simulation(Judged):
    """A timeline: each event with its calls and vCPU states, the final state, and the
    verdict (the first thing that went wrong for the guest, or ``works``)."""

    started: bool = False
    error: str | None = None
    events: list[Event] = field(default_factory=list)
    vcpus: tuple[VcpuState, ...] = ()
    machines: list[PseriesMachine] = field(default_factory=list)
    fate: Fate = field(default_factory=lambda: Fate(Verdict.WORKS, ""))

    @property
    def one_reg_total(self) -> int:
        return sum(len(e.one_reg) for e in self.events)

    def to_json(self) -> dict[str, object]:
        return {
            "started": self.started,
            "error": self.error,
            "events": [e.to_json() for e in self.events],
            "vcpus": [v.to_json() for v in self.vcpus],
            "one_reg_total": self.one_reg_total,
            **self.fate.to_json(),
        }


def destination_host(options: MachineOptions, dst_cpu: str | None,
                     dst_host_cpu: str | None) -> str | None:
    """The destination's host CPU when none is named (None: the destination's own -cpu
    model, as ``--host-cpu`` defaults to ``--cpu``): with a source host named, the CPU named
    for the destination, else the source's host; for ``-cpu host`` on the destination, the
    source's host (``-cpu host`` on both sides runs on the same kind of host)."""
    if dst_host_cpu is not None or not is_kvm(options.accel):
        return dst_host_cpu
    if dst_cpu is not None and not is_host_cpu(dst_cpu):
        return dst_cpu.split(",")[0] if options.host_cpu is not None else None
    if options.host_cpu is not None:
        return options.host_cpu
    return None if is_host_cpu(options.cpu) else options.cpu.split(",")[0]


@checked(events=EVENT_NAMES)
def simulate(
    options: MachineOptions,
    events: tuple[str, ...] = DEFAULT_EVENTS,
    guest: str = DEFAULT_GUEST,
    pvr_list: bytes | None = None,
    dst_cpu: str | None = None,
    dst_host_cpu: str | None = None,
    dst_qemu: str | None = None,
) -> Simulation:
    """Run ``events`` in order; ``migrate`` moves the timeline to a destination machine
    (``dst_cpu``, default the source's, on host ``dst_host_cpu``, default as
    :func:`destination_host` says, under QEMU ``dst_qemu``, default the source's, with the
    source's machine type) that is realized and reset with ``incoming``; if the
    migration is refused the guest stays on the source and the timeline goes on there.
    ``error`` is the first failure; ``fate`` the verdict.

    :raises InputError: bad options, guest, or event names.
    :raises CasBufferError: ``pvr_list`` is malformed.
    """
    steps = _steps(tuple(events))
    profile_guest = parse_guest(guest)
    buffer = pvr_list if pvr_list is not None else profile_guest.cas_buffer
    machine = PseriesMachine.from_options(options)
    dst_options = replace(options, cpu=dst_cpu or options.cpu,
                          host_cpu=destination_host(options, dst_cpu, dst_host_cpu),
                          incoming=True, qemu=dst_qemu or options.qemu)
    if Step.MIGRATE in steps:
        PseriesMachine.from_options(dst_options)  # validate before anything runs
    return run_timeline(machine, steps, profile_guest, buffer, dst_options)


def run_timeline(machine: PseriesMachine, steps: tuple[Step, ...], guest: GuestProfile,
                 buffer: bytes, dst_options: MachineOptions) -> Simulation:
    """simulate() on a machine built by the caller (a test may give it a fault injector).
    The verdict is the first failure in timeline order (decisions.verdict)."""
    sim = Simulation(machines=[machine])
    timeline = _Timeline(machine, sim, dst_options, buffer)
    fate: Fate | None = None
    for step in steps:
        marks = [len(m.events) for m in sim.machines]
        before = timeline.current
        failure: PowerCompatError | None = None
        try:
            run_step(timeline, step, buffer)
        except PowerCompatError as err:
            failure = err
            sim.error = sim.error or str(err)
        current = timeline.current
        for i, m in enumerate(sim.machines):
            sim.events.extend(m.events[marks[i] if i < len(marks) else 0:])
        last = sim.events[-1] if sim.events else None
        if last is not None and last.name == "cas" and not last.ok:
            sim.error = sim.error or last.error or "CAS failed (H_HARDWARE)"
        fate = fate or _step_fate(step, failure, before, timeline, guest, sim.started, last)
        if current.state is Lifecycle.RUNNING:
            sim.started = True
        if current.state is Lifecycle.EXITED or (sim.error and not current.started):
            break
    sim.vcpus = timeline.current.vcpu_states()
    sim.fate = fate or Fate(Verdict.WORKS, timeline.works_reason)
    return sim


def _step_fate(step: Step, failure: PowerCompatError | None, before: PseriesMachine,
               timeline: _Timeline, guest: GuestProfile, started: bool,
               last: Event | None) -> Fate | None:
    """The verdict one step gives the guest, or None when the guest is still fine."""
    if failure is not None:
        if step is Step.MIGRATE and timeline.current is before and timeline.migrated_out:
            # the destination refused: the guest stays here
            message, cause = migration_refusal(failure, "destination")
            return Fate(Verdict.MIGRATION_REFUSED, f"{message}; {cause}" if cause else message)
        if not started:  # QEMU never ran the guest: refused at start-up
            return Fate(Verdict.QEMU_REFUSES, refusal_text(failure))
        if before.state is Lifecycle.EXITED:
            return Fate(Verdict.QEMU_EXITS, refusal_text(failure))
        # a refused request; the guest goes on
        return Fate(Verdict.QEMU_REFUSES, refusal_text(failure))
    if step is Step.CAS and last is not None and last.name == "cas":
        runs = kernel_runs(guest, timeline.current.config.model)
        if not runs.reaches_cas:  # the guest never makes the call the timeline ran
            return Fate(Verdict.KERNEL_HANGS, f"the guest never reaches CAS: {runs.reason}")
        if not last.ok:
            return Fate(Verdict.CAS_FAILS, last.error or "CAS returned H_HARDWARE")
        return timeline.judge_boot(guest)
    if step is Step.MIGRATE and timeline.current is not before:  # the guest moved
        return timeline.judge_move(guest)
    return None


class _Timeline:
    """The steps of a simulation, on the machine the guest is on (the destination once a
    migration succeeded)."""

    def __init__(self, machine: PseriesMachine, sim: Simulation, dst_options: MachineOptions,
                 buffer: bytes) -> None:
        self.current = machine
        self.sim = sim
        self.dst_options = dst_options
        self.buffer = buffer
        #: the boot vCPU's mode before the last CAS (what the kernel was offered)
        self.pre_cas = 0
        #: the last migrate step got as far as the source's stream
        self.migrated_out = False
        self.works_reason = ("QEMU ran every event; no CAS among them, so the guest's kernel "
                             "and userland are not judged")

    def realize(self) -> None:
        self.current.realize()

    def reset(self) -> None:
        self.current.reset()

    def reboot(self) -> None:
        self.current.reboot()

    def cas(self, buffer: bytes) -> object:
        machine = self.current
        self.pre_cas = machine.boot_cpu.compat_pvr if machine.vcpus else 0
        return machine.cas(buffer)

    def hotplug(self) -> list[int]:
        return self.current.hotplug()

    def migrate(self) -> None:
        """On failure the guest stays on the source."""
        source = self.current
        self.migrated_out = False
        stream = source.migrate_out()
        self.migrated_out = True
        # the destination is started with every core the source has now, hot-plugged ones
        # included (cold-plugged there), as a management layer would start it
        dst = PseriesMachine.from_options(replace(
            self.dst_options, smp=len(source.vcpus), max_cpus=source.config.max_cpus))
        self.sim.machines.append(dst)
        dst.realize()
        dst.reset()
        dst.migrate_in(stream)
        self.current = dst

    def judge_boot(self, guest: GuestProfile) -> Fate | None:
        """After a CAS that returned H_SUCCESS: does the kernel get there, live on, and run
        init?"""
        machine = self.current
        compat = machine.boot_cpu.compat_pvr
        kernel, userland = judge_guest(guest, machine.config, self.pre_cas, compat,
                                       machine.vcpu_states()[0])
        fate = boot_fate(kernel_ok=kernel.ok, kernel_reason=kernel.reason,
                         userland_ok=userland.ok, userland_reason=userland.reason)
        self.works_reason = fate.reason
        return None if fate.works else fate

    def judge_move(self, guest: GuestProfile) -> Fate | None:
        """After a migration: does init still run on the destination's CPU and kernel?"""
        machine = self.current
        compat = machine.boot_cpu.compat_pvr
        _, userland = judge_guest(guest, machine.config, compat, compat,
                                  machine.vcpu_states()[0])
        if userland.ok is False:
            return Fate(Verdict.USERLAND_DIES, f"after the migration: {userland.reason}")
        return None


@dataclass(frozen=True, slots=True)
class MigrationCheck(Judged):
    """Can a guest booted on ``source`` move to ``destination``, and if not, what to set.

    A refusal names its ``side`` (``source`` or ``destination``), the ``rule`` that refused
    (``machine-type``, ``cpu-model``, ``start-up``, ``guest``, ``xive-section``,
    ``vmstate-version``, ``compat-mode``, ``pvr``, ...) and QEMU's ``lines`` in that side's
    release's words; ``error`` is the first of them, ``cause`` the next. ``idle_guest_stops``:
    why a guest that moved does not run on the destination if its vCPU idled when it was
    stopped (TCG; None when it runs, and under KVM)."""

    ok: bool
    source: Negotiation
    destination_cpu: str
    error: str | None
    cause: str | None
    advice: tuple[str, ...]
    suggested_max: str | None
    #: the guest's verdict: the source's boot, then the move (``migration-refused``: the
    #: guest stays on the source), then its userland on the destination
    fate: Fate
    side: str | None = None
    rule: str | None = None
    lines: tuple[str, ...] = ()
    detail: str | None = None
    src_qemu: str = DEFAULT_PROFILE
    dst_qemu: str = DEFAULT_PROFILE
    machine: str = "pseries"
    before_boot: bool = False
    idle_guest_stops: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "source": self.source.to_json(),
            "destination_cpu": self.destination_cpu,
            "src_qemu": self.src_qemu,
            "dst_qemu": self.dst_qemu,
            "machine": self.machine,
            "before_boot": self.before_boot,
            "error": self.error,
            "cause": self.cause,
            "side": self.side,
            "rule": self.rule,
            "lines": list(self.lines),
            "detail": self.detail,
            "idle_guest_stops": self.idle_guest_stops,
            "advice": list(self.advice),
            "suggested_max_cpu_compat": self.suggested_max,
            **self.fate.to_json(),
        }


@checked()
def save_on_source(options: MachineOptions, buffer: bytes) -> bytes:
    """The source side of a live migration: realize, reset, CAS with ``buffer``, then the
    CPU part of the stream.

    :raises PowerCompatError: the source cannot start (or the buffer is malformed).
    """
    return source_stream(options, buffer)


def source_stream(options: MachineOptions, buffer: bytes) -> bytes:
    """save_on_source() without the argument checks, for callers that built ``options``
    themselves and ask it in a hot loop (the fleet planner).

    :raises PowerCompatError: the source cannot start (or the buffer is malformed).
    """
    src = PseriesMachine.from_options(options)
    src.realize()
    src.reset()
    src.cas(buffer)
    return src.migrate_out()


@checked()
def load_on_destination(dst_options: MachineOptions, stream: bytes) -> PseriesMachine:
    """The destination side: start with ``incoming`` (realize, reset), then load.

    :raises MigrationError: the destination refused the incoming state.
    :raises PowerCompatError: the destination cannot start with these options.
    """
    return destination_load(dst_options, stream)


def destination_load(dst_options: MachineOptions, stream: bytes) -> PseriesMachine:
    """load_on_destination() without the argument checks (see source_stream).

    :raises MigrationError: the destination refused the incoming state.
    :raises PowerCompatError: the destination cannot start with these options.
    """
    dst = PseriesMachine.from_options(
        dst_options if dst_options.incoming else replace(dst_options, incoming=True))
    dst.realize()
    dst.reset()
    dst.migrate_in(stream)
    return dst


def migration_detail(err: PowerCompatError) -> str | None:
    """Our explanation of a refused migration, where QEMU's own lines do not give one."""
    return err.detail if isinstance(err, MigrationError) else None


def migration_refusal(err: PowerCompatError, side: str) -> tuple[str, str | None]:
    """One wording for a refused migration, whoever asks: (message, cause).

    A MigrationError keeps QEMU's first line as the message and the next as the cause.
    """
    if side == "source":
        return f"source: {err}", None
    if isinstance(err, MigrationError):
        return str(err), err.cause
    return f"destination cannot start: {err}", None


def _try_migration(options: MachineOptions, dst_options: MachineOptions, buffer: bytes
                   ) -> tuple[str | None, str | None, str | None]:
    """(error, cause, detail) of booting on the source and loading on the destination."""
    error, cause, detail, _ = _migrate_once(options, dst_options, buffer)
    return error, cause, detail


def _migrate_once(options: MachineOptions, dst_options: MachineOptions, buffer: bytes
                  ) -> tuple[str | None, str | None, str | None, PseriesMachine | None]:
    """As _try_migration, and the destination the guest runs on when it moved."""
    try:
        stream = save_on_source(options, buffer)
    except PowerCompatError as err:
        return (*migration_refusal(err, "source"), None, None)
    try:
        dst = load_on_destination(dst_options, stream)
    except PowerCompatError as err:
        return (*migration_refusal(err, "destination"), migration_detail(err), None)
    return None, None, None, dst


@dataclass(frozen=True, slots=True)
class _Refusal:
    """One side refused: which, by which rule, in its release's words."""

    side: str
    rule: str
    lines: tuple[str, ...]
    detail: str | None = None
    #: the destination started and refused the incoming stream (else: it did not start)
    loading: bool = False


def _startup_rule(err: PowerCompatError) -> str:
    if isinstance(err, UnsupportedMachineError):
        return "machine-type"
    if isinstance(err, UnknownCpuError | CpuNotPseriesError):
        return "cpu-model"
    return "start-up"


def _lines(err: PowerCompatError) -> tuple[str, ...]:
    found = getattr(err, "lines", None)
    return tuple(found) if found else (str(err),)


def _release_refusal(options: MachineOptions, other_qemu: str, side: str
                     ) -> _Refusal | None:
    """A side's options that its release refuses at start-up but the other side's release
    accepts (a model, machine type or mode it lacks): a verdict. None when the side starts.

    :raises InputError: refused by both releases (a typo, not a difference of releases).
    """
    try:
        parse_options(options)
    except InputError as err:
        if parse_profile(options.qemu) == parse_profile(other_qemu):
            raise
        try:
            parse_options(replace(options, qemu=other_qemu))
        except InputError:
            raise err from None
        return _Refusal(side, _startup_rule(err), _lines(err))
    return None


def _save_before_boot(options: MachineOptions) -> bytes:
    """A source created paused (``-S``) that never ran: the stream right after the reset."""
    src = PseriesMachine.from_options(options)
    src.realize()
    src.reset()
    return src.migrate_out()


def _move(options: MachineOptions, dst_options: MachineOptions, buffer: bytes,
          before_boot: bool) -> tuple[_Refusal | None, PseriesMachine | None]:
    """Boot (or not) on the source, load on the destination: a refusal or the destination."""
    try:
        stream = (_save_before_boot(options) if before_boot
                  else save_on_source(options, buffer))
    except PowerCompatError as err:
        return _Refusal("source", "start-up", _lines(err)), None
    try:
        return None, load_on_destination(dst_options, stream)
    except MigrationError as err:
        return _Refusal("destination", err.rule or "load", err.lines, err.detail, True), None
    except PowerCompatError as err:
        return _Refusal("destination", _startup_rule(err), _lines(err)), None


def _machine_advice(src_qemu: str, dst_qemu: str) -> str | None:
    """The newest machine type both releases have, as advice (None: they have none)."""
    src, dst = (machine_types(parse_profile(q)) for q in (src_qemu, dst_qemu))
    common = [t for t in reversed(dst.types) if src.resolve(t.name) is not None]
    if not common:
        return None
    return (f"pin the machine type: -M {common[0].name} on both sides is the newest that "
            f"QEMU {src_qemu} and QEMU {dst_qemu} both have (plain pseries is each release's "
            f"own newest: {src.newest} and {dst.newest})")


@checked()
def migrate_check(
    cpu: str,
    dst_cpu: str,
    max_cpu_compat: str | None = None,
    guest: str = DEFAULT_GUEST,
    qemu: str = DEFAULT_PROFILE,
    accel: str = "kvm-hv",
    dst_max_cpu_compat: str | None = None,
    host_kernel: str | None = None,
    host_platform: str | None = None,
    host_cpu: str | None = None,
    dst_host_cpu: str | None = None,
    src_qemu: str | None = None,
    dst_qemu: str | None = None,
    machine: str = "pseries",
    before_boot: bool = False,
    host_page_size: int | None = None,
    hpt_max_page_size: int | None = None,
) -> MigrationCheck:
    """Boot on ``cpu`` under QEMU ``src_qemu``, run CAS, migrate to ``dst_cpu`` under
    ``dst_qemu`` (both default to ``qemu``), each side with machine type ``machine`` (plain
    ``pseries``: each release's newest); if refused, find the newest max-cpu-compat that both
    sides accept and that makes the guest mobile. ``dst_max_cpu_compat`` None is the source's
    maximum, ``""`` none. ``before_boot``: the source was created paused and never ran.
    ``host_cpu`` and ``dst_host_cpu`` are the hosts under KVM (``cpu`` or ``dst_cpu`` may then
    be ``host``); the destination's host defaults as :func:`destination_host` says.

    A side whose release lacks a model, machine type or mode that the other release has is a
    refusal of that side, in its words, not an input error.

    :raises InputError: a CPU, mode, machine type, profile, guest or accelerator that neither
        release knows.
    """
    src_q, dst_q = src_qemu or qemu, dst_qemu or qemu
    profile_guest = parse_guest(guest)
    buffer = profile_guest.cas_buffer
    options = MachineOptions(cpu=cpu, max_cpu_compat=max_cpu_compat, accel=accel, qemu=src_q,
                             host_cpu=host_cpu, host_kernel=host_kernel,
                             host_platform=host_platform, machine=machine,
                             host_page_size=host_page_size,
                             hpt_max_page_size=hpt_max_page_size)
    dst_max = max_cpu_compat if dst_max_cpu_compat is None else dst_max_cpu_compat
    dst_options = MachineOptions(cpu=dst_cpu, max_cpu_compat=dst_max, accel=accel,
                                 qemu=dst_q, host_kernel=host_kernel, incoming=True,
                                 host_platform=host_platform, machine=machine,
                                 host_cpu=destination_host(options, dst_cpu, dst_host_cpu),
                                 host_page_size=host_page_size,
                                 hpt_max_page_size=hpt_max_page_size)
    refusal = _release_refusal(options, dst_q, "source") or _release_refusal(
        dst_options, src_q, "destination")
    # the source's boot as the report shows it (a source its release refuses: as the other
    # release would boot it, since only the refusal matters then)
    src_for_report = src_q if refusal is None or refusal.side != "source" else dst_q
    source = negotiate(cpu, max_cpu_compat, guest, accel=accel, host_cpu=host_cpu,
                       qemu=src_for_report, host_kernel=host_kernel,
                       host_platform=host_platform, machine=machine,
                       host_page_size=host_page_size, hpt_max_page_size=hpt_max_page_size)
    dst_model = dst_cpu
    if refusal is None or refusal.side != "destination":
        dst_model = parse_options(dst_options).model.name

    def verdict(found: _Refusal, advice: tuple[str, ...], suggested: str | None
                ) -> MigrationCheck:
        text = "; ".join(found.lines[:2])
        dst_start = found.side == "destination" and not found.loading
        if found.side == "source" and src_for_report != src_q:
            fate = Fate(Verdict.QEMU_REFUSES, text)  # the source's release refuses it
        elif not source.fate.works and not before_boot and not dst_start:
            # the guest's own boot fails first (the incoming destination is started before
            # the source boots; a source created paused never boots)
            fate = source.fate
        elif found.side == "source":
            fate = Fate(Verdict.QEMU_REFUSES, text)
        else:
            fate = Fate(Verdict.MIGRATION_REFUSED, text)
        return MigrationCheck(
            False, source, dst_model, found.lines[0],
            found.lines[1] if len(found.lines) > 1 else None, advice, suggested, fate,
            found.side, found.rule, found.lines, found.detail, src_q, dst_q, machine,
            before_boot)

    if refusal is not None:
        hints = [a for a in [_machine_advice(src_q, dst_q)] if a] \
            if refusal.rule == "machine-type" else []
        hints.append(f"QEMU {src_q if refusal.side == 'source' else dst_q} cannot start the "
                     f"{refusal.side}: give both sides a model, machine type and "
                     "max-cpu-compat both releases have")
        return verdict(refusal, tuple(hints), None)
    if not before_boot and source.started and source.userland_ok is False:
        # init dies before the guest could be migrated: the source reports the panic
        return verdict(_Refusal("source", "guest",
                                (guest_init_killed(SIGILL, profile_guest.os_term_text),),
                                source.userland_reason), (), None)
    refusal, moved = _move(options, dst_options, buffer, before_boot)
    if refusal is None:
        assert moved is not None
        fate = source.fate if not source.fate.works else _moved_fate(profile_guest, moved,
                                                                     source)
        return MigrationCheck(True, source, dst_model, None, None, (), None, fate, None, None,
                              (), None, src_q, dst_q, machine, before_boot,
                              None if before_boot else moved.idle_guest_stops)
    advice: list[str] = [refusal.detail] if refusal.detail else []
    if refusal.rule == "machine-type":
        advice += [a for a in [_machine_advice(src_q, dst_q)] if a]
        return verdict(refusal, tuple(advice), None)
    if refusal.rule == "vmstate-version":
        advice.append(f"QEMU {dst_q} cannot load what QEMU {src_q} sends: live migration only "
                      "goes to the same or a newer release")
        return verdict(refusal, tuple(advice), None)
    if refusal.rule == "icp-section":
        # no setting changes which sections a build registers (24ee9229 / f5738aed)
        advice.append(f"QEMU {dst_q} cannot load the icp/server sections QEMU {src_q} sends; "
                      "update the destination to a build with f5738aed (10.0.5, 10.1.1 or "
                      "10.2 and newer)")
        return verdict(refusal, tuple(advice), None)
    suggested: str | None = None
    for mode in reversed(parse_profile(dst_q).rules.modes):
        trial_src = replace(options, max_cpu_compat=mode.name)
        trial_dst = replace(dst_options, max_cpu_compat=mode.name)
        try:
            trial, _ = _move(trial_src, trial_dst, buffer, before_boot)
        except PowerCompatError:
            continue
        if trial is None:
            suggested = mode.name
            break
    if suggested:
        advice.append(
            f"set max-cpu-compat={suggested} on the source and the destination "
            f"(QEMU: -M {machine},max-cpu-compat={suggested}; libvirt: "
            f"<cpu mode='host-model'><model>{suggested}</model></cpu>); "
            "on the source it takes effect at the guest's next reboot")
    else:
        advice.append("no max-cpu-compat makes this guest mobile between these CPUs")
    return verdict(refusal, tuple(advice), suggested)


def _moved_fate(guest: GuestProfile, dst: PseriesMachine, source: Negotiation) -> Fate:
    """The guest after the move: it keeps its mode; does its init still run on the
    destination's CPU (and, under KVM HV, the destination kernel's PCR)?"""
    compat = dst.boot_cpu.compat_pvr
    _, userland = judge_guest(guest, dst.config, compat, compat, dst.vcpu_states()[0])
    if userland.ok is False:
        return Fate(Verdict.USERLAND_DIES, f"after the migration: {userland.reason}")
    mode = mode_name(compat, dst.config.profile.name) or "raw mode"
    return Fate(Verdict.WORKS, f"the destination loads the guest, which runs on in {mode}: "
                               f"{source.verdict_reason}")
