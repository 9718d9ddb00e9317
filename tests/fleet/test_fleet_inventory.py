"""Reading inventories: JSON, CSV, libvirt domain XML, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet_helpers import EXAMPLES, guest, host, write_json

from powercompat.decisions.libvirt import LibvirtCpu, LibvirtDomain
from powercompat.errors import InputError
from powercompat.fleet.decide import GuestKind, HostClass
from powercompat.fleet.domain_xml import MAX_XML_BYTES, parse_domain
from powercompat.fleet.errors import InventoryError
from powercompat.fleet.inventory import load_inventory, parse_inventory_text

DOMAIN = """<domain type='kvm'><name>{name}</name>{meta}
  <cpu mode='{mode}'>{model}</cpu></domain>"""


def domain(name: str = "vm1", mode: str = "host-model", model: str | None = "power8",
           meta: str = "") -> bytes:
    return DOMAIN.format(name=name, mode=mode, meta=meta,
                         model=f"<model>{model}</model>" if model else "").encode()


def test_json_inventory_resolves_hosts_per_profile(tmp_path: Path) -> None:
    path = write_json(tmp_path, [host("a", "POWER9", qemu="head"), host("b", "power9",
                                                                       qemu="7.2")],
                      [guest("vm", "a", "power8")])
    inv = load_inventory([path])
    # QEMU's alias: power9 is DD2.2 at head, DD2.0 in 7.2 (the profiles say so)
    assert [h.cls for h in inv.hosts] == [HostClass("POWER9", "power9_v2.2", "hv", "head"),
                                          HostClass("POWER9", "power9_v2.0", "hv", "7.2")]
    assert inv.guests[0].kind == GuestKind("linux-6.1", "power8", False)
    assert inv.guests[0].origin == (str(path), "guests[0]")


def test_defaults_and_empty_values(tmp_path: Path) -> None:
    path = tmp_path / "i.json"
    path.write_text('{"hosts": [{"name": "a", "cpu": "power8", "group": "g"}], '
                    '"guests": [{"name": "v", "host": "a", "max_cpu_compat": ""}]}')
    inv = load_inventory([path])
    assert inv.hosts[0].cls == HostClass("POWER8", "power8_v2.0", "hv", "head")
    assert inv.guests[0].kind == GuestKind("linux-6.1", None, False)
    assert inv.guests[0].group is None


def test_csv_with_kind_column_equals_two_files(tmp_path: Path) -> None:
    one = tmp_path / "fleet.csv"
    one.write_text("kind,name,cpu,kvm,qemu,group,profile,max_cpu_compat,host\n"
                   "host,a,power9,hv,head,g,,,\n"
                   "host,b,power8,pr,7.2,g,,,\n"
                   "\n"
                   "guest,vm,,,,g,linux-2025,power8,a\n")
    hosts = tmp_path / "hosts.csv"
    hosts.write_text("name,cpu,kvm,qemu,group\na,power9,hv,head,g\nb,power8,pr,7.2,g\n")
    guests = tmp_path / "guests.csv"
    guests.write_text("name,profile,max_cpu_compat,host,group\nvm,linux-2025,power8,a,g\n")
    a = load_inventory([one])
    b = load_inventory([hosts, guests])
    assert a.hosts == b.hosts
    assert [(g.name, g.kind, g.host, g.group) for g in a.guests] == [
        (g.name, g.kind, g.host, g.group) for g in b.guests]


def test_example_json_and_csv_are_the_same_fleet() -> None:
    js = load_inventory([EXAMPLES / "inventory.json"])
    cs = load_inventory([EXAMPLES / "hosts.csv", EXAMPLES / "guests.csv"])
    assert js.hosts == cs.hosts
    assert [(g.name, g.kind, g.host, g.group) for g in js.guests] == [
        (g.name, g.kind, g.host, g.group) for g in cs.guests]


def test_libvirt_guests_from_rows_and_files(example_paths: list[Path]) -> None:
    inv = load_inventory(example_paths)
    by_name = {g.name: g for g in inv.guests}
    erp, mail = by_name["erp"].kind, by_name["mail"].kind
    assert (erp.profile, erp.max_cpu_compat, erp.libvirt) == ("linux-6.1", "power10", True)
    assert erp.domain == LibvirtDomain(LibvirtCpu("host-model", "power10"), "kvm")
    assert by_name["erp"].host == "p10-b"
    assert (mail.profile, mail.max_cpu_compat, mail.libvirt) == ("linux-6.1", "power8", True)
    assert (by_name["mail"].host, by_name["mail"].group) == ("p8-a", "refresh")


@pytest.mark.parametrize(("mode", "model", "expected"), [
    ("host-model", "power8", "power8"),
    ("host-model", "power7+", "power7+"),  # QEMU's name; libvirt refuses it per host
    ("host-model", None, None),
    ("host-passthrough", None, None),
    ("maximum", None, None),
    ("custom", None, None),
    ("custom", "POWER8", None),  # pins the CPU; libvirt compares it with the host's
])
def test_domain_cpu_modes(mode: str, model: str | None, expected: str | None) -> None:
    assert parse_domain(domain(mode=mode, model=model), "d.xml").max_cpu_compat == expected


def test_domain_without_cpu_has_no_maximum() -> None:
    assert parse_domain(b"<domain><name>x</name></domain>", "d.xml").max_cpu_compat is None


@pytest.mark.parametrize(("data", "message"), [
    (domain(mode="custom-ish", model="POWER8"),
     "d.xml: <cpu>, field 'mode': 'custom-ish' is not one of custom, host-model, "
     "host-passthrough, maximum"),
    (b"<domain type='xen'><name>x</name></domain>",
     "d.xml: <domain>, field 'type': 'xen' is not a QEMU domain type (qemu, kvm)"),
    (b"<domain type='kvm'><name>x</name><cpu check='sometimes'/></domain>",
     "d.xml: <cpu>, field 'check': 'sometimes' is not one of none, partial, full"),
    (b"<?xml version='1.0'?><!DOCTYPE d [<!ENTITY a 'aaaa'>]><domain><name>&a;</name></domain>",
     "d.xml: DTDs and entity declarations are not accepted in domain XML"),
    (b"<domain><name>x</name>", "d.xml: line 1 column 23: not well-formed XML (no element "
     "found)"),
    (b"<network><name>x</name></network>", "d.xml: <network>: the root element must be "
     "<domain>"),
    (b"<domain><name> </name></domain>", "d.xml: <domain>/<name>: missing or empty"),
    (b" " * (MAX_XML_BYTES + 1), f"d.xml: larger than {MAX_XML_BYTES} bytes: not a domain "
     "definition"),
])
def test_bad_domains(data: bytes, message: str) -> None:
    with pytest.raises(InventoryError) as info:
        parse_domain(data, "d.xml")
    assert str(info.value) == message
    assert isinstance(info.value, InputError)


def test_domain_given_directly_needs_its_host(tmp_path: Path) -> None:
    path = tmp_path / "d.xml"
    path.write_bytes(domain())
    with pytest.raises(InventoryError, match=r"<metadata>/<fleet:guest>, field 'host': "
                                             r"missing"):
        load_inventory([path])


def test_domain_with_unknown_model_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "d.xml").write_bytes(domain(model="power12"))
    path = write_json(tmp_path, [host("a", "power9")],
                      [{"libvirt_xml": "d.xml", "host": "a"}])
    with pytest.raises(InventoryError) as info:
        load_inventory([path])
    assert str(info.value) == f"{tmp_path / 'd.xml'}: <cpu>/<model>: Invalid compatibility " \
                              'mode "power12"'


H = host("a", "power9")


@pytest.mark.parametrize(("hosts", "guests", "message"), [
    ([host("a", "power12")], [], "hosts[0], field 'cpu': unable to find CPU model 'power12' "
                                 "(QEMU profile head)"),
    ([host("a", "power11", qemu="7.2")], [], "hosts[0], field 'cpu': unable to find CPU "
                                             "model 'power11' (QEMU profile 7.2)"),
    ([host("a", "power9", qemu="12.0")], [], "hosts[0], field 'qemu': unknown QEMU profile "
                                             "'12.0'"),
    ([host("a", "power9", kvm="tcg")], [], "hosts[0], field 'kvm': unknown KVM flavour 'tcg' "
                                           "(valid: hv, pr, pr-ignore)"),
    ([{"name": "a", "cpu": "power9"}], [], "hosts[0], field 'group': missing"),
    ([{**H, "rack": "r1"}], [], "hosts[0], field 'rack': unknown field"),
    ([{**H, "group": 3}], [], "hosts[0], field 'group': must be a string, not int"),
    ([H, H], [], "hosts[1], field 'name': duplicate host 'a'"),
    ([H], [guest("v", "a", "power12")], "guests[0], field 'max_cpu_compat': Invalid "
                                        'compatibility mode "power12"'),
    ([H], [guest("v", "a", "POWER8")], "guests[0], field 'max_cpu_compat': Invalid "
                                       'compatibility mode "POWER8"'),
    ([H], [guest("v", "a", profile="aix")], "guests[0], field 'profile': unknown guest "
                                            "'aix' (valid: linux-6.1, "),
    ([H], [guest("v", "b")], "guests[0], field 'host': unknown host 'b'"),
    ([H], [guest("v", "a", group="nowhere")], "guests[0], field 'group': no host is in "
                                              "group 'nowhere'"),
    ([H], [guest("v", "a"), guest("v", "a")], "guests[1], field 'name': duplicate guest 'v'"),
    ([H], [{"libvirt_xml": "x.xml", "name": "n", "host": "a"}],
     "guests[0], field 'name': comes from the libvirt_xml domain; leave it empty"),
])
def test_bad_json_records(tmp_path: Path, hosts: list[dict[str, object]],
                          guests: list[dict[str, object]], message: str) -> None:
    path = write_json(tmp_path, hosts, guests)
    with pytest.raises(InventoryError) as info:
        load_inventory([path])
    text = str(info.value)
    assert text.startswith(f"{path}: {message}"), text
    assert "\n" not in text


@pytest.mark.parametrize(("text", "message"), [
    ("[]", 'inv: the top level must be an object {"hosts": [...], "guests": [...]}'),
    ('{"hosts": {}}', "inv: hosts: must be a list of objects"),
    ('{"hosts": [], "vms": []}', "inv: field 'vms': unknown top-level key"),
    ('{"hosts": [1]}', "inv: hosts[0]: must be an object"),
    ('{"hosts": [', "inv: line 1 column 12: not valid JSON (Expecting value)"),
])
def test_bad_json_documents(text: str, message: str) -> None:
    with pytest.raises(InventoryError) as info:
        parse_inventory_text(text, "json", "inv")
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(("text", "message"), [
    ("", "inv: empty file (a header row is needed)"),
    ("name,cpu,colour\n", "inv: row 1, field 'colour': unknown column"),
    ("name,cpu,host\n", "inv: row 1, field 'kind': add a 'kind' column"),
    ("name,cpu,group\na,power9\n", "inv: row 2: 2 values for 3 header columns"),
    ("kind,name,cpu,group\nvm,a,power9,g\n", "inv: row 2, field 'kind': must be 'host' or "
                                             "'guest', not 'vm'"),
    ("kind,name,cpu,group,host\nguest,a,power9,g,x\n", "inv: row 2, field 'cpu': does not "
                                                        "apply to a guest"),
    ("name,cpu,group\na,power9,g\nb,power3,g\n", "inv: row 3, field 'cpu': unable to find "
                                                  "CPU model 'power3'"),
    ('name,cpu,group\n"a,power9,g\n', "inv: row 2: 1 values for 3 header columns"),
])
def test_bad_csv(text: str, message: str) -> None:
    with pytest.raises(InventoryError) as info:
        parse_inventory_text(text, "csv", "inv")
    assert str(info.value).startswith(message), str(info.value)


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text("hosts: []\n")
    with pytest.raises(InventoryError, match="unknown inventory format"):
        load_inventory([tmp_path / "fleet.yaml"])
    # a missing file is missing, whatever its name ends with (a typo is not a format)
    for name in ("fleet.json", "fleet.yaml", "fleet"):
        with pytest.raises(InventoryError, match="cannot read: No such file or directory"):
            load_inventory([tmp_path / "missing" / name])


# ---------------------------------------------------------------- domains as libvirt writes them

WRITTEN = """<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>pc</name>
  <os><type arch='ppc64le' machine='pseries-7.2'>hvm</type></os>
  {cpu}
  {cmdline}
</domain>"""


@pytest.mark.parametrize(("cpu", "cmdline", "expected", "compat"), [
    # what libvirt 9.0 writes for a domain defined without <cpu> (dumpxml --inactive)
    ("<cpu mode='custom' match='exact' check='none'>\n"
     "    <model fallback='forbid'>POWER9</model>\n  </cpu>", "",
     LibvirtCpu("custom", "POWER9", "none", "exact", "forbid"), None),
    ("<cpu mode='host-model' check='partial'>\n    <model fallback='allow'>power8</model>\n"
     "  </cpu>", "", LibvirtCpu("host-model", "power8", "partial", None, "allow"), "power8"),
    ("<cpu mode='host-passthrough' check='none' migratable='on'/>", "",
     LibvirtCpu("host-passthrough", None, "none"), None),
    ("<cpu mode='custom' match='exact' check='none'><model fallback='allow'>POWER8</model>"
     "</cpu>", "<qemu:commandline><qemu:arg value='-machine'/>"
     "<qemu:arg value='usb=off,max-cpu-compat=power7'/></qemu:commandline>",
     LibvirtCpu("custom", "POWER8", "none", "exact", "allow"), "power7"),
])
def test_domains_as_libvirt_writes_them(cpu: str, cmdline: str, expected: LibvirtCpu,
                                        compat: str | None) -> None:
    read = parse_domain(WRITTEN.format(cpu=cpu, cmdline=cmdline).encode(), "pc.xml")
    assert read.libvirt.cpu == expected
    assert (read.libvirt.virt_type, read.libvirt.machine) == ("qemu", "pseries-7.2")
    assert read.max_cpu_compat == compat


def test_release_host_kernel_guest_kernel_and_machine(tmp_path: Path) -> None:
    """Issue #15: a host's QEMU by release or any version spelling and its kernel; a guest's
    kernel by real name and its machine type."""
    path = tmp_path / "i.json"
    path.write_text(
        '{"hosts": [{"name": "a", "cpu": "power9", "group": "g", "qemu": "7.2.22", '
        '"host_kernel": "linux-6.1"}, {"name": "b", "cpu": "power9", "group": "g", '
        '"qemu": "1:7.2+dfsg-7+deb12u18"}], '
        '"guests": [{"name": "v", "host": "a", "kernel": "linux-6.1", '
        '"machine": "pseries-7.2"}, {"name": "w", "host": "b"}]}')
    inv = load_inventory([path])
    assert inv.hosts[0].cls == HostClass("POWER9", "power9_v2.0", "hv", "7.2",
                                         host_kernel="linux-6.1")
    assert inv.hosts[1].cls.qemu == "7.2" and inv.hosts[1].cls.host_kernel == ""
    assert inv.hosts[0].cls.options(None).host_kernel == "linux-6.1"
    assert inv.guests[0].kind == GuestKind("linux-6.1", None, False, None, "pseries-7.2")
    assert inv.guests[1].kind.machine == "pseries"


@pytest.mark.parametrize(("hosts", "guests", "message"), [
    ('[{"name": "a", "cpu": "power9", "group": "g", "host_kernel": "linux-9.9"}]', "[]",
     "hosts[0], field 'host_kernel': unknown host kernel 'linux-9.9'"),
    ('[{"name": "a", "cpu": "power9", "group": "g"}]',
     '[{"name": "v", "host": "a", "kernel": "linux-6.1", "profile": "linux-2025"}]',
     "guests[0], field 'kernel': 'linux-6.1' disagrees with profile 'linux-2025'"),
    ('[{"name": "a", "cpu": "power9", "group": "g"}]',
     '[{"name": "v", "host": "a", "kernel": "aix-7.3"}]',
     "guests[0], field 'kernel': unknown guest 'aix-7.3'"),
    ('[{"name": "a", "cpu": "power9", "group": "g"}]',
     '[{"name": "v", "host": "a", "machine": "q35"}]',
     "guests[0], field 'machine': not a pseries machine type: 'q35'"),
])
def test_bad_release_fields(tmp_path: Path, hosts: str, guests: str, message: str) -> None:
    path = tmp_path / "i.json"
    path.write_text(f'{{"hosts": {hosts}, "guests": {guests}}}')
    with pytest.raises(InventoryError) as info:
        load_inventory([path])
    assert message in str(info.value)
