"""The PR mode of the nested-KVM harness without booting (issue #14): the host, the L2
configurations, the L1 kernel taken from the pr-kernel cache, the CLI edge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from powercompat.cli.main import main
from powercompat.verify import prkernel
from powercompat.verify.errors import AssetError
from powercompat.verify.kvm import pr
from powercompat.verify.kvm.assets import L0Qemu
from powercompat.verify.kvm.guest import L1Image
from powercompat.verify.kvm.matrix import MODES, configs_for
from powercompat.verify.kvm.session import HOSTS


def test_the_pr_host_is_a_hash_pseries_without_nested_hv() -> None:
    host = HOSTS[pr.HOST]
    argv = host.argv(L0Qemu("7.2", "v", ("qemu-system-ppc64",), None), Path("vmlinux"),
                     Path("initrd"), "console=hvc0")
    assert argv[argv.index("-machine") + 1] == "pseries,x-vof=on"
    assert argv[argv.index("-cpu") + 1] == "POWER8"
    # every build verify pr-kernel makes runs there, under the label its release gives
    labels = {pr.kernel_label(f"6.1.176{local}") for _, local in prkernel.PAGE_VARIANTS.values()}
    assert set(host.l1_kernels) == labels == {"6.1-pr", "6.1-pr4k"}


@pytest.mark.parametrize("release", ["6.1.176", "6.1.176-powercompat-", "6-powercompat-pr"])
def test_a_release_the_recipe_does_not_name_is_refused(release: str) -> None:
    with pytest.raises(AssetError, match="is not <version>-powercompat-<name>"):
        pr.kernel_label(release)


@pytest.mark.parametrize(("page_size", "cap"), [(65536, "64k"), (4096, "4k")])
def test_pr_configs_follow_l1s_page_size(page_size: int, cap: str) -> None:
    """cap-hpt-max-page-size is L1's page, as in the HV cells (PR checks none, matrix.py),
    but in the cell that keeps the machine's own 64 KiB."""
    for cfg in configs_for(pr.HOST, ("7.2",), pr.KVM_TYPE):
        want = "64k" if cfg.id.endswith("-cap64k") else cap
        caps = [x for x in cfg.argv(page_size)[1].split(",")
                if x.startswith("cap-hpt-max-page-size=")]
        assert caps == [f"cap-hpt-max-page-size={want}"], cfg.id


@pytest.mark.parametrize("kvm_type", [None, pr.KVM_TYPE])
def test_every_mode_has_a_cap64k_cell_per_qemu(kvm_type: str | None) -> None:
    """HV refuses 64 KiB on a 4K-page L1 (KVM_PPC_PAGE_SIZES_REAL), PR checks no page size:
    both get the cell, built like the mode's other cells (kvm-type, firmware, caps)."""
    host = pr.HOST if kvm_type else "pseries-power9"
    configs = configs_for(host, ("7.2", "10.0", "11.1"), kvm_type)
    cap64k = [c for c in configs if c.id.endswith("-cap64k")]
    assert [c.qemu for c in cap64k] == ["7.2", "10.0", "11.1"]
    for cfg in cap64k:
        unset = next(c for c in configs if c.id == cfg.id.replace("-cap64k", "-unset"))
        assert (cfg.kvm_type, cfg.firmware, cfg.timeout, cfg.max_cpu_compat) == (
            unset.kvm_type, unset.firmware, unset.timeout, None)
        assert cfg.machine_extra == (*unset.machine_extra, "cap-hpt-max-page-size=64k")


def test_pr_configs_use_slof_pr_caps_and_kvm_type_pr() -> None:
    configs = configs_for(pr.HOST, ("7.2", "10.0", "11.1"), pr.KVM_TYPE)
    assert len(configs) == 3 * (len(MODES[pr.HOST]) + 2)  # + the non-host CPU and cap64k
    for cfg in configs:
        machine = cfg.argv(65536)[1].split(",")
        assert "kvm-type=PR" in machine and "x-vof=on" not in machine
        assert "cap-fwnmi=off" in machine
        assert ("cap-ail-mode-3=off" in machine) == (cfg.qemu != "7.2")  # no such cap in 7.2
        assert cfg.firmware == "slof" and cfg.timeout > 300
    ids = {c.id for c in configs}
    assert {"q72-unset", "q100-power6", "q111-power7+", "q72-cpu-power7", "q111-cap64k"} <= ids


def test_hv_configs_are_unchanged_by_the_pr_mode() -> None:
    for cfg in configs_for("pseries-power9", ("7.2",)):
        machine = cfg.argv(65536)[1].split(",")
        assert "x-vof=on" in machine and "cap-fwnmi=off" not in machine
        assert cfg.firmware == "vof"


def test_the_l1_init_honours_each_configs_timeout(tmp_path: Path) -> None:
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"\x7fELF")
    vmlinux = tmp_path / "vmlinux"
    vmlinux.write_bytes(b"\x7fELF")
    cfg = configs_for(pr.HOST, ("7.2",), pr.KVM_TYPE)[0]
    image = L1Image(busybox, [], {}, vmlinux, [cfg], 65536, kprobes=pr.KPROBES)
    files = {e.name: e.data for e in image.entries()}
    assert files[f"configs/{cfg.id}"].decode().splitlines()[2] == str(cfg.timeout)
    init = files["init"].decode()
    assert "tmo=$(sed -n 3p $f)" in init and "timeout -s KILL ${tmo:-" in init
    assert "kvm_pr:kvmppc_set_one_reg_pr" in init


_PAGES = {4096: "CONFIG_PPC_4K_PAGES=y\n# CONFIG_PPC_64K_PAGES is not set\n",
          65536: "# CONFIG_PPC_4K_PAGES is not set\nCONFIG_PPC_64K_PAGES=y\n"}


def _pr_build(out: Path, release: str, config_pages: int, manifest_pages: int | None) -> None:
    """A cached pr-kernel output: ``manifest_pages`` None is a manifest from before the
    4K variant (no page_size)."""
    (out / "modules").mkdir(parents=True)
    files = {}
    for rel in ("vmlinux", "config", "modules/kvm.ko", "modules/kvm-pr.ko"):
        (out / rel).write_text(_PAGES[config_pages] if rel == "config" else rel)
        files[rel] = prkernel.sha256(out / rel)
    manifest = {k: 0 for k in ("jobs", "build_seconds", "vcpu_id_offset")} | {
        "kernel_release": release, "source_package": "linux-source-6.1",
        "source_version": "6.1.176-1", "config_package": "p", "config_version": "v",
        "toolchain": {}, "build_tools": {}, "make_command": [], "started_utc": "t",
        "files": files}
    if manifest_pages is not None:
        manifest["page_size"] = manifest_pages
    (out / prkernel.MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.parametrize(("release", "pages", "manifest_pages", "label"), [
    ("6.1.176-powercompat-pr", 65536, None, "6.1-pr"),
    ("6.1.176-powercompat-pr", 65536, 65536, "6.1-pr"),
    ("6.1.176-powercompat-pr4k", 4096, 4096, "6.1-pr4k"),
])
def test_pr_l1_kernel_comes_from_the_pr_kernel_cache(
        tmp_path: Path, release: str, pages: int, manifest_pages: int | None,
        label: str) -> None:
    with pytest.raises(AssetError, match="run 'powercompat verify pr-kernel"):
        pr.pr_l1_kernel(tmp_path)
    out = tmp_path / "out"
    _pr_build(out, release, pages, manifest_pages)
    kernel = pr.pr_l1_kernel(tmp_path)
    assert kernel.label == label and kernel.release == release
    assert [m.name for m in kernel.modules] == ["kvm.ko", "kvm-pr.ko"]  # insmod order
    assert kernel.vmlinux == out / "vmlinux" and kernel.page_size == pages


def test_pr_l1_kernel_refuses_a_manifest_that_contradicts_the_config(tmp_path: Path) -> None:
    _pr_build(tmp_path / "out", "6.1.176-powercompat-pr4k", 4096, None)  # says 64K by default
    with pytest.raises(AssetError, match="manifest says 65536-byte pages, the config 4096"):
        pr.pr_l1_kernel(tmp_path)


def test_cli_pr_mode_without_a_build_is_one_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["verify", "kvm", "--mode", "pr", "--pr-cache", str(tmp_path), "--no-lock"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1
    assert err[0].startswith("powercompat: error: no KVM PR kernel built in")
