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
    assert host.l1_kernels == (pr.KERNEL_LABEL,)


def test_pr_configs_use_slof_pr_caps_and_kvm_type_pr() -> None:
    configs = configs_for(pr.HOST, ("7.2", "10.0", "11.1"), pr.KVM_TYPE)
    assert len(configs) == 3 * (len(MODES[pr.HOST]) + 1)
    for cfg in configs:
        machine = cfg.argv(65536)[1].split(",")
        assert "kvm-type=PR" in machine and "x-vof=on" not in machine
        assert "cap-fwnmi=off" in machine
        assert ("cap-ail-mode-3=off" in machine) == (cfg.qemu != "7.2")  # no such cap in 7.2
        assert cfg.firmware == "slof" and cfg.timeout > 300
    ids = {c.id for c in configs}
    assert {"q72-unset", "q100-power6", "q111-power7+", "q72-cpu-power7"} <= ids


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


def test_pr_l1_kernel_comes_from_the_pr_kernel_cache(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match="run 'powercompat verify pr-kernel"):
        pr.pr_l1_kernel(tmp_path)
    out = tmp_path / "out"
    (out / "modules").mkdir(parents=True)
    files = {}
    for rel in ("vmlinux", "config", "modules/kvm.ko", "modules/kvm-pr.ko"):
        (out / rel).write_bytes(rel.encode())
        files[rel] = prkernel.sha256(out / rel)
    manifest = {k: 0 for k in ("jobs", "build_seconds", "vcpu_id_offset")} | {
        "kernel_release": "6.1.176-powercompat-pr", "source_package": "linux-source-6.1",
        "source_version": "6.1.176-1", "config_package": "p", "config_version": "v",
        "toolchain": {}, "build_tools": {}, "make_command": [], "started_utc": "t",
        "files": files}
    (out / prkernel.MANIFEST).write_text(json.dumps(manifest))
    kernel = pr.pr_l1_kernel(tmp_path)
    assert kernel.label == "6.1-pr" and kernel.release == "6.1.176-powercompat-pr"
    assert [m.name for m in kernel.modules] == ["kvm.ko", "kvm-pr.ko"]  # insmod order
    assert kernel.vmlinux == out / "vmlinux" and kernel.page_size == 65536


def test_cli_pr_mode_without_a_build_is_one_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["verify", "kvm", "--mode", "pr", "--pr-cache", str(tmp_path), "--no-lock"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1
    assert err[0].startswith("powercompat: error: no KVM PR kernel built in")
