"""A synthetic but plausible fleet inventory, for benchmarks and demonstrations.

Host groups follow the shapes real POWER fleets have: one generation, or two neighbouring
generations during a hardware refresh, all KVM HV, and a small KVM PR lab (nested, for
testing); the
QEMU release is head or Debian's 7.2 (POWER11 hosts always run head, which knows them).
Guests run Linux 6.1 or a 2025 kernel; their ``max-cpu-compat`` is unset or a mode their
current host can run. The same seed gives the same file.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

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
_MAXIMA: Final = ((None, 50), ("power8", 20), ("power9", 18), ("power10", 10), ("power11", 2))
_PROFILES: Final = (("linux-6.1", 7), ("linux-2025", 3))
#: hosts per replica of each group shape
_HOSTS_PER_GROUP: Final = 2500


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


def synthesize(hosts: int, guests: int, seed: int = 0
               ) -> tuple[list[SynthHost], list[SynthGuest]]:
    """:raises InvalidValueError: a negative count, or guests without any host."""
    if hosts < 0 or guests < 0:
        raise InvalidValueError("host and guest counts must not be negative")
    if guests and not hosts:
        raise InvalidValueError("guests need at least one host")
    rng = random.Random(seed)
    replicas = max(1, -(-hosts // (_HOSTS_PER_GROUP * len(_SHAPES))))
    groups = [(f"{shape}-{r:02d}", cpus, pr) for r in range(replicas)
              for shape, cpus, pr in _SHAPES]
    # the PR lab is small: a quarter of the weight of the other shapes
    weights = [0.25 if g[0].startswith("pr-lab") else 1.0 for g in groups]
    out_hosts: list[SynthHost] = []
    for i in range(hosts):
        name, cpus, pr = groups[i] if i < len(groups) else rng.choices(groups, weights)[0]
        cpu = rng.choices([c for c, _ in cpus], [w for _, w in cpus])[0]
        kvm = "pr" if rng.random() < pr else "hv"
        qemu = "head" if cpu == "power11" or rng.random() < 0.6 else "7.2"
        out_hosts.append(SynthHost(f"host-{i:06d}", cpu, kvm, qemu, name))
    out_guests: list[SynthGuest] = []
    maxima = [m for m, _ in _MAXIMA]
    max_weights = [w for _, w in _MAXIMA]
    for i in range(guests):
        host = out_hosts[rng.randrange(hosts)]
        generation = _GENERATION[host.cpu]
        choice = rng.choices(maxima, max_weights)[0]
        if choice is not None and int(choice.removeprefix("power")) > generation:
            choice = None
        profile = rng.choices([p for p, _ in _PROFILES], [w for _, w in _PROFILES])[0]
        group = host.group if rng.random() < 0.7 else None
        out_guests.append(SynthGuest(f"vm-{i:06d}", profile, choice, host.name, group))
    return out_hosts, out_guests


def write_inventory(path: Path, hosts: list[SynthHost], guests: list[SynthGuest]) -> None:
    """JSON (one record per line) or CSV with a ``kind`` column, by the file's suffix.

    :raises InvalidValueError: another suffix.
    """
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise InvalidValueError(f"{path}: the output must end in .json or .csv")
    with path.open("w", encoding="utf-8", newline="") as out:
        (_write_json if suffix == ".json" else _write_csv)(out, hosts, guests)


def _write_json(out: TextIO, hosts: list[SynthHost], guests: list[SynthGuest]) -> None:
    dump = json.dumps
    out.write('{"hosts": [\n')
    out.write(",\n".join(dump({"name": h.name, "cpu": h.cpu, "kvm": h.kvm, "qemu": h.qemu,
                               "group": h.group}) for h in hosts))
    out.write('\n],\n"guests": [\n')
    out.write(",\n".join(dump({"name": g.name, "profile": g.profile,
                               "max_cpu_compat": g.max_cpu_compat, "host": g.host,
                               "group": g.group}) for g in guests))
    out.write("\n]}\n")


def _write_csv(out: TextIO, hosts: list[SynthHost], guests: list[SynthGuest]) -> None:
    out.write("kind,name,cpu,kvm,qemu,profile,max_cpu_compat,host,group\r\n")
    for h in hosts:
        out.write(f"host,{h.name},{h.cpu},{h.kvm},{h.qemu},,,,{h.group}\r\n")
    for g in guests:
        out.write(f"guest,{g.name},,,,{g.profile},{g.max_cpu_compat or ''},{g.host},"
                  f"{g.group or ''}\r\n")
