"""A rolling QEMU upgrade of each host group: what to pin, and in which order to upgrade the
hosts so that no guest is stranded.

Operators upgrade a group host by host: evacuate one host (live-migrate its guests away),
upgrade it, go on. Live migration only goes forward in practice (a newer release's stream is
refused by an older one: ``cpu/slb: incoming version_id 2 is too new for local version_id 1``
from 10.0 to 7.2), and across releases only with a machine type both ends have (plain
``pseries`` is each release's newest, so the destination refuses it: ``Machine type received
is 'pseries-7.2' and local is 'pseries-10.0'``). Every such verdict is the engine's, asked
through the :class:`~powercompat.fleet.decide.Decider` once per (guest kind, source class,
destination class).

For each group this module answers:

- the machine type and the newest ``max-cpu-compat`` with which every guest kernel at home
  in the group can start on every host, old and upgraded, and live-migrate from any host to
  any host of the same or a newer release (the moves a rolling upgrade makes);
- the order: hosts of the oldest release first (their guests can go forward to hosts already
  upgraded; the other way round is refused), one at a time, each host's guests to an upgraded
  host where one accepts them, else to a host not yet upgraded (which is then upgraded last);
  the guests that no host accepts at their turn are *stranded* (they must be shut down for
  the upgrade, or changed as the recommendation says), each with the engine's reason.

A guest that was moved keeps the mode it negotiated where it booted; moving it again is judged
as a guest booted on its boot host's CPU under the release of the host it sits on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from powercompat.catalog.history import CHANGES, RELEASES
from powercompat.catalog.machines import MachineCatalogue, machine_catalogue, xics_only
from powercompat.decisions.verdict import Verdict as Kind
from powercompat.errors import InputError, InvalidValueError
from powercompat.fleet.decide import Decider, GuestKind, HostClass, Verdict, host_class
from powercompat.fleet.inventory import Inventory
from powercompat.profiles import PROFILE_NAMES, parse_profile

MODES_NEWEST_FIRST: Final = ("power11", "power10", "power9", "power8", "power7+", "power7",
                             "power6")
#: hosts listed per run and stranded guests listed per group in text output
EXAMPLES: Final = 3


def release_rank(qemu: str) -> tuple[int, ...]:
    """QEMU profiles in release order, for any name ``--qemu`` takes: a named release ranks
    as the stable build it stands for (10.0 is 10.0.13, after 10.0.2), a development point
    just before its release (2.10-pre), head and our policy after every release, a point of
    the history (head~N) after the release of its last change.

    :raises UnknownProfileError: not a profile name or modelled version.
    """
    profile = parse_profile(qemu)
    release = next((r for r in RELEASES if r.name == profile.name), None)
    if release is not None and release.build is not None:
        version = release.build
    elif release is not None and release.until is not None:  # a development point
        return (*profile.catalogue.changes[-1].version, -1)
    elif profile.version is not None:
        version = profile.version
    elif profile.name.startswith("head~"):
        return (*profile.catalogue.changes[-1].version, _AFTER_RELEASES - 1)
    else:  # head, then the powercompat policy on head
        return (*_NEWEST_RELEASE, _AFTER_RELEASES + PROFILE_NAMES.index(profile.name))
    return (*version[:2], version[2] if len(version) > 2 else 0)


#: the micro number that ranks a point of the history after every stable release
_AFTER_RELEASES: Final = 10_000
_NEWEST_RELEASE: Final = max(c.version for c in CHANGES)


def machines_of(qemu: str) -> MachineCatalogue:
    """The machine types a host of this QEMU profile has (head: the newest recorded)."""
    version = parse_profile(qemu).version
    if version is not None:
        release = f"{version[0]}.{version[1]}"
        try:
            return machine_catalogue(release)
        except KeyError:
            pass
    return machine_catalogue("11.1")


@dataclass(frozen=True, slots=True)
class Stranded:
    """A guest no host accepts when its host's turn comes."""

    guest: str
    host: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"guest": self.guest, "host": self.host, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class UpgradeRun:
    """Consecutive hosts of one class upgraded the same way: ``moved`` guests evacuated to
    ``to`` (class index, guests), ``stranded`` left without a destination."""

    source: int
    target: int
    hosts: tuple[str, ...]
    moved: int
    to: tuple[tuple[int, int], ...]
    stranded: int

    def to_json(self) -> dict[str, object]:
        return {"from_class": self.source, "to_class": self.target, "hosts": list(self.hosts),
                "guests_moved": self.moved,
                "destinations": [{"class": c, "guests": n} for c, n in self.to],
                "guests_stranded": self.stranded}


@dataclass(frozen=True, slots=True)
class GroupUpgrade:
    """One group's rolling upgrade to ``target``. ``status``: ``mode`` (``mode`` is the
    newest max-cpu-compat that keeps every guest mobile), ``raw`` (only no maximum does),
    ``none``; ``machine``: the machine type to pin (None: no type exists in every release)."""

    name: str
    target: str
    upgrade: int
    current: int
    machine: str | None
    status: str
    mode: str | None
    why_not_newer: str | None
    runs: tuple[UpgradeRun, ...]
    stranded: tuple[Stranded, ...]
    blocked: tuple[tuple[str, str], ...]

    def to_json(self) -> dict[str, object]:
        return {"group": self.name, "target": self.target, "hosts_to_upgrade": self.upgrade,
                "hosts_current": self.current, "machine": self.machine, "status": self.status,
                "max_cpu_compat": self.mode, "why_not_newer": self.why_not_newer,
                "order": [r.to_json() for r in self.runs],
                "stranded": [s.to_json() for s in self.stranded],
                "blocked_hosts": [{"class": c, "reason": r} for c, r in self.blocked]}


@dataclass(frozen=True, slots=True)
class UpgradePlan:
    """Every group's upgrade; ``classes`` holds the current and the upgraded host classes."""

    target: str
    kernel: str | None
    classes: tuple[HostClass, ...]
    groups: tuple[GroupUpgrade, ...]
    calls: dict[str, int]

    def to_json(self) -> dict[str, object]:
        return {"target": self.target, "host_kernel": self.kernel,
                "host_classes": [c.to_json() for c in self.classes],
                "groups": [g.to_json() for g in self.groups], "engine_calls": self.calls}


def upgrade_plan(inventory: Inventory, target: str, kernel: str | None = None,
                 decider: Decider | None = None) -> UpgradePlan:
    """Plan every group's rolling upgrade to QEMU ``target`` (a release or version) and,
    optionally, host kernel ``kernel``.

    :raises InvalidValueError: an unknown target release or kernel.
    """
    try:
        profile = parse_profile(target)
    except InputError as err:
        raise InvalidValueError(f"--upgrade-to: {err}") from err
    decider = decider or Decider()
    classes: list[HostClass] = sorted({h.cls for h in inventory.hosts})
    index = {c: i for i, c in enumerate(classes)}
    by_group: dict[str, list[int]] = {}
    for n, host in enumerate(inventory.hosts):
        by_group.setdefault(host.group, []).append(n)
    guests_on: dict[str, list[int]] = {}
    for n, guest in enumerate(inventory.guests):
        guests_on.setdefault(guest.host, []).append(n)
    groups = []
    for name in sorted(by_group):
        groups.append(_Group(name, profile.name, kernel, inventory, by_group[name], guests_on,
                             classes, index, decider).plan())
    return UpgradePlan(profile.name, kernel, tuple(classes), tuple(groups), dict(decider.calls))


class _Group:
    """One group's simulation (hosts by index into the inventory)."""

    def __init__(self, name: str, target: str, kernel: str | None, inventory: Inventory,
                 hosts: list[int], guests_on: dict[str, list[int]],
                 classes: list[HostClass], index: dict[HostClass, int],
                 decider: Decider) -> None:
        self.name, self.target, self.kernel = name, target, kernel
        self.inventory, self.hosts, self.guests_on = inventory, hosts, guests_on
        self.classes, self.index, self.decider = classes, index, decider
        self.blocked: dict[int, str] = {}
        # the moves asked while ordering, by small integers: (guest kind, boot class, class
        # of the host being upgraded, destination class); hashing the dataclasses for every
        # guest at every step cost more than the answers
        self._kinds: dict[GuestKind, int] = {}
        self._moves: dict[tuple[int, int, int, int], tuple[bool, str]] = {}

    def _class(self, cls: HostClass) -> int:
        found = self.index.get(cls)
        if found is None:
            found = self.index[cls] = len(self.classes)
            self.classes.append(cls)
        return found

    def upgraded(self, c: int) -> int | None:
        """The class a host of class ``c`` becomes (None: the target cannot run it)."""
        cls = self.classes[c]
        if release_rank(cls.qemu) >= release_rank(self.target):
            return c
        try:
            new = host_class(cls.cpu, cls.kvm, self.target,
                             self.kernel or cls.host_kernel or None, cls.host_page_size,
                             cls.hpt_max_page_size)
        except InputError as err:
            self.blocked[c] = str(err)
            return None
        return self._class(replace(new, arch=cls.arch))

    # ------------------------------------------------------------------ recommendation

    def recommend(self, members: Sequence[int], kinds: Iterable[tuple[str, bool]]
                  ) -> tuple[str | None, str, str | None, str | None]:
        """(machine, status, mode, why not newer) for a rolling upgrade over ``members``."""
        releases = sorted({self.classes[c].qemu for c in members}, key=release_rank)
        common = set.intersection(*(set(machines_of(q).names) for q in releases))
        catalogue = machines_of(releases[-1])
        ordered = [t for t in reversed(catalogue.types) if t.name in common]
        if not ordered:
            return None, "none", None, ("no machine type exists in every release of "
                                        f"the group ({', '.join(releases)})")
        candidates = [ordered[0]]
        older = next((t for t in ordered if xics_only(t)), None)
        if older is not None and older is not ordered[0]:
            candidates.append(older)  # XICS only: no XIVE section to refuse
        profiles = sorted(set(kinds)) or [("linux-6.1", False)]
        first_reason: str | None = None
        for machine in candidates:
            why: str | None = None
            for mode in (*MODES_NEWEST_FIRST, None):
                verdict = self._mobile(members, profiles, mode, machine.name)
                if verdict.ok:
                    status = "mode" if mode else "raw"
                    return machine.name, status, mode, why
                why = why or f"{mode or 'raw'}: {verdict.reason}"
            first_reason = first_reason or why
        return ordered[0].name, "none", None, first_reason

    def _mobile(self, members: Sequence[int], profiles: Sequence[tuple[str, bool]],
                mode: str | None, machine: str) -> Verdict:
        for profile, libvirt in profiles:
            kind = GuestKind(profile, mode, libvirt, machine=machine)
            for c in members:
                started = self.decider.start(kind, self.classes[c])
                if not started.ok:
                    return Verdict(started.verdict, f"cannot start on {self.classes[c].label}: "
                                          f"{started.reason}")
            for s in members:
                for t in members:
                    if release_rank(self.classes[s].qemu) > release_rank(self.classes[t].qemu):
                        continue  # a rolling upgrade never moves a guest backwards
                    moved = self.decider.migrate(kind, self.classes[s], self.classes[t])
                    if not moved.ok:
                        return Verdict(moved.verdict,
                                       f"cannot migrate from {self.classes[s].label} "
                                       f"to {self.classes[t].label}: {moved.reason}")
        return Verdict(Kind.WORKS, "mobile")

    # ------------------------------------------------------------------ the order

    def plan(self) -> GroupUpgrade:
        inv = self.inventory
        host_cls = {n: self.index[inv.hosts[n].cls] for n in self.hosts}
        up = {c: self.upgraded(c) for c in set(host_cls.values())}
        queue = sorted((n for n in self.hosts if up[host_cls[n]] not in (None, host_cls[n])),
                       key=lambda n: (release_rank(self.classes[host_cls[n]].qemu),
                                      host_cls[n], inv.hosts[n].name))
        current = sum(1 for n in self.hosts if up[host_cls[n]] == host_cls[n])
        members = sorted({c for c in host_cls.values()} |
                         {u for u in up.values() if u is not None})
        kinds = {(inv.guests[g].kind.profile, inv.guests[g].kind.libvirt)
                 for n in self.hosts for g in self.guests_on.get(inv.hosts[n].name, ())}
        machine, status, mode, why = self.recommend(members, kinds)

        # guests on each host: (guest index, boot class)
        on: dict[int, list[tuple[int, int]]] = {
            n: [(g, host_cls[n]) for g in self.guests_on.get(inv.hosts[n].name, ())]
            for n in self.hosts}
        old: dict[int, list[int]] = {}
        for n in queue:
            old.setdefault(host_cls[n], []).append(n)
        new_count: dict[int, int] = {}
        for n in self.hosts:
            if up[host_cls[n]] == host_cls[n]:
                new_count[host_cls[n]] = new_count.get(host_cls[n], 0) + 1
        steps: list[tuple[int, int, str, int, tuple[tuple[int, int], ...], int]] = []
        stranded: list[Stranded] = []
        pending = list(queue)
        while pending:
            n = self._pick(pending, host_cls, on, old, new_count)
            pending.remove(n)
            src = host_cls[n]
            old[src].remove(n)
            moved, lost = 0, 0
            to: dict[int, int] = {}
            for g, boot in on[n]:
                dest, reason = self._destination(g, boot, src, old, new_count)
                guest = inv.guests[g]
                if dest is None:
                    lost += 1
                    stranded.append(Stranded(guest.name, inv.hosts[n].name, reason))
                    continue
                moved += 1
                to[dest] = to.get(dest, 0) + 1
                parked = old.get(dest)
                if parked:  # a host not yet upgraded: the last of its class in the queue
                    on[parked[-1]].append((g, boot))
            on[n] = []
            target = up[src]
            assert target is not None
            new_count[target] = new_count.get(target, 0) + 1
            steps.append((src, target, inv.hosts[n].name, moved,
                          tuple(sorted(to.items())), lost))
        blocked = tuple((self.classes[c].label, r) for c, r in sorted(self.blocked.items())
                        if c in host_cls.values())
        return GroupUpgrade(self.name, self.target, len(queue), current, machine, status, mode,
                            why, _runs(steps), tuple(stranded), blocked)

    def _pick(self, pending: list[int], host_cls: dict[int, int],
              on: dict[int, list[tuple[int, int]]], old: dict[int, list[int]],
              new_count: dict[int, int]) -> int:
        """The next host: the first in queue order (oldest release first) whose guests all
        have a destination now; else the first (its guests without one are stranded)."""
        seen: set[int] = set()
        for n in pending:
            c = host_cls[n]
            if c in seen:
                continue  # one representative per class and step keeps this linear
            seen.add(c)
            if all(self._destination(g, boot, c, old, new_count, exclude=n)[0] is not None
                   for g, boot in on[n]):
                return n
        return pending[0]

    def _destination(self, g: int, boot: int, src: int, old: dict[int, list[int]],
                     new_count: dict[int, int], exclude: int | None = None
                     ) -> tuple[int | None, str]:
        """Where guest ``g`` (booted on class ``boot``) goes when its host of class ``src``
        is upgraded: an upgraded host first, else another host not yet upgraded."""
        kind = self.inventory.guests[g].kind
        k = self._kinds.setdefault(kind, len(self._kinds))
        first_refusal = "no other host in the group"
        candidates = [c for c, n in sorted(new_count.items()) if n > 0]
        candidates += [c for c, hosts in sorted(old.items())
                       if any(h != exclude for h in hosts)]
        for c in candidates:
            key = (k, boot, src, c)
            answer = self._moves.get(key)
            if answer is None:
                origin = self.classes[boot]
                here = self.classes[src]
                source = origin if boot == src else replace(
                    origin, qemu=here.qemu, host_kernel=here.host_kernel,
                    host_page_size=here.host_page_size,
                    hpt_max_page_size=here.hpt_max_page_size)
                verdict = self.decider.migrate(kind, source, self.classes[c])
                answer = self._moves[key] = (verdict.ok, verdict.reason)
            ok, reason = answer
            if ok:
                return c, reason
            if first_refusal == "no other host in the group":
                first_refusal = f"cannot migrate to {self.classes[c].label}: {reason}"
        return None, first_refusal


def _runs(steps: list[tuple[int, int, str, int, tuple[tuple[int, int], ...], int]]
          ) -> tuple[UpgradeRun, ...]:
    """Consecutive steps of one class, to the same destination classes, stranding or not,
    as one run."""
    runs: list[UpgradeRun] = []
    for src, target, host, moved, to, lost in steps:
        last = runs[-1] if runs else None
        same = last is not None and (last.source, last.target, bool(last.stranded)) == (
            src, target, bool(lost)) and {c for c, _ in last.to} == {c for c, _ in to}
        if last is not None and same:
            merged = dict(last.to)
            for c, k in to:
                merged[c] = merged.get(c, 0) + k
            runs[-1] = UpgradeRun(src, target, (*last.hosts, host), last.moved + moved,
                                  tuple(sorted(merged.items())), last.stranded + lost)
        else:
            runs.append(UpgradeRun(src, target, (host,), moved, to, lost))
    return tuple(runs)
