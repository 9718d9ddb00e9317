"""A guest from a libvirt domain XML file: its name and its compat maximum.

libvirt spells ``max-cpu-compat=powerN`` as ``<cpu mode='host-model'><model>powerN</model>
</cpu>`` (kernel_libvirt.md 5.3); ``host-model`` without ``<model>``, ``host-passthrough`` and
``maximum`` set no maximum. A ``custom`` CPU with a ``<model>`` pins the host's model and is
not a compat maximum (libvirt's compare needs the exact host model name), so it is refused.

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

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

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
#: CPU modes that set no compat maximum when they carry no ``<model>``
_NO_MAX_MODES: Final = ("host-passthrough", "maximum")


@dataclass(frozen=True, slots=True)
class Domain:
    """What the fleet planner reads from a domain: ``metadata`` holds the fleet attributes."""

    name: str
    max_cpu_compat: str | None
    metadata: dict[str, str]


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
    return Domain(name, _max_cpu_compat(root, label), metadata)


def _text(value: str | None, label: str, where: str, field: str | None = None) -> str:
    """Element text or attribute value, stripped; refused unless it is one printable line."""
    text = (value or "").strip()
    problem = text_problem(text)
    if problem is not None:
        raise InventoryError(label, where, field, problem)
    return text


def _max_cpu_compat(root: ET.Element, label: str) -> str | None:
    cpu = root.find("cpu")
    if cpu is None:
        return None
    mode = cpu.get("mode", "custom")
    model = cpu.find("model")
    text = (model.text or "").strip() if model is not None else ""
    if mode == "host-model":
        return text or None
    if mode in _NO_MAX_MODES or not text:
        return None
    raise InventoryError(
        label, "<cpu>", "mode",
        f"cpu mode '{mode}' with <model>{text}</model> pins the CPU model; libvirt spells a "
        f"compat maximum as <cpu mode='host-model'><model>{text.lower()}</model></cpu>")


def _metadata(root: ET.Element) -> dict[str, str]:
    meta = root.find(f"metadata/{_META_TAG}")
    return dict(meta.attrib) if meta is not None else {}


def _expat_message(err: ET.ParseError) -> str:
    # "mismatched tag: line 3, column 2" -> "mismatched tag"
    return str(err).split(":", 1)[0]
