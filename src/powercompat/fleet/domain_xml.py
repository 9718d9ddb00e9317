"""A guest from a libvirt domain XML file: its name, its ``<cpu>`` and its compat maximum.

Every ``<cpu>`` form libvirt writes is read as it is (:class:`~powercompat.decisions.libvirt.
LibvirtDomain`: mode, model, check, match, fallback, the domain type and machine), and the
decisions of :mod:`powercompat.decisions.libvirt` say what libvirt does with it on each host.
The compat maximum is the ``<model>`` of ``<cpu mode='host-model'>`` (libvirt's only spelling,
kernel_libvirt.md 5.3), or a ``max-cpu-compat=`` passed in ``<qemu:commandline>`` as
``-machine`` (or ``-M``) properties; any other form sets none: ``custom`` (what libvirt writes
for a domain defined without ``<cpu>``: ``<cpu mode='custom' match='exact' check='none'><model
fallback='forbid'>POWER9</model></cpu>``), ``host-passthrough`` and ``maximum``.

Where the guest runs is not part of a domain definition: a file given on the command line
carries it in its ``<metadata>`` (``<fleet:guest xmlns:fleet="urn:powercompat:fleet:1"
host="p9-01" profile="linux-6.1" group="prod"/>``); an inventory row that names the file
(``libvirt_xml``) carries it in the row.

The file is untrusted: it is read by the capped reader (:mod:`powercompat.inputs`: regular
files only, at most 1 MiB), parsed by defusedxml, which refuses any DTD, entity declaration or
external reference whatever the encoding (expat decodes UTF-8, UTF-16 with or without a BOM and
the encodings a prolog may declare before defusedxml sees a declaration, so a byte search
cannot be dodged by re-encoding), and every text value is checked to be one printable line.
Every error names the file and the element.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from powercompat.decisions.libvirt import CHECKS, CPU_MODES, LibvirtCpu, LibvirtDomain
from powercompat.fleet.errors import InventoryError
from powercompat.inputs import DOMAIN_XML, InputFileError, display_path, read_capped, text_problem

#: larger than any real domain definition (they are a few KiB)
MAX_XML_BYTES: Final = DOMAIN_XML.cap
#: how a UTF-32 document starts (XML 1.0 appendix F): expat cannot read it
_UTF32_STARTS: Final = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\x00<",
                        b"<\x00\x00\x00")
#: the namespace of powercompat's ``<metadata>`` element
FLEET_NS: Final = "urn:powercompat:fleet:1"
_META_TAG: Final = f"{{{FLEET_NS}}}guest"
#: libvirt's ``<qemu:commandline>`` namespace (docs/drvqemu.rst)
QEMU_NS: Final = "http://libvirt.org/schemas/domain/qemu/1.0"
#: domain types the QEMU driver runs (``qemu`` is TCG)
VIRT_TYPES: Final = ("qemu", "kvm")
_MATCHES: Final = ("minimum", "exact", "strict")
_FALLBACKS: Final = ("allow", "forbid")


@dataclass(frozen=True, slots=True)
class Domain:
    """What the fleet planner reads from a domain: ``metadata`` holds the fleet attributes."""

    name: str
    max_cpu_compat: str | None
    metadata: dict[str, str]
    libvirt: LibvirtDomain


def read_domain(path: Path) -> Domain:
    """Read and check one domain XML file.

    :raises InventoryError: unreadable, not a regular file, too large, a DTD or entity, not
        well-formed, not a domain, or a name that is not one printable line.
    """
    try:
        data = read_capped(path, DOMAIN_XML)
    except InputFileError as err:
        raise InventoryError(err.path, err.where, None, err.problem) from err
    return parse_domain(data, display_path(path))


def parse_domain(data: bytes, label: str) -> Domain:
    """:raises InventoryError: see :func:`read_domain`."""
    if len(data) > MAX_XML_BYTES:
        raise InventoryError(label, None, None,
                             f"larger than {MAX_XML_BYTES} bytes: not a domain definition")
    if data.startswith(_UTF32_STARTS):
        raise InventoryError(label, None, None,
                             "UTF-32 is not supported (libvirt writes domain XML in UTF-8)")
    try:
        root = safe_fromstring(data, forbid_dtd=True, forbid_entities=True,
                               forbid_external=True)
    except DefusedXmlException as err:
        raise InventoryError(label, None, None,
                             "DTDs and entity declarations are not accepted in domain XML"
                             ) from err
    except ET.ParseError as err:
        line, column = err.position
        raise InventoryError(label, f"line {line} column {column + 1}", None,
                             f"not well-formed XML ({_expat_message(err)})") from err
    if root.tag != "domain":
        raise InventoryError(label, f"<{root.tag}>", None,
                             "the root element must be <domain>")
    name = _text(root.findtext("name"), label, "<domain>/<name>")
    if not name:
        raise InventoryError(label, "<domain>/<name>", None, "missing or empty")
    _text(root.findtext("cpu/model"), label, "<cpu>/<model>")
    metadata = _metadata(root)
    for key, value in metadata.items():
        _text(value, label, "<metadata>/<fleet:guest>", key)
    domain = libvirt_domain(root, label)
    return Domain(name, max_cpu_compat(domain), metadata, domain)


def _text(value: str | None, label: str, where: str, field: str | None = None) -> str:
    """Element text or attribute value, stripped; refused unless it is one printable line."""
    text = (value or "").strip()
    problem = text_problem(text)
    if problem is not None:
        raise InventoryError(label, where, field, problem)
    return text


def max_cpu_compat(domain: LibvirtDomain) -> str | None:
    """The maximum the domain asks for: host-model's ``<model>``, or ``<qemu:commandline>``'s
    (QEMU merges ``-machine`` options, so the command line's wins)."""
    if domain.commandline_compat is not None:
        return domain.commandline_compat
    cpu = domain.cpu
    if cpu is not None and cpu.mode == "host-model":
        return cpu.model
    return None


def libvirt_domain(root: ET.Element, label: str) -> LibvirtDomain:
    """The domain type, machine, ``<cpu>`` and ``<qemu:commandline>`` maximum of a domain.

    :raises InventoryError: a value libvirt itself would refuse to parse, with its element.
    """
    # libvirt requires the attribute; a hand-written fleet file without it means a KVM host's
    virt = _text(root.get("type"), label, "<domain>", "type") or "kvm"
    if virt not in VIRT_TYPES:
        raise InventoryError(label, "<domain>", "type",
                             f"'{virt}' is not a QEMU domain type ({', '.join(VIRT_TYPES)})")
    os_type = root.find("os/type")
    machine = _text(os_type.get("machine") if os_type is not None else None, label,
                    "<os>/<type>", "machine") or "pseries"
    arch = _text(os_type.get("arch") if os_type is not None else None, label,
                 "<os>/<type>", "arch") or "ppc64le"
    return LibvirtDomain(_cpu(root.find("cpu"), label), virt, machine,
                         _commandline_compat(root, label), arch)


def _choice(el: ET.Element, attr: str, allowed: tuple[str, ...], label: str,
            where: str) -> str | None:
    value = el.get(attr)
    if value is None:
        return None
    value = _text(value, label, where, attr)
    if value not in allowed:
        raise InventoryError(label, where, attr,
                             f"'{value}' is not one of {', '.join(allowed)}")
    return value


def _cpu(cpu: ET.Element | None, label: str) -> LibvirtCpu | None:
    if cpu is None:
        return None
    mode = _choice(cpu, "mode", CPU_MODES, label, "<cpu>") or "custom"
    model_el = cpu.find("model")
    model = _text(model_el.text, label, "<cpu>/<model>") if model_el is not None else ""
    fallback = (_choice(model_el, "fallback", _FALLBACKS, label, "<cpu>/<model>")
                if model_el is not None else None)
    return LibvirtCpu(mode, model or None, _choice(cpu, "check", CHECKS, label, "<cpu>"),
                      _choice(cpu, "match", _MATCHES, label, "<cpu>"), fallback)


def _commandline_compat(root: ET.Element, label: str) -> str | None:
    """``max-cpu-compat=X`` among the properties of a ``-machine``/``-M`` argument of
    ``<qemu:commandline>`` (the last one, as QEMU keeps the last value of a property)."""
    args = [_text(arg.get("value"), label, "<qemu:commandline>/<qemu:arg>", "value")
            for arg in root.findall(f"{{{QEMU_NS}}}commandline/{{{QEMU_NS}}}arg")]
    found = None
    for option, value in itertools.pairwise(args):
        if option not in ("-machine", "-M"):
            continue
        for prop in value.split(","):
            key, sep, setting = prop.partition("=")
            if sep and key == "max-cpu-compat":
                found = setting or None
    return found


def _metadata(root: ET.Element) -> dict[str, str]:
    meta = root.find(f"metadata/{_META_TAG}")
    return dict(meta.attrib) if meta is not None else {}


def _expat_message(err: ET.ParseError) -> str:
    # "mismatched tag: line 3, column 2" -> "mismatched tag"
    return str(err).split(":", 1)[0]
