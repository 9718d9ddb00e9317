"""Random machine lifecycles: options from the catalogue, event sequences, CAS buffers, faults.

Everything is drawn from one seeded ``random.Random``, so a lifecycle is reproduced by its
seed and index (``lifecycle_seed``).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Final

from powercompat.catalog.accels import Accel
from powercompat.catalog.behaviour import CPU_COMPAT_2_9
from powercompat.catalog.guests import GUESTS
from powercompat.catalog.history import HEAD
from powercompat.catalog.kernels import KERNELS, HostPlatform
from powercompat.machine.options import MachineOptions, spell_compat
from powercompat.machine.steps import STEP_CALLS, Step, run_step
from powercompat.profiles import PROFILE_NAMES, Profile, parse_profile
from powercompat.stress.harness import FAULT_ERRNOS, Harness

#: the modelled accelerators (``kvm`` needs a real ppc64 host)
MODEL_ACCELS: Final[tuple[str, ...]] = tuple(a.value for a in Accel if a is not Accel.KVM)
#: interesting 32-bit words for CAS pairs: modes, raw PVRs, masks, edges
_WORDS: Final[tuple[int, ...]] = (
    0, 0xFFFFFFFF, 0xFFFF0000, 0xFFFE0000, 0xFFFFFFFE, 0x0F000001, 0x0F100003,
    *(m.pvr for m in HEAD.modes),
    0x003F0000, 0x004A0000, 0x004B0000, 0x004C0000, 0x004D0000, 0x004E0000, 0x004E1202,
    0x00800000, 0x00820000, 0x00390202,
)
#: what a lifecycle draws from, weighted by repetition: lifecycle steps and stress-only
#: events (``fault``, ``migrate-bad``; see ``_EXTRA``)
EVENTS: Final[tuple[str, ...]] = (Step.CAS, Step.CAS, Step.CAS, Step.REBOOT, Step.RESET,
                                  Step.HOTPLUG, "fault", "fault", Step.MIGRATE, "migrate-bad")


def lifecycle_seed(seed: int, index: int) -> int:
    """The seed of lifecycle ``index`` in a run seeded ``seed``."""
    return (seed * 1_000_003 + index) & 0xFFFFFFFFFFFF


def random_pairs_buffer(rng: random.Random) -> bytes:
    """A list of (mask, value) pairs from interesting words, usually terminated."""
    pairs = [(rng.choice(_WORDS), rng.choice(_WORDS)) for _ in range(rng.randint(0, 12))]
    if rng.random() < 0.85:
        pairs.append((0xFFFFFFFE, 0x0F000001))
    return b"".join(struct.pack(">II", m, v) for m, v in pairs)


def random_cas_buffer(rng: random.Random) -> bytes:
    """A guest buffer: a real guest's, random pairs, or hostile bytes."""
    kind = rng.random()
    if kind < 0.35:
        return rng.choice(GUESTS).cas_buffer
    if kind < 0.75:
        return random_pairs_buffer(rng)
    if kind < 0.80:
        return bytes(rng.choice((0, 8, 4096, 4104)))  # all-zero: never terminates
    if kind < 0.85:
        return b"\xff" * rng.choice((8, 4096, 5000))  # all-ones: raw match, no terminator
    if kind < 0.92:
        buf = rng.choice(GUESTS).cas_buffer
        return buf[:rng.randrange(len(buf) + 1)]  # truncated
    return rng.randbytes(rng.randrange(64))


def corrupt_stream(rng: random.Random) -> Callable[[bytes], bytes]:
    """A bit flip, a truncation, a byte overwrite or an appended byte."""
    how = rng.randrange(4)
    pick = rng.random()
    value = rng.randrange(256)

    def apply(stream: bytes) -> bytes:
        data = bytearray(stream)
        pos = int(pick * len(data))
        if how == 0:
            data[pos] ^= 1 << (value % 8)
        elif how == 1:
            del data[pos:]
        elif how == 2:
            data[pos] = value
        else:
            data.append(value)
        return bytes(data)

    return apply


def random_options(rng: random.Random, profile: str | None = None,
                   accel: str | None = None) -> MachineOptions:
    """Options from the catalogue; always parseable (whether the machine starts is random)."""
    p: Profile = parse_profile(profile or rng.choice(PROFILE_NAMES))
    acc = accel or rng.choice(MODEL_ACCELS)
    model = rng.choice(p.cpu_models)
    cpu = model.name
    threads = rng.choice((1, 1, 1, 2, 4, 8))
    smp = threads * rng.randint(1, 2)
    max_names = [None, None, *(m.name for m in p.rules.modes)]
    host = None
    if acc == "kvm-hv" and rng.random() < 0.5:
        chosen = rng.choice(p.cpu_models)
        # by its real PVR now and then: its DD level then counts (kvm-kernel.md 7, 8)
        host = f"{chosen.pvr:08x}" if rng.random() < 0.3 else chosen.name
        if rng.random() < 0.75:  # KVM HV runs the host's processor: mostly -cpu host
            cpu = "host"
    cpu, max_compat = spell_max(p, cpu, rng.choice(max_names))
    kernel = rng.choice(KERNELS) if Accel(acc).modelled else None
    # a nested hypervisor (pseries) now and then, on a kernel that can be one
    platform = None
    if acc == "kvm-hv" and kernel is not None and kernel.nested_hv and rng.random() < 0.25:
        platform = HostPlatform.PSERIES.value
    return MachineOptions(
        cpu=cpu, smp=smp, threads=threads, max_cpus=smp + threads * rng.randint(0, 2),
        max_cpu_compat=max_compat, accel=acc, host_cpu=host, qemu=p.name,
        host_kernel=kernel.name if kernel else None, host_platform=platform)


def spell_max(profile: Profile, cpu: str, mode: str | None) -> tuple[str, str | None]:
    """A maximum as the release takes it: ``max-cpu-compat``, or before 7843c0d6 only
    ``-cpu X,compat=Y`` with Y one of power6..power8 (another maximum is then dropped)."""
    if mode is not None and not profile.switches.max_cpu_compat_option \
            and mode not in CPU_COMPAT_2_9:
        return cpu, None  # 2.9's compat property would refuse it: drawn options stay valid
    return spell_compat(cpu, mode, profile.name)


def destination_options(rng: random.Random, source: MachineOptions) -> MachineOptions:
    """Same command line on the destination (max-cpu-compat is not migrated, so it must be
    given on both sides), sometimes another CPU or host of the profile."""
    dst = replace(source, incoming=True)
    if rng.random() < 0.3:
        p = parse_profile(source.qemu)
        _, comma, props = source.cpu.partition(",")  # keep 2.9's ",compat=Y"
        other = rng.choice(p.cpu_models).name
        if source.accel == Accel.KVM_HV:
            # another host runs -cpu host (a fixed model of another PVR is refused there at
            # vCPU creation; the source's own -cpu on another host is still drawn below)
            dst = replace(dst, cpu="host" + comma + props if rng.random() < 0.75
                          else source.cpu, host_cpu=other)
        else:
            dst = replace(dst, cpu=other + comma + props)
    return dst


@dataclass
class LifecycleResult:
    seed: int
    options: MachineOptions
    events: list[str]
    steps: int
    violations: list[str]


class _Driver:
    """The lifecycle steps on a harness (machine beside its reference model), with random
    inputs drawn from the lifecycle's generator."""

    def __init__(self, harness: Harness, rng: random.Random) -> None:
        self.harness = harness
        self.rng = rng

    def realize(self) -> str:
        return self.harness.pair.realize()

    def reset(self) -> str:
        return self.harness.pair.reset()

    def reboot(self) -> str:
        return self.harness.pair.reboot()

    def cas(self, buffer: bytes) -> str:
        return self.harness.pair.cas(buffer)

    def hotplug(self) -> str:
        return self.harness.pair.hotplug()

    def migrate(self) -> str:
        rng = self.rng
        faults = ((rng.choice(FAULT_ERRNOS), rng.randrange(3)),) if rng.random() < 0.2 else ()
        return self.harness.migrate(destination_options(rng, self.harness.options),
                                    dst_faults=faults)

    def fault(self) -> None:
        self.harness.pair.inject(self.rng.choice(FAULT_ERRNOS), self.rng.randrange(4))

    def migrate_bad(self) -> str:
        return self.harness.migrate(destination_options(self.rng, self.harness.options),
                                    corrupt=corrupt_stream(self.rng))


#: the stress-only events, beside the lifecycle steps of machine.steps.STEP_CALLS
_EXTRA: Final[Mapping[str, Callable[[_Driver], object]]] = MappingProxyType({
    "fault": _Driver.fault,
    "migrate-bad": _Driver.migrate_bad,
})


def run_lifecycle(seed: int, profile: str | None = None, accel: str | None = None,
                  max_events: int = 8) -> LifecycleResult:
    """One random machine life: realize, reset, then random events, checked throughout."""
    rng = random.Random(seed)
    options = random_options(rng, profile, accel)
    harness = Harness(options)
    driver = _Driver(harness, rng)
    events: list[str] = []
    if rng.random() < 0.1:
        harness.pair.inject(rng.choice(FAULT_ERRNOS), rng.randrange(3))
    if harness.pair.realize() == "ok":
        if rng.random() < 0.15:
            harness.pair.hotplug()
        harness.pair.reset()
    for _ in range(rng.randint(1, max_events)):
        if harness.pair.machine.state.value in ("exited", "created"):
            break
        event = rng.choice(EVENTS)
        events.append(event)
        if event in STEP_CALLS:
            step = Step(event)
            run_step(driver, step, random_cas_buffer(rng) if step is Step.CAS else b"")
        else:
            _EXTRA[event](driver)
    return LifecycleResult(seed, options, events, len(events), harness.violations)
