"""``fleet plan --connect``: hosts and domains read from a running libvirt.

Two daemons are used, both real: libvirt's own ``test:///default`` driver (inside the client
library; it offers no ppc64 guests, so it shows the refusal), and a private session libvirtd
started by the libvirt harness, in which the recorded domains are defined (never started) and
read back. Each test skips, saying why, when the binding or libvirtd is not installed
(``.ci/run`` installs them: libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients,
libvirt-dev, pkg-config, gcc and the ``libvirt`` extra).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from powercompat.errors import PowerCompatError
from powercompat.fleet.connect import (
    ConnectError,
    merge,
    profile_for_machine,
    profile_for_version,
    read_connection,
)
from powercompat.fleet.inventory import Inventory
from powercompat.fleet.plan import plan

RECORDING = Path(__file__).parents[1] / "data" / "real" / "libvirt-9.0-qemu-7.2-cpu.json"

libvirt = pytest.importorskip(
    "libvirt", reason="SKIPPED LOUDLY: the libvirt binding is not installed "
    "(pip install -e '.[libvirt]' after apt-get install libvirt-dev pkg-config gcc)")


def test_profile_for_machine() -> None:
    assert profile_for_machine("pseries-7.2") == "7.2"
    assert profile_for_machine("pseries-2.10") == "2.10"
    with pytest.raises(ConnectError, match="no engine profile for the QEMU whose pseries "
                                           "machine is pseries-8.0"):
        profile_for_machine("pseries-8.0")


def test_profile_for_version() -> None:
    """libvirt's hypervisor version names the exact build: Debian's 10.0.2 lacks 10.0.13's
    icp/server backport, so it is its own profile; 0 (not reported) falls back to the
    machine type."""
    assert profile_for_version(7_002_022, "pseries-7.2") == "7.2"
    assert profile_for_version(10_000_013, "pseries-10.0") == "10.0"
    assert profile_for_version(10_000_002, "pseries-10.0") == "10.0.2"
    assert profile_for_version(0, "pseries-7.2") == "7.2"
    with pytest.raises(ConnectError, match="no engine profile for QEMU 12.0.0"):
        profile_for_version(12_000_000, "pseries-12.0")


def test_test_driver_offers_no_pseries() -> None:
    with pytest.raises(ConnectError) as err:
        read_connection("test:///default")
    assert str(err.value) == ("test:///default: libvirt offers no pseries machine for ppc64le "
                              "guests (no qemu-system-ppc64 on that host?)")


def test_unreachable_daemon_is_libvirts_message(tmp_path: Path) -> None:
    uri = f"qemu+unix:///session?socket={tmp_path / 'none'}"
    with pytest.raises(ConnectError) as err:
        read_connection(uri)
    assert str(err.value).startswith(f"{uri}: Failed to connect socket to '{tmp_path / 'none'}'")


@pytest.fixture(scope="module")
def private_libvirtd() -> Iterator[str]:
    """A private session libvirtd (the harness's), stopped at the end."""
    from powercompat.verify.libvirt import LIBVIRTD, start_private_daemon, stop_daemon

    if not Path(LIBVIRTD).is_file() or shutil.which("virsh") is None:
        pytest.skip("SKIPPED LOUDLY: libvirtd/virsh not installed (apt-get install "
                    "libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)")
    if shutil.which("qemu-system-ppc64") is None:
        pytest.skip("SKIPPED LOUDLY: qemu-system-ppc64 not installed")
    daemon = start_private_daemon(lambda _m: None)
    try:
        yield daemon.uri
    finally:
        stop_daemon(daemon)


def _define(uri: str, xml: str, where: Path) -> None:
    path = where / "d.xml"
    path.write_text(xml)
    subprocess.run(["virsh", "-q", "-c", uri, "define", str(path)], check=True,
                   capture_output=True, timeout=60)


def test_recorded_domains_read_back_and_planned(private_libvirtd: str, tmp_path: Path) -> None:
    """Every recorded domain libvirt accepted is defined on a real libvirtd, read back through
    the binding as libvirt writes it, and planned; the plan's start verdicts are libvirt's
    recorded ones."""
    data = json.loads(RECORDING.read_text())
    defined = {}
    for case in data["cases"]:
        if not case["define"]["ok"]:
            continue
        name = f"pc-{case['id']}"
        xml = (case["domain_xml"].replace("@NAME@", name).replace("@KERNEL@", "/nonexistent")
               .replace("@INITRD@", "/nonexistent").replace("@CONSOLE@", "/dev/null"))
        _define(private_libvirtd, xml, tmp_path)
        defined[name] = case
    connected = read_connection(private_libvirtd)
    assert (connected.host.cls.arch, connected.host.cls.kvm, connected.host.cls.qemu) == \
        (data["host_arch"], "tcg", "7.2")
    assert sorted(g.name for g in connected.guests) == sorted(defined)
    result = plan(merge(Inventory((), ()), [connected]))
    for guest in connected.guests:
        case = defined[guest.name]
        assert guest.kind.domain is not None
        assert guest.kind.domain.cpu is not None
        assert guest.kind.domain.cpu.xml().replace("'", '"') == \
            case["define"]["cpu"].replace(" />", "/>")
        detail = result.guest_detail(guest.name)
        (answer,) = detail.hosts
        assert answer.start.ok == case["start"]["ok"], case["id"]
        if not case["start"]["ok"] and not case["start"].get("qemu_errors"):
            assert answer.start.reason == f"libvirt: {case['start']['error']}"


def test_merge_refuses_a_host_twice(private_libvirtd: str) -> None:
    connected = read_connection(private_libvirtd)
    with pytest.raises(PowerCompatError, match="duplicate host"):
        merge(Inventory((connected.host,), ()), [connected])
