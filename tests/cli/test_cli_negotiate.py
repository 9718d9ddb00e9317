"""``powercompat negotiate``: the JSON contract, the report, and the exit statuses."""

from __future__ import annotations

from cli_runner import Runner

KVM_EINVAL = "Unable to set CPU compatibility mode in KVM: Invalid argument"

#: the keys the README promises (others may be added)
CONTRACT_KEYS = {"cpu", "raw_pvr", "max_cpu_compat", "initial_compat", "compat", "compat_pvr",
                 "cpu_version", "pcr", "max_vthreads", "guest_cpu_line", "reasons", "error"}


def test_json_power9_capped_at_power8(run: Runner) -> None:
    r = run("negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power8", "--json")
    assert (r.code, r.err) == (0, "")
    data = r.json
    assert data.keys() >= CONTRACT_KEYS
    assert data["compat"] == "power8"
    assert data["compat_pvr"] == "0x0f000004"
    assert data["pcr"] == "0x0000000000000008"
    assert data["cpu"] == "power9_v2.2"
    assert data["raw_pvr"] == "0x004e1202"
    assert data["initial_compat"] == "power8"
    assert data["cpu_version"] == "0x0f000004"
    assert data["max_vthreads"] == 8
    assert data["guest_cpu_line"] == "POWER8 (architected), altivec supported"
    assert data["error"] is None
    assert "cas: chosen: power8 (0x0f000004)" in data["reasons"]


def test_report_power9_capped_at_power8(run: Runner) -> None:
    r = run("negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power8")
    assert (r.code, r.err) == (0, "")
    assert r.lines[0] == ("power9_v2.2 (raw PVR 0x004e1202), max-cpu-compat=power8, TCG, "
                          "QEMU profile head, guest linux-6.1")
    assert "Before CAS: power8 (0x0f000004)" in r.lines
    assert "  chosen: power8 (0x0f000004)" in r.lines
    assert "  compat          power8" in r.lines
    assert "  compat_pvr      0x0f000004" in r.lines
    assert "  cpu-version     0x0f000004" in r.lines
    assert "  PCR (QEMU)      0x0000000000000008 (COMPAT_2_07)" in r.lines


def test_raw_mode_without_maximum(run: Runner) -> None:
    data = run("negotiate", "--cpu", "POWER9", "--json").json
    assert (data["compat"], data["compat_pvr"]) == ("power9", "0x0f000005")
    assert data["initial_compat"] is None


def test_kvm_pr_ignore_says_not_enforced(run: Runner) -> None:
    r = run("negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power8",
            "--accel", "kvm-pr-ignore")
    assert r.code == 0
    assert "  kernel arch_compat  0x0f000004" in r.lines
    assert "  enforced            NO: the mode is requested but NOT enforced" in r.lines
    data = run("negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power8",
               "--accel", "kvm-pr-ignore", "--json").json
    assert (data["kernel_arch_compat"], data["kernel_enforced"]) == ("0x0f000004", False)


def test_kvm_hv_kernel_view(run: Runner) -> None:
    r = run("negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power8", "--accel", "kvm-hv")
    assert r.code == 0
    assert ("  kernel PCR          0x0fffffffffffffe9 (reserved (PCR_MASK), PCR_ARCH_207)"
            in r.lines)
    assert "  enforced            yes (vcore 0 on a POWER9 host)" in r.lines


def test_kvm_pr_before_5dfaa532_does_not_start(run: Runner) -> None:
    r = run("negotiate", "--cpu", "POWER8", "--accel", "kvm-pr", "--qemu", "2.10-pre")
    assert r.code == 1
    assert r.err == f"powercompat: error: {KVM_EINVAL}\n"
    assert "Start-up: REFUSED" in r.lines
    assert f"The machine does not start: {KVM_EINVAL}" in r.lines


def test_failure_with_json_still_prints_the_object(run: Runner) -> None:
    r = run("negotiate", "--cpu", "POWER8", "--accel", "kvm-pr", "--qemu", "2.10-pre", "--json")
    assert r.code == 1
    assert r.err == f"powercompat: error: {KVM_EINVAL}\n"
    assert r.json["error"] == KVM_EINVAL
    assert r.json["started"] is False


def test_mode_newer_than_cpu_is_refused(run: Runner) -> None:
    r = run("negotiate", "--cpu", "POWER8", "--max-cpu-compat", "power9")
    assert r.code == 1
    assert r.err == "powercompat: error: Compatibility PVR 0x0f000005 not valid for CPU\n"


def test_pvr_list_formats_are_equivalent(run: Runner) -> None:
    spellings = ("ffff0000004e0000fffffffe0f000001",
                 "0xffff0000 0x004e0000 0xfffffffe 0x0f000001",
                 "ffff0000:004e0000,fffffffe_0f000001")
    results = [run("negotiate", "--cpu", "POWER9", "--pvr-list", s, "--json") for s in spellings]
    assert {r.code for r in results} == {0}
    assert {r.json["compat_pvr"] for r in results} == {"0x00000000"}  # only the raw PVR listed
    assert all("cas: chosen: raw mode (real PVR listed, no max-cpu-compat)"
               in r.json["reasons"] for r in results)  # type: ignore[operator]


def test_pvr_list_logical_only(run: Runner) -> None:
    data = run("negotiate", "--cpu", "POWER9", "--pvr-list",
               "ffffffff 0f000003 fffffffe 0f000001", "--json").json
    assert (data["compat"], data["pcr"]) == ("power7", "0x000000000000000c")


def test_machine_type_is_an_option(run: Runner) -> None:
    """-M as the library takes it: a versioned type the release has, or QEMU's refusal."""
    r = run("negotiate", "--cpu", "POWER9", "--qemu", "11.1", "--machine", "pseries-7.2",
            "--json")
    assert r.code == 0 and r.json["verdict"] == "works"
    r = run("negotiate", "--cpu", "POWER9", "--machine", "pseries-99.0")
    assert r.code == 1
    assert r.err.strip() == 'powercompat: error: unsupported machine type: "pseries-99.0"'
