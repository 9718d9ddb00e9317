"""The PR kernel recipe offline: config derivation, the config check, the manifest and cache,
the CLI edge and process-group cleanup. The build itself runs by hand (issue #14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from powercompat.cli.main import main
from powercompat.verify import prkernel as pk

DEBIAN_LIKE = """\
#
# Automatically generated file; DO NOT EDIT.
#
CONFIG_CC_VERSION_TEXT="gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0"
CONFIG_NO_HZ_COMMON=y
# CONFIG_NO_HZ_IDLE is not set
CONFIG_NO_HZ_FULL=y
CONFIG_CONTEXT_TRACKING_USER=y
CONFIG_VIRT_CPU_ACCOUNTING=y
CONFIG_VIRT_CPU_ACCOUNTING_GEN=y
CONFIG_KVM_BOOK3S_64=m
CONFIG_KVM_BOOK3S_64_HV=m
CONFIG_EXT4_FS=m
CONFIG_DRM=m
CONFIG_STAGING=y
CONFIG_SCSI=y
CONFIG_HVC_CONSOLE=y
CONFIG_NR_CPUS=2048
CONFIG_DEBUG_INFO=y
# CONFIG_DEBUG_INFO_NONE is not set
CONFIG_MODULE_SIG=y
CONFIG_SECURITY_LOCKDOWN_LSM=y
CONFIG_LOCALVERSION=""
# CONFIG_PPC_4K_PAGES is not set
CONFIG_PPC_64K_PAGES=y
"""


def test_parse_and_render_round_trip() -> None:
    values = pk.parse_config(DEBIAN_LIKE)
    assert values["NO_HZ_IDLE"] == "n"
    assert values["NR_CPUS"] == "2048"
    assert values["LOCALVERSION"] == '""'
    assert "Automatically" not in "".join(values)
    assert pk.parse_config(pk.render_config(values)) == values


def test_derivation_enables_pr_and_records_why() -> None:
    d = pk.derive_config(DEBIAN_LIKE)
    seed = pk.parse_config(d.text)
    # what PR needs (arch/powerpc/kvm/Kconfig: depends on !CONTEXT_TRACKING_USER)
    assert seed["KVM_BOOK3S_64_PR"] == "m"
    assert seed["KVM_BOOK3S_64_HV"] == "m"
    assert (seed["NO_HZ_FULL"], seed["NO_HZ_IDLE"]) == ("n", "y")
    assert (seed["VIRT_CPU_ACCOUNTING_GEN"], seed["VIRT_CPU_ACCOUNTING_NATIVE"]) == ("n", "y")
    assert d.pr["NO_HZ_FULL"] == ("y", "n")
    assert d.pr["KVM_BOOK3S_64_PR"] == (None, "m")
    assert "KVM_BOOK3S_64_HV" not in d.pr  # unchanged from Debian, so not a change
    # harness settings
    assert seed["DEBUG_INFO_NONE"] == "y" and seed["DEBUG_INFO"] == "n"
    assert seed["MODULE_SIG"] == "n" and seed["SECURITY_LOCKDOWN_LSM"] == "n"
    assert seed["LOCALVERSION"] == f'"{pk.LOCALVERSION}"'
    # the trim: modules off except KVM's, listed built-ins off, the rest untouched
    assert seed["EXT4_FS"] == "n" and seed["DRM"] == "n"
    assert seed["KVM_BOOK3S_64"] == "m"
    assert d.modules_off == 2
    assert d.modules_kept == ("KVM_BOOK3S_64", "KVM_BOOK3S_64_HV", "KVM_BOOK3S_64_PR")
    assert d.trimmed_builtins == {"STAGING": "y", "SCSI": "y"}
    assert seed["HVC_CONSOLE"] == "y" and seed["NR_CPUS"] == "2048"


def test_derivation_is_deterministic() -> None:
    assert pk.derive_config(DEBIAN_LIKE) == pk.derive_config(DEBIAN_LIKE)
    assert pk.derive_config(DEBIAN_LIKE, 4) == pk.derive_config(DEBIAN_LIKE, 4)


def test_the_64k_build_keeps_debians_pages() -> None:
    """The default build is the one it always was: Debian's 64K pages, no page change."""
    d = pk.derive_config(DEBIAN_LIKE)
    assert d == pk.derive_config(DEBIAN_LIKE, 64)
    seed = pk.parse_config(d.text)
    assert (seed["PPC_64K_PAGES"], seed["PPC_4K_PAGES"]) == ("y", "n")
    assert pk.pr_changes(64) == pk.PR_CHANGES and pk.required(64) == pk.REQUIRED
    assert not {"PPC_4K_PAGES", "PPC_64K_PAGES"} & set(d.pr)


def test_the_4k_variant_switches_the_page_and_its_name() -> None:
    d4, d64 = pk.derive_config(DEBIAN_LIKE, 4), pk.derive_config(DEBIAN_LIKE)
    seed = pk.parse_config(d4.text)
    assert (seed["PPC_4K_PAGES"], seed["PPC_64K_PAGES"]) == ("y", "n")
    assert d4.pr["PPC_4K_PAGES"] == ("n", "y") and d4.pr["PPC_64K_PAGES"] == ("y", "n")
    assert seed["LOCALVERSION"] == '"-powercompat-pr4k"' != f'"{pk.LOCALVERSION}"'
    assert d4.harness["LOCALVERSION"] == ('""', '"-powercompat-pr4k"')
    # everything else is the 64K build's: same PR changes, trim and modules
    seed64 = pk.parse_config(d64.text)
    differ = {s for s in seed | seed64 if seed.get(s) != seed64.get(s)}
    assert differ == {"PPC_4K_PAGES", "PPC_64K_PAGES", "LOCALVERSION"}
    assert (d4.trimmed_builtins, d4.modules_off, d4.modules_kept) == \
        (d64.trimmed_builtins, d64.modules_off, d64.modules_kept)


def test_an_unknown_page_size_is_one_line() -> None:
    with pytest.raises(pk.VerifyError, match="^page size 16 KiB: the PR kernel is built "
                       "with 4 or 64 KiB pages$"):
        pk.derive_config(DEBIAN_LIKE, 16)


def _satisfying() -> str:
    return pk.render_config(pk.REQUIRED)


def test_check_config_accepts_what_pr_needs() -> None:
    pk.check_config(_satisfying())
    pk.check_config(pk.render_config(pk.required(4)), 4)


def test_check_config_holds_each_build_to_its_page_size() -> None:
    with pytest.raises(pk.ConfigError) as err:
        pk.check_config(_satisfying(), 4)
    assert str(err.value) == ("the resolved config lost what PR needs: PPC_64K_PAGES=y "
                              "(want n), PPC_4K_PAGES=n (want y)")
    with pytest.raises(pk.ConfigError, match=r"PPC_64K_PAGES=n \(want y\)$"):
        pk.check_config(pk.render_config(pk.required(4)))


@pytest.mark.parametrize(("text", "size"), [
    ("CONFIG_PPC_4K_PAGES=y\n# CONFIG_PPC_64K_PAGES is not set\n", 4096),
    ("# CONFIG_PPC_4K_PAGES is not set\nCONFIG_PPC_64K_PAGES=y\n", 65536),
])
def test_config_page_size(text: str, size: int) -> None:
    assert pk.config_page_size(text) == size


def test_config_page_size_refuses_other_pages() -> None:
    with pytest.raises(pk.VerifyError, match="sets neither PPC_4K_PAGES nor PPC_64K_PAGES"):
        pk.config_page_size("CONFIG_PPC_16K_PAGES=y\n")


@pytest.mark.parametrize(
    ("symbol", "value", "shown"),
    [
        ("KVM_BOOK3S_64_PR", None, "KVM_BOOK3S_64_PR=n (want m)"),
        ("CONTEXT_TRACKING_USER", "y", "CONTEXT_TRACKING_USER=y (want n)"),
        ("KPROBE_EVENTS", "n", "KPROBE_EVENTS=n (want y)"),
        ("MODULE_SIG", "y", "MODULE_SIG=y (want n)"),
    ],
)
def test_check_config_names_what_was_lost(symbol: str, value: str | None, shown: str) -> None:
    values = dict(pk.REQUIRED)
    if value is None:
        del values[symbol]
    else:
        values[symbol] = value
    with pytest.raises(pk.ConfigError) as err:
        pk.check_config(pk.render_config(values))
    assert str(err.value) == f"the resolved config lost what PR needs: {shown}"


def test_config_diff() -> None:
    before = "CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_D=1\n"
    after = "# CONFIG_A is not set\nCONFIG_C=y\nCONFIG_D=2\n"
    assert pk.config_diff(before, after) == {"on": ["C"], "off": ["A", "B"],
                                             "changed": ["D: 1 -> 2"]}


def test_make_argv_is_niced_and_cross() -> None:
    argv = pk.make_argv(Path("/t"), Path("/b"), 2, "vmlinux", "modules")
    assert argv[:4] == ["nice", "-n", "19", "make"]
    assert "-j2" in argv and "ARCH=powerpc" in argv
    assert "CROSS_COMPILE=powerpc64le-linux-gnu-" in argv
    assert argv[-2:] == ["vmlinux", "modules"]


def test_build_env_fixes_the_identity(tmp_path: Path) -> None:
    env = pk.build_env(tmp_path, 0)
    assert env["KBUILD_BUILD_TIMESTAMP"] == "1970-01-01 00:00:00 UTC"
    assert env["KBUILD_BUILD_USER"] == "powercompat"
    assert env["PATH"].startswith(str(tmp_path / "usr" / "bin") + ":")
    assert env["M4"] == str(tmp_path / "usr" / "bin" / "m4")


# --- manifest and cache ------------------------------------------------------------------------


def _cached_build(out: Path, page_kib: int = 64) -> pk.Manifest:
    (out / "modules").mkdir(parents=True)
    files = {}
    for rel, body in (("vmlinux", b"ELF"), ("config", b"CONFIG_X=y\n"),
                      ("modules/kvm-pr.ko", b"ko")):
        (out / rel).write_bytes(body)
        files[rel] = pk.sha256(out / rel)
    local = pk.PAGE_VARIANTS[page_kib][1]
    m = pk.Manifest(
        kernel_release=f"6.1.176{local}", source_package="linux-source-6.1",
        source_version="6.1.176-1", config_package="linux-image-6.1.0-50-powerpc64le",
        config_version="6.1.176-1", toolchain={"gcc-powerpc64le-linux-gnu": "4:12.2.0-3"},
        build_tools={"flex": "2.6.4-8.2"}, make_command=["nice", "-n", "19", "make"], jobs=2,
        build_seconds=1234.5, started_utc="2026-01-01T00:00:00Z", vcpu_id_offset=36,
        files=files, page_size=page_kib << 10,
    )
    (out / pk.MANIFEST).write_text(json.dumps(m.to_json()))
    return m


def test_manifest_round_trip_and_cache_hit(tmp_path: Path) -> None:
    m = _cached_build(tmp_path)
    assert pk.Manifest.from_json(json.loads((tmp_path / pk.MANIFEST).read_text())) == m
    assert pk.load_manifest(tmp_path) == m


def test_a_manifest_from_before_the_4k_variant_is_a_64k_build(tmp_path: Path) -> None:
    _cached_build(tmp_path)
    path = tmp_path / pk.MANIFEST
    d = json.loads(path.read_text())
    del d["page_size"]
    path.write_text(json.dumps(d))
    m = pk.load_manifest(tmp_path)
    assert m is not None and m.page_size == 65536
    with pytest.raises(pk.VerifyError, match="page_size has the wrong type"):
        pk.Manifest.from_json({**d, "page_size": "4K"})


def test_cache_miss_when_a_file_changed(tmp_path: Path) -> None:
    _cached_build(tmp_path)
    (tmp_path / "modules" / "kvm-pr.ko").write_bytes(b"other")
    assert pk.load_manifest(tmp_path) is None


@pytest.mark.parametrize("damage", ["missing", "type", "json"])
def test_cache_miss_on_a_bad_manifest(tmp_path: Path, damage: str) -> None:
    _cached_build(tmp_path)
    path = tmp_path / pk.MANIFEST
    d = json.loads(path.read_text())
    if damage == "missing":
        del d["vcpu_id_offset"]
        path.write_text(json.dumps(d))
    elif damage == "type":
        d["build_seconds"] = "fast"
        path.write_text(json.dumps(d))
    else:
        path.write_text("{")
    assert pk.load_manifest(tmp_path) is None


def test_from_json_names_the_bad_field() -> None:
    with pytest.raises(pk.VerifyError, match="vcpu_id_offset has the wrong type"):
        pk.Manifest.from_json({**_fields(), "vcpu_id_offset": "36"})


def _fields() -> dict[str, object]:
    return {k: 0 if k in ("jobs", "build_seconds", "cpu_seconds", "vcpu_id_offset",
                          "page_size") else
            ({} if k in ("toolchain", "build_tools", "files") else
             ([] if k == "make_command" else "x")) for k in pk.Manifest.__dataclass_fields__}


def test_cli_reports_a_cached_build_without_building(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _cached_build(tmp_path / "out")
    assert main(["verify", "pr-kernel", "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "6.1.176-powercompat-pr: built in 1234 s" in out
    assert "kvm_vcpu.vcpu_id at +36" in out
    assert main(["verify", "pr-kernel", "--cache", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["vcpu_id_offset"] == 36


def test_cli_reports_a_cached_4k_build(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    _cached_build(tmp_path / "out", 4)
    assert main(["verify", "pr-kernel", "--page-size", "4", "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "6.1.176-powercompat-pr4k: built in 1234 s" in out and "4K pages;" in out


@pytest.mark.parametrize(("built", "asked"), [(64, 4), (4, 64)])
def test_cli_refuses_a_cache_of_the_other_page_size(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], built: int, asked: int) -> None:
    _cached_build(tmp_path / "out", built)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    rc = main(["verify", "pr-kernel", "--page-size", str(asked), "--cache", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1, err
    assert f"holds the {built}K-page build" in err[0]
    assert f"give the {asked}K build its own --cache" in err[0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing touched


def test_cli_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "pr-kernel", "--cache", str(tmp_path), "-j", "0"]) == 2
    assert "must be 1..64, got 0" in capsys.readouterr().err
    assert main(["verify", "pr-kernel", "--cache", str(tmp_path), "--page-size", "16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid choice: 16 (choose from 4, 64)" in err[0], err
    blocker = tmp_path / "file"
    blocker.write_text("")
    # a cache that is a file: one typed line, exit 1, nothing created
    assert main(["verify", "pr-kernel", "--cache", str(blocker)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("powercompat: error:"), err
    assert blocker.read_text() == ""


# --- process handling ---------------------------------------------------------------------------


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    script = f"sleep 60 & echo $! > {pidfile}; wait"
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        pk._run_logged(["sh", "-c", script], cwd=tmp_path, env=os.environ,
                       log=tmp_path / "log", timeout=1.0)
    assert time.monotonic() - start < 15
    grandchild = int(pidfile.read_text())
    stat = Path(f"/proc/{grandchild}/stat")
    deadline = time.monotonic() + 10
    while stat.exists() and stat.read_text().split(") ")[-1][0] != "Z":
        assert time.monotonic() < deadline, "the grandchild outlived the timeout"
        time.sleep(0.1)


def test_failure_quotes_the_log_tail(tmp_path: Path) -> None:
    with pytest.raises(pk.VerifyError, match=r"exited 3: .*boom"):
        pk._run_logged([sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
                       cwd=tmp_path, env=os.environ, log=tmp_path / "log", timeout=30)
