"""A synthetic but plausible fleet inventory, for benchmarks and demonstrations.

Host groups follow the shapes real POWER fleets have: one generation, or two neighbouring
generations during a hardware refresh, all KVM HV, and a small KVM PR lab (nested, for
testing); the
QEMU release is head or Debian's 7.2 (POWER11 hosts always run head, which knows them).
Guests run Linux 6.1 or a 2025 kernel; their ``max-cpu-compat`` is unset or a mode their
current host can run. The same seed gives the same file.

The fleet is streamed: records are generated while they are written, never all held.
"""

from __future__ import annotations

import json
import random
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO, TypeVar

from powercompat.errors import InvalidValueError

#: (group shape, [(cpu, weight)], share of KVM PR hosts)
_SHAPES: Final[tuple[tuple[str, tuple[tuple[str, int], ...], float], ...]] = (
    ("p8", (("power8", 1),), 0.0),
    ("p8-p9", (("power8", 1), ("power9", 2)), 0.0),
    ("p9", (("power9", 4), ("power9_v2.0", 1)), 0.0),
    ("p9-p10", (("power9", 1), ("power10", 1)), 0.0),
    ("p10", (("power10", 1),), 0.0),
    ("p10-p11", (("power10", 2), ("power11", 1)), 0.0),
    ("pr-lab", (("power8", 1), ("power9", 1)), 1.0),
)
_GENERATION: Final = {"power8": 8, "power9": 9, "power9_v2.0": 9, "power10": 10, "power11": 11}
_CPUS: Final = tuple(_GENERATION)
_MAXIMA: Final = ((None, 50), ("power8", 20), ("power9", 18), ("power10", 10), ("power11", 2))
_PROFILES: Final = (("linux-6.1", 7), ("linux-2025", 3))
#: hosts per replica of each group shape
_HOSTS_PER_GROUP: Final = 2500
#: hosts plus guests at most: the JSON file stays under ``fleet plan``'s 512 MiB read cap
#: (a record is ~110 bytes), so whatever synth writes, plan can read
MAX_SYNTH_RECORDS: Final = 4_000_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SynthHost:
    name: str
    cpu: str
    kvm: str
    qemu: str
    group: str


@dataclass(frozen=True, slots=True)
class SynthGuest:
    name: str
    profile: str
    max_cpu_compat: str | None
    host: str
    group: str | None


class SynthRecords(Collection[T]):
    """Records generated afresh on every iteration: a fleet of millions is never held in
    memory (only one byte and one int per host, which the guests' draws need)."""

    def __init__(self, count: int, make: Callable[[], Iterator[T]]) -> None:
        self._count = count
        self._make = make

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[T]:
        return self._make()

    def __contains__(self, item: object) -> bool:
        return any(record == item for record in self)


class _Fleet:
    """One seeded draw: hosts first, then guests from the same random stream (so the same
    seed gives the same file, and a guest's host is known without keeping host records)."""

    def __init__(self, hosts: int, guests: int, seed: int) -> None:
        self.hosts, self.guests, self.seed = hosts, guests, seed
        replicas = max(1, -(-hosts // (_HOSTS_PER_GROUP * len(_SHAPES))))
        self.groups = [(f"{shape}-{r:02d}", cpus, pr) for r in range(replicas)
                       for shape, cpus, pr in _SHAPES]
        # the PR lab is small: a quarter of the weight of the other shapes
        self.weights = [0.25 if g[0].startswith("pr-lab") else 1.0 for g in self.groups]

    def _hosts(self, rng: random.Random, cpu_of: array[int] | None,
               group_of: array[int] | None) -> Iterator[SynthHost]:
        indices = range(len(self.groups))
        for i in range(self.hosts):
            g = i if i < len(self.groups) else rng.choices(indices, self.weights)[0]
            name, cpus, pr = self.groups[g]
            cpu = rng.choices([c for c, _ in cpus], [w for _, w in cpus])[0]
            kvm = "pr" if rng.random() < pr else "hv"
            qemu = "head" if cpu == "power11" or rng.random() < 0.6 else "7.2"
            if cpu_of is not None and group_of is not None:
                cpu_of.append(_CPUS.index(cpu))
                group_of.append(g)
            yield SynthHost(f"host-{i:06d}", cpu, kvm, qemu, name)

    def iter_hosts(self) -> Iterator[SynthHost]:
        return self._hosts(random.Random(self.seed), None, None)

    def iter_guests(self) -> Iterator[SynthGuest]:
        rng = random.Random(self.seed)
        cpu_of, group_of = array("B"), array("L")
        for _ in self._hosts(rng, cpu_of, group_of):
            pass
        maxima = [m for m, _ in _MAXIMA]
        max_weights = [w for _, w in _MAXIMA]
        for i in range(self.guests):
            h = rng.randrange(self.hosts)
            generation = _GENERATION[_CPUS[cpu_of[h]]]
            choice = rng.choices(maxima, max_weights)[0]
            if choice is not None and int(choice.removeprefix("power")) > generation:
                choice = None
            profile = rng.choices([p for p, _ in _PROFILES], [w for _, w in _PROFILES])[0]
            group = self.groups[group_of[h]][0] if rng.random() < 0.7 else None
            yield SynthGuest(f"vm-{i:06d}", profile, choice, f"host-{h:06d}", group)


def synthesize(hosts: int, guests: int, seed: int = 0
               ) -> tuple[SynthRecords[SynthHost], SynthRecords[SynthGuest]]:
    """The hosts and guests of a synthetic fleet, generated lazily (see :class:`SynthRecords`).

    :raises InvalidValueError: a negative count, guests without any host, or more than
        :data:`MAX_SYNTH_RECORDS` records in all (checked before anything is generated).
    """
    if hosts < 0 or guests < 0:
        raise InvalidValueError("host and guest counts must not be negative")
    if guests and not hosts:
        raise InvalidValueError("guests need at least one host")
    if hosts + guests > MAX_SYNTH_RECORDS:
        raise InvalidValueError(
            f"{hosts} hosts and {guests} guests: at most {MAX_SYNTH_RECORDS:,} records in all "
            "(a larger inventory would pass fleet plan's 512 MiB read cap)")
    fleet = _Fleet(hosts, guests, seed)
    return SynthRecords(hosts, fleet.iter_hosts), SynthRecords(guests, fleet.iter_guests)


def write_inventory(path: Path, hosts: Iterable[SynthHost], guests: Iterable[SynthGuest]
                    ) -> None:
    """JSON (one record per line) or CSV with a ``kind`` column, by the file's suffix; the
    records are written as they are generated.

    :raises InvalidValueError: another suffix (checked before the file is opened).
    :raises OSError: the file cannot be written.
    """
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise InvalidValueError(f"{path}: the output must end in .json or .csv")
    with path.open("w", encoding="utf-8", newline="") as out:
        (_write_json if suffix == ".json" else _write_csv)(out, hosts, guests)


def _write_records(out: TextIO, records: Iterable[dict[str, str | None]]) -> None:
    dump = json.dumps
    sep = ""
    for record in records:
        out.write(sep + dump(record))
        sep = ",\n"


def _write_json(out: TextIO, hosts: Iterable[SynthHost], guests: Iterable[SynthGuest]
                ) -> None:
    out.write('{"hosts": [\n')
    _write_records(out, ({"name": h.name, "cpu": h.cpu, "kvm": h.kvm, "qemu": h.qemu,
                          "group": h.group} for h in hosts))
    out.write('\n],\n"guests": [\n')
    _write_records(out, ({"name": g.name, "profile": g.profile,
                          "max_cpu_compat": g.max_cpu_compat, "host": g.host,
                          "group": g.group} for g in guests))
    out.write("\n]}\n")


def _write_csv(out: TextIO, hosts: Iterable[SynthHost], guests: Iterable[SynthGuest]
               ) -> None:
    out.write("kind,name,cpu,kvm,qemu,profile,max_cpu_compat,host,group\r\n")
    for h in hosts:
        out.write(f"host,{h.name},{h.cpu},{h.kvm},{h.qemu},,,,{h.group}\r\n")
    for g in guests:
        out.write(f"guest,{g.name},,,,{g.profile},{g.max_cpu_compat or ''},{g.host},"
                  f"{g.group or ''}\r\n")
