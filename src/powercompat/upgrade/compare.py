"""Two releases' answers compared: every difference that can change a guest's fate.

Pure: it reads two :class:`~powercompat.upgrade.observe.Observations` (and the cross-release
migrations) and lists :class:`Difference` rows. Nothing here knows a model, a mode or a
release by name; every entry follows from the answers, so the same comparison serves the
engine's profiles and the real binaries' recordings.

Rules that keep one fact in one entry: a ``-cpu`` name one release does not know is reported
once (model or alias removed/added), not once per ``max-cpu-compat``; a mode one release does
not know likewise (mode added/removed). A name that starts the same model on both sides is
reported under the model's name, so an alias and its model give one entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Final, NamedTuple

from powercompat.messages import hex32
from powercompat.upgrade.observe import (
    THREADS,
    Boot,
    Move,
    Observations,
    Situation,
    Start,
    ordered_modes,
)

#: most severe first: a configuration that worked stops working; works differently; a
#: configuration that failed now works; nothing a guest depends on
SEVERITIES: Final[tuple[str, ...]] = ("breaks", "changes", "fixes", "info")

#: every kind, in the order the text output lists kinds of equal severity; ``binary``: a real
#: binary shows it (verify checks it), else it is read from the history only
KINDS: Final[dict[str, bool]] = {
    "migration-refused": True,
    "model-removed": True,
    "alias-removed": True,
    "mode-removed": True,
    "startup-changed": True,
    "cas-changed": True,
    "alias-retargeted": True,
    "pvr-changed": True,
    "model-renamed": True,
    "reset-changed": False,
    "hotplug-changed": False,
    "behaviour-changed": False,
    "pvr-match-changed": False,
    "family-changed": False,
    "mode-changed": False,
    "text-changed": True,
    "model-added": True,
    "alias-added": True,
    "mode-added": True,
}
#: kinds whose subject is a start-up configuration (``MODEL/MODE``)
CONFIGURATION_KINDS: Final = frozenset({"startup-changed", "text-changed", "cas-changed",
                                        "migration-refused"})


class ChangeRef(NamedTuple):
    """The history row behind a difference (catalog.history.Change, as JSON shows it)."""

    commit: str
    release: str
    title: str


@dataclass(frozen=True)
class Difference:
    """One difference. ``before``/``after``: what the --from and the --to release do (JSON
    ``from``/``to``). For a migration, ``direction`` is ``forward`` (a guest on a --from host
    moves to a --to host) or ``back``; ``before`` is what the --from side does, ``after``
    what the --to side does."""

    kind: str
    subject: str
    before: str
    after: str
    detail: str
    severity: str
    guest: str | None = None
    direction: str | None = None
    situation: Situation | None = None
    changes: tuple[ChangeRef, ...] = ()
    #: how the changes were found: the history rows that touch the subject, or the points
    #: of the history where the outcome changed
    source_rule: str = ""

    @property
    def binary(self) -> bool:
        """A real binary shows this difference (verify can check it)."""
        return KINDS[self.kind]

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What identifies an entry (two diffs are matched on it)."""
        return (self.kind, self.subject, self.guest or "", self.direction or "")

    @property
    def commit(self) -> str | None:
        """The change behind it: the last one that made the outcome what --to has."""
        return self.changes[-1].commit if self.changes else None

    def to_json(self) -> dict[str, object]:
        """One entry of the ``diff --json`` contract: kind, subject, from, to, detail, and
        more keys (severity, evidence, commit, changes; guest, direction and the
        configuration where they apply)."""
        out: dict[str, object] = {
            "kind": self.kind, "subject": self.subject, "from": self.before, "to": self.after,
            "detail": self.detail, "severity": self.severity,
            "evidence": "binary" if self.binary else "source",
            "commit": self.commit,
            "changes": [c._asdict() for c in self.changes],
            "source_rule": self.source_rule,
        }
        if self.guest is not None:
            out["guest"] = self.guest
        if self.direction is not None:
            out["direction"] = self.direction
        if self.situation is not None:
            out["cpu"] = self.situation.name
            out["max_cpu_compat"] = self.situation.mode
            out["variant"] = self.situation.variant or None
        return out


def ordered(diffs: Iterable[Difference]) -> list[Difference]:
    """Most severe first, kinds in KINDS order, then by subject."""
    kinds = list(KINDS)
    return sorted(diffs, key=lambda d: (SEVERITIES.index(d.severity), kinds.index(d.kind),
                                        d.subject, d.guest or "", d.direction or ""))


def subject_of(a: Observations, b: Observations, situation: Situation) -> str:
    """The model's name when the typed name starts the same model on both sides."""
    name = situation.name
    same = a.resolves.get(name) == b.resolves.get(name)
    return situation.spelled(a.resolves[name] if same else name)


def _comparable(a: Observations, b: Observations, situation: Situation) -> bool:
    """Both releases know the -cpu name and the mode (else a catalogue entry says it)."""
    if situation.name not in a.resolves or situation.name not in b.resolves:
        return False
    mode = situation.mode
    return mode is None or (mode in a.catalog.modes and mode in b.catalog.modes)


class _Out:
    """Collects differences, one per key (an alias and its model give one)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str, str], Difference] = {}

    def add(self, diff: Difference) -> None:
        self.rows.setdefault(diff.key, diff)


def compare(a: Observations, b: Observations,
            moves: Mapping[tuple[str, str, Situation], Move] | None = None) -> list[Difference]:
    """Every difference between release ``a`` (--from) and ``b`` (--to), ordered.

    ``moves``: live migrations keyed by (direction, guest, situation), ``forward`` from an
    ``a`` host to a ``b`` host and ``back``; only refused ones become entries.
    """
    out = _Out()
    _catalogue(a, b, out)
    _startup(a, b, out)
    _boots(a, b, out)
    _moves(a, b, moves or {}, out)
    if a.profile is not None and b.profile is not None:
        _behaviour(a, b, out)
    return ordered(out.rows.values())


# ---------------------------------------------------------------- catalogue


def _start_of(obs: Observations, name: str) -> Start | None:
    return obs.startup.get(Situation(name, None))


def _catalogue(a: Observations, b: Observations, out: _Out) -> None:
    ma, mb = a.catalog.models, b.catalog.models
    ra, rb = a.release, b.release
    for name in sorted(set(ma) - set(mb)):
        gone = _start_of(b, name)
        after = str(gone) if gone is not None else "not listed"
        if name in b.resolves and name in b.catalog.aliases:
            target = b.catalog.aliases[name]
            same = mb.get(target) == ma[name]
            out.add(Difference(
                "model-renamed", name, f"model {hex32(ma[name])}",
                f"alias for {target} ({hex32(mb[target])})",
                f"-cpu {name} still starts on {rb}, as an alias of {target}"
                + ("" if same else f", whose PVR differs ({hex32(ma[name])} on {ra})"),
                "info" if same else "changes"))
        else:
            out.add(Difference(
                "model-removed", name, f"model {hex32(ma[name])}", after,
                f"{rb} has no CPU model {name} ({hex32(ma[name])}): a guest started with "
                f"-cpu {name} does not start", "breaks"))
    for name in sorted(set(mb) - set(ma)):
        was = f"alias for {a.catalog.aliases[name]}" if name in a.catalog.aliases else "unknown"
        out.add(Difference("model-added", name, was, f"model {hex32(mb[name])}",
                           f"{rb} adds the CPU model {name} ({hex32(mb[name])})", "info"))
    for name in sorted(set(ma) & set(mb)):
        if ma[name] != mb[name]:
            out.add(Difference(
                "pvr-changed", name, hex32(ma[name]), hex32(mb[name]),
                f"-cpu {name} keeps its name but its PVR changes: the guest sees another "
                "processor revision, and a raw-mode guest's PVR no longer matches on "
                "migration", "changes"))
    _aliases(a, b, out)
    modes_a, modes_b = set(a.catalog.modes), set(b.catalog.modes)
    for mode in ordered_modes(modes_a ^ modes_b):
        if mode in modes_b:
            users = sorted(n for n in b.catalog.models
                           if b.startup.get(Situation(n, mode), Start(False)).started)
            out.add(Difference(
                "mode-added", mode, _mode_refusal(a, mode), "accepted",
                f"max-cpu-compat={mode} is new in {rb}"
                + (f"; it starts with {', '.join(users)}" if users else ""), "info"))
        else:
            out.add(Difference(
                "mode-removed", mode, "accepted", _mode_refusal(b, mode),
                f"{rb} has no max-cpu-compat={mode}: a guest configured with it does not "
                "start", "breaks"))


def _mode_refusal(obs: Observations, mode: str) -> str:
    """What the release says to the mode (from any model's start-up)."""
    for situation, start in obs.startup.items():
        if situation.mode == mode and situation.variant == "" and not start.started \
                and start.error and mode in start.error:
            return str(start)
    return "unknown"


def _aliases(a: Observations, b: Observations, out: _Out) -> None:
    ra, rb = a.release, b.release
    models = set(a.catalog.models) | set(b.catalog.models)
    for alias in sorted((set(a.catalog.aliases) | set(b.catalog.aliases)) - models):
        ta, tb = a.resolves.get(alias), b.resolves.get(alias)
        if ta is not None and tb is None:
            start = _start_of(b, alias)
            listed = b.catalog.aliases.get(alias)
            note = (f" (-cpu help still lists it as an alias for {listed}, but the lookup "
                    "fails)" if listed else "")
            out.add(Difference(
                "alias-removed", alias, f"alias for {ta}",
                str(start) if start is not None else "not listed",
                f"-cpu {alias} no longer starts on {rb}{note}; name the model instead", "breaks"))
        elif ta is None and tb is not None:
            out.add(Difference("alias-added", alias, "unknown", f"alias for {tb}",
                               f"{rb} adds -cpu {alias} (an alias for {tb})", "info"))
        elif ta is not None and tb is not None and ta != tb:
            pa, pb = a.catalog.models.get(ta), b.catalog.models.get(tb)
            same = pa == pb
            out.add(Difference(
                "alias-retargeted", alias, f"{ta} ({_hex(pa)})", f"{tb} ({_hex(pb)})",
                f"-cpu {alias} starts {ta} on {ra} but {tb} on {rb}"
                + (" (the same PVR: the model was renamed)" if same else
                   f"; name -cpu {ta} on both to keep the processor the guest sees"
                   if ta in b.resolves else ""),
                "info" if same else "changes"))


def _hex(pvr: int | None) -> str:
    return "?" if pvr is None else hex32(pvr)


# ---------------------------------------------------------------- start-up and boots


def _startup(a: Observations, b: Observations, out: _Out) -> None:
    ra, rb = a.release, b.release
    for situation in sorted(set(a.startup) & set(b.startup), key=lambda s: s.order):
        if not _comparable(a, b, situation):
            continue
        sa, sb = a.startup[situation], b.startup[situation]
        tcg = " (under TCG)" if situation.variant == THREADS else ""
        detail = f"{situation.qemu_args()}{tcg}: {ra} {sa}; {rb} {sb}"
        subject = subject_of(a, b, situation)
        if sa.started != sb.started:
            out.add(Difference("startup-changed", subject, str(sa), str(sb), detail,
                               "breaks" if sa.started else "fixes", situation=situation))
        elif not sa.started and sa.error != sb.error:
            out.add(Difference("text-changed", subject, str(sa), str(sb),
                               f"{situation.qemu_args()}{tcg}: both refuse, in other words",
                               "info", situation=situation))


def _same_boot(x: Boot, y: Boot) -> bool:
    return x.compat == y.compat and (x.init == y.init or None in (x.init, y.init))


_ENDS: Final = ("CAS failed", "no CAS")


def _boot_severity(x: Boot, y: Boot) -> str:
    if (x.init == "runs" and y.init == "SIGILL") or (y.compat in _ENDS and x.compat not in _ENDS):
        return "breaks"
    if (x.init == "SIGILL" and y.init == "runs") or (x.compat in _ENDS and y.compat not in _ENDS):
        return "fixes"
    return "changes"


def _boots(a: Observations, b: Observations, out: _Out) -> None:
    ra, rb = a.release, b.release
    for guest, situation in sorted(set(a.boots) & set(b.boots), key=lambda k: (k[0], k[1].order)):
        if not _comparable(a, b, situation):
            continue
        x, y = a.boots[guest, situation], b.boots[guest, situation]
        if _same_boot(x, y):
            continue
        shown = (str(x), str(y)) if x.init and y.init else (x.compat, y.compat)
        out.add(Difference(
            "cas-changed", subject_of(a, b, situation), *shown,
            f"{guest} booted with {situation.qemu_args()}: on {ra} {shown[0]}; on {rb} "
            f"{shown[1]}", _boot_severity(x, y), guest=guest, situation=situation))


def _moves(a: Observations, b: Observations,
           moves: Mapping[tuple[str, str, Situation], Move], out: _Out) -> None:
    ra, rb = a.release, b.release
    for (direction, guest, situation), move in sorted(
            moves.items(), key=lambda i: (i[0][0], i[0][1], i[0][2].order)):
        if move.moved or not _comparable(a, b, situation):
            continue
        if not (a.startup.get(situation, Start(False)).started
                and b.startup.get(situation, Start(False)).started):
            continue  # a side that does not start is a start-up difference
        src, dst = (ra, rb) if direction == "forward" else (rb, ra)
        refused = f"refuses: {move.error}"
        before, after = ("sends", refused) if direction == "forward" else (refused, "sends")
        out.add(Difference(
            "migration-refused", subject_of(a, b, situation), before, after,
            f"{guest} running with {situation.qemu_args()} cannot move from a {src} host to "
            f"a {dst} host: {move.error}", "breaks", guest=guest, direction=direction,
            situation=situation))


# ---------------------------------------------------------------- behaviour (history only)


def _behaviour(a: Observations, b: Observations, out: _Out) -> None:
    from powercompat.catalog.behaviour import switch_docs

    pa, pb = a.profile, b.profile
    assert pa is not None and pb is not None
    va, vb = pa.switch_values(), pb.switch_values()
    kinds = {"reset": "reset-changed", "hotplug": "hotplug-changed"}
    for name, doc in switch_docs():
        if va[name] != vb[name]:
            out.add(Difference(kinds.get(name, "behaviour-changed"), name, _value(va[name]),
                               _value(vb[name]), doc, "changes"))
    fa = {f.name: f for f in pa.families}
    for family in pb.families:
        before = fa.get(family.name)
        if before is None:
            continue
        if (before.bases, before.best) != (family.bases, family.best):
            out.add(Difference(
                "pvr-match-changed", family.name, _match(before.bases, before.best),
                _match(family.bases, family.best),
                f"which raw PVRs the {family.name} classes accept (pvr_match): a raw-mode "
                "guest's migration and -cpu host follow it", "changes"))
        other = [f.name for f in fields(family)
                 if f.name not in ("bases", "best")
                 and getattr(before, f.name) != getattr(family, f.name)]
        if other:
            out.add(Difference(
                "family-changed", family.name,
                ", ".join(f"{n}: {_value(getattr(before, n))}" for n in other),
                ", ".join(f"{n}: {_value(getattr(family, n))}" for n in other),
                f"the {family.name} class itself (target/ppc/cpu_init.c POWERPC_FAMILY): "
                "what a guest on any of its models can do", "changes"))
    rows_a = {m.name: m for m in pa.modes}
    for mode in pb.modes:
        old = rows_a.get(mode.name)
        if old is not None and old != mode:
            out.add(Difference(
                "mode-changed", mode.name, _row(old.pcr, old.max_vthreads),
                _row(mode.pcr, mode.max_vthreads),
                f"the compat_table row of {mode.name}: the PCR a guest in that mode gets, and "
                "its threads per core", "changes"))


def _value(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _match(bases: tuple[int, ...], best: object) -> str:
    listed = ", ".join(f"0x{b:04x}" for b in bases)
    rule = getattr(best, "value", best)
    return f"bases {listed}" + (f"; best: {rule}" if rule else "")


def _row(pcr: int, threads: int) -> str:
    return f"pcr 0x{pcr:x}, {threads} threads"


def with_changes(diff: Difference, changes: tuple[ChangeRef, ...], rule: str) -> Difference:
    """The entry with the history rows behind it."""
    return replace(diff, changes=changes, source_rule=rule)
