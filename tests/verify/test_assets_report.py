"""Assets (sources for the private apt state, cached manifest) and the report writers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from powercompat.verify import assets as assets_mod
from powercompat.verify.assets import Assets, _apt_options, _debian_sources, ensure_assets
from powercompat.verify.errors import AssetError
from powercompat.verify.matrix import MatrixRun, load_cells
from powercompat.verify.report import markdown, write_json

REAL = Path(__file__).resolve().parents[1] / "data" / "real"

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
Architectures: amd64
"""


def test_debian_sources_keep_debian_and_pin_ppc64el(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://security.debian.org/debian-security bookworm-security main\n"
        "deb https://packages.cloud.google.com/apt cloud-sdk main\n"
    )
    text = _debian_sources(tmp_path)
    assert "nodesource" not in text and "google" not in text and "amd64" not in text
    assert text.count("Architectures: ppc64el") == 2
    assert "URIs: http://security.debian.org/debian-security" in text
    assert "Suites: bookworm bookworm-updates" in text


def test_no_debian_sources_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    with pytest.raises(AssetError, match="no Debian sources"):
        _debian_sources(tmp_path)


def test_apt_options_never_touch_the_host_state(tmp_path: Path) -> None:
    opts = " ".join(_apt_options(tmp_path))
    assert "APT::Architecture=ppc64el" in opts
    for key in ("Dir::State::Lists", "Dir::State::Status", "Dir::Cache", "Dir::Etc::SourceList"):
        assert f"{key}={tmp_path}" in opts


def test_cached_assets_are_not_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "vmlinux").write_bytes(b"x")
    (tmp_path / "initrd.gz").write_bytes(b"x")
    manifest = {
        "qemu_version": "QEMU emulator version 7.2.22",
        "kernel_package": "linux-image-6.1.0-50-powerpc64le",
        "kernel_version": "6.1.176-1",
        "busybox_version": "1:1.35.0-4+deb12u1+b1",
        "vmlinux": str(tmp_path / "vmlinux"),
        "initrd": str(tmp_path / "initrd.gz"),
    }
    (tmp_path / "assets.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(assets_mod, "ensure_qemu", lambda _p: ("/usr/bin/qemu", False))
    monkeypatch.setattr(assets_mod, "qemu_version", lambda _q: "QEMU emulator version 7.2.22")

    def no_network(*_a: object, **_k: object) -> str:
        raise AssertionError("nothing may be fetched")

    monkeypatch.setattr(assets_mod, "_run", no_network)
    got = ensure_assets(tmp_path)
    assert got.kernel_version == "6.1.176-1" and got.fetched == ()


def test_report_writers(tmp_path: Path) -> None:
    header, cells = load_cells(REAL / "qemu-7.2-linux-6.1-vof.json")
    a = Assets(
        qemu="q", qemu_version=header["qemu_version"], kernel_package=header["kernel_package"],
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
