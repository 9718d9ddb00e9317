"""Assets (sources for the private apt state, cached manifest) and the report writers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from powercompat.verify import assets as assets_mod
from powercompat.verify.assets import (
    Assets,
    _apt_options,
    _debian_sources,
    _find_vmlinux,
    check_cache_dir,
    ensure_assets,
    load_assets,
)
from powercompat.verify.errors import AssetError, EnvironmentProblem
from powercompat.verify.matrix import MatrixRun, load_cells
from powercompat.verify.qemu import QemuBinary
from powercompat.verify.report import markdown, prepare_output_dir, write_json
from powercompat.verify.suites import parse_suite

REAL = Path(__file__).resolve().parents[1] / "data" / "real"

DEB822 = """\
Types: deb
# http://snapshot.mirror.example/archive/debian/20250520T000000Z
URIs: http://mirror.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://node.example/node_20.x
Suites: nodistro
Components: main
Architectures: amd64
"""


def _etc(tmp_path: Path) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://security.debian.org/debian-security bookworm-security main\n"
        "deb https://cloud.example/apt cloud-sdk main\n"
    )
    return tmp_path


def test_sources_name_one_suite_and_one_architecture(tmp_path: Path) -> None:
    etc = _etc(tmp_path)
    trixie = _debian_sources(parse_suite("trixie"), "ppc64el", etc)
    assert "node.example" not in trixie and "cloud.example" not in trixie
    assert "amd64" not in trixie and trixie.count("Architectures: ppc64el") == 2
    assert "Suites: trixie trixie-updates\n" in trixie
    assert "Suites: trixie-security\n" in trixie
    assert "bookworm" not in trixie
    assert "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" in trixie
    sid = _debian_sources(parse_suite("11.1"), "amd64", etc)
    assert "Suites: sid\n" in sid and "security" not in sid  # sid has no security suite
    assert sid.count("Types: deb") == 1


def test_a_backports_suite_lists_its_base_and_is_pinned_above_it(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    etc = _etc(tmp_path / "etc")
    bpo = parse_suite("bookworm-backports")
    sources = _debian_sources(bpo, "amd64", etc)
    assert "Suites: bookworm bookworm-updates bookworm-backports\n" in sources
    assert "Suites: bookworm-security\n" in sources
    apt = tmp_path / "apt"
    assets_mod._prepare_apt(apt, bpo, "amd64")
    assert "Pin: release n=bookworm-backports\nPin-Priority: 990" in (apt / "preferences"
                                                                        ).read_text()
    assets_mod._prepare_apt(tmp_path / "plain", parse_suite("bookworm"), "amd64")
    assert (tmp_path / "plain" / "preferences").read_text() == ""  # no pin
    # a release number still names its first suite; the other builds only by name
    assert parse_suite("10.0").name == "trixie" and parse_suite("11.1").name == "sid"
    assert parse_suite("forky").qemu_release == "11.1"


def test_no_debian_sources_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    with pytest.raises(AssetError, match="no Debian sources"):
        _debian_sources(parse_suite("sid"), "ppc64el", tmp_path)


def test_apt_options_never_touch_the_host_state(tmp_path: Path) -> None:
    opts = " ".join(_apt_options(tmp_path, "amd64"))
    assert "APT::Architecture=amd64" in opts and "APT::Architectures=amd64" in opts
    for key in ("Dir::State::Lists", "Dir::State::Status", "Dir::Cache", "Dir::Etc::SourceList",
                "Dir::Etc::SourceParts", "Dir::Etc::Preferences"):
        assert f"{key}={tmp_path}" in opts


def _fake_qemu(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def _set_up(cache: Path, suite: str, qemu: Path, guest: str, kernel_version: str) -> None:
    (cache / suite / "guest").mkdir(parents=True)
    files = {}
    for name in ("vmlinux", "busybox", "initrd.gz"):
        files[name] = cache / suite / "guest" / name
        files[name].write_bytes(b"x")
    (cache / suite / "qemu.json").write_text(json.dumps({
        "suite": suite, "source": "extracted", "qemu": QemuBinary(qemu).to_json(),
        "packages": ["qemu-system-ppc_x.deb"]}))
    (cache / suite / "guest.json").write_text(json.dumps({
        "suite": suite, "guest": guest, "kernel_package": f"linux-image-{kernel_version}",
        "kernel_version": kernel_version, "busybox_version": "1:1.37.0-6",
        "vmlinux": str(files["vmlinux"]), "busybox": str(files["busybox"]),
        "initrd": str(files["initrd.gz"])}))


def test_cached_assets_are_not_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qemu = _fake_qemu(tmp_path / "qemu", "echo 'QEMU emulator version 10.0.13 (Debian "
                      "1:10.0.13+ds-0+deb13u1)'")
    _set_up(tmp_path / "cache", "trixie", qemu, "linux-6.12", "6.12.107-1")

    def no_network(*_a: object, **_k: object) -> str:
        raise AssertionError("nothing may be fetched")

    monkeypatch.setattr(assets_mod, "_run", no_network)
    monkeypatch.setattr(assets_mod, "_update_lists", no_network)
    got = ensure_assets(tmp_path / "cache", release="10.0")
    assert (got.qemu_release, got.qemu_debian_version) == ("10.0", "1:10.0.13+ds-0+deb13u1")
    assert (got.guest, got.kernel_version, got.fetched) == ("linux-6.12", "6.12.107-1", ())
    run = load_assets(tmp_path / "cache", release="trixie")
    assert run.header()["qemu_version"] == (
        "QEMU emulator version 10.0.13 (Debian 1:10.0.13+ds-0+deb13u1)")


def test_run_never_fetches_and_names_the_setup_to_run(tmp_path: Path) -> None:
    qemu = _fake_qemu(tmp_path / "qemu", "echo 'QEMU emulator version 11.1.3'")
    with pytest.raises(AssetError) as err:
        load_assets(tmp_path / "empty", release="sid")
    assert str(err.value).endswith("run: powercompat verify setup --release sid")
    _set_up(tmp_path / "cache", "sid", qemu, "linux-7.2", "7.2.13-1")
    with pytest.raises(AssetError, match="guest linux-6.12 is not set up .*--release trixie"):
        load_assets(tmp_path / "cache", release="sid", guest="linux-6.12")
    assert load_assets(tmp_path / "cache", release="sid").guest == "linux-7.2"


def test_cache_that_is_a_file_is_an_environment_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(EnvironmentProblem, match="is not a folder"):
        check_cache_dir(tmp_path / "f", create=True)


def test_output_dir_checked_before_work(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="not writable"):
        prepare_output_dir(Path("/proc/powercompat-report"))
    (tmp_path / "file").write_text("")
    with pytest.raises(EnvironmentProblem, match="is not a folder"):
        prepare_output_dir(tmp_path / "file")
    with pytest.raises(EnvironmentProblem, match="not writable"):
        prepare_output_dir(tmp_path / "file" / "sub")
    assert prepare_output_dir(tmp_path / "a" / "b").is_dir()


def test_vmlinux_is_found_in_either_layout(tmp_path: Path) -> None:
    old = tmp_path / "old" / "boot"
    old.mkdir(parents=True)
    (old / "vmlinux-6.1.0-50-powerpc64le").write_bytes(b"\x7fELF....")
    (old / "System.map-6.1.0-50-powerpc64le").write_bytes(b"c000 T _stext")
    assert _find_vmlinux(tmp_path / "old") == old / "vmlinux-6.1.0-50-powerpc64le"
    new = tmp_path / "new" / "usr" / "lib" / "modules" / "7.2.13+deb14-powerpc64le"
    new.mkdir(parents=True)
    (new / "vmlinuz").write_bytes(b"\x7fELF....")  # an ELF despite its name (sid)
    assert _find_vmlinux(tmp_path / "new") == new / "vmlinuz"
    (new / "vmlinuz").write_bytes(b"\x1f\x8b compressed")
    assert _find_vmlinux(tmp_path / "new") is None


def test_report_writers(tmp_path: Path) -> None:
    header, cells = load_cells(REAL / "qemu-7.2-linux-6.1-vof.json")
    a = Assets(
        qemu=QemuBinary.of("q"), qemu_version=header["qemu_version"],
        kernel_package=header["kernel_package"],
        kernel_version=header["kernel_version"], busybox_version=header["busybox_version"],
        vmlinux=Path("v"), initrd=Path("i"),
    )  # fmt: skip
    run = MatrixRun(a, "vof", 2, header["date"], 1.0, cells)
    md = markdown(run)
    assert md.count("\n| power") == 28
    assert "| power9 | power8 | 0x0f000004 | 0x0f000004 | 0x0f000004 |" in md
    assert "refused: Compatibility PVR 0x0f000006 not valid for CPU" in md
    out = write_json(run, tmp_path / "r.json", extra={"command": "c"})
    again_header, again = load_cells(out)
    assert again == cells and again_header["command"] == "c"
