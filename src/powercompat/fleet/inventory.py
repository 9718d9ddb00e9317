"""The fleet inventory: hosts and guests, read from JSON, CSV and libvirt domain XML.

Schema (docs/FLEET.md has examples). A host has ``name``, ``cpu`` (a ``-cpu`` model or alias,
resolved under its QEMU profile), ``kvm`` (``hv`` default, ``pr``, ``pr-ignore``), ``qemu`` (a
QEMU profile, default ``head``) and ``group``. A guest has ``name``, ``profile`` (a guest
profile, default ``linux-6.1``), ``max_cpu_compat`` (empty or absent: none), ``host`` (where it
runs now), an optional ``group`` (the host group it may move in; absent: any host), and
optionally ``libvirt_xml``: a domain file (relative to the inventory) that supplies the name
and the maximum instead.

- JSON: ``{"hosts": [{...}, ...], "guests": [{...}, ...]}``; values are strings (null for an
  absent optional one); unknown keys are errors (they are usually typos).
- CSV: a header row with the field names above. A ``kind`` column (``host`` or ``guest``)
  lets one file hold both; without it a file with a ``cpu`` column holds hosts and a file with
  a ``host`` column holds guests. Empty cells are absent values.
- XML: a libvirt domain given directly; its ``<metadata>`` names the host
  (:mod:`powercompat.fleet.domain_xml`).

Several files may be given; they form one inventory. Every error is one line naming the
file, the record (``row 7``, ``guests[3]``) and the field.

Files are read by the capped reader of :mod:`powercompat.inputs` (regular files only, at most
512 MiB); JSON is strict there (a duplicate key is refused like an unknown one); every value
must be one printable line (no control or format character, no lone surrogate, at most 4096
characters), so a name can always be printed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from powercompat.catalog.accels import ACCELS
from powercompat.catalog.guests import GUEST_ALIASES, GUESTS
from powercompat.catalog.history import HEAD
from powercompat.catalog.kernels import (
    HOST_PAGE_SIZES_KIB,
    HPT_PAGE_SIZES_KIB,
    KERNELS,
    kernel_by_name,
    sizes_text,
)
from powercompat.decisions.libvirt import LibvirtDomain
from powercompat.errors import InputError, InvalidModeError, UnknownProfileError
from powercompat.fleet.decide import GuestKind, HostClass, host_class
from powercompat.fleet.domain_xml import FLEET_NS, Domain, parse_domain, read_domain
from powercompat.fleet.errors import InventoryError
from powercompat.inputs import (
    INVENTORY,
    InputFileError,
    decode_utf8,
    display_path,
    loads_json,
    plain_text,
    read_capped,
    text_problem,
)
from powercompat.profiles import DEFAULT_PROFILE
from powercompat.scenario import DEFAULT_GUEST

HOST_FIELDS: Final = ("name", "cpu", "kvm", "qemu", "group", "host_kernel", "host_page_size",
                      "hpt_max_page_size")
GUEST_FIELDS: Final = ("name", "profile", "max_cpu_compat", "host", "group", "libvirt_xml",
                       "kernel", "machine")
#: a guest's machine type: plain ``pseries`` (each release's newest) or a versioned one
_MACHINE = re.compile(r"^pseries(-[0-9]+\.[0-9]+(-sxxm)?)?$")
#: KVM flavours, from the engine's accelerator names (``kvm-hv`` -> ``hv``)
KVM_FLAVOURS: Final = tuple(a.removeprefix("kvm-") for a in ACCELS if a.startswith("kvm-"))
DEFAULT_KVM: Final = "hv"
#: an inventory of a million records is ~120 MiB of JSON
MAX_INVENTORY_BYTES: Final = INVENTORY.cap

_HOST_KEYS: Final = frozenset(HOST_FIELDS)
_GUEST_KEYS: Final = frozenset(GUEST_FIELDS)
_MODE_NAMES: Final = frozenset(m.name for m in HEAD.modes)
_GUEST_NAMES: Final = frozenset((*(g.name for g in GUESTS), *GUEST_ALIASES))

#: where a bad value is reported: (file, record, field)
_Spot = tuple[str, str | None, str | None]


@dataclass(frozen=True, slots=True)
class Host:
    """``cpu``: the ``-cpu`` name as the inventory spells it (``cls.cpu`` is the model it
    resolves to under the host's QEMU; an upgrade may resolve it to another)."""

    name: str
    cls: HostClass
    group: str
    cpu: str = ""


@dataclass(frozen=True, slots=True)
class Guest:
    """``group`` None: the guest may go to any host. ``origin``: (file, record)."""

    name: str
    kind: GuestKind
    host: str
    group: str | None
    origin: tuple[str, str]


@dataclass(frozen=True, slots=True)
class Inventory:
    hosts: tuple[Host, ...]
    guests: tuple[Guest, ...]

    def host_by_name(self) -> dict[str, Host]:
        return {h.name: h for h in self.hosts}


class _Builder:
    """Collects records from every file, then checks the references between them."""

    def __init__(self) -> None:
        self.hosts: dict[str, Host] = {}
        self.host_origin: dict[str, str] = {}
        self.guests: dict[str, Guest] = {}

    def add_host(self, rec: Mapping[str, str | None], path: str, where: str) -> None:
        name = _required(rec, "name", path, where)
        cpu = _required(rec, "cpu", path, where)
        group = _required(rec, "group", path, where)
        kvm = rec.get("kvm") or DEFAULT_KVM
        qemu = rec.get("qemu") or DEFAULT_PROFILE
        kernel = rec.get("host_kernel") or None
        if kvm not in KVM_FLAVOURS:
            raise InventoryError(path, where, "kvm", f"unknown KVM flavour '{kvm}' "
                                 f"(valid: {', '.join(KVM_FLAVOURS)})")
        if kernel is not None and kernel_by_name(kernel) is None:
            raise InventoryError(path, where, "host_kernel", str(UnknownProfileError(
                "host kernel", kernel, [k.name for k in KERNELS])))
        pages = _kib(rec, "host_page_size", HOST_PAGE_SIZES_KIB, path, where)
        cap = _kib(rec, "hpt_max_page_size", HPT_PAGE_SIZES_KIB, path, where)
        try:
            cls = host_class(cpu, kvm, qemu, kernel, pages, cap)
        except UnknownProfileError as err:
            raise InventoryError(path, where, "qemu", str(err)) from err
        except InputError as err:
            raise InventoryError(path, where, "cpu", f"{err} (QEMU profile {qemu})") from err
        if name in self.hosts:
            raise InventoryError(path, where, "name", f"duplicate host '{name}' (first at "
                                 f"{self.host_origin[name]})")
        self.hosts[name] = Host(name, cls, group, cpu)
        self.host_origin[name] = f"{path} {where}"

    def add_guest(self, rec: Mapping[str, str | None], path: str, where: str,
                  base: Path) -> None:
        xml = rec.get("libvirt_xml")
        if xml:
            for field in ("name", "max_cpu_compat"):
                if rec.get(field):
                    raise InventoryError(path, where, field,
                                         "comes from the libvirt_xml domain; leave it empty")
            domain = read_domain(base / xml)
            name, max_compat = domain.name, domain.max_cpu_compat
            max_spot: _Spot = (str(base / xml), "<cpu>/<model>", None)
            libvirt: LibvirtDomain | None = domain.libvirt
        else:
            name = _required(rec, "name", path, where)
            max_compat = rec.get("max_cpu_compat") or None
            max_spot = (path, where, "max_cpu_compat")
            libvirt = None
        self._add_guest(name, _kernel(rec, path, where), max_compat,
                        _required(rec, "host", path, where), rec.get("group") or None,
                        libvirt, (path, where), max_spot, rec.get("machine") or None)

    def add_domain(self, domain: Domain, path: str) -> None:
        meta = domain.metadata
        where = "<metadata>/<fleet:guest>"
        if not meta.get("host"):
            raise InventoryError(path, where, "host",
                                 "missing: a domain given directly must name its current host "
                                 f"in <metadata><fleet:guest xmlns:fleet='{FLEET_NS}' "
                                 "host='...'/></metadata>")
        unknown = sorted(set(meta) - {"host", "profile", "kernel", "machine", "group"})
        if unknown:
            raise InventoryError(path, where, unknown[0], "unknown attribute")
        self._add_guest(domain.name, _kernel(meta, path, where), domain.max_cpu_compat,
                        meta["host"], meta.get("group") or None, domain.libvirt,
                        (path, where), (path, "<cpu>/<model>", None),
                        meta.get("machine") or None)

    def _add_guest(self, name: str, kernel: tuple[str, str], max_compat: str | None,
                   host: str, group: str | None, libvirt: LibvirtDomain | None,
                   origin: tuple[str, str], max_spot: _Spot, machine: str | None) -> None:
        path, where = origin
        profile, field = kernel
        if profile not in _GUEST_NAMES:
            raise InventoryError(path, where, field, str(UnknownProfileError(
                "guest", profile, [*(g.name for g in GUESTS), *GUEST_ALIASES])))
        if machine is not None and not _MACHINE.match(machine):
            raise InventoryError(path, where, "machine", f"not a pseries machine type: "
                                 f"'{machine}' (pseries, or pseries-X.Y)")
        if max_compat is not None and max_compat not in _MODE_NAMES:
            raise InventoryError(*max_spot, str(InvalidModeError(max_compat)))
        if name in self.guests:
            first = self.guests[name].origin
            raise InventoryError(path, where, "name",
                                 f"duplicate guest '{name}' (first at {first[0]} {first[1]})")
        kind = GuestKind(profile, max_compat, libvirt is not None, libvirt,
                         machine or "pseries")
        self.guests[name] = Guest(name, kind, host, group, origin)

    def finish(self) -> Inventory:
        groups = {h.group for h in self.hosts.values()}
        for guest in self.guests.values():
            if guest.host not in self.hosts:
                raise _at_origin(guest, "host", f"unknown host '{guest.host}'")
            if guest.group is not None and guest.group not in groups:
                raise _at_origin(guest, "group", f"no host is in group '{guest.group}'")
        return Inventory(tuple(self.hosts.values()), tuple(self.guests.values()))


def _kernel(rec: Mapping[str, str | None], path: str, where: str) -> tuple[str, str]:
    """The guest's kernel and the field it came from: ``kernel`` (its real name,
    ``linux-6.12``) or, as before, ``profile``; both may be given only if they agree."""
    kernel, profile = rec.get("kernel") or None, rec.get("profile") or None
    if kernel is not None and profile is not None and kernel != profile:
        raise InventoryError(path, where, "kernel", f"'{kernel}' disagrees with profile "
                             f"'{profile}' (give one of them)")
    if kernel is not None:
        return kernel, "kernel"
    return profile or DEFAULT_GUEST, "profile"


def _at_origin(guest: Guest, field: str, problem: str) -> InventoryError:
    return InventoryError(*guest.origin, field, problem)


def _kib(rec: Mapping[str, str | None], field: str, sizes: tuple[int, ...], path: str,
         where: str) -> int:
    """A size field in KiB, one of ``sizes`` (0 when empty or absent)."""
    text = rec.get(field) or ""
    if text and text not in map(str, sizes):
        raise InventoryError(path, where, field,
                             f"must be {sizes_text(sizes)} (KiB), not '{text}'")
    return int(text or 0)


def _required(rec: Mapping[str, str | None], field: str, path: str, where: str) -> str:
    value = rec.get(field)
    if not value:
        raise InventoryError(path, where, field, "missing")
    return value


# ---------------------------------------------------------------------- entry points


def load_inventory(paths: Sequence[Path | str]) -> Inventory:
    """Read every file (by suffix: ``.json``, ``.csv``, ``.xml``) into one inventory.

    :raises InventoryError: the first problem found, with its file, record and field.
    """
    if not paths:
        raise InventoryError("inventory", None, None, "no inventory file given")
    builder = _Builder()
    for raw in paths:
        path = Path(raw)
        label = display_path(path)
        suffix = path.suffix.lower()
        if suffix == ".xml":
            builder.add_domain(read_domain(path), label)
        elif suffix in (".json", ".csv"):
            text = _read_text(path)
            if suffix == ".json":
                _parse_json(text, label, path.parent, builder)
            else:
                _parse_csv(text, label, path.parent, builder)
        elif not path.exists():  # a mistyped name: say so, not that its format is unknown
            raise InventoryError(label, None, None, "cannot read: No such file or directory")
        else:
            raise InventoryError(label, None, None,
                                 "unknown inventory format (use .json, .csv or .xml)")
    return builder.finish()


def parse_inventory_text(text: str, fmt: str, label: str = "inventory",
                         base: Path | None = None) -> Inventory:
    """Parse one JSON or CSV inventory given as text (``fmt`` ``json`` or ``csv``).

    :raises InventoryError: as :func:`load_inventory`.
    """
    builder = _Builder()
    where = base or Path(".")
    if fmt == "json":
        _parse_json(text, label, where, builder)
    elif fmt == "csv":
        _parse_csv(text, label, where, builder)
    else:
        raise InventoryError(label, None, None, f"unknown format '{fmt}' (json or csv)")
    return builder.finish()


def parse_domain_text(data: bytes, label: str = "domain.xml") -> Inventory:
    """A one-guest inventory from domain XML bytes (tests; the host is not checked)."""
    domain = parse_domain(data, label)
    builder = _Builder()
    builder.add_domain(domain, label)
    return Inventory((), tuple(builder.guests.values()))


def _read_text(path: Path) -> str:
    try:
        return decode_utf8(read_capped(path, INVENTORY), display_path(path))
    except InputFileError as err:
        raise _from_input(err) from err


def _from_input(err: InputFileError) -> InventoryError:
    return InventoryError(err.path, err.where, None, err.problem)


# ---------------------------------------------------------------------- JSON


def _parse_json(text: str, path: str, base: Path, builder: _Builder) -> None:
    try:
        doc = loads_json(text, path)
    except InputFileError as err:
        raise _from_input(err) from err
    if not isinstance(doc, dict):
        raise InventoryError(path, None, None,
                             'the top level must be an object {"hosts": [...], "guests": [...]}')
    unknown = sorted(set(doc) - {"hosts", "guests"})
    if unknown:
        raise InventoryError(path, None, unknown[0],
                             "unknown top-level key (expected 'hosts' and 'guests')")
    for section, keys in (("hosts", _HOST_KEYS), ("guests", _GUEST_KEYS)):
        records = doc.get(section, [])
        if not isinstance(records, list):
            raise InventoryError(path, section, None, "must be a list of objects")
        for index, rec in enumerate(records):
            where = f"{section}[{index}]"
            checked = _json_record(rec, keys, path, where)
            if section == "hosts":
                builder.add_host(checked, path, where)
            else:
                builder.add_guest(checked, path, where, base)


def _json_record(rec: object, keys: frozenset[str], path: str, where: str
                 ) -> dict[str, str | None]:
    if not isinstance(rec, dict):
        raise InventoryError(path, where, None, "must be an object")
    if not keys.issuperset(rec):
        extra = sorted(set(rec) - keys)[0]
        raise InventoryError(path, where, extra,
                             f"unknown field (valid: {', '.join(sorted(keys))})")
    for field, value in rec.items():
        if type(value) is str:
            if not plain_text(value):  # 10,000 guests are 90,000 fields: the cheap test first
                _check_text(value, path, where, field)
        elif value is not None:
            raise InventoryError(path, where, field,
                                 f"must be a string, not {type(value).__name__}")
    return rec


def _check_text(value: str, path: str, where: str, field: str) -> None:
    problem = text_problem(value)
    if problem is not None:
        raise InventoryError(path, where, field, problem)


# ---------------------------------------------------------------------- CSV


def _parse_csv(text: str, path: str, base: Path, builder: _Builder) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InventoryError(path, None, None, "empty file (a header row is needed)") from None
    header = [h.strip() for h in header]
    for column in header:
        problem = text_problem(column)
        if problem is not None:
            raise InventoryError(path, "row 1", None, f"a column name {problem}")
    columns = set(header)
    allowed = _HOST_KEYS | _GUEST_KEYS | {"kind"}
    for column in header:
        if column not in allowed:
            raise InventoryError(path, "row 1", column,
                                 f"unknown column (valid: {', '.join(sorted(allowed))})")
    if len(columns) != len(header):
        raise InventoryError(path, "row 1", None, "a column is named twice")
    fixed = _csv_kind(columns, path)
    width = len(header)
    try:
        for number, row in enumerate(reader, start=2):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            where = f"row {number}"
            if len(row) != width:
                raise InventoryError(path, where, None,
                                     f"{len(row)} values for {width} header columns")
            rec = {k: v.strip() for k, v in zip(header, row, strict=True) if v.strip()}
            for field, value in rec.items():
                _check_text(value, path, where, field)
            kind = fixed or rec.pop("kind", "")
            if kind == "host":
                _no_foreign(rec, _HOST_KEYS, "host", path, where)
                builder.add_host(rec, path, where)
            elif kind == "guest":
                _no_foreign(rec, _GUEST_KEYS, "guest", path, where)
                builder.add_guest(rec, path, where, base)
            else:
                raise InventoryError(path, where, "kind",
                                     f"must be 'host' or 'guest', not '{kind}'")
    except csv.Error as err:
        raise InventoryError(path, f"line {reader.line_num}", None,
                             f"malformed CSV ({err})") from err


def _csv_kind(columns: set[str], path: str) -> str | None:
    """The record kind of a file without a ``kind`` column, from its columns."""
    if "kind" in columns:
        return None
    if "cpu" in columns and "host" not in columns:
        return "host"
    if "host" in columns and "cpu" not in columns:
        return "guest"
    raise InventoryError(path, "row 1", "kind",
                         "add a 'kind' column (host or guest): the columns do not say which "
                         "records this file holds")


def _no_foreign(rec: dict[str, str], keys: frozenset[str], kind: str, path: str,
                where: str) -> None:
    rec.pop("kind", None)
    for field in rec:
        if field not in keys:
            raise InventoryError(path, where, field, f"does not apply to a {kind}")
