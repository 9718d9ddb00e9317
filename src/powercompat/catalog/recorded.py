"""The catalogues recorded from the real QEMU binaries (``src/powercompat/data/qemu-R.json``).

Each file is what ``-cpu help`` and a start-up probe of every model gave for one release
(``powercompat verify catalog --record``). The engine's own models and aliases come from the
history (catalog/history.py); these files hold them to the binaries (tests), and tell the
engine what the history does not carry: which names QEMU knows as CPUs that pseries cannot
run (``Unable to find sPAPR CPU Core definition``). Read on first use only: start-up never
parses JSON.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from powercompat.catalog.data import read_data


class RecordedModel(NamedTuple):
    name: str
    pvr: int
    pseries: bool


class RecordedCatalogue(NamedTuple):
    """One release's ``-cpu help`` (models, with whether pseries starts each) and aliases as
    listed (``alias for X``: the listing follows the target one more hop than a lookup)."""

    release: str
    qemu_version: str
    models: tuple[RecordedModel, ...]
    aliases: tuple[tuple[str, str], ...]
    texts: tuple[tuple[str, str], ...]

    @property
    def pseries(self) -> tuple[RecordedModel, ...]:
        return tuple(m for m in self.models if m.pseries)

    def cpu_class(self, name: str) -> RecordedModel | None:
        """The class a ``-cpu`` name reaches in this binary, pseries or not: an 8-digit PVR
        (exact), else the lower-cased name through one alias hop, then an exact class name
        (so a class spelled upper-case, 11.1's PPE42, is never reached)."""
        digits = name[2:] if name[:2].lower() == "0x" else name
        if len(digits) == 8 and all(c in "0123456789abcdefABCDEF" for c in digits):
            pvr = int(digits, 16)
            return next((m for m in self.models if m.pvr == pvr), None)
        lowered = name.lower()
        target = dict(self.aliases).get(lowered, lowered)
        return next((m for m in self.models if m.name == target), None)


def _hex(text: str) -> int:
    return int(text, 16)


@cache
def recorded_catalogue(release: str) -> RecordedCatalogue:
    """The catalogue recorded for ``release`` (``7.2``), parsed once.

    :raises FileNotFoundError: no catalogue was recorded for that release.
    """
    data = read_data(f"qemu-{release}.json")
    return RecordedCatalogue(
        data["release"], data["qemu_version"],
        tuple(RecordedModel(m["name"], _hex(m["pvr"]), bool(m["pseries"]))
              for m in data["models"]),
        tuple((str(a), str(t)) for a, t in data["aliases"].items()),
        tuple((str(k), str(v)) for k, v in data["texts"].items()))
