"""The history rows behind each difference, found by walking the history between the two
releases (not by a table of which change explains what).

Every named release is a prefix of :data:`~powercompat.catalog.history.CHANGES`, so the
points between two releases are the profiles ``head~N`` (:func:`profiles.profile_before_head`).
For each difference the same question is asked at every point from one release to the other;
the changes after which the answer changed are the ones behind it (usually one; an answer that
changes twice, such as an alias retargeted twice, names both). Two releases that are not both
points (a stable release with backports) get every change between them, and say so.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import fields
from typing import Final

from powercompat.catalog.history import CHANGES, Change
from powercompat.errors import PowerCompatError
from powercompat.profiles import Profile, parse_profile
from powercompat.upgrade.compare import ChangeRef, Difference, with_changes
from powercompat.upgrade.observe import engine_boot, engine_catalog, engine_start

#: what a difference's answer is at one point of the history (a ``head~N`` name)
Ask = Callable[[str], Hashable]

_INDEX: Final = {id(c): i for i, c in enumerate(CHANGES)}


def _point(profile: Profile) -> int | None:
    """How many changes of the history ``profile`` is, when it is a prefix of it."""
    changes = profile.catalogue.changes
    if changes != CHANGES[: len(changes)]:
        return None
    return len(changes)


def _name(count: int) -> str:
    return f"head~{len(CHANGES) - count}"


def _ref(change: Change) -> ChangeRef:
    return ChangeRef(change.label, change.release, change.title)


def _catalog_answer(diff: Difference) -> Ask:
    subject = diff.subject

    def ask(qemu: str) -> Hashable:
        profile = parse_profile(qemu)
        catalog = engine_catalog(profile)
        if diff.kind in ("mode-added", "mode-removed"):
            return subject in catalog.modes
        if diff.kind == "mode-changed":
            return next((m for m in profile.modes if m.name == subject), None)
        if diff.kind in ("reset-changed", "hotplug-changed", "behaviour-changed"):
            return repr(profile.switch_values()[subject])
        if diff.kind in ("pvr-match-changed", "family-changed"):
            family = next((f for f in profile.families if f.name == subject), None)
            if family is None:
                return None
            match = (family.bases, family.best)  # the rest of the class is family-changed
            rest = tuple(getattr(family, f.name) for f in fields(family)
                         if f.name not in ("bases", "best"))
            return match if diff.kind == "pvr-match-changed" else rest
        from powercompat.machine.options import resolve_pseries_cpu

        try:
            starts = resolve_pseries_cpu(subject, profile).name
        except PowerCompatError:
            starts = None
        return (catalog.models.get(subject), catalog.aliases.get(subject), starts)

    return ask


def answer_of(diff: Difference, moves: Callable[[str, Difference], Hashable] | None = None
              ) -> Ask:
    """The question a difference answers, as a function of the point in the history."""
    situation = diff.situation
    if diff.kind in ("startup-changed", "text-changed") and situation is not None:
        return lambda qemu: engine_start(qemu, situation)
    if diff.kind == "cas-changed" and situation is not None and diff.guest is not None:
        guest = diff.guest
        return lambda qemu: engine_boot(qemu, guest, situation)
    if diff.kind == "migration-refused" and moves is not None:
        return lambda qemu: moves(qemu, diff)
    return _catalog_answer(diff)


def attribute(diffs: list[Difference], first: Profile, second: Profile,
              moves: Callable[[str, Difference], Hashable] | None = None) -> list[Difference]:
    """Each difference with the history rows behind it (see the module doc)."""
    ka, kb = _point(first), _point(second)
    if ka is None or kb is None:
        ids = {id(c) for c in first.catalogue.changes} ^ {id(c) for c in second.catalogue.changes}
        between = tuple(_ref(c) for c in CHANGES if id(c) in ids)
        rule = (f"every change between {first.name} and {second.name} (one of them is not a "
                "point of the modelled history, e.g. a stable release with backports)")
        return [with_changes(d, between, rule) for d in diffs]
    low, high = sorted((ka, kb))
    rule = (f"history walk {first.name} -> {second.name}: the changes after which the answer "
            "changed")
    out = []
    for diff in diffs:
        ask = answer_of(diff, moves)
        found: list[ChangeRef] = []
        previous = ask(_name(low))
        for count in range(low + 1, high + 1):
            now = ask(_name(count))
            if now != previous:
                found.append(_ref(CHANGES[count - 1]))
            previous = now
        out.append(with_changes(diff, tuple(found), rule if found else (
            f"no modelled change between {first.name} and {second.name} changes this answer: "
            "it is a policy of the profile, not of QEMU's history")))
    return out
