"""The engine's answers for classes of equivalent hosts and guests, each asked once.

A decision depends only on a few attributes: of a host, its resolved CPU model (family and
revision), its KVM flavour and its QEMU profile (a :class:`HostClass`); of a guest, its
profile, its ``max-cpu-compat`` and whether libvirt starts it (a :class:`GuestKind`). The
:class:`Decider` asks the engine once per distinct pair and caches the :class:`Verdict`:

- start: for a guest defined by a libvirt domain, libvirt's own verdict first
  (:func:`~powercompat.decisions.libvirt.start_domain`: the domain as written, on the host as
  libvirt sees it), which also gives the ``-cpu`` and ``max-cpu-compat`` QEMU gets; then
  :func:`powercompat.scenario.negotiate` (boot through CAS) and the guest userland's verdict;
- live migration: scenario.source_stream / destination_load (the machine itself),
  booted on the source through CAS, then loaded on the destination, as
  :func:`powercompat.scenario.migrate_check` does, but with the source's and the destination's
  own KVM flavour and QEMU profile. The source's stream is computed once per source and reused
  for every destination; the load is cached per (stream, destination).

Nothing here restates a rule: every refusal text is the engine's message.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from powercompat.decisions.libvirt import (
    PPC64_ARCHS,
    LibvirtCpu,
    LibvirtDomain,
    LibvirtHost,
    LibvirtOutcome,
    qemu_facts,
    start_domain,
)
from powercompat.decisions.verdict import Fate, refusal_fate
from powercompat.decisions.verdict import Verdict as Kind
from powercompat.errors import InputError, PowerCompatError
from powercompat.machine.options import (
    MachineConfig,
    MachineOptions,
    machine_types,
    parse_options,
    spell_compat,
)
from powercompat.machine.state import VcpuState
from powercompat.profiles import parse_profile
from powercompat.scenario import (
    destination_load,
    judge_guest,
    migration_refusal,
    mode_name,
    negotiate,
    parse_guest,
    source_stream,
)


@dataclass(frozen=True, slots=True, order=True)
class HostClass:
    """What a decision needs to know of a host. ``cpu`` is the resolved ``-cpu`` model;
    ``kvm`` is ``tcg`` for a host without KVM for pseries (an x86_64 libvirt host: ``family``
    and ``arch`` are its arch, ``cpu`` is ``-``)."""

    family: str
    cpu: str
    kvm: str
    qemu: str
    arch: str = "ppc64le"
    #: the host's Linux under KVM (``linux-6.1``); "" when not given (the engine's default)
    host_kernel: str = ""
    #: its base page in KiB (4 or 64: a hash guest's VRMA needs 64); 0 when not given (the
    #: named kernel's Debian build, MachineOptions.host_page_size)
    host_page_size: int = 0
    #: the cap-hpt-max-page-size its guests start with, in KiB; 0: the machine type's default
    #: (64 KiB, which a 4K-page host refuses under KVM HV)
    hpt_max_page_size: int = 0

    @property
    def accel(self) -> str:
        return "tcg" if self.kvm == "tcg" else f"kvm-{self.kvm}"

    @property
    def libvirt_host(self) -> LibvirtHost:
        """The host as libvirt sees it (its CPU only on a ppc64 host)."""
        native = self.arch in PPC64_ARCHS
        return LibvirtHost(self.arch, qemu_facts(parse_profile(self.qemu)),
                           self.family if native else None)

    @property
    def label(self) -> str:
        """``POWER9 power9_v2.2 kvm-hv qemu head``"""
        kernel = f" {self.host_kernel}" if self.host_kernel else ""
        pages = f" {self.host_page_size}K pages" if self.host_page_size else ""
        cap = f" cap-hpt-max-page-size={self.hpt_max_page_size}k" if self.hpt_max_page_size \
            else ""
        return f"{self.family} {self.cpu} {self.accel} qemu {self.qemu}{kernel}{pages}{cap}"

    @property
    def kernel_option(self) -> str | None:
        """``MachineOptions.host_kernel``: the host's kernel under KVM (TCG runs on none)."""
        return self.host_kernel or None if self.kvm != "tcg" else None

    def options(self, max_cpu_compat: str | None, incoming: bool = False,
                machine: str = "pseries") -> MachineOptions:
        """The machine libvirt starts on this host (``-cpu host`` is this model under KVM);
        ``machine``: ``-M`` (plain ``pseries`` is this host's release's newest type)."""
        return _host_options(self, max_cpu_compat, incoming, machine)

    def to_json(self) -> dict[str, str]:
        out = {"family": self.family, "cpu": self.cpu, "kvm": self.kvm, "qemu": self.qemu}
        if self.host_kernel:
            out["host_kernel"] = self.host_kernel
        if self.host_page_size:
            out["host_page_size"] = str(self.host_page_size)
        if self.hpt_max_page_size:
            out["hpt_max_page_size"] = str(self.hpt_max_page_size)
        return out


@cache
def _host_options(host: HostClass, max_cpu_compat: str | None, incoming: bool,
                  machine: str) -> MachineOptions:
    """HostClass.options, built once: the planner asks it for every guest at every host."""
    cpu, maximum = spell_compat(host.cpu, max_cpu_compat, host.qemu)
    return MachineOptions(cpu=cpu, max_cpu_compat=maximum, accel=host.accel, qemu=host.qemu,
                          host_kernel=host.kernel_option, incoming=incoming, machine=machine,
                          host_page_size=host.host_page_size or None,
                          hpt_max_page_size=host.hpt_max_page_size or None)


@cache
def host_class(cpu: str, kvm: str, qemu: str, host_kernel: str | None = None,
               host_page_size: int = 0, hpt_max_page_size: int = 0) -> HostClass:
    """Resolve a host's CPU name under its QEMU profile (``power9`` is DD2.2 at head, DD2.0
    in 7.2), as QEMU would at start. ``qemu`` is a release or any version spelling
    (``10.0``, ``10.0.13``, ``1:10.0.13+ds-0+deb13u1``); ``host_kernel`` the host's Linux,
    ``host_page_size`` its base page and ``hpt_max_page_size`` its guests' cap, in KiB (0: not
    given).

    :raises InputError: unknown profile, CPU model, KVM flavour or host kernel (the
        engine's message).
    """
    config = parse_options(MachineOptions(cpu=cpu, accel=f"kvm-{kvm}", qemu=qemu,
                                          host_kernel=host_kernel,
                                          host_page_size=host_page_size or None,
                                          hpt_max_page_size=hpt_max_page_size or None))
    return HostClass(config.model.family.name, config.model.name, kvm, config.profile.name,
                     host_kernel=host_kernel or "", host_page_size=host_page_size,
                     hpt_max_page_size=hpt_max_page_size)


def group_machine(qemus: Iterable[str]) -> str | None:
    """The machine type a group of hosts running ``qemus`` pins: plain ``pseries`` when they
    all run one release; else the newest type every release has, since plain ``pseries`` is
    each release's own newest and a destination refuses another's (migration/savevm.c
    configuration_post_load: ``Machine type received is 'pseries-7.2' and local is
    'pseries-10.0'``). None: no type exists in every release."""
    profiles = {parse_profile(q).name: parse_profile(q) for q in qemus}
    if len(profiles) <= 1:
        return "pseries"
    catalogues = [machine_types(p) for p in profiles.values()]
    common = [t.name for t in reversed(catalogues[0].types)
              if all(c.resolve(t.name) is not None for c in catalogues[1:])]
    return common[0] if common else None


@dataclass(frozen=True, slots=True)
class GuestKind:
    """What a decision needs to know of a guest. ``domain``: the libvirt domain as written
    (None for a libvirt guest of a candidate setting: the spelling libvirt-xml proposes for
    ``max_cpu_compat`` on each host, host-model under KVM, ``<qemu:commandline>`` under TCG)."""

    profile: str
    max_cpu_compat: str | None
    libvirt: bool = False
    domain: LibvirtDomain | None = None
    #: the machine type the guest is defined with: ``pseries`` (each release's newest) or a
    #: versioned ``pseries-X.Y``
    machine: str = "pseries"

    @property
    def sort_key(self) -> tuple[str, str, bool, str, str]:
        return (self.profile, self.max_cpu_compat or "", self.libvirt, repr(self.domain),
                self.machine)

    def libvirt_domain(self, host: HostClass) -> LibvirtDomain:
        """The domain libvirt is given on ``host``."""
        if self.domain is not None:
            return self.domain
        if host.kvm == "tcg":
            return LibvirtDomain(None, "qemu", commandline_compat=self.max_cpu_compat)
        return LibvirtDomain(LibvirtCpu("host-model", self.max_cpu_compat), "kvm")


@dataclass(frozen=True, slots=True)
class Verdict:
    """The configuration's verdict (:mod:`powercompat.decisions.verdict`, the same value
    negotiate and migrate-check give) plus one line: the engine's refusal, or what the guest
    runs as. ``ok``: the verdict is ``works``."""

    verdict: Kind
    reason: str
    compat: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict is Kind.WORKS

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "verdict": self.verdict.value, "reason": self.reason,
                "verdict_reason": self.reason, "compat": self.compat}


_OK = Verdict(Kind.WORKS, "mobile")
#: where a migrated guest landed: the destination's configuration, the mode, the boot vCPU
_Landed = tuple[MachineConfig, int, VcpuState]


def _from_fate(fate: Fate, compat: str | None = None) -> Verdict:
    return Verdict(fate.verdict, fate.reason, compat)


class Decider:
    """Cached engine calls. ``calls`` counts the engine runs actually made."""

    def __init__(self) -> None:
        self._start: dict[tuple[GuestKind, HostClass], Verdict] = {}
        self._boot: dict[tuple[str, MachineOptions], Verdict] = {}
        self._stream: dict[tuple[str, MachineOptions], bytes | Verdict] = {}
        self._load: dict[tuple[bytes, MachineOptions], tuple[Verdict, _Landed | None]] = {}
        #: migrate()'s answers: a rolling upgrade asks the same move once per guest and step
        self._moves: dict[tuple[GuestKind, HostClass, HostClass], Verdict] = {}
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
        options = _machine_options(kind, host)
        if isinstance(options, Verdict):
            return options
        key = (kind.profile, options)  # a libvirt domain and a plain guest may share a machine
        verdict = self._boot.get(key)
        if verdict is None:
            verdict = self._boot[key] = self._boot_once(kind, host, options)
        return verdict

    def _boot_once(self, kind: GuestKind, host: HostClass, options: MachineOptions) -> Verdict:
        self.calls["negotiate"] += 1
        try:
            result = negotiate(options.cpu, options.max_cpu_compat, kind.profile,
                               accel=options.accel, host_cpu=options.host_cpu, qemu=host.qemu,
                               host_kernel=options.host_kernel, machine=options.machine,
                               host_page_size=options.host_page_size,
                               hpt_max_page_size=options.hpt_max_page_size)
        except InputError as err:  # e.g. a mode this QEMU release does not have
            refused = refusal_fate(err)
            if refused is None:  # not QEMU's refusal: the inventory let a bad value through
                raise
            return _from_fate(refused)
        if not result.fate.works:  # negotiate's verdict, word for word
            return _from_fate(result.fate, result.compat if result.started else None)
        return Verdict(Kind.WORKS, f"runs as {result.compat or 'raw'}", result.compat)

    # ------------------------------------------------------------------ migration

    def migrate(self, kind: GuestKind, source: HostClass, destination: HostClass) -> Verdict:
        """Can a guest of this kind, booted on ``source``, live-migrate to ``destination``
        (same ``max-cpu-compat`` on both sides, as libvirt sends the same domain)?"""
        key = (kind, source, destination)
        verdict = self._moves.get(key)
        if verdict is None:
            verdict = self._moves[key] = self._migrate(kind, source, destination)
        return verdict

    def _migrate(self, kind: GuestKind, source: HostClass, destination: HostClass) -> Verdict:
        stream = self._source_stream(kind, source)
        if isinstance(stream, Verdict):
            return stream
        options = _machine_options(kind, destination, incoming=True)
        if isinstance(options, Verdict):
            return Verdict(Kind.MIGRATION_REFUSED, f"destination cannot start: {options.reason}")
        key = (stream, options)
        loaded = self._load.get(key)
        if loaded is None:
            loaded = self._load[key] = self._decide_load(options, stream, destination)
        verdict, landed = loaded
        if landed is None:
            return verdict
        # as migrate-check: the guest keeps its mode; does its init run on this CPU?
        config, compat, state = landed
        _, userland = judge_guest(parse_guest(kind.profile), config, compat, compat, state)
        if userland.ok is False:
            return Verdict(Kind.USERLAND_DIES, f"after the migration: {userland.reason}",
                           verdict.compat)
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
        started = self.start(kind, source)
        if not started.ok:
            return Verdict(started.verdict, f"source: {started.reason}")
        options = _machine_options(kind, source)
        assert not isinstance(options, Verdict)  # the start above succeeded
        key = (kind.profile, options)
        stream = self._stream.get(key)
        if stream is None:
            stream = self._stream[key] = self._save(kind, options)
        return stream

    def _save(self, kind: GuestKind, options: MachineOptions) -> bytes | Verdict:
        """scenario.migrate_check's source side: realize, reset, CAS, migrate out."""
        self.calls["migrate_out"] += 1
        try:
            return source_stream(options, parse_guest(kind.profile).cas_buffer)
        except PowerCompatError as err:
            fate = refusal_fate(err)
            return Verdict(fate.verdict if fate else Kind.QEMU_REFUSES,
                           migration_refusal(err, "source")[0])

    def _decide_load(self, options: MachineOptions, stream: bytes, destination: HostClass
                     ) -> tuple[Verdict, _Landed | None]:
        """scenario.migrate_check's destination side: start with ``incoming``, load; and
        what the guest's userland is judged on there (None: it did not move)."""
        self.calls["migrate_in"] += 1
        try:
            machine = destination_load(options, stream)
        except PowerCompatError as err:  # migrate-check prints the cause on a second line
            message, cause = migration_refusal(err, "destination")
            return Verdict(Kind.MIGRATION_REFUSED,
                           f"{message}; {cause}" if cause else message), None
        compat = machine.vcpus[0].compat_pvr if machine.vcpus else 0
        mode = mode_name(compat, destination.qemu)
        landed = (machine.config, compat, machine.vcpu_states()[0])
        return Verdict(Kind.WORKS, f"migrates, runs as {mode or 'raw'}", mode), landed

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
                return Verdict(started.verdict, f"cannot start on {host.label}: "
                                                f"{started.reason}")
        for source, several in classes:
            for destination, _ in classes:
                if source == destination and not several:
                    continue  # a lone host has no peer of its own class
                moved = self.migrate(kind, source, destination)
                if not moved.ok:
                    return Verdict(moved.verdict, f"cannot migrate from {source.label} to "
                                          f"{destination.label}: {moved.reason}")
        return _OK


@cache
def libvirt_outcome(domain: LibvirtDomain, host: HostClass) -> LibvirtOutcome:
    """What libvirt does with the domain on a host of this class."""
    return start_domain(domain, host.libvirt_host)


def _machine_options(kind: GuestKind, host: HostClass, incoming: bool = False
                     ) -> MachineOptions | Verdict:
    """The machine QEMU is started with on ``host``, or the refusal before QEMU runs: for a
    libvirt guest, libvirt's (qemuProcessUpdateGuestCPU and friends) and the ``-cpu`` and
    ``max-cpu-compat`` libvirt passes; for any other guest, ``-cpu`` the host's model."""
    if not kind.libvirt:
        if host.kvm == "tcg":
            return Verdict(Kind.QEMU_REFUSES,
                           "a guest without a libvirt domain names no -cpu for a TCG host")
        return host.options(kind.max_cpu_compat, incoming, kind.machine)
    outcome = libvirt_outcome(kind.libvirt_domain(host), host)
    if not outcome.ok:
        return Verdict(Kind.LIBVIRT_REFUSES, f"libvirt: {outcome.error}")
    if host.kvm == "tcg":
        if outcome.qemu_cpu == "host":  # QEMU registers "host" only under KVM
            return Verdict(Kind.QEMU_REFUSES, "QEMU: unable to find CPU model 'host'")
        cpu, maximum = spell_compat(str(outcome.qemu_cpu), outcome.max_cpu_compat, host.qemu)
        return MachineOptions(cpu=cpu, max_cpu_compat=maximum, accel="tcg", qemu=host.qemu,
                              incoming=incoming, machine=kind.machine)
    cpu, maximum = spell_compat(host.cpu if outcome.qemu_cpu == "host" else str(outcome.qemu_cpu),
                                outcome.max_cpu_compat, host.qemu)
    return MachineOptions(cpu=cpu, max_cpu_compat=maximum, accel=host.accel,
                          host_cpu=host.cpu, qemu=host.qemu, incoming=incoming,
                          machine=kind.machine)
