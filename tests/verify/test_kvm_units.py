"""Units of the nested-KVM harness that run without QEMU: the L2 command line, the init
scripts and initramfs, the trace filter and parser, BTF offsets, the apt state, the ELF
closure, and the comparison with the engine on a hand-made record."""

from __future__ import annotations

import shutil
import stat
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from powercompat.verify.errors import AssetError
from powercompat.verify.initramfs import read_newc
from powercompat.verify.kvm.apt import AptState
from powercompat.verify.kvm.btf import Btf
from powercompat.verify.kvm.closure import needed
from powercompat.verify.kvm.compare import compare_cell
from powercompat.verify.kvm.guest import (
    KPROBES,
    L2_APPEND,
    TRACE_FILTER_AWK,
    L1Image,
    L2Config,
    _l1_init,
)
from powercompat.verify.kvm.matrix import configs_for
from powercompat.verify.kvm.parse import parse_boots, parse_session, parse_trace
from powercompat.verify.kvm.session import HOSTS, tcg_lock

# Trace lines in the format ftrace printed them in L1 (6.12, recorded session).
T_BEGIN = "            init-1       [000] .....     9.844797: tracing_mark_write: pc:begin c1"
T_PRE = ("       ld64.so.2-19{n}     [001] .....    11.03762{n}: pc_pre: "
         "(kvm_arch_vcpu_precreate+0x4/0x18 [kvm]) id={n}")
T_CREATE = ("       ld64.so.2-19{n}     [001] .....    11.03826{n}: pc_create: "
            "(kvm_arch_vcpu_create+0xc/0xe8 [kvm]) vcpu=0xc00000001300000{n} vid={v}")
T_SET = ("       ld64.so.2-19{n}     [000] .....    12.35364{n}: pc_set: "
         "(kvmppc_set_one_reg_hv+0xc/0x1140 [kvm_hv]) vcpu=0xc00000001300000{n} "
         "id=0x10200000000000b7 val={val}")
T_RET = ("       ld64.so.2-19{n}     [000] .....    12.35389{n}: pc_set_ret: "
         "(kvmppc_set_one_reg+0x4c/0x540 [kvm] <- kvmppc_set_one_reg_hv) ret={ret}")
T_CAS = ("       ld64.so.2-190     [000] .....    12.347490: tracing_mark_write: "
         "spapr_cas_pvr current=0x0, explicit_match=1, new=0xf000005")
T_MARK = "            init-175     [000] .....    26.464747: tracing_mark_write: {text}"


def _trace(set_ret: int = 0) -> list[str]:
    lines = [T_BEGIN]
    for n in (0, 1):
        lines += [T_PRE.format(n=n), T_CREATE.format(n=n, v=n)]
    lines.append(T_CAS)
    for n in (0, 1):
        lines += [T_SET.format(n=n, val="0xf000005"), T_RET.format(n=n, ret=set_ret)]
    lines.append(T_MARK.format(text="pc:reboot 1"))
    for n in (0, 1):
        lines += [T_SET.format(n=n, val="0x0"), T_RET.format(n=n, ret=0)]
    lines.append(T_CAS)
    lines.append(T_MARK.format(text="pc:poweroff"))
    return lines


def test_phases_follow_the_markers() -> None:
    phases, _sregs, ids, vid_ok = parse_trace(_trace())
    assert [p.name for p in phases] == ["startup", "cas1", "reboot1", "cas2", "shutdown"]
    assert [(c.vcpu, c.op, c.value, c.errno) for c in phases[1].calls] == [
        (0, "set", 0x0F000005, 0), (1, "set", 0x0F000005, 0)]
    assert [c.value for c in phases[2].calls] == [0, 0]
    assert phases[0].calls == [] and phases[3].calls == []
    assert phases[1].cas == {"current": "0x00000000", "explicit_match": True,
                             "new": "0x0f000005"}
    assert ids == [0, 1] and vid_ok is True


def test_a_refused_set_carries_the_errno() -> None:
    phases, *_ = parse_trace(_trace(set_ret=-22))
    assert [c.errno for c in phases[1].calls] == [22, 22]


def test_a_wrong_vcpu_id_offset_is_reported() -> None:
    lines = _trace()
    lines[2] = T_CREATE.format(n=0, v=7)
    _phases, _sregs, _ids, vid_ok = parse_trace(lines)
    assert vid_ok is False


def test_the_awk_filter_keeps_only_the_paired_return() -> None:
    if shutil.which("awk") is None:
        pytest.skip("no awk on this machine")
    noise = T_RET.format(n=0, ret=0)  # a return whose entry the ftrace filter dropped
    text = "\n".join(["# tracer: nop", noise, T_SET.format(n=0, val="0x0"),
                      T_RET.format(n=0, ret=-22), noise, T_CAS]) + "\n"
    out = subprocess.run(["awk", TRACE_FILTER_AWK], input=text, capture_output=True,
                         text=True, timeout=30, check=True).stdout.splitlines()
    assert out == [T_SET.format(n=0, val="0x0"), T_RET.format(n=0, ret=-22), T_CAS]


def test_boots_and_session_blocks() -> None:
    console = [
        "@@PCK-L1 6.12.107+deb13-powerpc64le POWER9 (architected), altivec supported",
        "@@PCK-KVM yes", "@@PCK-QEMU 7.2 QEMU emulator version 7.2.22 (Debian x)",
        "@@PCK-BEGIN c1 8.93", "@@PCK-RC c1 1 10.43",
        "@@PCK-STDERR-BEGIN c1",
        "qemu-system-ppc64: warning: Many guests require at least 64kiB hpt-max-page-size",
        "qemu-system-ppc64: HPT not supported in nested guests", "@@PCK-STDERR-END c1",
        "@@PCK-CONSOLE-BEGIN c1", "@@L2-CPUINFO-BEGIN",
        "cpu\t\t: POWER9 (architected), altivec supported", "MMU\t\t: Radix",
        "@@L2-CPUINFO-END", "@@L2-CPU-VERSION /proc/device-tree/cpus/PowerPC,POWER9@0 0f000005",
        "@@L2-DONE", "@@PCK-CONSOLE-END c1",
        "@@PCK-TRACE-BEGIN c1", *_trace(), "@@PCK-TRACE-END c1", "@@PCK-ALL-DONE"]
    facts, runs = parse_session("\n".join(console))
    assert facts["kvm"] == "yes" and facts["qemu 7.2"].startswith("QEMU emulator version 7.2")
    assert facts["l1"].startswith("6.12.107")
    run = runs[0]
    assert (run.id, run.returncode, run.seconds) == ("c1", 1, 1.5)
    assert run.error_lines == ["qemu-system-ppc64: HPT not supported in nested guests"]
    assert run.boots[0].cpu_lines == ["POWER9 (architected), altivec supported"]
    assert run.boots[0].cpu_versions == ["0f000005"] and run.boots[0].mmu == "Radix"
    assert len(run.to_json()["phases"]) == 5
    assert parse_boots(["@@L2-CPU-VERSION x none"]) == []  # no cpuinfo block: no boot


def test_l2_argv_follows_the_recipe() -> None:
    cfg = L2Config("c", "10.0", "power9", kvm_type="HV")
    argv = cfg.argv(65536)
    machine = argv[argv.index("-machine") + 1]
    assert machine.startswith("pseries,accel=kvm,x-vof=on,cap-sbbc=broken")
    assert "cap-hpt-max-page-size=64k" in machine and machine.endswith(
        ",max-cpu-compat=power9,kvm-type=HV")
    assert "cap-hpt-max-page-size=4k" in L2Config("c", "7.2").argv(4096)[1]
    assert argv[argv.index("-D") + 1] == "/sys/kernel/tracing/trace_marker"
    assert all(" " not in a for a in argv)  # L1's shell splits the line on spaces
    assert "-append" not in argv and "quiet" in L2_APPEND


def test_matrix_has_every_qemu_and_a_non_host_cpu() -> None:
    cfgs = configs_for("pseries-power9")
    assert {c.qemu for c in cfgs} == {"7.2", "10.0", "11.1"}
    assert {c.max_cpu_compat for c in cfgs} == {None, "power9", "power8", "power10"}
    assert sum(c.cpu == "POWER8" for c in cfgs) == 3
    assert len({c.id for c in cfgs}) == len(cfgs)
    assert all(c.kvm_type == "PR" for c in configs_for("powernv9", ("7.2",), "PR"))


def test_l1_init_loads_the_probes_and_filters() -> None:
    script = _l1_init(reboots=1)
    for probe in KPROBES:
        assert probe in script
    assert "echo 'id == 0x10200000000000b7' > $T/events/kprobes/pc_set/filter" in script
    assert 'if [ "$n" -le 1 ]' in script and "poweroff -f" in script


def test_l1_image_holds_every_piece(tmp_path: Path) -> None:
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"\x7fELF fake")
    mod = tmp_path / "6.12-kvm-hv.ko"
    mod.write_bytes(b"module")
    qemu = tmp_path / "q"
    for sub, name in (("bin", "qemu-system-ppc64"), ("lib", "ld64.so.2"), ("share", "vof.bin")):
        (qemu / sub).mkdir(parents=True)
        (qemu / sub / name).write_bytes(name.encode())
    vmlinux = tmp_path / "vmlinux"
    vmlinux.write_bytes(b"kernel")
    image = L1Image(busybox, [mod], {"7.2": qemu}, vmlinux, [L2Config("c1", "7.2")], 4096)
    entries = {e.name: e for e in read_newc(image.write(tmp_path / "l1.cpio").read_bytes())}
    assert entries["lib/modules/kvm-hv.ko"].data == b"module"
    assert entries["lib/modules/order"].data == b"kvm-hv.ko\n"
    assert entries["q/7.2/lib/ld64.so.2"].mode & 0o111
    assert entries["configs/c1"].data.startswith(b"7.2\n-machine pseries,accel=kvm")
    assert stat.S_ISCHR(entries["dev/console"].mode)
    l2 = {e.name: e for e in read_newc(entries["l2/initrd"].data)}
    assert b"reboot -f" in l2["init"].data and b"@@L2-DONE" in l2["init"].data


def _btf_blob(types: bytes, strings: bytes) -> bytes:
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types),
                         len(strings))
    return header + types + strings


def test_btf_offsets_through_anonymous_unions_and_split_sections() -> None:
    # strings: 0 "", 1 "int", 5 "kvm_vcpu", 14 "vcpu_id", 22 "arch", 27 "vcore"
    strings = b"\0int\0kvm_vcpu\0vcpu_id\0arch\0vcore\0"
    types = struct.pack("<III", 1, 1 << 24, 4) + struct.pack("<I", 32)  # [1] int
    # [2] anonymous union { int vcore; } ; [3] struct kvm_vcpu { int vcpu_id @36; union @64 }
    types += struct.pack("<III", 0, (5 << 24) | 1, 4) + struct.pack("<III", 27, 1, 0)
    types += struct.pack("<III", 5, (4 << 24) | 2, 128)
    types += struct.pack("<III", 14, 1, 36 * 8) + struct.pack("<III", 0, 2, 64 * 8)
    btf = Btf()
    btf.add(_btf_blob(types, strings))
    assert btf.offset("kvm_vcpu", "vcpu_id") == 36
    assert btf.offset("kvm_vcpu", "vcore") == 64
    # a split (module) blob: its ids continue after 3, its string offsets after the base's
    split_strings = b"kvmppc_vcore\0pcr\0"
    base = len(strings)
    split = struct.pack("<III", base, (4 << 24) | 1, 208) + struct.pack(
        "<III", base + 13, 1, 200 * 8)
    btf.add(_btf_blob(split, split_strings))
    assert btf.offset("kvmppc_vcore", "pcr") == 200
    with pytest.raises(AssetError):
        btf.offset("kvm_vcpu", "nope")


def test_apt_state_is_private(tmp_path: Path) -> None:
    st = AptState(tmp_path / "s", "trixie", "ppc64el", sources=True)
    st.prepare()
    text = (tmp_path / "s" / "sources.list").read_text()
    assert "deb-src [signed-by=" in text and "trixie-security" in text
    opts = " ".join(st.options())
    assert f"Dir::State::Status={tmp_path / 's' / 'status'}" in opts
    assert "APT::Architecture=ppc64el" in opts
    assert (tmp_path / "s" / "status").read_text() == ""
    sid = AptState(tmp_path / "u", "sid", "amd64")
    sid.prepare()
    assert "security" not in (tmp_path / "u" / "sources.list").read_text()
    assert not sid.ready()


def test_needed_reads_dt_needed() -> None:
    true = shutil.which("true")
    assert true is not None
    assert any(n.startswith("libc.so") for n in needed(Path(true)))
    with pytest.raises(AssetError):
        needed(Path(__file__))


def test_hosts_and_lock(tmp_path: Path) -> None:
    nv = HOSTS["powernv9"]
    assert nv.l1_kernels == ("6.1", "6.12", "7.2")
    from powercompat.verify.kvm.assets import L0Qemu
    argv = nv.argv(L0Qemu("7.2", "v", ("qemu",), None), Path("k"), Path("i"), "a")
    assert "isa-ipmi-bt,bmc=bmc0,irq=10" in argv and argv[argv.index("-machine") + 1] == \
        "powernv9"
    p9 = HOSTS["pseries-power9"].argv(L0Qemu("7.2", "v", ("qemu",), None), Path("k"),
                                      Path("i"), "a")
    assert "pseries,cap-nested-hv=on,x-vof=on" in p9
    with tcg_lock(tmp_path / "lock") as waited:
        assert waited >= 0


def test_kernel_files_in_both_debian_packagings(tmp_path: Path) -> None:
    """bookworm/trixie ship /boot/vmlinux-VER; sid splits the kernel (releases.md): the
    image is /usr/lib/modules/VER/vmlinuz (linux-binary-VER), the config is beside it
    (linux-base-VER). Either way the L1 kernel, its config and ``uname -r`` are found."""
    from powercompat.verify.kvm.assets import L1_KERNELS, kernel_files

    old, new, empty = tmp_path / "old", tmp_path / "new", tmp_path / "empty"
    (old / "boot").mkdir(parents=True)
    for name in ("vmlinux-6.1.0-50-powerpc64le", "config-6.1.0-50-powerpc64le"):
        (old / "boot" / name).write_text("")
    mods = new / "usr/lib/modules/7.2.13+deb14-powerpc64le"
    mods.mkdir(parents=True)
    for name in ("vmlinuz", "config"):
        (mods / name).write_text("")
    empty.mkdir()
    assert kernel_files(old) == (old / "boot/vmlinux-6.1.0-50-powerpc64le",
                                 old / "boot/config-6.1.0-50-powerpc64le",
                                 "6.1.0-50-powerpc64le")
    assert kernel_files(new) == (mods / "vmlinuz", mods / "config", "7.2.13+deb14-powerpc64le")
    assert kernel_files(empty) is None
    (mods / "config").unlink()
    assert kernel_files(new) is None
    assert L1_KERNELS["7.2"] == ("sid", "linux-image-powerpc64le")
    # 7.2 on the POWER9 host; on Power11 its first L2 stalled L1 (kvm-kernel.md)
    assert HOSTS["pseries-power9"].l1_kernels == ("6.1", "6.12", "7.2")
    assert "7.2" not in HOSTS["pseries-power11"].l1_kernels


def _record(calls_cas1: list[dict[str, Any]], qemu: str = "7.2") -> dict[str, Any]:
    call = {"vcpu": 0, "vcpu_id": 0, "op": "set", "id": "0x10200000000000b7", "errno": 0}
    return {
        "l1_qemus": {qemu: {"reported": f"QEMU emulator version {qemu}.22 (Debian)"}},
        "l1_kernel": {"label": "6.1"},
        "cells": [],
        "cell": {
            "config": {"id": "c", "qemu": qemu, "max_cpu_compat": None, "cpu": "host",
                       "smp": 2},
            "run": {
                "returncode": 0, "error": [],
                "set_sregs": {"pvrs": ["0x004e1200"]},
                "phases": [
                    {"name": "startup", "calls": []},
                    {"name": "cas1", "calls": calls_cas1},
                    {"name": "reboot1", "calls": [{**call, "value": "0x00000000"},
                                                  {**call, "vcpu": 1, "value": "0x00000000"}]},
                    {"name": "cas2", "calls": [{**call, "value": "0x0f000005"},
                                               {**call, "vcpu": 1, "value": "0x0f000005"}]},
                    {"name": "shutdown", "calls": []}],
                "boots": [{"cpu_versions": ["0f000005", "0f000005"]}],
            },
        },
    }


def test_compare_agrees_and_disagrees() -> None:
    call = {"vcpu": 0, "vcpu_id": 0, "op": "set", "id": "0x10200000000000b7", "errno": 0}
    good = [{**call, "value": "0x0f000005"}, {**call, "vcpu": 1, "value": "0x0f000005"}]
    rec = _record(good)
    comp = compare_cell(rec["cell"], rec)
    assert comp.profile == "7.2" and comp.agree, comp.diffs
    bad = [{**call, "value": "0x0f000005", "errno": 22},
           {**call, "vcpu": 1, "value": "0x0f000005"}]
    rec = _record(bad)
    comp = compare_cell(rec["cell"], rec)
    assert not comp.agree and comp.diffs[0].startswith("cas1 ARCH_COMPAT calls")
    # vCPU 1's call traced before vCPU 0's: the trace cannot order two vCPU threads on two
    # L1 CPUs, so only each vCPU's own order counts
    rec = _record(good[::-1])
    assert compare_cell(rec["cell"], rec).agree
    twice = [{**call, "value": "0x0f000005"}, {**call, "value": "0x0f000004"},
             {**call, "vcpu": 1, "value": "0x0f000005"}]
    rec = _record(twice)  # an extra call on vCPU 0 still disagrees
    assert not compare_cell(rec["cell"], rec).agree
    rec = _record(good, qemu="9.9")
    comp = compare_cell(rec["cell"], rec)
    assert comp.profile is None and comp.gap == "the engine has no profile for QEMU 9.9.22"
    rec = _record(good)
    rec["l1_kernel"]["label"] = "5.99"
    comp = compare_cell(rec["cell"], rec)
    assert comp.gap == "the engine has no host kernel linux-5.99"


def test_probes_follow_the_kvm_flavour() -> None:
    from powercompat.verify.kvm.guest import kprobes_for

    pr = kprobes_for("kvm_pr", "pr")
    assert any("kvm_pr:kvmppc_set_one_reg_pr" in p for p in pr)
    # PR's set_sregs takes any PVR; probed to record which one QEMU passed (issue #14)
    assert any("kvm_pr:kvm_arch_vcpu_ioctl_set_sregs_pr" in p for p in pr)
    assert not any("_hv" in p for p in pr)
    assert any("kvm_hv:kvm_arch_vcpu_ioctl_set_sregs_hv" in p for p in KPROBES)


@pytest.mark.parametrize(("option", "value", "what"), [
    ("--hosts", "pseries-power8", "host"), ("--l1-kernels", "5.10", "L1 kernel"),
    ("--qemus", "9.2", "QEMU")])
def test_cli_refuses_unknown_values_in_one_line(capsys: pytest.CaptureFixture[str],
                                                option: str, value: str, what: str) -> None:
    from powercompat.cli.main import main

    code = main(["verify", "kvm", option, value])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err == [f"powercompat: error: unknown {what} '{value}' " + err[0].split("' ", 1)[1]]
    assert "(valid: " in err[0]


def test_report_rows_name_the_outcome_and_the_verdict() -> None:
    from powercompat.verify.kvm.report import markdown, outcome

    call = {"vcpu": 0, "vcpu_id": 0, "op": "set", "id": "0x10200000000000b7", "errno": 0}
    rec = _record([{**call, "value": "0x0f000005"}, {**call, "vcpu": 1, "value": "0x0f000005"}])
    rec["cells"] = [rec.pop("cell")]
    run = rec["cells"][0]["run"]
    run.update({"timed_out": False, "seconds": 12.5, "returncode": 0})
    run["boots"][0].update({"cpu_lines": [], "mmu": "Radix"})
    rec.update({"host": {"name": "pseries-power9", "machine": "pseries", "l0_cpu": "POWER9"},
                "l1_kernel": {"label": "6.1", "package": "linux-image-x", "version": "1"},
                "l0_qemu": "QEMU 7.2", "l2_kernel": {"version": "6.12.107-1"},
                "date": "d", "session": {"wall_seconds": 1.0}})
    text = markdown([rec])
    assert "| c | 7.2 | (unset) | host | 1 boot(s), exit 0 | cas1[0:0x0f000005, " in text
    assert text.rstrip().splitlines()[-1].endswith("| agrees |")
    assert outcome({"timed_out": True}) == "timed out"
    assert outcome({"timed_out": False, "error": ["qemu-system-ppc64: HPT not supported in "
                                                  "nested guests"], "boots": [],
                    "returncode": 1}) == "refused: HPT not supported in nested guests"


def test_initramfs_is_compressed_only_beyond_the_machine_limit(tmp_path: Path) -> None:
    import gzip

    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"\0" * 200_000)
    vmlinux = tmp_path / "vmlinux"
    vmlinux.write_bytes(b"\0" * 100_000)
    image = L1Image(busybox, [], {}, vmlinux, [], 4096)
    plain = image.write(tmp_path / "a.cpio").read_bytes()
    assert plain.startswith(b"070701")
    packed = image.write(tmp_path / "b.cpio", limit=len(plain) - 1).read_bytes()
    assert gzip.decompress(packed) == plain
    with pytest.raises(AssetError, match="machine loads at most"):
        image.write(tmp_path / "c.cpio", limit=10)


def test_session_reports_an_l0_that_never_brings_l1_up(tmp_path: Path) -> None:
    from powercompat.verify.errors import BootError
    from powercompat.verify.kvm.assets import L0Qemu
    from powercompat.verify.kvm.session import run_session

    host = HOSTS["powernv9"]
    fail = L0Qemu("x", "x", ("sh", "-c", "echo 'Could not load initial ram disk' >&2; exit 1",
                             "sh"), None)
    with pytest.raises(BootError, match="exited 1 before L1 came up: Could not load initial"):
        run_session(host, fail, tmp_path / "k", tmp_path / "i", 1, lock=None)
    script = "printf '@@PCK-KVM yes\\n@@PCK-BEGIN c1 1.0\\n@@PCK-RC c1 0 2.5\\n@@PCK-ALL-DONE\\n'"
    seen: list[str] = []
    ok = L0Qemu("x", "x", ("sh", "-c", script, "sh"), None)
    out = run_session(host, ok, tmp_path / "k", tmp_path / "i", 1, lock=tmp_path / "lock",
                      on_line=seen.append)
    assert out.returncode == 0 and not out.timed_out
    assert seen == ["@@PCK-KVM yes", "@@PCK-BEGIN c1 1.0", "@@PCK-RC c1 0 2.5",
                    "@@PCK-ALL-DONE"]
    assert parse_session(out.console)[1][0].seconds == 1.5


def test_session_stops_a_wedged_l1(tmp_path: Path) -> None:
    import time

    from powercompat.verify.kvm.assets import L0Qemu
    from powercompat.verify.kvm.session import run_session

    script = "printf '@@PCK-KVM yes\\n@@PCK-BEGIN c1 1.0\\n'; exec sleep 60"
    hung = L0Qemu("x", "x", ("sh", "-c", script, "sh"), None)
    t0 = time.monotonic()
    out = run_session(HOSTS["pseries-power9"], hung, tmp_path / "k", tmp_path / "i", 1,
                      lock=None, quiet=1.0)
    assert out.timed_out and time.monotonic() - t0 < 30
    assert "@@PCK-BEGIN c1" in out.console


def test_sigterm_kills_l0_under_the_guard(tmp_path: Path) -> None:
    """A session under process.guard(): SIGTERM kills the (stand-in) L0's whole group."""
    import signal
    import sys
    import time
    import uuid

    tag = f"1000.{uuid.uuid4().int % 10**9}"  # a unique sleep argument: how L0 is found
    code = f"""
import sys
from pathlib import Path
from powercompat.verify import process
from powercompat.verify.kvm.assets import L0Qemu
from powercompat.verify.kvm.session import HOSTS, run_session
l0 = L0Qemu("x", "x", ("sh", "-c", "echo @@PCK-KVM yes; exec sleep {tag}", "sh"), None)
with process.guard():
    run_session(HOSTS["pseries-power9"], l0, Path("k"), Path("i"), 1, lock=None,
                on_line=lambda l: print(l, flush=True))
"""
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "@@PCK-KVM yes"
    time.sleep(0.3)
    assert _sleepers(tag) != []
    child.send_signal(signal.SIGTERM)
    child.wait(timeout=30)
    time.sleep(0.5)
    assert _sleepers(tag) == [] and child.returncode != 0


def _sleepers(tag: str) -> list[str]:
    """The stand-in L0 processes (``sleep <tag>``) still alive."""
    import os

    return [p for p in os.listdir("/proc")
            if p.isdigit() and _cmdline(p).startswith("sleep") and tag in _cmdline(p)]


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""
