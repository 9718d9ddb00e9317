"""Every command works, with exact values from the engine."""

from __future__ import annotations

import pytest
from cli_runner import Runner

from powercompat.profiles import PROFILE_NAMES

KVM_EINVAL = "Unable to set CPU compatibility mode in KVM: Invalid argument"


# ------------------------------------------------------------------ simulate

def test_simulate_json_contract(run: Runner) -> None:
    r = run("simulate", "--cpu", "POWER8", "--accel", "kvm-pr", "--qemu", "2.11", "--smp", "2",
            "--events", "realize,reset,cas,reboot", "--json")
    assert (r.code, r.err) == (0, "")
    data = r.json
    assert {"started", "error", "events", "vcpus", "one_reg_total"} <= data.keys()
    assert [e["name"] for e in data["events"]] == [  # type: ignore[attr-defined]
        "realize", "reset", "cas", "reboot"]
    cas = data["events"][2]  # type: ignore[index]
    assert cas["ok"] is True
    assert cas["one_reg"] == [{"vcpu": 0, "op": "set", "id": "0x10200000000000b7",
                               "value": "0x0f000004", "errno": 22}]
    assert data["one_reg_total"] == 1
    assert len(data["vcpus"]) == 2  # type: ignore[arg-type]
    vcpu = data["vcpus"][0]  # type: ignore[index]
    assert {"id", "compat_pvr", "pcr", "kernel_arch_compat"} <= vcpu.keys()
    assert (vcpu["compat_pvr"], vcpu["pcr"], vcpu["kernel_arch_compat"]) == (
        "0x00000000", "0x0000000000000000", "0x00000000")


def test_simulate_timeline_report(run: Runner) -> None:
    r = run("simulate", "--cpu", "POWER8", "--accel", "kvm-pr", "--qemu", "2.11",
            "--events", "realize,reset,cas")
    assert r.code == 0
    assert "[3] cas (source): ok" in r.lines
    call = [line.split() for line in r.lines if "KVM_SET_ONE_REG" in line]
    assert call == [["0", "KVM_SET_ONE_REG", "KVM_REG_PPC_ARCH_COMPAT", "0x0f000004", "EINVAL"]]
    assert r.lines[0] == ("power8_v2.0 x1 (1 thread/core), max-cpu-compat=none, KVM PR on a "
                          "POWER8 host, QEMU profile 2.11")
    assert r.lines[-1] == "Summary: started; no failure; 1 ONE_REG call in all."


def test_simulate_failure_exits_1(run: Runner) -> None:
    r = run("simulate", "--cpu", "POWER8", "--accel", "kvm-pr", "--qemu", "2.10-pre")
    assert r.code == 1
    assert r.err == f"powercompat: error: {KVM_EINVAL}\n"
    assert f"[2] reset (source): FAILED: {KVM_EINVAL}" in r.lines


def test_simulate_migrate_to_older_cpu(run: Runner) -> None:
    r = run("simulate", "--cpu", "POWER9", "--max-cpu-compat", "power8", "--accel", "kvm-hv",
            "--events", "realize,reset,cas,migrate", "--dst-cpu", "POWER8", "--json")
    assert r.code == 0
    events = [(e["name"], e["machine"]) for e in r.json["events"]]  # type: ignore[attr-defined]
    assert events[-3:] == [("realize", "destination"), ("reset", "destination"),
                           ("migrate-in", "destination")]
    assert r.json["vcpus"][0]["compat_pvr"] == "0x0f000004"  # type: ignore[index]


# ------------------------------------------------------------------ migrate-check

def test_migrate_check_refused_with_advice(run: Runner) -> None:
    r = run("migrate-check", "--cpu", "POWER9", "--dst-cpu", "POWER8")
    assert r.code == 1
    # head: one chained line (qemu-releases.md 8.2)
    xive = ("load of migration failed: Invalid argument: Unknown section or instance "
            "'xive-source' 0. Make sure that your current VM setup matches your saved VM "
            "setup, including any hotplugged devices")
    assert r.err == f"powercompat: error: {xive}\n"
    assert f"migration:   REFUSED by the destination (xive-section): {xive}" in r.lines
    old = run("migrate-check", "--cpu", "POWER9", "--dst-cpu", "POWER8", "--qemu", "2.11")
    assert old.err == "powercompat: error: Compatibility PVR 0x0f000005 not valid for CPU\n"
    assert any(line.startswith("advice:      set max-cpu-compat=power8 on the source")
               for line in r.lines)
    data = run("migrate-check", "--cpu", "POWER9", "--dst-cpu", "POWER8", "--json").json
    assert data["ok"] is False
    assert data["suggested_max_cpu_compat"] == "power8"


def test_migrate_check_ok_with_maximum(run: Runner) -> None:
    r = run("migrate-check", "--cpu", "POWER9", "--dst-cpu", "POWER8",
            "--max-cpu-compat", "power8")
    assert (r.code, r.err) == (0, "")
    assert "migration:   ACCEPTED: the destination loads the CPU state" in r.lines


def test_migrate_check_across_releases(run: Runner) -> None:
    """Each side its own release: 7.2's power9 is DD2.0, 10.0's DD2.2; a pinned machine type
    moves forward, plain pseries does not, and nothing goes back (cpu/slb version 2)."""
    args = ["migrate-check", "--src-qemu", "7.2", "--dst-qemu", "10.0", "--cpu", "POWER9",
            "--max-cpu-compat", "power8", "--accel", "tcg"]
    r = run(*args, "--machine", "pseries-7.2")
    assert (r.code, r.err) == (0, "")
    assert r.lines[0].startswith("power9_v2.0 -> power9_v2.2, TCG, QEMU 7.2 -> 10.0, "
                                 "-M pseries-7.2")
    plain = run(*args, "--json")
    assert plain.code == 1
    assert (plain.json["side"], plain.json["rule"], plain.json["error"], plain.json["cause"]) == (
        "destination", "machine-type",
        "Machine type received is 'pseries-7.2' and local is 'pseries-10.0'",
        "load of migration failed: Invalid argument")
    back = run("migrate-check", "--src-qemu", "10.0", "--dst-qemu", "7.2", "--cpu", "power9",
               "--machine", "pseries-7.2", "--accel", "tcg", "--dst-max-cpu-compat", "none")
    assert back.code == 1
    assert back.err == ("powercompat: error: cpu/slb: incoming version_id 2 is too new for "
                        "local version_id 1\n")
    # a machine type the destination's release does not have: its words, not an input error
    newer = run("migrate-check", "--src-qemu", "10.0", "--dst-qemu", "7.2", "--cpu", "power9",
                "--machine", "pseries-10.0", "--accel", "tcg", "--json")
    assert newer.code == 1
    assert (newer.json["rule"], newer.json["lines"]) == (
        "machine-type",
        ["unsupported machine type", "Use -machine help to list supported machines"])


# ------------------------------------------------------------------ pcr

def test_pcr_decode(run: Runner) -> None:
    r = run("pcr", "decode", "0x200000000000003c")
    assert r.code == 0
    assert r.lines == [
        "0x200000000000003c",
        "  QEMU  (target/ppc/cpu.h):      TM_DIS, COMPAT_3_10, COMPAT_3_00, COMPAT_2_07, "
        "COMPAT_2_06",
        "  Linux (asm/reg.h, book3s_hv): PCR_TM_DIS, PCR_ARCH_31, PCR_ARCH_300, PCR_ARCH_207, "
        "PCR_ARCH_206",
    ]
    assert run("pcr", "decode", "8", "--json").json == {
        "value": "0x0000000000000008", "qemu": ["COMPAT_2_07"], "linux": ["PCR_ARCH_207"],
        "unnamed_bits": [], "bit_numbering": "bit N: IBM numbering, bit 0 is the most "
        "significant; 1<<M: the same bit counted from the least significant"}


def test_pcr_show_both_views(run: Runner) -> None:
    r = run("pcr", "--cpu", "POWER9", "--mode", "power8")
    assert r.code == 0
    assert "  SPR_PCR   0x0000000000000008 (COMPAT_2_07)" in r.lines
    assert "  vcore PCR 0x0fffffffffffffe9 (reserved (PCR_MASK), PCR_ARCH_207)" in r.lines
    assert run("pcr", "show", "--cpu", "POWER9", "--mode", "power8").out == r.out


def test_pcr_show_kernel_refuses_newer_than_host(run: Runner) -> None:
    r = run("pcr", "show", "--cpu", "POWER9", "--host-cpu", "POWER8", "--mode", "power9")
    assert r.code == 1
    assert "  EINVAL    guest level 0x10 is above the host's 0x8" in r.lines
    assert r.err == ("powercompat: error: KVM HV on a POWER8 host refuses ARCH_COMPAT "
                     "0x0f000005: Invalid argument\n")


def test_pcr_show_json_qemu_refuses(run: Runner) -> None:
    r = run("pcr", "show", "--cpu", "POWER8", "--mode", "power9", "--json")
    assert r.code == 1
    assert r.json["qemu_valid"] is False
    assert r.json["kvm_hv_errno"] == 22
    assert r.json["error"] == "Compatibility PVR 0x0f000005 not valid for CPU"


def test_pcr_show_raw(run: Runner) -> None:
    data = run("pcr", "show", "--cpu", "POWER8", "--mode", "raw", "--json").json
    assert (data["qemu_pcr"], data["kvm_hv_pcr"]) == ("0x0000000000000000",
                                                      "0x0fffffffffffffe1")


# ------------------------------------------------------------------ modes, cpus

def test_modes_json(run: Runner) -> None:
    data = run("modes", "--json").json
    rows = data["modes"]
    assert [m["name"] for m in rows] == [  # type: ignore[attr-defined]
        "power6", "power7", "power7+", "power8", "power9", "power10", "power11"]
    power8 = rows[3]  # type: ignore[index]
    assert (power8["pvr"], power8["pcr"], power8["max_vthreads"]) == (
        "0x0f000004", "0x0000000000000038", 8)
    assert power8["pcr_bits"] == ["COMPAT_3_10", "COMPAT_3_00", "COMPAT_2_07"]


def test_modes_for_a_2017_release(run: Runner) -> None:
    rows = run("modes", "--qemu", "2.10", "--json").json["modes"]
    in_table = {m["name"]: m["in_profile"] for m in rows}  # type: ignore[attr-defined]
    assert in_table == {"power6": True, "power7": True, "power7+": True, "power8": True,
                        "power9": True, "power10": False, "power11": False}
    power9 = rows[4]  # type: ignore[index]
    assert (power9["pcr"], power9["max_vthreads"]) == ("0x0000000000000010", 4)
    r = run("modes", "--qemu", "2.10")
    assert r.code == 0
    assert r.lines[0] == "Compat modes (values as QEMU 2.10.0 (5dfaa532) has them)"


def test_cpus(run: Runner) -> None:
    data = run("cpus", "--json").json
    by_name = {c["model"]: c for c in data["cpus"]}  # type: ignore[attr-defined]
    assert by_name["power8_v2.0"]["valid_modes"] == ["power6", "power7", "power8"]
    assert by_name["power9_v2.2"]["aliases"] == ["power9"]
    assert by_name["power9_v2.2"]["pvr"] == "0x004e1202"
    assert by_name["970_v2.2"]["valid_modes"] == []
    r = run("cpus")
    assert r.code == 0
    assert r.lines[0] == "CPU models in QEMU head (b428fe0362, 11.1 rc)"
    assert any(line.split()[:4] == ["power9_v2.2", "power9", "0x004e1202", "POWER9"]
               for line in r.lines)


# ------------------------------------------------------------------ qemu-args, libvirt-xml

M72 = "pseries-7.2,usb=off,dump-guest-core=off,memory-backend=ppc_spapr.ram"


def test_qemu_args_are_libvirts(run: Runner) -> None:
    """libvirt's generation: versioned machine, -cpu host for host-model, never kvm-type."""
    r = run("qemu-args", "--cpu", "POWER9", "--max-cpu-compat", "power8", "--accel", "kvm-hv",
            "--qemu", "7.2")
    assert (r.code, r.out) == (
        0, f"-machine {M72},max-cpu-compat=power8 -accel kvm -cpu host\n")
    r = run("qemu-args", "--cpu", "POWER9", "--qemu", "7.2")
    assert r.out == f"-machine {M72} -accel tcg -cpu POWER9\n"
    r = run("qemu-args", "--cpu", "power8", "--accel", "kvm-pr", "--qemu", "7.2")
    assert r.out == f"-machine {M72} -accel kvm -cpu host\n"
    data = run("qemu-args", "--cpu", "power8", "--accel", "kvm-pr", "--json").json
    assert "kvm-type" not in " ".join(data["args"])  # type: ignore[arg-type]
    assert data["notes"] == [
        "libvirt passes no kvm-type: KVM picks HV whenever kvm_hv is loaded (KVM_CREATE_VM "
        "type 0), so PR needs a host with only kvm_pr"]


def test_qemu_args_tcg_maximum_goes_through_the_command_line(run: Runner) -> None:
    r = run("qemu-args", "--cpu", "power9", "--max-cpu-compat", "power8", "--qemu", "7.2",
            "--host-arch", "x86_64")
    assert r.out == f"-machine {M72} -accel tcg -cpu POWER9 -machine max-cpu-compat=power8\n"


def test_qemu_args_refused(run: Runner) -> None:
    r = run("qemu-args", "--cpu", "POWER8", "--max-cpu-compat", "power9")
    assert r.code == 1
    assert r.err == ("powercompat: error: QEMU head refuses: Compatibility PVR 0x0f000005 "
                     "not valid for CPU\n")
    r = run("qemu-args", "--cpu", "POWER8", "--max-cpu-compat", "power9", "--accel", "kvm-hv")
    assert r.err == "powercompat: error: libvirt refuses: the CPU is incompatible with host CPU\n"


def test_libvirt_refuses_power7_plus(run: Runner) -> None:
    r = run("libvirt-xml", "--cpu", "POWER8", "--max-cpu-compat", "power7+", "--qemu", "7.2")
    assert r.code == 1
    assert r.err == ("powercompat: error: libvirt refuses: internal error: Unknown "
                     "compatibility mode power7+\n")
    assert ("libvirt 9.0.0, kvm domain, host arch ppc64le, host CPU POWER8: refuses at start: "
            "internal error: Unknown compatibility mode power7+") in r.lines


def test_libvirt_accepts_power8_on_power9(run: Runner) -> None:
    r = run("libvirt-xml", "--cpu", "POWER9", "--max-cpu-compat", "power8", "--qemu", "7.2")
    assert (r.code, r.err) == (0, "")
    assert r.lines[0] == "<cpu mode='host-model'><model>power8</model></cpu>"
    data = run("libvirt-xml", "--cpu", "POWER9", "--max-cpu-compat", "power8", "--qemu", "7.2",
               "--json").json
    assert data["libvirt"] == "started"
    assert data["qemu_args"] == ["-machine", f"{M72},max-cpu-compat=power8", "-accel", "kvm",
                                 "-cpu", "host"]


def test_libvirt_tcg_on_x86_64_host(run: Runner) -> None:
    """Issue #18's first disagreement: host-model is refused for TCG off a ppc64 host, so the
    maximum goes into <qemu:commandline>, and the CPU is named through libvirt's CPU map."""
    r = run("libvirt-xml", "--cpu", "power9", "--accel", "tcg", "--max-cpu-compat", "power8",
            "--qemu", "7.2", "--host-arch", "x86_64")
    assert r.code == 0
    assert r.lines[:5] == [
        "<cpu mode='custom' match='exact'><model fallback='forbid'>POWER9</model></cpu>",
        "<qemu:commandline>", "  <qemu:arg value='-machine'/>",
        "  <qemu:arg value='max-cpu-compat=power8'/>", "</qemu:commandline>"]
    assert "libvirt 9.0.0, qemu domain, host arch x86_64: starts it" in r.lines
    assert any(line.startswith("note: libvirt cannot express max-cpu-compat for a TCG")
               for line in r.lines)


def test_libvirt_power11_host_has_no_host_model_in_9_0(run: Runner) -> None:
    r = run("libvirt-xml", "--cpu", "POWER11", "--max-cpu-compat", "power9")
    assert r.code == 1
    assert r.err == ("powercompat: error: libvirt refuses: unsupported configuration: CPU mode "
                     "'host-model' for ppc64le kvm domain on ppc64le host is not supported by "
                     "hypervisor\n")


def test_profiles(run: Runner) -> None:
    data = run("profiles", "--json").json
    by_name = {p["name"]: p for p in data["profiles"]}  # type: ignore[union-attr]
    assert list(by_name) == list(PROFILE_NAMES)
    kept = ["2.9", "2.10-pre", "2.10", "2.11", "5.2", "7.2", "10.0", "11.1", "head",
            "powercompat"]
    assert [n for n in by_name if n in kept] == kept
    assert by_name["2.10"]["switches"]["set_compat"] == "old-value"
    assert by_name["2.10"]["switch_commits"]["set_compat"] == "5dfaa532"
    assert by_name["2.11"]["switches"]["set_compat"] == "new-value"
    assert by_name["7.2"]["modes"][-1] == "power10"
    assert by_name["head"]["logical_pvr_check"] is True
    r = run("profiles")
    assert r.code == 0 and r.lines[0] == "QEMU profiles (--qemu)"


def test_profiles_of_chosen_versions(run: Runner) -> None:
    """``profiles --qemu`` resolves names and versions: a stable build that lacks its named
    release's backport is its own profile, and says why."""
    data = run("profiles", "--qemu", "10.0", "--qemu", "1:10.0.2+ds-2+deb13u1~bpo12+1",
               "--json").json
    named, build = data["profiles"]  # type: ignore[index]
    assert (named["name"], named["switches"]["icp_vmstate"]) == ("10.0", True)
    assert named["switch_commits"]["icp_vmstate"] == "f5738aed"
    assert (build["name"], build["switches"]["icp_vmstate"]) == ("10.0.2", False)
    assert build["resolution"].endswith("release 10.0 without the stable backports f5738aed")
    text = run("profiles", "--qemu", "10.0.2")
    assert text.code == 0 and "without the stable backports f5738aed" in text.out
    bad = run("profiles", "--qemu", "12.5")
    assert bad.code == 1 and bad.err.count("\n") == 1 and "unknown QEMU profile '12.5'" in bad.err


@pytest.mark.parametrize("command", ["qemu-args", "libvirt-xml"])
def test_libvirt_views_of_builds_and_points_between_releases(run: Runner, command: str) -> None:
    """A stable build takes its release's libvirt facts; a point between the named releases
    has no recorded default CPU type, so the answer is one line, never an internal error."""
    assert run(command, "--cpu", "POWER9", "--qemu", "10.0.2").code == 0
    for qemu in ("9.2", "10.1.1", "head~5"):
        r = run(command, "--cpu", "POWER9", "--qemu", qemu)
        assert r.code == 1 and r.err.count("\n") == 1, r.err
        assert f"pseries default CPU type of QEMU {qemu}, known only" in r.err
