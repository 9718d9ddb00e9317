"""QEMU releases as profiles: a name, the behaviour switches and the catalogue of that point
in QEMU's history, all built from the history of changes (catalog/history.py).

The machine layer holds one copy of the logic and consults ``profile.switches``; nothing here
restates a release's table, models or switches. ``powercompat`` is our recommended policy on
top of head. A profile is found by name (``7.2``, ``head``) or by a QEMU version string
(``7.2.22``, ``1:7.2+dfsg-7+deb12u18``) through one function, :func:`profile_for_version`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Final

from powercompat.catalog.behaviour import Switches, switch_docs, switch_value
from powercompat.catalog.cpus import CpuFamily, CpuModel
from powercompat.catalog.history import (
    RELEASES,
    Catalogue,
    Release,
    Version,
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
    #: the QEMU version it models (major, minor), None for a development point
    version: Version | None = None
    #: how the name or version asked for was resolved, for ``profiles`` and ``--json``
    resolution: str = ""

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


def _profile(release: Release) -> Profile:
    catalogue = release.catalogue()
    return Profile(
        name=release.name, title=release.title, description=release.description,
        switches=catalogue.switches,
        rules=CompatRules(catalogue.modes, catalogue.switches.logical_pvr_check),
        cpu_models=catalogue.models, families=catalogue.families, aliases=catalogue.aliases,
        catalogue=catalogue,
        version=parse_version(release.version) if release.version else None,
        resolution=f"release {release.name}" if release.version else release.title)


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


def profile_for_version(version: str) -> Profile:
    """The profile of a QEMU version string (``7.2``, ``7.2.22``, ``1:7.2+dfsg-7+deb12u18``
    or a ``--version`` line); the one place a version becomes a profile.

    :raises UnknownProfileError: no version in the text, or a release no profile models.
    """
    return _for_version(version.strip())


@lru_cache(maxsize=64)
def _for_version(text: str) -> Profile:
    parsed = parse_qemu_version(text)
    name = _BY_VERSION.get(parsed[:2]) if parsed else None
    if parsed is None or name is None:
        raise UnknownProfileError("QEMU profile", text, list(PROFILE_NAMES))
    known = _named(name)
    if text == known.name:
        return known
    return replace(known, resolution=f"{text}: release {known.name}")


def parse_profile(name: str) -> Profile:
    """A profile by name, else by QEMU version (:func:`profile_for_version`).

    :raises UnknownProfileError: neither a profile name nor a modelled QEMU version.
    """
    profile = profile_by_name(name)
    if profile is not None:
        return profile
    try:
        return profile_for_version(name)
    except UnknownProfileError:
        raise UnknownProfileError("QEMU profile", name, list(PROFILE_NAMES)) from None
