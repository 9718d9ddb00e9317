"""Read a fleet from running libvirt daemons: one host per connection, its pseries domains.

Why: an operator points the planner at real hosts instead of writing an inventory. Through
the libvirt Python binding (PyPI ``libvirt-python``, the optional extra ``libvirt``), a
read-only connection gives:

- the host: its arch as libvirt decides it and, on a ppc64 host, its CPU model (``virsh
  capabilities``: ``<host><cpu><arch>``, ``<model>``); its QEMU release, from the versioned
  machine ``pseries`` stands for (``<guest><arch name='ppc64le'><machine
  canonical='pseries-7.2'>pseries</machine>``: QEMU 7.2); whether it has KVM for pseries (a
  ``<domain type='kvm'/>`` beside ``qemu`` there); all of it is readable read-only. libvirt
  does not say whether KVM is HV or PR (it passes no ``kvm-type``; KVM
  picks HV when kvm_hv is loaded), so a KVM host is taken as HV. A host without KVM for
  pseries runs its domains under TCG.
- every domain (``virsh dumpxml``), read by :mod:`powercompat.fleet.domain_xml` as libvirt
  wrote it; domains that are not ppc64 QEMU domains are listed as skipped, with the reason.

The host's name is the connection's hostname; its group is that name unless given. A
domain's ``<metadata><fleet:guest profile=... group=.../>`` is honoured as in files.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Final

from powercompat.decisions.libvirt import PPC64_ARCHS, QEMU_RELEASES
from powercompat.errors import InputError, PowerCompatError, UnknownProfileError
from powercompat.fleet.decide import GuestKind, HostClass, host_class
from powercompat.fleet.domain_xml import parse_domain
from powercompat.fleet.errors import InventoryError
from powercompat.fleet.inventory import Guest, Host, Inventory
from powercompat.profiles import PROFILE_NAMES, parse_profile
from powercompat.scenario import DEFAULT_GUEST

#: the guest arch whose capabilities are asked for (ppc64 guests use the same emulator)
GUEST_ARCH: Final = "ppc64le"
_MACHINE: Final = re.compile(r"pseries-(\d+)\.(\d+)")


class ConnectError(PowerCompatError):
    """The libvirt binding is missing, or a daemon could not be asked (libvirt's words)."""


@dataclass(frozen=True, slots=True)
class Connected:
    """What one connection gave: the host, its guests, and the domains skipped (name, why)."""

    uri: str
    host: Host
    guests: tuple[Guest, ...]
    skipped: tuple[tuple[str, str], ...]


def _binding() -> Any:
    try:
        import libvirt
    except ImportError as err:
        raise ConnectError("the libvirt Python binding is not installed (pip install "
                           "'powercompat[libvirt]', which builds against libvirt-dev)") from err
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors are raised, not printed
    return libvirt


def profile_for_machine(machine: str) -> str:
    """The engine's QEMU profile for the versioned machine ``pseries`` stands for.

    :raises ConnectError: a release no profile models (never guessed).
    """
    m = _MACHINE.fullmatch(machine)
    version = (int(m.group(1)), int(m.group(2))) if m else None
    for name in PROFILE_NAMES:
        if name != "powercompat" and not name.endswith("-pre") and \
                QEMU_RELEASES.get(name, (None,))[0] == version:
            return name
    raise ConnectError(f"no engine profile for the QEMU whose pseries machine is {machine}")


def profile_for_version(number: int, machine: str) -> str:
    """The engine's QEMU profile for the hypervisor version libvirt reports
    (``virConnectGetVersion``: major * 1,000,000 + minor * 1,000 + micro, the default
    emulator's own ``--version``): the exact build, so Debian's 10.0.2 is not taken for
    10.0.13. A daemon that reports no version (0) falls back to ``machine``.

    :raises ConnectError: a version no profile models (never guessed).
    """
    if number <= 0:
        return profile_for_machine(machine)
    version = f"{number // 1_000_000}.{number // 1_000 % 1_000}.{number % 1_000}"
    try:
        return parse_profile(version).name
    except UnknownProfileError:
        raise ConnectError(f"no engine profile for QEMU {version} (its pseries machine is "
                           f"{machine})") from None


def read_connection(uri: str, group: str | None = None) -> Connected:
    """Open ``uri`` read-only and read its host and domains.

    :raises ConnectError: no binding, or libvirt refused (its message, word for word).
    :raises InventoryError: a domain libvirt returned that the reader refuses.
    """
    libvirt = _binding()
    try:
        conn = libvirt.openReadOnly(uri)
    except libvirt.libvirtError as err:
        raise ConnectError(f"{uri}: {err.get_error_message()}") from err
    try:
        return _read(libvirt, conn, uri, group)
    except libvirt.libvirtError as err:
        raise ConnectError(f"{uri}: {err.get_error_message()}") from err
    finally:
        conn.close()


def _read(libvirt: Any, conn: Any, uri: str, group: str | None) -> Connected:
    caps = ET.fromstring(conn.getCapabilities())
    arch = caps.findtext("host/cpu/arch") or "unknown"
    model = caps.findtext("host/cpu/model")
    name = conn.getHostname()
    try:
        version = conn.getVersion()
    except libvirt.libvirtError:  # it asks the host arch's emulator: none on a TCG-only host
        version = 0
    host = Host(name, _host_class(caps, uri, arch, model, version), group or name)
    guests: list[Guest] = []
    skipped: list[tuple[str, str]] = []
    for dom in sorted(conn.listAllDomains(0), key=lambda d: d.name()):
        xml = dom.XMLDesc(0)
        label = f"{uri} domain {dom.name()}"
        root = ET.fromstring(xml)
        virt = root.get("type")
        dom_arch = root.find("os/type")
        guest_arch = dom_arch.get("arch") if dom_arch is not None else None
        if virt not in ("qemu", "kvm") or guest_arch not in PPC64_ARCHS:
            skipped.append((dom.name(), f"a {virt} domain for {guest_arch}, not a ppc64 "
                                        "QEMU domain"))
            continue
        domain = parse_domain(xml.encode(), label)
        meta = domain.metadata
        profile = meta.get("profile") or DEFAULT_GUEST
        kind = GuestKind(profile, domain.max_cpu_compat, True, domain.libvirt)
        guests.append(Guest(domain.name, kind, name, meta.get("group") or None,
                            (label, "<domain>")))
    return Connected(uri, host, tuple(guests), tuple(skipped))


def _host_class(caps: ET.Element, uri: str, arch: str, model: str | None,
                version: int) -> HostClass:
    """From ``<guest>`` for ppc64le: the QEMU build (libvirt's hypervisor ``version``, else
    the release of its pseries machine), and KVM (HV assumed) or TCG."""
    for guest in caps.findall("guest"):
        guest_arch = guest.find("arch")
        if guest_arch is None or guest_arch.get("name") != GUEST_ARCH:
            continue
        machine = next((m.get("canonical") for m in guest_arch.findall("machine")
                        if m.text == "pseries" and m.get("canonical")), None)
        if machine is None:
            continue
        profile = profile_for_version(version, machine)
        types = {d.get("type") for d in guest_arch.findall("domain")}
        if "kvm" in types and arch in PPC64_ARCHS and model is not None:
            try:
                return host_class(model, "hv", profile)
            except InputError as err:
                raise ConnectError(f"{uri}: host CPU {model}: {err}") from err
        return HostClass(arch, "-", "tcg", profile, arch)
    raise ConnectError(f"{uri}: libvirt offers no pseries machine for {GUEST_ARCH} guests "
                       "(no qemu-system-ppc64 on that host?)")


def merge(inventory: Inventory, connected: list[Connected]) -> Inventory:
    """An inventory from files plus the hosts and guests read from daemons.

    :raises InventoryError: a host or guest name given twice.
    """
    hosts = {h.name: h for h in inventory.hosts}
    guests = {g.name: g for g in inventory.guests}
    for c in connected:
        if c.host.name in hosts:
            raise InventoryError(c.uri, None, None, f"duplicate host '{c.host.name}'")
        hosts[c.host.name] = c.host
        for g in c.guests:
            if g.name in guests:
                raise InventoryError(g.origin[0], None, None, f"duplicate guest '{g.name}'")
            guests[g.name] = g
    return Inventory(tuple(hosts.values()), tuple(guests.values()))
