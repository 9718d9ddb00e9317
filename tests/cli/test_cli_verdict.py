"""One verdict per configuration (issue #11 item 1): ``verdict`` and ``verdict_reason`` in
every command's JSON, exit 0 only for ``works``, 1 for every other verdict."""

from __future__ import annotations

import pytest
from cli_runner import Runner

SIGILL = ("linux-6.1 userland needs ISA 2.07 and VSX: the guest is given no VSX (ibm,vmx: "
          "cap-vsx is off, or the CPU has none): init dies with SIGILL")
RADIX_PANIC = ("radix was offered before CAS (ISA 3.00) but CAS settled below ISA 3.00: "
               "H_REGISTER_PROC_TBL fails, early kernel panic (boot with disable_radix to "
               "avoid it)")


def test_negotiate_userland_dies_exits_1(run: Runner) -> None:
    """issue #11: init dies with SIGILL, yet negotiate said 0."""
    r = run("negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power6", "--json")
    assert r.code == 1
    assert (r.json["verdict"], r.json["verdict_reason"]) == ("userland-dies", SIGILL)
    assert r.err == f"powercompat: error: {SIGILL}\n"
    text = run("negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power6")
    assert text.code == 1
    assert f"Verdict: userland-dies: {SIGILL}" in text.lines


def test_negotiate_early_kernel_panic_exits_1(run: Runner) -> None:
    """issue #11: a list without POWER9 makes CAS settle below 3.00 after radix was offered."""
    r = run("negotiate", "--cpu", "POWER9", "--pvr-list", "ffffffff 0f000004 fffffffe 0f000001",
            "--json")
    assert r.code == 1
    assert (r.json["verdict"], r.json["verdict_reason"]) == ("kernel-hangs", RADIX_PANIC)
    assert r.json["guest_kernel_boots"] is False
    # booted with disable_radix the same guest works
    ok = run("negotiate", "--cpu", "POWER9", "--pvr-list", "ffffffff 0f000004 fffffffe 0f000001",
             "--disable-radix", "--json")
    assert (ok.code, ok.json["verdict"]) == (0, "works")


def test_negotiate_works_exits_0(run: Runner) -> None:
    r = run("negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power8", "--json")
    assert (r.code, r.err) == (0, "")
    assert r.json["verdict"] == "works"
    assert r.json["verdict_reason"] == ("linux-6.1 userland needs ISA 2.07 and VSX; it gets "
                                        "ISA 2.07: init runs")


@pytest.mark.parametrize(("argv", "verdict", "reason"), [
    (("--cpu", "POWER8", "--max-cpu-compat", "power9"), "qemu-refuses",
     "Compatibility PVR 0x0f000005 not valid for CPU"),
    (("--cpu", "POWER8", "--accel", "kvm-pr", "--qemu", "2.10-pre"), "qemu-refuses",
     "Unable to set CPU compatibility mode in KVM: Invalid argument"),
    (("--cpu", "POWER9", "--pvr-list", "ffff0000 004e0000 fffffffe 0f000001",
      "--max-cpu-compat", "power9"), "cas-fails", "Couldn't negotiate a suitable PVR during CAS"),
    (("--cpu", "970"), "kernel-hangs",
     "the guest never reaches CAS: a little-endian kernel cannot run on a 970 (no MSR[LE]): "
     "it stops before CAS"),
])
def test_negotiate_each_verdict(run: Runner, argv: tuple[str, ...], verdict: str,
                                reason: str) -> None:
    r = run("negotiate", *argv, "--json")
    assert r.code == 1
    assert (r.json["verdict"], r.json["verdict_reason"]) == (verdict, reason)
    assert r.err == f"powercompat: error: {reason}\n"


def test_qemu_refusal_of_the_options_carries_the_verdict(run: Runner) -> None:
    """An unknown -cpu is QEMU's own start-up refusal: the JSON error says qemu-refuses."""
    r = run("negotiate", "--cpu", "POWER99", "--json")
    assert r.code == 1
    assert r.json["verdict"] == "qemu-refuses"
    assert r.json["verdict_reason"] == "unable to find CPU model 'POWER99'"
    # input only powercompat refuses has no verdict
    bad = run("negotiate", "--cpu", "POWER9", "--guest", "nope", "--json")
    assert bad.code == 1 and "verdict" not in bad.json


def test_simulate_exits_by_verdict(run: Runner) -> None:
    r = run("simulate", "--cpu", "POWER9", "--max-cpu-compat", "power6", "--json")
    assert r.code == 1
    assert (r.json["verdict"], r.json["verdict_reason"]) == ("userland-dies", SIGILL)
    assert r.json["error"] is None  # no event failed; the guest's init does
    assert r.err == f"powercompat: error: {SIGILL}\n"
    text = run("simulate", "--cpu", "POWER9", "--max-cpu-compat", "power6")
    assert f"Verdict: userland-dies: {SIGILL}" in text.lines
    ok = run("simulate", "--cpu", "POWER9", "--max-cpu-compat", "power8", "--json")
    assert (ok.code, ok.json["verdict"]) == (0, "works")


def test_migrate_check_exits_by_verdict(run: Runner) -> None:
    r = run("migrate-check", "--cpu", "POWER7", "--dst-cpu", "POWER8", "--max-cpu-compat",
            "power7", "--json")
    assert r.code == 1
    # init dies on the source: the guest calls ibm,os-term and the source QEMU stops before
    # it could be migrated (recorded, tests/data/real/qemu-*-migration.json)
    assert (r.json["ok"], r.json["side"], r.json["rule"]) == (False, "source", "guest")
    assert r.json["verdict"] == "userland-dies"
    refused = run("migrate-check", "--cpu", "POWER9", "--dst-cpu", "POWER8", "--json")
    assert (refused.code, refused.json["verdict"]) == (1, "migration-refused")
    ok = run("migrate-check", "--cpu", "POWER9", "--dst-cpu", "POWER8", "--max-cpu-compat",
             "power8")
    assert ok.code == 0
    assert ok.lines[-1].startswith("verdict:     works: the destination loads the guest")
