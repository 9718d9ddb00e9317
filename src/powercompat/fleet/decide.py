"""The engine's answers for classes of equivalent hosts and guests, each asked once.

A decision depends only on a few attributes: of a host, its resolved CPU model (family and
revision), its KVM flavour and its QEMU profile (a :class:`HostClass`); of a guest, its
profile, its ``max-cpu-compat`` and whether libvirt starts it (a :class:`GuestKind`). The
:class:`Decider` asks the engine once per distinct pair and caches the :class:`Verdict`:

- start: :func:`powercompat.scenario.negotiate` (boot through CAS), plus libvirt's
  ``ppc64CheckCompatibilityMode`` (:func:`~powercompat.decisions.libvirt.check_libvirt_compat`)
  for a guest defined by a libvirt domain, and the guest userland's verdict;
- live migration: scenario.save_on_source / load_on_destination (the machine itself),
  booted on the source through CAS, then loaded on the destination, as
  :func:`powercompat.scenario.migrate_check` does, but with the source's and the destination's
  own KVM flavour and QEMU profile. The source's stream is computed once per source and reused
  for every destination; the load is cached per (stream, destination).

Nothing here restates a rule: every refusal text is the engine's message.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import cache

from powercompat.decisions.libvirt import LibvirtResult, check_libvirt_compat
from powercompat.errors import InputError, PowerCompatError
from powercompat.machine.options import MachineOptions, parse_options
from powercompat.scenario import (
    load_on_destination,
    migration_refusal,
    mode_name,
    negotiate,
    parse_guest,
    save_on_source,
)


@dataclass(frozen=True, slots=True, order=True)
class HostClass:
    """What a decision needs to know of a host. ``cpu`` is the resolved ``-cpu`` model."""

    family: str
    cpu: str
    kvm: str
    qemu: str

    @property
    def accel(self) -> str:
        return f"kvm-{self.kvm}"

    @property
    def label(self) -> str:
        """``POWER9 power9_v2.2 kvm-hv qemu head``"""
        return f"{self.family} {self.cpu} {self.accel} qemu {self.qemu}"

    def options(self, max_cpu_compat: str | None, incoming: bool = False) -> MachineOptions:
        """The machine libvirt starts on this host (``-cpu host`` is this model under KVM)."""
        return MachineOptions(cpu=self.cpu, max_cpu_compat=max_cpu_compat, accel=self.accel,
                              qemu=self.qemu, incoming=incoming)

    def to_json(self) -> dict[str, str]:
        return {"family": self.family, "cpu": self.cpu, "kvm": self.kvm, "qemu": self.qemu}


@cache
def host_class(cpu: str, kvm: str, qemu: str) -> HostClass:
    """Resolve a host's CPU name under its QEMU profile (``power9`` is DD2.2 at head, DD2.0
    in 7.2), as QEMU would at start.

    :raises InputError: unknown profile, CPU model or KVM flavour (the engine's message).
    """
    config = parse_options(MachineOptions(cpu=cpu, accel=f"kvm-{kvm}", qemu=qemu))
    return HostClass(config.model.family.name, config.model.name, kvm, config.profile.name)


@dataclass(frozen=True, slots=True)
class GuestKind:
    """What a decision needs to know of a guest."""

    profile: str
    max_cpu_compat: str | None
    libvirt: bool = False

    @property
    def sort_key(self) -> tuple[str, str, bool]:
        return (self.profile, self.max_cpu_compat or "", self.libvirt)


@dataclass(frozen=True, slots=True)
class Verdict:
    """``ok`` plus one line: the engine's refusal, or what the guest runs as."""

    ok: bool
    reason: str
    compat: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "reason": self.reason, "compat": self.compat}


_OK = Verdict(True, "mobile")


class Decider:
    """Cached engine calls. ``calls`` counts the engine runs actually made."""

    def __init__(self) -> None:
        self._start: dict[tuple[GuestKind, HostClass], Verdict] = {}
        self._stream: dict[tuple[GuestKind, HostClass], bytes | Verdict] = {}
        self._load: dict[tuple[bytes, str | None, bool, HostClass], Verdict] = {}
        self._mobility: dict[tuple[GuestKind, tuple[tuple[HostClass, bool], ...]], Verdict] = {}
        self.calls = {"negotiate": 0, "migrate_out": 0, "migrate_in": 0}

    # ------------------------------------------------------------------ start

    def start(self, kind: GuestKind, host: HostClass) -> Verdict:
        """Can a guest of this kind start on a host of this class?"""
        key = (kind, host)
        verdict = self._start.get(key)
        if verdict is None:
            verdict = self._start[key] = self._decide_start(kind, host)
        return verdict

    def _decide_start(self, kind: GuestKind, host: HostClass) -> Verdict:
        refused = _libvirt_refusal(kind, host)
        if refused is not None:
            return Verdict(False, refused)
        self.calls["negotiate"] += 1
        try:
            result = negotiate(host.cpu, kind.max_cpu_compat, kind.profile, accel=host.accel,
                               qemu=host.qemu)
        except InputError as err:  # e.g. a mode this QEMU release does not have
            return Verdict(False, str(err))
        if not result.ok:
            return Verdict(False, result.error or "the machine did not start")
        if result.userland_ok is False:
            return Verdict(False, result.userland_reason, result.compat)
        return Verdict(True, f"runs as {result.compat or 'raw'}", result.compat)

    # ------------------------------------------------------------------ migration

    def migrate(self, kind: GuestKind, source: HostClass, destination: HostClass) -> Verdict:
        """Can a guest of this kind, booted on ``source``, live-migrate to ``destination``
        (same ``max-cpu-compat`` on both sides, as libvirt sends the same domain)?"""
        stream = self._source_stream(kind, source)
        if isinstance(stream, Verdict):
            return stream
        key = (stream, kind.max_cpu_compat, kind.libvirt, destination)
        verdict = self._load.get(key)
        if verdict is None:
            verdict = self._load[key] = self._decide_load(kind, stream, destination)
        return verdict

    def source(self, kind: GuestKind, source: HostClass) -> Hashable:
        """Everything :meth:`migrate` from ``source`` depends on besides the destination:
        the stream with the guest's maximum and libvirt flag, or the source's refusal. Two
        sources with the same key get the same answer from every destination."""
        stream = self._source_stream(kind, source)
        if isinstance(stream, Verdict):
            return stream
        return (stream, kind.max_cpu_compat, kind.libvirt)

    def _source_stream(self, kind: GuestKind, source: HostClass) -> bytes | Verdict:
        key = (kind, source)
        stream = self._stream.get(key)
        if stream is None:
            stream = self._stream[key] = self._boot_and_save(kind, source)
        return stream

    def _boot_and_save(self, kind: GuestKind, source: HostClass) -> bytes | Verdict:
        """scenario.migrate_check's source side: realize, reset, CAS, migrate out."""
        started = self.start(kind, source)
        if not started.ok:
            return Verdict(False, f"source: {started.reason}")
        self.calls["migrate_out"] += 1
        try:
            return save_on_source(source.options(kind.max_cpu_compat),
                                  parse_guest(kind.profile).cas_buffer)
        except PowerCompatError as err:
            return Verdict(False, migration_refusal(err, "source")[0])

    def _decide_load(self, kind: GuestKind, stream: bytes, destination: HostClass) -> Verdict:
        """scenario.migrate_check's destination side: start with ``incoming``, load."""
        refused = _libvirt_refusal(kind, destination)
        if refused is not None:
            return Verdict(False, f"destination cannot start: {refused}")
        self.calls["migrate_in"] += 1
        try:
            machine = load_on_destination(
                destination.options(kind.max_cpu_compat, incoming=True), stream)
        except PowerCompatError as err:  # migrate-check prints the cause on a second line
            message, cause = migration_refusal(err, "destination")
            return Verdict(False, f"{message}; {cause}" if cause else message)
        compat = machine.vcpus[0].compat_pvr if machine.vcpus else 0
        mode = mode_name(compat, destination.qemu)
        return Verdict(True, f"migrates, runs as {mode or 'raw'}", mode)

    # ------------------------------------------------------------------ mobility

    def mobility(self, kind: GuestKind, classes: Sequence[tuple[HostClass, int]]) -> Verdict:
        """Can a guest of this kind start on every host of ``classes`` (class, host count)
        and live-migrate between every pair of them? The first failure, or ok."""
        key = (kind, tuple(sorted((c, n > 1) for c, n in classes)))
        verdict = self._mobility.get(key)
        if verdict is None:
            verdict = self._mobility[key] = self._decide_mobility(kind, key[1])
        return verdict

    def _decide_mobility(self, kind: GuestKind,
                         classes: tuple[tuple[HostClass, bool], ...]) -> Verdict:
        for host, _ in classes:  # the cheap check first
            started = self.start(kind, host)
            if not started.ok:
                return Verdict(False, f"cannot start on {host.label}: {started.reason}")
        for source, several in classes:
            for destination, _ in classes:
                if source == destination and not several:
                    continue  # a lone host has no peer of its own class
                moved = self.migrate(kind, source, destination)
                if not moved.ok:
                    return Verdict(False, f"cannot migrate from {source.label} to "
                                          f"{destination.label}: {moved.reason}")
        return _OK


def _libvirt_refusal(kind: GuestKind, host: HostClass) -> str | None:
    """libvirt refuses the domain before QEMU starts (qemuProcessUpdateGuestCPU)."""
    if not kind.libvirt:
        return None
    verdict = check_libvirt_compat(host.family, kind.max_cpu_compat)
    if verdict.result is LibvirtResult.IDENTICAL:
        return None
    return f"libvirt: {verdict.message}"


