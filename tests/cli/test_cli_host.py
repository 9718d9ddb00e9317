"""``-cpu host`` in every command that takes a CPU, with one spelling of the host
(``--host-cpu``, ``--dst-host-cpu``), and the KVM HV CPU rule (issue #11 items 2 and 3)."""

from __future__ import annotations

import pytest
from cli_runner import Runner

SYNC = 'Register sync failed... If you\'re using kvm-hv.ko, only "-cpu host" is possible'
INIT = "kvm_init_vcpu: kvm_arch_init_vcpu failed (0): Invalid argument"
NEEDS_HOST = ("-cpu host is the host's own processor: name it with --host-cpu (a model such "
              "as POWER9, or its PVR such as 004e1202)")


@pytest.mark.parametrize("cpu", ["POWER8", "POWER10"])
def test_negotiate_non_host_cpu_under_kvm_hv(run: Runner, cpu: str) -> None:
    """issue #11: 'Start-up: ok, power8, enforced' for a POWER8 guest on a POWER9 HV host."""
    r = run("negotiate", "--cpu", cpu, "--accel", "kvm-hv", "--host-cpu", "POWER9")
    assert r.code == 1
    assert r.err == f"powercompat: error: {SYNC}; {INIT}\n"
    assert "Start-up: REFUSED" in r.lines
    assert f"Verdict: qemu-refuses: {SYNC}; {INIT}" in r.lines
    data = run("negotiate", "--cpu", cpu, "--accel", "kvm-hv", "--host-cpu", "POWER9",
               "--json").json
    assert (data["started"], data["error"], data["verdict"]) == (False, SYNC, "qemu-refuses")
    assert f"realize: QEMU exits: {SYNC} / {INIT}" in data["reasons"]  # type: ignore[operator]


def test_negotiate_host_with_a_pvr(run: Runner) -> None:
    """issue #11: --host-cpu 004e1203 (a POWER9 DD2.3) works, and the guest sees its PVR."""
    data = run("negotiate", "--cpu", "host", "--accel", "kvm-hv", "--host-cpu", "004e1203",
               "--pvr-list", "ffff0000 004e0000 fffffffe 0f000001", "--json").json
    assert (data["cpu"], data["raw_pvr"], data["cpu_version"], data["guest_revision"]) == (
        "host", "0x004e1203", "0x004e1203", "2.3 (pvr 004e 1203)")
    assert data["verdict"] == "works"
    # the host family's alias is the host type too; a fixed model of another PVR is not
    alias = run("negotiate", "--cpu", "power9", "--accel", "kvm-hv", "--host-cpu", "004e1203",
                "--json").json
    assert (alias["cpu"], alias["raw_pvr"], alias["verdict"]) == ("host", "0x004e1203",
                                                                  "works")
    fixed = run("negotiate", "--cpu", "power9_v2.2", "--accel", "kvm-hv", "--host-cpu",
                "004e1203", "--json")
    assert (fixed.code, fixed.json["verdict"], fixed.json["error"]) == (1, "qemu-refuses",
                                                                        SYNC)


def test_host_is_refused_as_qemu_refuses_it_under_tcg(run: Runner) -> None:
    r = run("negotiate", "--cpu", "host", "--json")
    assert r.code == 1
    assert r.err == "powercompat: error: unable to find CPU model 'host'\n"
    assert r.json["verdict"] == "qemu-refuses"


@pytest.mark.parametrize("argv", [
    ("negotiate", "--cpu", "host", "--accel", "kvm-hv"),
    ("simulate", "--cpu", "host", "--accel", "kvm-hv"),
    ("migrate-check", "--cpu", "host", "--dst-cpu", "host"),
    ("qemu-args", "--cpu", "host", "--accel", "kvm-hv"),
    ("libvirt-xml", "--cpu", "host"),
    ("pcr", "show", "--cpu", "host", "--mode", "power8"),
])
def test_host_without_the_host_names_the_option(run: Runner, argv: tuple[str, ...]) -> None:
    """issue #11: 'needs a KVM accelerator' under kvm-hv; migrate-check had no --host-cpu."""
    r = run(*argv)
    assert (r.code, r.err) == (1, f"powercompat: error: {NEEDS_HOST}\n")


def test_migrate_check_host_on_both_sides(run: Runner) -> None:
    r = run("migrate-check", "--cpu", "host", "--host-cpu", "POWER9", "--dst-cpu", "host",
            "--dst-host-cpu", "POWER8", "--max-cpu-compat", "power8", "--json")
    assert r.code == 0, r.err
    assert (r.json["ok"], r.json["verdict"], r.json["destination_cpu"]) == (True, "works",
                                                                           "host")
    assert r.json["source"]["raw_pvr"] == "0x004e1202"  # type: ignore[index]
    refused = run("migrate-check", "--cpu", "host", "--host-cpu", "POWER9", "--dst-cpu",
                  "host", "--dst-host-cpu", "POWER8")
    assert refused.code == 1  # raw POWER9 into a POWER8: XIVE, then the family
    assert refused.lines[-1].startswith("verdict:     migration-refused: ")


def test_simulate_dst_cpu_host(run: Runner) -> None:
    r = run("simulate", "--cpu", "host", "--host-cpu", "POWER9", "--accel", "kvm-hv",
            "--max-cpu-compat", "power8", "--events", "realize,reset,cas,migrate",
            "--dst-cpu", "host", "--dst-host-cpu", "POWER8", "--json")
    assert r.code == 0, r.err
    assert r.json["verdict"] == "works"
    assert r.json["vcpus"][0]["compat_pvr"] == "0x0f000004"  # type: ignore[index]


@pytest.mark.parametrize("command", ["qemu-args", "libvirt-xml"])
def test_a_power8_guest_on_a_power9_kvm_host_is_host_with_power8(run: Runner,
                                                                 command: str) -> None:
    """issue #11: qemu-args printed -cpu host and silently dropped POWER8."""
    r = run(command, "--cpu", "POWER8", "--accel", "kvm-hv", "--host-cpu", "POWER9", "--json")
    assert r.code == 0, r.err
    args = r.json["args" if command == "qemu-args" else "qemu_args"]
    assert isinstance(args, list)
    assert args[args.index("-cpu") + 1] == "host"
    assert "max-cpu-compat=power8" in args[args.index("-machine") + 1]
    assert not any("kvm-type" in a for a in args)  # libvirt never passes kvm-type
    note = ("KVM runs only the host's processor: a power8_v2.0 guest (PVR 0x004d0200) on a "
            "POWER9 host (PVR 0x004e1202) is -cpu host with max-cpu-compat=power8")
    assert note in r.json["notes"]  # type: ignore[operator]
    assert r.json["verdict"] == "works"
    text = run(command, "--cpu", "POWER8", "--accel", "kvm-hv", "--host-cpu", "POWER9")
    assert note in text.out + text.err
    if command == "libvirt-xml":
        assert text.lines[0] == "<cpu mode='host-model'><model>power8</model></cpu>"


def test_a_guest_the_host_cannot_be_is_refused(run: Runner) -> None:
    r = run("qemu-args", "--cpu", "POWER10", "--accel", "kvm-hv", "--host-cpu", "POWER9",
            "--json")
    assert r.code == 1
    assert (r.json["args"], r.json["verdict"]) == ([], "qemu-refuses")
    assert r.json["verdict_reason"] == (
        "KVM runs only the host's processor, and a POWER9 cannot run power10 compat: a "
        "power10_v2.0 guest (PVR 0x00801200) on a POWER9 host (PVR 0x004e1202) cannot run")
    older = run("qemu-args", "--cpu", "POWER7", "--accel", "kvm-hv", "--host-cpu", "POWER9",
                "--max-cpu-compat", "power8")
    assert older.err == "powercompat: error: Compatibility PVR 0x0f000004 not valid for CPU\n"


def test_pcr_show_on_a_host_pvr(run: Runner) -> None:
    data = run("pcr", "show", "--cpu", "host", "--host-cpu", "004e1203", "--mode", "power8",
               "--json").json
    assert (data["cpu"], data["host_family"], data["kvm_hv_pcr"]) == (
        "host", "POWER9", "0x0fffffffffffffe9")


# --- the host kernel on every KVM command (issue #10 item 2) -------------------------------

_CONTRACT = ("simulate", "--cpu", "host", "--host-cpu", "POWER11", "--accel", "kvm-hv",
             "--qemu", "11.1", "--guest", "linux-7.2", "--smp", "2", "--events",
             "realize,reset,cas,reboot,cas", "--json")


def _calls(data: object) -> list[list[tuple[str, int]]]:
    events = data["events"]  # type: ignore[index]
    return [[(c["value"], c["errno"]) for c in e["one_reg"]] for e in events]


def test_a_kernel_without_the_mode_refuses_it_at_cas(run: Runner) -> None:
    """Linux 6.1 has no Power11 arm in kvmppc_set_arch_compat(): the CAS set of 0x0f000007
    fails with EINVAL on the first vCPU and the guest runs on (recorded:
    kvm-hv-pseries-power11-l1-6.1.json, q111-unset); 6.12 takes it on every vCPU."""
    old = run(*_CONTRACT, "--host-kernel", "linux-6.1")
    new = run(*_CONTRACT, "--host-kernel", "linux-6.12", "--cap-hpt-max-page-size", "4")
    assert (old.code, new.code) == (0, 0)
    assert _calls(old.json) == [[], [], [("0x0f000007", 22)], [], [("0x0f000007", 22)]]
    assert _calls(new.json)[2] == [("0x0f000007", 0), ("0x0f000007", 0)]


def test_host_kernel_on_negotiate_and_migrate_check(run: Runner) -> None:
    """A KVM without KVM_CAP_PPC_AIL_MODE_3 (Linux 4.19) cannot start QEMU 10.0's pseries."""
    r = run("negotiate", "--cpu", "host", "--host-cpu", "POWER10", "--accel", "kvm-hv",
            "--host-kernel", "linux-4.19", "--qemu", "10.0")
    assert r.code == 1
    assert r.err == ("powercompat: error: KVM implementation does not support "
                     "cap-ail-mode-3\n")
    m = run("migrate-check", "--cpu", "host", "--host-cpu", "POWER10", "--dst-cpu", "host",
            "--host-kernel", "linux-4.19", "--qemu", "10.0", "--json")
    assert m.code == 1 and m.json["verdict"] == "qemu-refuses"  # type: ignore[index]


@pytest.mark.parametrize(("args", "message"), [
    (("--host-kernel", "linux-9.9", "--accel", "kvm-hv"), "unknown host kernel 'linux-9.9' "
     "(valid: linux-4.19, linux-6.1, linux-6.12, linux-7.2)"),
    (("--host-kernel", "linux-6.1"), "--host-kernel only applies to a modelled KVM "
     "accelerator, not 'tcg'"),
    (("--host-platform", "pseries", "--accel", "kvm-hv", "--host-kernel", "linux-4.19"),
     "linux-4.19 cannot run KVM HV in a pseries guest (nested HV came with v4.20)"),
])
def test_host_kernel_bad_input(run: Runner, args: tuple[str, ...], message: str) -> None:
    r = run("negotiate", "--cpu", "power9", *args)
    assert (r.code, r.err) == (1, f"powercompat: error: {message}\n")
