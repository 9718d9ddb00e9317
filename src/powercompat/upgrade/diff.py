"""``powercompat diff --from R1 --to R2``: every difference between two QEMU releases that
can change a guest's fate, computed from the engine's profiles."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from powercompat.profiles import Profile, parse_profile
from powercompat.upgrade.attribute import attribute
from powercompat.upgrade.compare import SEVERITIES, Difference, compare
from powercompat.upgrade.observe import (
    REAL_GUESTS,
    Observations,
    engine_catalog,
    engine_observations,
    situations,
)


@dataclass(frozen=True)
class UpgradeDiff:
    """The differences from release ``before`` (--from) to ``after`` (--to), most severe
    first."""

    before: Observations
    after: Observations
    changes: tuple[Difference, ...]

    def counts(self) -> dict[str, int]:
        """How many entries of each severity (every severity named, zeros included)."""
        seen = Counter(d.severity for d in self.changes)
        return {s: seen.get(s, 0) for s in SEVERITIES}

    def to_json(self) -> dict[str, object]:
        """The ``diff --json`` contract: ``{"from", "to", "changes": [...]}`` and more keys."""
        return {
            "from": self.before.release,
            "to": self.after.release,
            "from_qemu": self.before.label,
            "to_qemu": self.after.label,
            "guests": list(REAL_GUESTS),
            "accel": "tcg",
            "counts": self.counts(),
            "changes": [d.to_json() for d in self.changes],
        }


def observe_pair(first: Profile, second: Profile) -> tuple[Observations, Observations]:
    """Both releases' answers to the questions their two catalogues raise."""
    asked = situations(engine_catalog(first), engine_catalog(second))
    return engine_observations(first.name, asked), engine_observations(second.name, asked)


def diff(from_qemu: str, to_qemu: str) -> UpgradeDiff:
    """Every difference from QEMU ``from_qemu`` to ``to_qemu`` (each a profile name, a
    release, a full version or a Debian version string, as ``--qemu`` takes them), with the
    history rows behind each.

    :raises UnknownProfileError: either is no modelled QEMU.
    """
    first, second = parse_profile(from_qemu), parse_profile(to_qemu)
    before, after = observe_pair(first, second)
    found = attribute(compare(before, after), first, second)
    return UpgradeDiff(before, after, tuple(found))
