"""Every file reader against random bytes, every JSON reader against random JSON of the wrong
shape and types (issue #12): each input is read, or refused with a typed one-line error;
no other exception escapes. Bounded examples so the suite stays fast."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from powercompat.errors import PowerCompatError
from powercompat.fleet.domain_xml import parse_domain
from powercompat.fleet.inventory import (
    GUEST_FIELDS,
    HOST_FIELDS,
    load_inventory,
    parse_inventory_text,
)
from powercompat.fuzz.corpus import iter_corpus
from powercompat.inputs import RECORDED_RESULTS, decode_utf8, loads_json, read_capped
from powercompat.verify.compare import judge_file
from powercompat.verify.matrix import load_cells

SOME = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "qemu-7.2-linux-6.1-vof.json"
REAL_DOC = json.loads(REAL.read_text())

#: any JSON scalar, hostile ones included: huge integers, lone surrogates, control characters
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**60, max_value=10**80),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["power9", "power8", "hv", "head", "g", "", "\ud800", "a\x00b", "x\ny",
                     "7.2", "linux-6.1", "d.xml", "-1"]),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pc-readers-") as tmp:
        yield Path(tmp)


def typed_or_ok(call: Callable[[], object]) -> None:
    """The call succeeds or raises a PowerCompatError whose message is one printable line."""
    try:
        call()
    except PowerCompatError as err:
        assert str(err).isprintable(), repr(str(err))


# ---------------------------------------------------------------------- random bytes


byte_inputs = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"\x00\x00\xfe\xff"]).flatmap(
        lambda bom: st.binary(max_size=100).map(lambda rest: bom + rest)),
)


@SOME
@given(data=byte_inputs, suffix=st.sampled_from([".json", ".csv", ".xml"]))
def test_inventory_files_of_random_bytes(scratch: Path, data: bytes, suffix: str) -> None:
    path = scratch / f"inv{suffix}"
    path.write_bytes(data)
    typed_or_ok(lambda: load_inventory([path]))


@SOME
@given(data=byte_inputs)
def test_domain_xml_of_random_bytes(data: bytes) -> None:
    typed_or_ok(lambda: parse_domain(data, "d.xml"))
    typed_or_ok(lambda: parse_domain(b"<domain><name>" + data + b"</name></domain>", "d.xml"))


@SOME
@given(data=byte_inputs)
def test_recorded_files_of_random_bytes(scratch: Path, data: bytes) -> None:
    path = scratch / "r.json"
    path.write_bytes(data)
    typed_or_ok(lambda: load_cells(path))


@SOME
@given(data=byte_inputs)
def test_generic_readers_of_random_bytes(scratch: Path, data: bytes) -> None:
    path = scratch / "f"
    path.write_bytes(data)
    assert read_capped(path, RECORDED_RESULTS) == data
    assert list(iter_corpus([path])) == [(str(path), data)]
    typed_or_ok(lambda: loads_json(decode_utf8(data, "f"), "f"))


# ---------------------------------------------------------------------- random JSON


def records(fields: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.one_of(st.sampled_from(fields), st.text(max_size=6))
    return st.dictionaries(keys, json_values, max_size=len(fields) + 1)


fleet_docs = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={
        "hosts": st.one_of(json_values, st.lists(records(HOST_FIELDS), max_size=3)),
        "guests": st.one_of(json_values, st.lists(records(GUEST_FIELDS), max_size=3)),
    }),
)


@SOME
@given(doc=fleet_docs)
def test_fleet_json_of_wrong_types(scratch: Path, doc: object) -> None:
    text = json.dumps(doc)
    typed_or_ok(lambda: parse_inventory_text(text, "json", "inv", scratch))


@SOME
@given(rows=st.lists(st.lists(st.one_of(st.sampled_from(["power9", "g", "a", "hv", ""]),
                                        st.text(max_size=6)), max_size=6), max_size=5),
       header=st.lists(st.sampled_from([*HOST_FIELDS, *GUEST_FIELDS, "kind", "x"]),
                       min_size=1, max_size=6))
def test_fleet_csv_of_random_cells(scratch: Path, rows: list[list[str]],
                                   header: list[str]) -> None:
    lines = [",".join(header), *(",".join(r) for r in rows)]
    typed_or_ok(lambda: parse_inventory_text("\n".join(lines), "csv", "inv", scratch))


cell_fields = sorted(REAL_DOC["cells"][0])


@SOME
@given(changes=st.dictionaries(st.sampled_from([*cell_fields, "extra"]), json_values,
                               min_size=1, max_size=3),
       header=st.dictionaries(st.sampled_from(["qemu_version", "kernel_version", "cells"]),
                              json_values, max_size=2))
def test_recorded_cells_of_wrong_types(scratch: Path, changes: dict[str, object],
                                       header: dict[str, object]) -> None:
    """Loaded and judged, or refused as a malformed record; never a TypeError."""
    doc = {**REAL_DOC, "cells": [{**REAL_DOC["cells"][0], **changes}], **header}
    path = scratch / "r.json"
    path.write_text(json.dumps(doc))

    def load_and_judge() -> None:
        head, cells = load_cells(path)
        judge_file(head, cells)

    typed_or_ok(load_and_judge)
