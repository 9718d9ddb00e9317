"""Plan a fleet: where each guest can start and live-migrate, and what each host group should
set so that every guest in it stays mobile.

The plan works on classes. Hosts with the same :class:`~powercompat.fleet.decide.HostClass`
are interchangeable; guests with the same kind, current host class, allowed group and home
group get the same answer (a :class:`GuestClass`). Each distinct (guest kind, host class)
pair is decided once by the :class:`~powercompat.fleet.decide.Decider`, so the work grows with
the number of classes, and only the bookkeeping grows with the fleet.

The answers are kept as *rows*: one verdict per host class of a scope (all host classes, or one
group's). A start row depends only on the guest kind, a migration row only on what the source
sent (the stream, or its refusal); guest classes share them, so the plan, its JSON and its
memory grow with hosts + guests + distinct rows, never with guest classes x host classes.

A guest's *home group* is its ``group`` or, without one, its current host's group. A group's
recommendation is the newest ``max-cpu-compat`` with which every guest profile at home there
can start on every host of the group and live-migrate between every pair of its hosts; a guest
needs a change when its own setting does not already give it that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final

from powercompat.catalog.accels import Accel
from powercompat.catalog.history import HEAD
from powercompat.decisions.libvirt import LibvirtCpu, commandline_xml
from powercompat.errors import InvalidValueError
from powercompat.fleet.decide import (
    Decider,
    GuestKind,
    HostClass,
    Verdict,
    group_machine,
    libvirt_outcome,
)
from powercompat.fleet.inventory import Guest, Host, Inventory
from powercompat.scenario import DEFAULT_GUEST

#: heat-map columns: no maximum, then every mode of the newest table, oldest first
MODE_COLUMNS: Final[tuple[str | None, ...]] = (None, *(m.name for m in HEAD.modes))
#: guest names listed per class or change in tables and examples
EXAMPLES: Final = 3

Progress = Callable[[str, int, int], None]


def column_label(mode: str | None) -> str:
    return mode or "raw"


@dataclass(frozen=True, slots=True)
class TargetAnswer:
    """One host class seen from one guest class. ``hosts``: hosts of the class the guest may
    go to; ``migrate_hosts``: the same without the guest's current host."""

    host_class: int
    hosts: int
    start: Verdict
    migrate_hosts: int
    migrate: Verdict

    def to_json(self) -> dict[str, object]:
        return {"host_class": self.host_class, "hosts": self.hosts,
                "start": self.start.to_json(), "migrate_hosts": self.migrate_hosts,
                "migrate": self.migrate.to_json()}


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a guest class may go: every host class (``group`` None) or one group's, with the
    number of hosts of each class there."""

    index: int
    group: str | None
    classes: tuple[int, ...]
    hosts: tuple[int, ...]

    def to_json(self) -> dict[str, object]:
        return {"group": self.group, "host_classes": list(self.classes),
                "hosts": list(self.hosts)}


@dataclass(frozen=True, slots=True)
class GuestClass:
    """Guests with the same answer. ``scope`` is the group they may move in (None: any).

    ``start_row`` and ``migrate_row`` index :attr:`FleetPlan.rows`: one verdict per host class
    of the scope. ``in_scope``: the current host is in the scope (it then counts as a start
    target but not as a migration target). The four counts are hosts, not classes."""

    id: int
    kind: GuestKind
    current: int
    scope: str | None
    home: str
    guests: tuple[int, ...]
    scope_index: int
    in_scope: bool
    start_row: int
    migrate_row: int
    hosts: int
    can_start: int
    migration_targets: int
    can_migrate: int


@dataclass(frozen=True, slots=True)
class Change:
    """Guests of one kind in a group whose setting does not keep them mobile."""

    kind: GuestKind
    to: str | None
    guests: tuple[str, ...]
    reason: str
    #: the machine type to pin as well (None: the guest's own is the group's)
    machine: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"profile": self.kind.profile, "libvirt": self.kind.libvirt,
                "max_cpu_compat": self.kind.max_cpu_compat, "to": self.to,
                "machine": self.kind.machine, "to_machine": self.machine,
                "guests": len(self.guests), "names": list(self.guests), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """One host group: its recommendation (``status`` ``mode``, ``raw`` or ``none``)."""

    name: str
    hosts: int
    classes: tuple[tuple[int, int], ...]
    guests: int
    status: str
    recommended: str | None
    why_not_newer: str | None
    libvirt_notes: tuple[str, ...]
    changes: tuple[Change, ...]
    heat: tuple[float, ...]
    #: per MODE_COLUMNS: does that setting keep every guest profile at home here mobile?
    mobility: tuple[Verdict, ...]
    #: the hosts' accelerator (``kvm`` when the group mixes KVM flavours)
    accel: str
    #: the machine type the group pins: plain ``pseries`` when its hosts run one release,
    #: else the newest type all their releases have (decide.group_machine)
    machine: str = "pseries"

    @property
    def qemu(self) -> str | None:
        """QEMU's own spelling: ``-machine pseries,max-cpu-compat=power8,kvm-type=hv -accel
        kvm -cpu host`` (None: nothing works; hw/ppc/spapr.c:spapr_kvm_type takes hv or pr in
        any case). libvirt never emits kvm-type: see the libvirt column."""
        if self.status == "none":
            return None
        machine = self.machine + (f",max-cpu-compat={self.recommended}" if self.recommended
                                  else "")
        kvm_type = Accel(self.accel).kvm_type  # the one table of flavours (catalog.accels)
        if kvm_type is None:
            return f"-machine {machine} -accel tcg -cpu CPU"
        if kvm_type != "auto":
            machine += f",kvm-type={kvm_type}"
        return f"-machine {machine} -accel kvm -cpu host"

    @property
    def libvirt(self) -> str | None:
        """libvirt's spelling: host-model with a compat ``<model>`` under KVM; under TCG
        libvirt has none in ``<cpu>``, so ``<qemu:commandline>`` (libvirt-xml says why)."""
        if self.status == "none":
            return None
        # <os><type machine=...>: libvirt writes the versioned type it resolved at define
        os_type = ("" if self.machine == "pseries" else
                   f"<os><type arch='ppc64le' machine='{self.machine}'>hvm</type></os> ")
        if self.accel == "tcg":
            if self.recommended is None:
                return os_type + "<cpu mode='custom'><model>CPU</model></cpu>"
            return os_type + "".join(ln.strip()
                                     for ln in commandline_xml(self.recommended).splitlines())
        return os_type + LibvirtCpu("host-model", self.recommended).xml()

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name, "hosts": self.hosts, "guests": self.guests,
            "host_classes": [{"host_class": c, "hosts": n} for c, n in self.classes],
            "status": self.status, "recommended_max_cpu_compat": self.recommended,
            "machine": self.machine,
            "why_not_newer": self.why_not_newer, "qemu": self.qemu, "libvirt": self.libvirt,
            "libvirt_notes": list(self.libvirt_notes),
            "changes": [c.to_json() for c in self.changes],
            "heat": {column_label(m): f for m, f in zip(MODE_COLUMNS, self.heat, strict=True)},
            "mobility": {column_label(m): v.to_json()
                         for m, v in zip(MODE_COLUMNS, self.mobility, strict=True)},
        }


@dataclass(frozen=True, slots=True)
class HostAnswer:
    """One host seen from one guest; ``migrate`` None for the guest's current host."""

    host: Host
    start: Verdict
    migrate: Verdict | None

    def to_json(self) -> dict[str, object]:
        return {"host": self.host.name, "group": self.host.group,
                "start": self.start.to_json(),
                "migrate": None if self.migrate is None else self.migrate.to_json()}


@dataclass(frozen=True, slots=True)
class GuestDetail:
    guest: Guest
    guest_class: GuestClass
    current: HostClass
    hosts: tuple[HostAnswer, ...]

    def to_json(self) -> dict[str, object]:
        g = self.guest
        return {"guest": g.name, "profile": g.kind.profile,
                "max_cpu_compat": g.kind.max_cpu_compat, "libvirt": g.kind.libvirt,
                "host": g.host, "group": g.group, "guest_class": self.guest_class.id,
                "hosts": [h.to_json() for h in self.hosts]}


@dataclass(frozen=True, slots=True)
class FleetPlan:
    """The whole answer; the tables, the JSON and the picture are all drawn from it."""

    inventory: Inventory
    host_classes: tuple[HostClass, ...]
    host_class_of: dict[str, int]
    guest_classes: tuple[GuestClass, ...]
    guest_class_of: tuple[int, ...]
    groups: tuple[GroupPlan, ...]
    engine_calls: dict[str, int]
    scopes: tuple[Scope, ...]
    #: each distinct row of verdicts once, in its scope's host-class order
    rows: tuple[tuple[Verdict, ...], ...]

    def targets(self, c: GuestClass) -> tuple[TargetAnswer, ...]:
        """One guest class against every host class of its scope."""
        scope = self.scopes[c.scope_index]
        start, moved = self.rows[c.start_row], self.rows[c.migrate_row]
        return tuple(
            TargetAnswer(cls, n, start[k], n - (1 if cls == c.current and c.in_scope else 0),
                         moved[k])
            for k, (cls, n) in enumerate(zip(scope.classes, scope.hosts, strict=True)))

    def guest_detail(self, name: str) -> GuestDetail:
        """Every host a guest may go to, one by one.

        :raises InvalidValueError: no guest of that name.
        """
        index = next((i for i, g in enumerate(self.inventory.guests) if g.name == name), None)
        if index is None:
            raise InvalidValueError(f"no guest named '{name}' in the inventory")
        guest = self.inventory.guests[index]
        gclass = self.guest_classes[self.guest_class_of[index]]
        by_class = {t.host_class: t for t in self.targets(gclass)}
        answers = []
        for host in self.inventory.hosts:
            if gclass.scope is not None and host.group != gclass.scope:
                continue
            target = by_class[self.host_class_of[host.name]]
            moved = None if host.name == guest.host else target.migrate
            answers.append(HostAnswer(host, target.start, moved))
        return GuestDetail(guest, gclass, self.host_classes[gclass.current], tuple(answers))

    def to_json(self, guests: bool = True) -> dict[str, object]:
        """The plan as JSON: verdicts, scopes and rows once each, guest classes by reference
        (docs/FLEET.md), so its size follows hosts + guests, not their product."""
        counts = Counter(self.host_class_of.values())
        per_group: dict[int, dict[str, int]] = {}
        for group in self.groups:
            for cls, n in group.classes:
                per_group.setdefault(cls, {})[group.name] = n
        verdict_ids: dict[Verdict, int] = {}
        rows = [[verdict_ids.setdefault(v, len(verdict_ids)) for v in row] for row in self.rows]
        out: dict[str, object] = {
            "summary": {
                "hosts": len(self.inventory.hosts), "guests": len(self.inventory.guests),
                "host_classes": len(self.host_classes),
                "guest_classes": len(self.guest_classes), "groups": len(self.groups),
                "engine_calls": dict(self.engine_calls)},
            "host_classes": [
                {"id": i, **c.to_json(), "hosts": counts[i], "groups": per_group.get(i, {})}
                for i, c in enumerate(self.host_classes)],
            "verdicts": [v.to_json() for v in verdict_ids],
            "scopes": [s.to_json() for s in self.scopes],
            "rows": rows,
            "guest_classes": [self._class_json(c) for c in self.guest_classes],
            "groups": [g.to_json() for g in self.groups],
        }
        if guests:
            of = self.guest_class_of
            out["guests"] = [{"name": g.name, "host": g.host, "guest_class": of[i]}
                             for i, g in enumerate(self.inventory.guests)]
        return out

    def _class_json(self, c: GuestClass) -> dict[str, object]:
        names = self.inventory.guests
        return {
            "id": c.id, "profile": c.kind.profile, "max_cpu_compat": c.kind.max_cpu_compat,
            "libvirt": c.kind.libvirt, "current_host_class": c.current, "group": c.scope,
            "home_group": c.home, "guests": len(c.guests),
            "examples": [names[i].name for i in c.guests[:EXAMPLES]],
            "hosts": c.hosts, "can_start": c.can_start,
            "migration_targets": c.migration_targets, "can_migrate": c.can_migrate,
            "scope": c.scope_index, "in_scope": c.in_scope,
            "start": c.start_row, "migrate": c.migrate_row,
        }


def plan(inventory: Inventory, progress: Progress | None = None,
         decider: Decider | None = None) -> FleetPlan:
    """Plan the whole fleet. ``progress(phase, done, total)`` is called as work proceeds."""
    decider = decider or Decider()
    report = progress or _no_progress
    hosts = inventory.hosts
    classes = tuple(sorted({h.cls for h in hosts}))
    index = {c: i for i, c in enumerate(classes)}
    host_class_of = {h.name: index[h.cls] for h in hosts}
    group_counts: dict[str, Counter[int]] = {}
    for host in hosts:
        group_counts.setdefault(host.group, Counter())[host_class_of[host.name]] += 1
    all_counts: Counter[int] = Counter(host_class_of.values())
    report("hosts", len(hosts), len(hosts))

    host_group = {h.name: h.group for h in hosts}
    keys: dict[tuple[GuestKind, int, str | None, str, bool], list[int]] = {}
    guests = inventory.guests
    step = max(1, len(guests) // 20)
    for i, guest in enumerate(guests):
        home = guest.group or host_group[guest.host]
        in_scope = guest.group is None or host_group[guest.host] == guest.group
        key = (guest.kind, host_class_of[guest.host], guest.group, home, in_scope)
        members = keys.get(key)
        if members is None:
            keys[key] = [i]
        else:
            members.append(i)
        if i % step == 0:
            report("guests", i, len(guests))
    report("guests", len(guests), len(guests))

    scopes: dict[str | None, Scope] = {}
    rows = _Rows()
    start_rows: dict[tuple[GuestKind, int], int] = {}
    migrate_rows: dict[tuple[Hashable, int], int] = {}
    guest_classes: list[GuestClass] = []
    guest_class_of = [0] * len(guests)
    for n, (key, members) in enumerate(sorted(keys.items(), key=_class_order)):
        kind, current, scope_name, home, in_scope = key
        scope = scopes.get(scope_name)
        if scope is None:
            counts = sorted((all_counts if scope_name is None else group_counts[scope_name]
                             ).items())
            scope = scopes[scope_name] = Scope(len(scopes), scope_name,
                                               tuple(c for c, _ in counts),
                                               tuple(k for _, k in counts))
        start = start_rows.get((kind, scope.index))
        if start is None:
            start = start_rows[kind, scope.index] = rows.add(scope, tuple(
                decider.start(kind, classes[c]) for c in scope.classes))
        source = decider.source(kind, classes[current])
        moved = migrate_rows.get((source, scope.index))
        if moved is None:
            moved = migrate_rows[source, scope.index] = rows.add(scope, tuple(
                decider.migrate(kind, classes[current], classes[c]) for c in scope.classes))
        total = sum(scope.hosts)
        can_migrate = rows.ok_hosts(moved, scope)
        if in_scope and rows.rows[moved][scope.classes.index(current)].ok:
            can_migrate -= 1  # its own host is no migration target
        guest_classes.append(GuestClass(
            n, kind, current, scope_name, home, tuple(members), scope.index, in_scope, start,
            moved, total, rows.ok_hosts(start, scope), total - (1 if in_scope else 0),
            can_migrate))
        for member in members:
            guest_class_of[member] = n
        report("decisions", n + 1, len(keys))

    groups = []
    names = sorted(group_counts)
    for n, name in enumerate(names):
        groups.append(_group_plan(name, group_counts[name], classes, guest_classes, guests,
                                  decider))
        report("groups", n + 1, len(names))
    return FleetPlan(inventory, classes, host_class_of, tuple(guest_classes),
                     tuple(guest_class_of), tuple(groups), dict(decider.calls),
                     tuple(scopes.values()), tuple(rows.rows))


class _Rows:
    """Distinct rows of verdicts, numbered as they come, with the hosts each row lets in."""

    def __init__(self) -> None:
        self.rows: list[tuple[Verdict, ...]] = []
        self._index: dict[tuple[int, tuple[Verdict, ...]], int] = {}
        self._ok: dict[int, int] = {}

    def add(self, scope: Scope, row: tuple[Verdict, ...]) -> int:
        index = self._index.get((scope.index, row))
        if index is None:
            index = self._index[scope.index, row] = len(self.rows)
            self.rows.append(row)
        return index

    def ok_hosts(self, index: int, scope: Scope) -> int:
        """Hosts of ``scope`` whose verdict in row ``index`` is ok (a row has one scope)."""
        hosts = self._ok.get(index)
        if hosts is None:
            hosts = self._ok[index] = sum(
                n for n, v in zip(scope.hosts, self.rows[index], strict=True) if v.ok)
        return hosts


def _no_progress(phase: str, done: int, total: int) -> None:
    pass


def _class_order(item: tuple[tuple[GuestKind, int, str | None, str, bool], list[int]]
                 ) -> tuple[str, str, str, bool, int, str]:
    (kind, current, scope, home, _), _members = item
    return (home, kind.profile, kind.max_cpu_compat or "", kind.libvirt, current, scope or "")


def _group_plan(name: str, counts: Counter[int], classes: tuple[HostClass, ...],
                guest_classes: list[GuestClass], guests: tuple[Guest, ...],
                decider: Decider) -> GroupPlan:
    members = sorted((classes[c], n) for c, n in counts.items())
    at_home = [c for c in guest_classes if c.home == name]
    profiles = sorted({(c.kind.profile, c.kind.libvirt) for c in at_home}) or [
        (DEFAULT_GUEST, False)]
    machine = group_machine(cls.qemu for cls, _ in members) or "pseries"

    def mobile(mode: str | None) -> Verdict:
        for profile, libvirt in profiles:
            verdict = decider.mobility(GuestKind(profile, mode, libvirt, machine=machine),
                                       members)
            if not verdict.ok:
                return Verdict(verdict.verdict, f"{column_label(mode)}: {verdict.reason}")
        return verdict

    verdicts = {mode: mobile(mode) for mode in MODE_COLUMNS}
    newest_first = [m for m in reversed(MODE_COLUMNS) if m is not None]
    first = next((i for i, m in enumerate(newest_first) if verdicts[m].ok), None)
    if first is not None:
        status, recommended = "mode", newest_first[first]
        why_not = verdicts[newest_first[first - 1]].reason if first else None
    elif verdicts[None].ok:
        status, recommended, why_not = "raw", None, verdicts[newest_first[-1]].reason
    else:
        status, recommended, why_not = "none", None, verdicts[None].reason
    changes = _changes(at_home, members, status, recommended, guests, decider, machine)
    notes = _libvirt_notes(recommended, members) if status == "mode" else ()
    heat = tuple(_heat(mode, profiles, members, decider, machine) for mode in MODE_COLUMNS)
    accels = {cls.accel for cls, _ in members}
    accel = accels.pop() if len(accels) == 1 else "kvm"
    return GroupPlan(name, sum(counts.values()), tuple(sorted(counts.items())),
                     sum(len(c.guests) for c in at_home), status, recommended, why_not,
                     notes, changes, heat, tuple(verdicts[m] for m in MODE_COLUMNS), accel,
                     machine)


def _changes(at_home: list[GuestClass], members: list[tuple[HostClass, int]], status: str,
             recommended: str | None, guests: tuple[Guest, ...],
             decider: Decider, machine: str = "pseries") -> tuple[Change, ...]:
    stuck: dict[GuestKind, tuple[list[str], str]] = {}
    for gclass in at_home:
        verdict = decider.mobility(gclass.kind, members)
        if verdict.ok:
            continue
        names, _ = stuck.setdefault(gclass.kind, ([], verdict.reason))
        names.extend(guests[i].name for i in gclass.guests)
    to = recommended if status != "none" else None
    return tuple(Change(kind, to, tuple(names), reason,
                        machine if kind.machine != machine else None)
                 for kind, (names, reason) in sorted(stuck.items(), key=lambda i: i[0].sort_key))


def _libvirt_notes(mode: str | None, members: list[tuple[HostClass, int]]) -> tuple[str, ...]:
    """Where libvirt refuses the group's spelling of ``mode`` (a libvirt guest then cannot
    have it, whatever QEMU would do)."""
    notes: dict[str, str] = {}
    kind = GuestKind(DEFAULT_GUEST, mode, True)
    for cls, _ in members:
        outcome = libvirt_outcome(kind.libvirt_domain(cls), cls)
        if not outcome.ok and cls.family not in notes:
            notes[cls.family] = (f"libvirt cannot express max-cpu-compat={mode} on "
                                 f"{cls.family} hosts: {outcome.error}")
    return tuple(notes.values())


def _heat(mode: str | None, profiles: list[tuple[str, bool]],
          members: list[tuple[HostClass, int]], decider: Decider,
          machine: str = "pseries") -> float:
    """The fraction of the group's hosts on which every guest profile at home there starts
    with this ``max-cpu-compat``."""
    total = sum(n for _, n in members)
    able = sum(n for cls, n in members
               if all(decider.start(GuestKind(p, mode, lv, machine=machine), cls).ok
                      for p, lv in profiles))
    return able / total if total else 0.0
