"""What one QEMU release does in each situation the upgrade diff compares, as plain values.

The diff never compares two releases' code or tables directly: it asks each release the same
questions and compares the answers (:mod:`powercompat.upgrade.compare`). The answers come from
the engine (:func:`engine_observations`, a profile) or from the real binaries' recordings
(:mod:`powercompat.upgrade.real`); both fill the same :class:`Observations`, so the one
comparison judges both and the recorded real diff can hold the engine's diff to account.

The questions (the situations) follow from the two releases' catalogues
(:func:`situations`): every ``-cpu`` name either release knows (models and aliases) with every
``max-cpu-compat`` either knows, plus, per model, ``-smp 2,threads=2`` (TCG SMT) and the old
``-cpu MODEL,compat=MODE`` spelling; the CAS outcome per guest kernel; a live migration of the
same configuration between the two releases, both ways. Everything runs under TCG, as the
real binaries were run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Final, NamedTuple

from powercompat.catalog.guests import GUESTS
from powercompat.catalog.history import HEAD
from powercompat.errors import PowerCompatError
from powercompat.machine.options import resolve_pseries_cpu
from powercompat.messages import unknown_cpu_model
from powercompat.profiles import Profile, parse_profile
from powercompat.scenario import Negotiation, negotiate

#: the guest kernels the diff boots: the real Debian kernels (not the patched variants)
REAL_GUESTS: Final[tuple[str, ...]] = tuple(g.name for g in GUESTS if g.pvr_filter is None)
#: every mode name in history order (for sorting; a release knows a prefix of it)
MODE_ORDER: Final[tuple[str, ...]] = tuple(m.name for m in HEAD.modes)

PLAIN: Final = ""
#: ``-smp 2,threads=2``: TCG pseries SMT (one core of two threads)
THREADS: Final = "threads=2"
#: ``-cpu NAME,compat=MODE`` instead of ``-M pseries,max-cpu-compat=MODE`` (removed in 6.0)
CPU_COMPAT: Final = "compat"


class Situation(NamedTuple):
    """One start-up configuration: ``-cpu name`` with ``max-cpu-compat=mode`` (None: unset);
    ``variant`` THREADS adds ``-smp 2,threads=2``, CPU_COMPAT moves the mode into ``-cpu``."""

    name: str
    mode: str | None
    variant: str = PLAIN

    def spelled(self, name: str | None = None) -> str:
        """The subject: ``power9_v2.0/power8``, ``power9/unset/threads=2``,
        ``power9_v2.0,compat=power8`` (``name`` replaces the typed one)."""
        cpu = self.name if name is None else name
        if self.variant == CPU_COMPAT:
            return f"{cpu},compat={self.mode}"
        base = f"{cpu}/{self.mode or 'unset'}"
        return f"{base}/{self.variant}" if self.variant else base

    @property
    def order(self) -> tuple[str, int, str, str]:
        """Sorts by name, then unset before the modes in table order, then variant."""
        rank = MODE_ORDER.index(self.mode) if self.mode in MODE_ORDER else len(MODE_ORDER)
        return (self.name, -1 if self.mode is None else rank, self.mode or "", self.variant)

    def qemu_args(self) -> str:
        """The command line it stands for, for the detail text."""
        if self.variant == CPU_COMPAT:
            return f"-M pseries -cpu {self.name},compat={self.mode}"
        machine = "pseries" + (f",max-cpu-compat={self.mode}" if self.mode else "")
        smp = " -smp 2,threads=2" if self.variant == THREADS else ""
        return f"-M {machine} -cpu {self.name}{smp}"


class Start(NamedTuple):
    """Did QEMU build the machine (``-S``, then quit), and if not, its one line."""

    started: bool
    error: str | None = None

    def __str__(self) -> str:
        return "starts" if self.started else f"refused: {self.error}"


class Boot(NamedTuple):
    """A guest boot through CAS: the mode it ends in (a mode name, ``raw``, ``CAS failed``
    or ``no CAS``) and whether its init runs (``runs``, ``SIGILL``; None: not known)."""

    compat: str
    init: str | None = None

    def __str__(self) -> str:
        return self.compat + (f", init {self.init}" if self.init else "")


class Move(NamedTuple):
    """A live migration of a running guest (after CAS) to a host of the other release."""

    moved: bool
    error: str | None = None

    def __str__(self) -> str:
        return "moves" if self.moved else f"refused: {self.error}"


@dataclass(frozen=True)
class Catalog:
    """What ``-cpu help`` and the compat table say: pseries models (name -> PVR), aliases as
    listed (alias -> model; the listing follows one more hop than a lookup) and the
    ``max-cpu-compat`` names."""

    models: Mapping[str, int]
    aliases: Mapping[str, str]
    modes: tuple[str, ...]


@dataclass(frozen=True)
class Observations:
    """One release's answers. ``resolves``: the model each known ``-cpu`` name starts (a
    name missing there is unknown to this release); ``boots`` is keyed by (guest, situation);
    ``engine``: the profile's switches, families and mode rows (None for real binaries)."""

    release: str
    label: str
    catalog: Catalog
    resolves: Mapping[str, str]
    startup: Mapping[Situation, Start]
    boots: Mapping[tuple[str, Situation], Boot] = field(default_factory=dict)
    profile: Profile | None = None


def situations(first: Catalog, second: Catalog) -> tuple[Situation, ...]:
    """Every start-up situation the diff asks both releases about (see the module doc)."""
    models = sorted(set(first.models) | set(second.models))
    names = sorted(set(models) | set(first.aliases) | set(second.aliases))
    modes = ordered_modes((*first.modes, *second.modes))
    out = [Situation(n, m) for n in names for m in (None, *modes)]
    out += [Situation(n, m, THREADS) for n in models for m in (None, *modes)]
    out += [Situation(n, m, CPU_COMPAT) for n in models for m in modes]
    return tuple(out)


def ordered_modes(names: Iterable[str]) -> tuple[str, ...]:
    """Mode names once each, oldest first (QEMU's table order); unknown names last."""
    unique = set(names)
    rank = {n: i for i, n in enumerate(MODE_ORDER)}
    return tuple(sorted(unique, key=lambda n: (rank.get(n, len(rank)), n)))


# ---------------------------------------------------------------- the engine's answers


def engine_catalog(profile: Profile) -> Catalog:
    """The profile's pseries models, aliases (as QEMU lists them) and modes."""
    models = {m.name: m.pvr for m in profile.cpu_models}
    table = profile.cpu_aliases
    aliases = {}
    for alias, target in table.items():
        listed = table.get(target, target)  # qemu_ppc_cpu_list: one more hop than a lookup
        if listed in models:
            aliases[alias] = listed
    return Catalog(models, aliases, tuple(m.name for m in profile.modes))


@cache
def _run(qemu: str, situation: Situation, guest: str) -> Negotiation | PowerCompatError:
    """One start (and boot through CAS) under TCG; a refused option is QEMU's refusal too."""
    name, mode, variant = situation
    try:
        if variant == CPU_COMPAT:
            return negotiate(f"{name},compat={mode}", None, guest, qemu=qemu)
        if variant == THREADS:
            return negotiate(name, mode, guest, qemu=qemu, smp=2, threads=2)
        return negotiate(name, mode, guest, qemu=qemu)
    except PowerCompatError as err:
        return err


def engine_start(qemu: str, situation: Situation) -> Start:
    """What the engine says QEMU ``qemu`` does at start-up in ``situation``."""
    result = _run(qemu, situation, REAL_GUESTS[0])
    if isinstance(result, PowerCompatError):
        return Start(False, str(result))
    return Start(True) if result.started else Start(False, result.error)


def engine_boot(qemu: str, guest: str, situation: Situation) -> Boot | None:
    """The engine's boot of ``guest`` through CAS; None when the machine does not start."""
    result = _run(qemu, situation, guest)
    if isinstance(result, PowerCompatError) or not result.started:
        return None
    if not result.cas_reached:
        compat = "no CAS"
    elif result.cas_failed:
        compat = "CAS failed"
    else:
        compat = result.compat or "raw"
    init = {True: "runs", False: "SIGILL"}.get(result.userland_ok) \
        if result.userland_ok is not None else None
    return Boot(compat, init)


def engine_observations(qemu: str, asked: tuple[Situation, ...],
                        guests: tuple[str, ...] = REAL_GUESTS) -> Observations:
    """Every answer of the engine's profile ``qemu`` (a name, version or ``head~N``).

    :raises UnknownProfileError: ``qemu`` is no profile.
    """
    profile = parse_profile(qemu)
    catalog = engine_catalog(profile)
    names = {s.name for s in asked}
    resolves = {}
    for name in sorted(names):
        try:
            resolves[name] = resolve_pseries_cpu(name, profile).name
        except PowerCompatError:
            continue
    startup = {s: engine_start(qemu, s) for s in asked}
    boots: dict[tuple[str, Situation], Boot] = {}
    for s in asked:
        if s.variant != PLAIN or s.name not in resolves or not startup[s].started:
            continue
        for guest in guests:
            boot = engine_boot(qemu, guest, s)
            if boot is not None:
                boots[guest, s] = boot
    return Observations(profile.name, f"QEMU {profile.name} (engine profile: "
                        f"{profile.resolution or profile.title})", catalog, resolves, startup,
                        boots, profile)


def unknown_name(start: Start, name: str) -> bool:
    """QEMU does not know ``-cpu name`` at all (its own words)."""
    return not start.started and start.error == unknown_cpu_model(name)
