"""``powercompat diff --from R1 --to R2``: every difference between two QEMU releases that
can change a guest's fate, computed from the engine's profiles."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from powercompat.errors import PowerCompatError
from powercompat.profiles import Profile, parse_profile
from powercompat.upgrade.attribute import attribute
from powercompat.upgrade.compare import SEVERITIES, Difference, compare
from powercompat.upgrade.observe import (
    REAL_GUESTS,
    Move,
    Observations,
    Situation,
    common_machine,
    engine_catalog,
    engine_move,
    engine_moves,
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
    #: the live migrations asked, keyed (direction, guest, situation)
    moves: Mapping[tuple[str, str, Situation], Move] = field(default_factory=dict)

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
    moves = engine_moves(before, after)
    machine = common_machine(first, second)

    def moved_at(qemu: str, d: Difference) -> Hashable:
        # the walk moves the --to end from --from to --to; the --from end stays
        assert d.guest is not None and d.situation is not None
        src, dst = (first.name, qemu) if d.direction == "forward" else (qemu, first.name)
        try:
            return engine_move(src, dst, d.guest, d.situation, machine)
        except PowerCompatError as err:
            return str(err)

    found = attribute(compare(before, after, moves), first, second, moved_at)
    return UpgradeDiff(before, after, tuple(found), moves)
