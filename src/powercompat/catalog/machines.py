"""pseries machine types per QEMU release: which exist, what plain ``pseries`` stands for,
and the release's words when one is missing.

Why per release: a live migration needs the same machine type on both ends, and releases drop
old types (10.0 has no pseries-2.x; Debian's 11.1 has no pseries-5.0 or 5.1). Debian's 5.2,
7.2, 10.0 and 11.1 are recorded from their binaries (``powercompat verify machines --release R
--record``, ``src/powercompat/data/machines-R.json``: ``-M help`` and start-up probes), read on
first use only. The 2017 releases were not run: their lists are the ``DEFINE_SPAPR_MACHINE``
rows of ``hw/ppc/spapr.c`` at v2.9.0, v2.10.0 and v2.11.0 (pseries-2.1 up to the release's
own), and their refusal is ``vl.c``'s (qemu-releases.md 8.3).

Machine-type facts that do not depend on the release are functions of the type's version:
:func:`xics_only` (``spapr_machine_4_0_class_options`` sets ``smc->irq = &spapr_irq_xics``;
4.1 and newer default to ``ic-mode=dual``).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Final, NamedTuple

from powercompat.catalog.data import read_data

#: the releases whose machine catalogue was recorded from the binary
RECORDED: Final = ("5.2", "7.2", "10.0", "11.1")
PLAIN: Final = "pseries"
#: the placeholder for the type's name in the recorded texts
NAME: Final = "{machine}"
_HINT: Final = "Use -machine help to list supported machines"
_VERSION = re.compile(r"^pseries-([0-9]+)\.([0-9]+)(?:-sxxm)?$")


class MachineType(NamedTuple):
    """One ``pseries-X.Y`` of a release."""

    name: str
    version: tuple[int, int]
    deprecated: bool = False


class MachineCatalogue(NamedTuple):
    """One release's pseries machine types (oldest first), its ``pseries`` alias and its words
    for a missing type (``{machine}`` stands for the name given) and a deprecated one."""

    release: str
    newest: str
    types: tuple[MachineType, ...]
    unsupported: tuple[str, ...]
    deprecated_warning: str | None
    recorded: bool

    def resolve(self, name: str) -> MachineType | None:
        """The type ``-M name`` starts (plain ``pseries``: the release's newest), else None."""
        wanted = self.newest if name == PLAIN else name
        return next((t for t in self.types if t.name == wanted), None)

    def unsupported_lines(self, name: str) -> tuple[str, ...]:
        """What QEMU prints, line by line, when ``-M name`` does not exist here."""
        return tuple(line.replace(NAME, name) for line in self.unsupported)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.types)


def machine_version(name: str) -> tuple[int, int] | None:
    """``pseries-7.2`` -> (7, 2); None for plain ``pseries`` or another name."""
    m = _VERSION.match(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def xics_only(machine: MachineType) -> bool:
    """pseries-4.0 and older use XICS only; 4.1 and newer ``ic-mode=dual`` (XICS + XIVE)."""
    return machine.version < (4, 1)


def _types(names: list[str], deprecated: frozenset[str] = frozenset()) -> tuple[MachineType, ...]:
    out = []
    for name in names:
        version = machine_version(name)
        if version is None:
            raise ValueError(f"not a pseries machine type: {name!r}")
        out.append(MachineType(name, version, name in deprecated))
    return tuple(sorted(out, key=lambda t: (t.version, t.name)))


def _from_source(release: str, minor: int) -> MachineCatalogue:
    """A 2017 release: pseries-2.1 .. pseries-2.<minor>, refused by vl.c's words."""
    names = [f"pseries-2.{n}" for n in range(1, minor + 1)]
    return MachineCatalogue(release, names[-1], _types(names),
                            ("unsupported machine type", _HINT), None, False)


_SOURCE: Final = {"2.9": 9, "2.10": 10, "2.11": 11}


def _release_version(release: str) -> tuple[int, int]:
    major, minor = release.split(".")[:2]
    return int(major), int(minor)


def machine_catalogue_by(version: tuple[int, int]) -> MachineCatalogue:
    """The machine types of the newest release with a catalogue at or before ``version`` (a
    point between releases has at least the types of the release before it); the oldest
    catalogue for a version before every one."""
    known = sorted((*_SOURCE, *RECORDED), key=_release_version)
    found = [r for r in known if _release_version(r) <= version]
    return machine_catalogue(found[-1] if found else known[0])


@cache
def machine_catalogue(release: str) -> MachineCatalogue:
    """The machine types of ``release`` (``7.2``; ``2.10`` for 2.10-pre and 2.10).

    :raises KeyError: no machine catalogue for that release.
    """
    if release in _SOURCE:
        return _from_source(release, _SOURCE[release])
    if release not in RECORDED:
        raise KeyError(release)
    data = read_data(f"machines-{release}.json")
    deprecated = frozenset(str(m["name"]) for m in data["machines"] if m["deprecated"])
    warning = data["texts"]["deprecated_machine"]
    return MachineCatalogue(
        str(data["release"]), str(data["pseries"]),
        _types([str(m["name"]) for m in data["machines"]], deprecated),
        tuple(str(line) for line in data["texts"]["unsupported_machine"]),
        str(warning[0]) if warning else None, True)
