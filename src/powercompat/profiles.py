"""QEMU releases as profiles: a name, the behaviour switches and the catalogue of that point
in QEMU's history, all built from the history of changes (catalog/history.py).

The machine layer holds one copy of the logic and consults ``profile.switches``; nothing here
restates a release's table, models or switches. ``powercompat`` is our recommended policy on
top of head. A profile is found by name (``7.2``, ``head``) or by a QEMU version string
(``10.0``, ``11.1.3``, ``1:10.0.13+ds-0+deb13u1``, a ``--version`` line) through one
function, :func:`profile_for_version`; a version between the named releases is the changes
that had landed by then, and the profile says so in ``resolution``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from types import MappingProxyType
from typing import Final

from powercompat.catalog.behaviour import Switches, switch_docs, switch_value
from powercompat.catalog.cpus import CpuFamily, CpuModel
from powercompat.catalog.history import (
    CHANGES,
    RELEASES,
    Catalogue,
    Change,
    Release,
    Version,
    catalogue_of,
    changes_by,
    parse_version,
)
from powercompat.catalog.modes import CompatMode
from powercompat.decisions.rules import CompatRules
from powercompat.errors import UnknownProfileError


@dataclass(frozen=True, slots=True)
class Profile:
    """One QEMU behaviour: its switches, its catalogue, and how the name given was resolved.
    Immutable and hashable; the alias table is handed out read-only."""

    name: str
    title: str
    description: str
    switches: Switches
    rules: CompatRules
    cpu_models: tuple[CpuModel, ...]
    families: tuple[CpuFamily, ...]
    aliases: tuple[tuple[str, str], ...]
    #: the history this profile stands on (for the commit behind each switch)
    catalogue: Catalogue
    #: the QEMU version it models (major, minor[, micro]), None for a development point
    version: Version | None = None
    #: how the name or version asked for was resolved, for ``profiles`` and ``--json``
    resolution: str = ""
    #: the release whose binary's recorded catalogue (data/qemu-R.json) stands for this
    #: point's CPUs that pseries cannot run; None: none recorded at or before it
    recorded: str | None = None

    @property
    def cpu_aliases(self) -> Mapping[str, str]:
        """ppc_cpu_aliases as a read-only mapping (alias -> model name)."""
        return MappingProxyType(dict(self.aliases))

    @property
    def modes(self) -> tuple[CompatMode, ...]:
        return self.rules.modes

    def switch_values(self) -> dict[str, object]:
        """Every switch by name, as JSON shows it (an enum by its value)."""
        return {name: switch_value(getattr(self.switches, name)) for name, _ in switch_docs()}

    def switch_commit(self, name: str) -> str | None:
        """The change behind switch ``name``'s value here; None: QEMU's state before it."""
        change = self.catalogue.switch_source(name)
        return change.label if change else None

    def knows_non_pseries(self, name: str) -> bool:
        """QEMU knows ``name`` as a CPU that pseries cannot run (no sPAPR core type), by the
        catalogue recorded from the binary. Asked only after the pseries lookup failed, so
        the recorded file is read only then."""
        if self.recorded is None:
            return False
        from powercompat.catalog.recorded import recorded_catalogue

        found = recorded_catalogue(self.recorded).cpu_class(name)
        return found is not None and not found.pseries


def _build(name: str, title: str, description: str, changes: tuple[Change, ...],
           version: Version | None, resolution: str, recorded: str | None) -> Profile:
    catalogue = catalogue_of(changes)
    return Profile(
        name=name, title=title, description=description, switches=catalogue.switches,
        rules=CompatRules(catalogue.modes, catalogue.switches.logical_pvr_check),
        cpu_models=catalogue.models, families=catalogue.families, aliases=catalogue.aliases,
        catalogue=catalogue, version=version, resolution=resolution, recorded=recorded)


def _recorded_by(version: Version) -> str | None:
    """The newest release recorded from a binary at or before ``version``: the names it
    knows as CPUs pseries cannot run stand for a point that has no recording of its own."""
    return max((r.recorded for r in RELEASES if r.recorded and r.version
                and parse_version(r.version) <= version[:2]),
               key=parse_version, default=None)


def _profile(release: Release) -> Profile:
    version = parse_version(release.version) if release.version else None
    recorded = release.recorded
    if recorded is None and version is not None:
        recorded = _recorded_by(version)
    return _build(release.name, release.title, release.description, release.changes(),
                  version, f"release {release.name}" if version else release.title,
                  recorded)


DEFAULT_PROFILE: Final = "head"
_POLICY: Final = "powercompat"
#: every profile name, in order: the releases, then our policy (no profile is built for it)
PROFILE_NAMES: Final[tuple[str, ...]] = (*(r.name for r in RELEASES), _POLICY)
#: the QEMU releases by (major, minor), for version strings
_BY_VERSION: Final[Mapping[Version, str]] = MappingProxyType(
    {parse_version(r.version): r.name for r in RELEASES if r.version is not None})


@cache
def _named(name: str) -> Profile:
    """Build a named profile on first use (start-up builds only the one a command asks for)."""
    if name == _POLICY:
        # our recommended policy: head's logic, but all-or-nothing and probe-first
        head = _named(DEFAULT_PROFILE)
        return replace(
            head, name=_POLICY, title="powercompat policy (head + all-or-nothing)",
            description="head, but a machine-wide set is all-or-nothing (earlier vCPUs are "
            "rolled back) and ARCH_COMPAT support is probed with a GET before the first write",
            switches=head.switches._replace(all_or_nothing=True, probe_before_write=True),
            resolution="powercompat policy on head")
    return _profile(next(r for r in RELEASES if r.name == name))


#: every profile, in PROFILE_NAMES order (built on first access: see __getattr__)
ALL_PROFILES: tuple[Profile, ...]


def __getattr__(name: str) -> object:
    if name == "ALL_PROFILES":
        return tuple(_named(n) for n in PROFILE_NAMES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def profile_by_name(name: str) -> Profile | None:
    return _named(name) if name in PROFILE_NAMES else None


# "7.2", "7.2.22", "QEMU emulator version 7.2.22 (Debian ...)", "1:10.0.13+ds-0+deb13u1"
_VERSION = re.compile(r"(?:^|version |^\d+:)(\d+)\.(\d+)(?:\.(\d+))?(?=$|[+~ )])")


def parse_qemu_version(text: str) -> Version | None:
    """(major, minor[, micro]) from a release, a full version, a Debian version string or a
    ``qemu-system-ppc64 --version`` line; None if there is none.

    >>> parse_qemu_version("1:10.0.13+ds-0+deb13u1"), parse_qemu_version("11.1.3")
    ((10, 0, 13), (11, 1, 3))
    """
    match = _VERSION.search(text.strip())
    if match is None:
        return None
    return tuple(int(g) for g in match.groups() if g is not None)


def _last_minor(major: int) -> int:
    """QEMU ships X.0, X.1, X.2 a year since 4.0; 2.x ran to 2.12 and 3.x to 3.1."""
    return {2: 12, 3: 1}.get(major, 2)


def _next_release(version: Version) -> Version:
    """The release after major.minor."""
    major, minor = version[:2]
    return (major, minor + 1) if minor < _last_minor(major) else (major + 1, 0)


#: the oldest and newest QEMU the history models
_OLDEST: Final = parse_version(RELEASES[0].version or "0.0")
_NEWEST: Final = max(c.version for c in CHANGES)
#: what an unknown name is told is valid
_VALID: Final = [*PROFILE_NAMES, f"or a QEMU version {_OLDEST[0]}.{_OLDEST[1]} .. "
                 f"{_NEWEST[0]}.{_NEWEST[1]}"]


def profile_for_version(version: str) -> Profile:
    """The profile of a QEMU version string: ``10.0``, ``11.1.3``, ``1:10.0.13+ds-0+deb13u1``
    or a ``--version`` line; the one place a version becomes a profile (verify uses it too).

    A named release's version (any micro) is that release; a stable release that got
    backports, or a version between the named releases, is the changes that had landed by
    then (``resolution`` says which); ``X.Y.9N`` is the release candidate of the next
    release, ``X.Y.5N`` a development snapshot after X.Y (modelled as X.Y).

    :raises UnknownProfileError: no version in the text, or one outside the history.
    """
    return _for_version(version.strip())


@cache
def _for_version(text: str) -> Profile:
    parsed = parse_qemu_version(text)
    if parsed is None or parsed[1] > _last_minor(parsed[0]):
        raise UnknownProfileError("QEMU profile", text, _VALID)
    minor = parsed[:2]
    micro = parsed[2] if len(parsed) > 2 else 0
    note = ""
    if micro >= 90:
        minor, micro = _next_release(minor), 0
        note = f"release candidate of {minor[0]}.{minor[1]}: "
    elif micro >= 50:
        micro, note = 0, f"development snapshot after {minor[0]}.{minor[1]}, modelled as it: "
    if not _OLDEST <= minor <= _NEWEST:
        raise UnknownProfileError("QEMU profile", text, _VALID)
    # a micro that was given stays in the name (10.0.0 is not the named 10.0, Debian's 10.0.13)
    version = (*minor, micro) if micro or (len(parsed) > 2 and not note) else minor
    changes = changes_by(version)
    named = _BY_VERSION.get(minor)
    base = _named(named) if named else None
    label = ".".join(map(str, minor))
    # a bare X.Y names the release; a micro is compared with the stable release the named
    # point is (10.0 is Debian's 10.0.13: 10.0.2 lacks its 10.0.5 backport)
    if base is not None and (len(parsed) == 2 or changes == base.catalogue.changes):
        if text == base.name:
            return base
        return replace(base, resolution=f"{text}: {note}release {base.name}")
    recorded = _recorded_by(minor)
    if base is not None:
        extra = [c.label for c in changes if c not in base.catalogue.changes]
        missing = [c.label for c in base.catalogue.changes if c not in changes]
        how = f"release {base.name}" + "".join(
            f" {word} the stable backports {', '.join(labels)}"
            for word, labels in (("plus", extra), ("without", missing)) if labels)
        # never the named release's own name: the version as given (10.0.2, 10.0.50)
        name = ".".join(map(str, parsed))
    else:
        below = max((v for v in _BY_VERSION if v < minor), default=None)
        above = min((v for v in _BY_VERSION if v > minor), default=None)
        between = " and ".join(".".join(map(str, v)) for v in (below, above) if v)
        backports = [c.label for c in changes if c not in changes_by(minor)]
        name = ".".join(map(str, version)) if backports else label
        how = (f"between the releases {between}: the {len(changes)} changes that had "
               f"landed by {name}"
               + (f" (stable backports {', '.join(backports)})" if backports else ""))
    return _build(name, f"QEMU {name} (from the history)",
                  f"the modelled changes that QEMU {name} has", changes, version,
                  f"{text}: {note}{how}", recorded)


_BEFORE_HEAD: Final = re.compile(r"head~([0-9]{1,4})")


def profile_before_head(count: int) -> Profile:
    """``head~N``: every modelled change but the last ``count`` (a point between releases,
    as ``git`` spells it). Releases are prefixes of the history, so any point between two of
    them is one of these; ``diff`` walks them to find the change behind a difference.

    :raises UnknownProfileError: ``count`` leaves no change (or is negative).
    """
    if not 0 <= count < len(CHANGES):
        raise UnknownProfileError("QEMU profile", f"head~{count}",
                                  [*_VALID, f"or head~N for N in 0 .. {len(CHANGES) - 1}"])
    return _before_head(count)


@cache
def _before_head(count: int) -> Profile:
    changes = CHANGES[: len(CHANGES) - count]
    last = changes[-1]
    return _build(f"head~{count}", f"QEMU history up to {last.label}",
                  f"the first {len(changes)} modelled changes, the last: {last.title}",
                  changes, None, f"head~{count}: head without its last {count} changes",
                  None)


def parse_profile(name: str) -> Profile:
    """A profile by name, else ``head~N`` (:func:`profile_before_head`), else by QEMU version
    (:func:`profile_for_version`).

    :raises UnknownProfileError: neither a profile name nor a modelled QEMU version.
    """
    profile = profile_by_name(name)
    if profile is not None:
        return profile
    before = _BEFORE_HEAD.fullmatch(name)
    if before is not None:
        return profile_before_head(int(before.group(1)))
    try:
        return profile_for_version(name)
    except UnknownProfileError:
        raise UnknownProfileError("QEMU profile", name, _VALID) from None
