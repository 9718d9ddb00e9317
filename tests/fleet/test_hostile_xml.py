"""Hostile domain XML (issue #12 item 2): a DTD or an entity is refused in every encoding,
not only where a byte search for ``<!DOCTYPE`` happens to see it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from powercompat.fleet.domain_xml import parse_domain, read_domain
from powercompat.fleet.errors import InventoryError
from powercompat.fleet.inventory import load_inventory

REFUSED = "d.xml: DTDs and entity declarations are not accepted in domain XML"

#: an internal entity expanded into <model>: before, a UTF-16 copy was planned with exit 0
ENTITY = ("<?xml version='1.0' encoding='{enc}'?>\n"
          "<!DOCTYPE domain [<!ENTITY m 'power8'>]>\n"
          "<domain><name>vm</name><cpu mode='host-model'><model>&m;</model></cpu>"
          "<metadata><fleet:guest xmlns:fleet='urn:powercompat:fleet:1' host='a'/></metadata>"
          "</domain>")
LAUGHS = ("<?xml version='1.0' encoding='{enc}'?>\n<!DOCTYPE domain [<!ENTITY a 'lol'>"
          + "".join(f"<!ENTITY {chr(98 + i)} '{('&' + chr(97 + i) + ';') * 10}'>"
                    for i in range(9))
          + "]><domain><name>&j;</name></domain>")
EXTERNAL = ("<?xml version='1.0' encoding='{enc}'?>\n"
            "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
            "<domain><name>&x;</name></domain>")
PARAMETER = ("<?xml version='1.0' encoding='{enc}'?>\n"
             "<!DOCTYPE domain [<!ENTITY % p SYSTEM 'http://example.invalid/x.dtd'> %p;]>"
             "<domain><name>vm</name></domain>")
#: (name in the prolog, Python codec; the BOM comes with "utf-16" only)
ENCODINGS = [("UTF-8", "utf-8"), ("UTF-16", "utf-16"), ("UTF-16", "utf-16-le"),
             ("UTF-16", "utf-16-be"), ("ISO-8859-1", "latin-1"), ("windows-1252", "cp1252")]


@pytest.mark.parametrize("doc", [ENTITY, LAUGHS, EXTERNAL, PARAMETER],
                         ids=["internal", "billion-laughs", "external", "parameter"])
@pytest.mark.parametrize(("declared", "codec"), ENCODINGS,
                         ids=[c for _, c in ENCODINGS])
def test_dtd_refused_in_every_encoding(doc: str, declared: str, codec: str) -> None:
    with pytest.raises(InventoryError) as info:
        parse_domain(doc.format(enc=declared).encode(codec), "d.xml")
    assert str(info.value) == REFUSED


def test_utf16_without_prolog_or_bom_refused() -> None:
    data = ENTITY.split("\n", 1)[1].encode("utf-16-le")
    with pytest.raises(InventoryError, match="DTDs and entity declarations"):
        parse_domain(data, "d.xml")


def test_utf16_entity_file_is_refused_by_the_planner(tmp_path: Path) -> None:
    """The reproduction from the issue: the file on disk, planned through load_inventory."""
    path = tmp_path / "d.xml"
    path.write_bytes(ENTITY.format(enc="UTF-16").encode("utf-16"))
    with pytest.raises(InventoryError) as info:
        load_inventory([path])
    assert str(info.value) == f"{path}: DTDs and entity declarations are not accepted in " \
                              "domain XML"


@pytest.mark.parametrize("codec", ["utf-32", "utf-32-le", "utf-32-be"])
def test_utf32_named(codec: str) -> None:
    with pytest.raises(InventoryError) as info:
        parse_domain("<domain><name>vm</name></domain>".encode(codec), "d.xml")
    assert str(info.value) == "d.xml: UTF-32 is not supported (libvirt writes domain XML " \
                              "in UTF-8)"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "latin-1"])
def test_clean_domain_in_other_encodings_is_read(codec: str) -> None:
    enc = "ISO-8859-1" if codec == "latin-1" else "UTF-16"
    text = (f"<?xml version='1.0' encoding='{enc}'?><domain><name>vm-é</name>"
            "<cpu mode='host-model'><model>power9</model></cpu></domain>")
    domain = parse_domain(text.encode(codec), "d.xml")
    assert (domain.name, domain.max_cpu_compat) == ("vm-é", "power9")


@pytest.mark.parametrize(("body", "where", "problem"), [
    ("<name>a\nb</name>", "<domain>/<name>", "contains a control character U+000A"),
    ("<name>a\tb</name>", "<domain>/<name>", "contains a control character U+0009"),
    ("<name>evil\u202egnp.exe</name>", "<domain>/<name>",
     "contains an invisible format character U+202E"),
    ("<name>a\u2028b</name>", "<domain>/<name>", "contains a line separator U+2028"),
    ("<name>" + "n" * 5000 + "</name>", "<domain>/<name>", "longer than 4096 characters"),
    ("<name>vm</name><cpu mode='custom'><model>pow\ner8</model></cpu>", "<cpu>/<model>",
     "contains a control character U+000A"),
    ("<name>vm</name><metadata><g:guest xmlns:g='urn:powercompat:fleet:1' host='a&#10;b'/>"
     "</metadata>", "<metadata>/<fleet:guest>, field 'host'",
     "contains a control character U+000A"),
], ids=["newline", "tab", "bidi-override", "line-separator", "too-long", "model", "metadata"])
def test_text_values_are_one_printable_line(body: str, where: str, problem: str) -> None:
    with pytest.raises(InventoryError) as info:
        parse_domain(f"<domain>{body}</domain>".encode(), "d.xml")
    assert str(info.value).startswith(f"d.xml: {where}: {problem}")
    assert "\n" not in str(info.value)


def test_control_character_reference_is_not_well_formed() -> None:
    with pytest.raises(InventoryError, match="not well-formed XML"):
        parse_domain(b"<domain><name>a&#27;b</name></domain>", "d.xml")


def test_fifo_and_device_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.xml"
    os.mkfifo(fifo)  # opening it for reading would block forever
    with pytest.raises(InventoryError) as info:
        read_domain(fifo)
    assert str(info.value) == f"{fifo}: is a FIFO (named pipe), not a regular file"
    zero = tmp_path / "zero.xml"
    zero.symlink_to("/dev/zero")
    with pytest.raises(InventoryError) as info:
        load_inventory([zero])
    assert str(info.value) == f"{zero}: is a character device, not a regular file"
    with pytest.raises(InventoryError, match="is a directory, not a regular file"):
        read_domain(tmp_path)
