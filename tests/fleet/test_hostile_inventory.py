"""Hostile inventories (issue #12 items 3, 4 and 9): every one is a one-line InventoryError
(exit 1 from the CLI), never a RecursionError, ValueError or UnicodeEncodeError (exit 70), and
no special file is read or waited on."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from fleet_helpers import guest, host, write_json

from powercompat.cli.main import main
from powercompat.errors import InvalidValueError
from powercompat.fleet.errors import InventoryError
from powercompat.fleet.inventory import load_inventory, parse_inventory_text
from powercompat.fleet.synth import MAX_SYNTH_RECORDS, synthesize
from powercompat.inputs import InputFileError, InputKind, read_capped

pytestmark = pytest.mark.usefixtures("no_hang")  # tests/conftest.py

H = host("a", "power9")
HOSTS_JSON = '{"hosts": [' + json.dumps(H) + "]"


def deep(levels: int) -> str:
    return '{"hosts": [' + "[" * levels + "]" * levels + "]}"


#: (file name, content, the error after "<path>: ")
JSON_CASES = [
    ("deep.json", deep(100_000), "not accepted JSON: nested too deeply"),
    ("bigint.json", '{"hosts": [{"name": ' + "9" * 5000 + "}]}",
     "not accepted JSON: an integer of 5000 digits (at most 64)"),
    ("nan.json", '{"hosts": [{"name": NaN}]}', "not accepted JSON: NaN is not JSON"),
    ("inf.json", '{"hosts": [{"name": 1e400}]}',
     "not accepted JSON: number 1e400 is out of range"),
    ("dupkey.json", '{"hosts": [{"name": "a", "name": "b", "cpu": "power9", "group": "g"}]}',
     "not accepted JSON: duplicate key 'name'"),
    ("duptop.json", '{"hosts": [], "hosts": []}', "not accepted JSON: duplicate key 'hosts'"),
    ("surrogate.json", HOSTS_JSON + ', "guests": [{"name": "vm\\ud800", "host": "a"}]}',
     "guests[0], field 'name': contains a lone surrogate U+D800 ('vm\\ud800')"),
    ("nul.json", HOSTS_JSON + ', "guests": [{"libvirt_xml": "d\\u0000.xml", "host": "a"}]}',
     "guests[0], field 'libvirt_xml': contains a control character U+0000 ('d\\x00.xml')"),
    ("escape.json", '{"hosts": [{"name": "\\u001b[2Ja", "cpu": "power9", "group": "g"}]}',
     "hosts[0], field 'name': contains a control character U+001B ('\\x1b[2Ja')"),
    ("key.json", '{"hosts": [{"na\\nme": "a"}]}',
     "hosts[0], field 'na\\nme': unknown field (valid: cpu, group, host_kernel, "
     "host_page_size, hpt_max_page_size, kvm, name, qemu)"),
    ("bom16.json", "", "UTF-16 text (byte-order mark); save it as UTF-8"),
]


def write_case(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    if name == "bom16.json":
        path.write_bytes(json.dumps({"hosts": [H]}).encode("utf-16"))
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "content", "message"), JSON_CASES,
                         ids=[c[0] for c in JSON_CASES])
def test_hostile_json_is_one_inventory_error(tmp_path: Path, name: str, content: str,
                                            message: str) -> None:
    path = write_case(tmp_path, name, content)
    with pytest.raises(InventoryError) as info:
        load_inventory([path])
    assert str(info.value) == f"{path}: {message}"
    assert str(info.value).isprintable()


@pytest.mark.parametrize(("text", "message"), [
    ("name,cpu,group\na\x1b,power9,g\n", "inv: row 2, field 'name': contains a control "
                                          "character U+001B"),
    ("name,cpu,group\na\x00,power9,g\n", "inv: row 2, field 'name': contains a control "
                                          "character U+0000"),
    ("name,cpu,group\n\u202ea,power9,g\n", "inv: row 2, field 'name': contains an invisible "
                                            "format character U+202E"),
    ("name,cp\x07u,group\n", "inv: row 1: a column name contains a control character U+0007"),
    ("kind,name,cpu,group,host,libvirt_xml\nguest,,,,a,d\x00.xml\n",
     "inv: row 2, field 'libvirt_xml': contains a control character U+0000"),
])
def test_hostile_csv_values(text: str, message: str) -> None:
    with pytest.raises(InventoryError) as info:
        parse_inventory_text(text, "csv", "inv")
    assert str(info.value).startswith(message), str(info.value)
    assert str(info.value).isprintable()


def test_special_files_refused_up_front(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    folder = tmp_path / "dir.json"
    folder.mkdir()
    start = time.perf_counter()
    for path, what in ((fifo, "a FIFO (named pipe)"), (zero, "a character device"),
                       (folder, "a directory")):
        with pytest.raises(InventoryError) as info:
            load_inventory([path])
        assert str(info.value) == f"{path}: is {what}, not a regular file"
    # before: /dev/zero was read up to the 512 MiB cap (541 MB, seconds) before the refusal
    assert time.perf_counter() - start < 2


def test_size_cap_before_reading(tmp_path: Path) -> None:
    sparse = tmp_path / "huge.json"
    with sparse.open("wb") as out:
        out.truncate((512 << 20) + 1)  # sparse: no disk, and never read
    with pytest.raises(InventoryError) as info:
        load_inventory([sparse])
    assert str(info.value) == f"{sparse}: larger than 512 MiB, the cap for a fleet inventory"


def test_size_cap_while_reading() -> None:
    """/proc files say size 0 and still have content: the cap holds while reading."""
    small = InputKind("test input", 100)
    assert len(read_capped("/proc/self/status", InputKind("test input", 1 << 20))) > 100
    with pytest.raises(InputFileError) as info:
        read_capped("/proc/self/status", small)
    assert str(info.value) == "/proc/self/status: larger than 100 bytes, the cap for a test " \
                              "input"


def test_undecodable_file_name_is_printable(tmp_path: Path) -> None:
    path = Path(os.fsdecode(bytes(tmp_path) + b"/\xff.json"))
    with pytest.raises(InventoryError) as info:
        load_inventory([path])
    assert str(info.value) == f"{tmp_path}/\\udcff.json: cannot read: No such file or directory"


def test_libvirt_xml_pointing_at_a_device(tmp_path: Path) -> None:
    (tmp_path / "d.xml").symlink_to("/dev/zero")
    path = write_json(tmp_path, [H], [{"libvirt_xml": "d.xml", "host": "a"}])
    with pytest.raises(InventoryError) as info:
        load_inventory([path])
    assert str(info.value) == f"{tmp_path / 'd.xml'}: is a character device, not a regular file"


def test_unique_keys_still_accepted(tmp_path: Path) -> None:
    path = write_json(tmp_path, [H], [guest("vm", "a", "power8")])
    assert [g.name for g in load_inventory([path]).guests] == ["vm"]


@pytest.mark.parametrize("case", [c for c in JSON_CASES if c[0] != "key.json"],
                         ids=[c[0] for c in JSON_CASES if c[0] != "key.json"])
def test_cli_exits_1_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   case: tuple[str, str, str]) -> None:
    name, content, message = case
    path = write_case(tmp_path, name, content)
    code = main(["fleet", "plan", str(path)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count("\n") == 1 and message in err and "internal error" not in err


# ---------------------------------------------------------------------- fleet synth


def test_synth_counts_capped_before_any_work(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "big.json"
    start = time.perf_counter()
    code = main(["fleet", "synth", "--hosts", "1000000000000", "--guests", "0", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "1000000000000 hosts and 0 guests: at most 4,000,000 records in all" in err
    assert err.count("\n") == 1
    assert not out.exists()
    assert time.perf_counter() - start < 2
    with pytest.raises(InvalidValueError, match="at most 4,000,000 records"):
        synthesize(MAX_SYNTH_RECORDS, 1)


def test_synth_streams() -> None:
    """Before, the whole fleet was built in lists first (3,000,000 hosts: tens of seconds and
    gigabytes); now records are drawn as they are consumed."""
    start = time.perf_counter()
    hosts, guests = synthesize(3_000_000, 1_000_000, 5)
    first = next(iter(hosts))
    assert time.perf_counter() - start < 1
    assert (len(hosts), len(guests), first.name) == (3_000_000, 1_000_000, "host-000000")
    small_hosts, small_guests = synthesize(50, 70, 5)
    assert list(small_hosts) == list(small_hosts)  # each iteration draws the same fleet
    assert {g.host for g in small_guests} <= {h.name for h in small_hosts}
