"""One spelling per concept, --json everywhere, plain words, and environment failures as one
line with exit 1 (issues #11 and #12, item 5 of each)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import Runner

from powercompat.cli import main as main_module

EXAMPLES = Path(__file__).parents[2] / "examples" / "fleet"


def _leaves() -> list[tuple[list[str], main_module.Command]]:
    out: list[tuple[list[str], main_module.Command]] = []

    def walk(path: list[str], command: main_module.Command) -> None:
        if not command.subcommands or command.run is not None:
            out.append((path, command))
        for name, child in command.subcommands.items():
            walk([*path, name], child)

    for name, target in main_module.COMMANDS.items():
        walk([name], main_module.load(target))
    return out


@pytest.mark.parametrize(("path", "command"), _leaves(), ids=lambda p: " ".join(p)
                         if isinstance(p, list) else "")
def test_every_command_that_prints_takes_json(path: list[str],
                                              command: main_module.Command) -> None:
    parser = main_module.Parser(prog="p")
    main_module.build(parser, command)
    assert "--json" in parser._option_string_actions, " ".join(path)


# ------------------------------------------------------------------ stress


def test_stress_takes_qemu_and_the_common_accel_words(run: Runner) -> None:
    r = run("stress", "-n", "3", "--qemu", "2.10", "--accel", "kvm-hv")
    assert r.code == 0
    assert r.lines[0].startswith("lifecycles: 3 (")
    assert r.lines[0].endswith(" random events), seed 0, QEMU profile 2.10, accel kvm-hv")
    assert run("stress", "-n", "3", "--profile", "2.10").code == 0  # the old name, hidden
    assert "--profile" not in run("stress", "--help").out
    bad = run("stress", "-n", "3", "--accel", "xen")
    assert bad.err == run("negotiate", "--cpu", "POWER9", "--accel", "xen").err
    kvm = run("stress", "-n", "3", "--accel", "kvm")
    assert (kvm.code, kvm.err) == (1, "powercompat: error: stress runs the modelled "
                                   "accelerators only (tcg, kvm-hv, kvm-pr, kvm-pr-ignore): "
                                   "'kvm' needs a real ppc64 host\n")


# ------------------------------------------------------------------ words


def test_profiles_never_prints_none(run: Runner) -> None:
    r = run("profiles")
    assert r.code == 0
    assert "None" not in r.out
    data = run("profiles", "--json").json
    smt = {p["name"]: p["switches"]["smt"] for p in data["profiles"]}  # type: ignore[index]
    assert {n: smt[n] for n in ("2.9", "2.10", "2.11", "5.2", "7.2", "10.0", "11.1", "head",
                                "powercompat")} == {
        "2.9": "realize", "2.10": "realize", "2.11": "tcg-1", "5.2": "tcg-1", "7.2": "tcg-1",
        "10.0": "tcg-p8", "11.1": "tcg-p8", "head": "tcg-p8", "powercompat": "tcg-p8"}


def test_pcr_decode_says_how_bits_are_numbered(run: Runner) -> None:
    r = run("pcr", "decode", "0x1000000000000008")
    assert r.lines == [
        "0x1000000000000008",
        "  QEMU  (target/ppc/cpu.h):      COMPAT_2_07, bit 3 (1<<60)",
        "  Linux (asm/reg.h, book3s_hv): PCR_MMA_DIS, PCR_ARCH_207",
        "  (bit N: IBM numbering, bit 0 is the most significant; 1<<M: the same bit counted "
        "from the least significant)",
    ]
    data = run("pcr", "decode", "0x1000000000000000", "--json").json
    assert data["unnamed_bits"] == [{"ibm": 3, "shift": 60}]


def test_counts_are_pluralised(run: Runner, tmp_path: Path) -> None:
    out = tmp_path / "one.json"
    r = run("fleet", "synth", "--hosts", "1", "--guests", "1", "-o", str(out))
    assert r.out == f"wrote {out}: 1 host in 1 group, 1 guest\n"
    plan = run("fleet", "plan", str(out))
    assert plan.lines[0].startswith("1 host in 1 host class, 1 guest in 1 guest class, "
                                    "1 host group; engine runs: ")
    sim = run("simulate", "--cpu", "POWER9", "--events", "realize,reset")
    assert sim.lines[0].startswith("power9_v2.2 x1 (1 thread/core), ")
    assert sim.lines[-1] == "Summary: started; no failure; 0 ONE_REG calls in all."


def test_tcg_userland_verdict_says_why_it_runs(run: Runner) -> None:
    r = run("negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power7")
    assert r.code == 0
    assert ("  userland        linux-6.1 userland needs ISA 2.07 and VSX; the compat level is "
            "ISA 2.06, but no PCR enforces it on instructions (TCG, KVM PR) and the CPU "
            "implements ISA 3.00: init runs") in r.lines
    ok = run("negotiate", "--cpu", "POWER9", "--max-cpu-compat", "power8")
    assert ("  userland        linux-6.1 userland needs ISA 2.07 and VSX; it gets ISA 2.07: "
            "init runs") in ok.lines


def test_empty_max_cpu_compat_is_no_maximum_as_in_qemu(run: Runner) -> None:
    """QEMU 7.2.22, checked by hand: ``-M pseries,max-cpu-compat= -cpu power9 -S`` starts and
    ``qom-get /machine max-cpu-compat`` answers ""; ``max-cpu-compat=POWER8`` exits 1 with
    ``Invalid compatibility mode "POWER8"`` (target/ppc/compat.c ppc_compat_prop_set)."""
    empty = run("negotiate", "--cpu", "POWER9", "--max-cpu-compat", "", "--json").json
    unset = run("negotiate", "--cpu", "POWER9", "--json").json
    assert empty == unset
    args = run("qemu-args", "--cpu", "POWER9", "--max-cpu-compat", "")
    assert (args.code, args.out) == (0, run("qemu-args", "--cpu", "POWER9").out)
    assert "max-cpu-compat" not in args.out
    assert "An empty value is no maximum" in run("negotiate", "--help").out


# ------------------------------------------------------------------ the environment


def test_plot_is_checked_before_the_inventory_is_read(run: Runner, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-inventory.json"
    r = run("fleet", "plan", str(missing), "--plot", str(tmp_path / "x.pdf"))
    assert (r.code, r.out) == (1, "")
    assert r.err == (f"powercompat: error: --plot {tmp_path / 'x.pdf'}: the picture must end "
                     "in .svg or .png\n")
    r = run("fleet", "plan", str(missing), "--plot", str(tmp_path / "no" / "x.svg"))
    assert r.err == (f"powercompat: error: --plot {tmp_path / 'no' / 'x.svg'}: cannot write "
                     "it: No such file or directory\n")


@pytest.mark.parametrize("where", ["missing", "proc", "folder"])
def test_output_path_that_cannot_be_written(run: Runner, tmp_path: Path, where: str) -> None:
    path = {"missing": tmp_path / "no" / "x.json", "proc": Path("/proc/powercompat.json"),
            "folder": tmp_path / "folder.json"}[where]
    (tmp_path / "folder.json").mkdir()
    r = run("fleet", "synth", "--hosts", "2", "--guests", "2", "-o", str(path))
    assert (r.code, r.out) == (1, "")
    assert r.err.startswith(f"powercompat: error: -o {path}: ") and r.err.count("\n") == 1
    assert "internal error" not in r.err


def _script(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    code = "import sys; from powercompat.cli.main import main; sys.exit(main(sys.argv[1:]))"
    env = {k: v for k, v in os.environ.items() if k != "POWERCOMPAT_DEBUG"}
    return subprocess.run([sys.executable, "-c", code, *argv], env=env, timeout=60,
                          check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def test_closed_stdout_is_one_line_and_exit_1() -> None:
    proc = _script(["negotiate", "--cpu", "POWER9"], stdout=None, stderr=subprocess.PIPE,
                   pass_fds=(), preexec_fn=lambda: os.close(1))
    assert (proc.returncode, proc.stderr) == (
        1, b"powercompat: error: cannot write the output: stdout is closed\n")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_full_stdout_is_one_line_and_exit_1() -> None:
    with open("/dev/full", "wb") as full:
        proc = _script(["cpus", "--json"], stdout=full, stderr=subprocess.PIPE)
    assert (proc.returncode, proc.stderr) == (
        1, b"powercompat: error: cannot write the output: No space left on device\n")


def test_reader_gone_is_exit_1_without_a_traceback() -> None:
    reader, writer = os.pipe()
    os.close(reader)
    try:
        proc = _script(["cpus", "--json"], stdout=writer, stderr=subprocess.PIPE)
    finally:
        os.close(writer)
    assert (proc.returncode, proc.stderr) == (1, b"")


def test_verify_libvirt_json_from_the_recording(run: Runner) -> None:
    recorded = Path(__file__).parents[1] / "data" / "real" / "libvirt-9.0-qemu-7.2-cpu.json"
    r = run("verify", "libvirt", "--check", str(recorded), "--json")
    data = r.json
    assert r.code == (1 if data["disagreements"] else 0)
    assert len(data["cases"]) == 28  # type: ignore[arg-type]
    assert all(c["agrees"] == (not c["differences"]) for c in data["cases"])  # type: ignore


def test_long_event_lists_are_taken_whole(run: Runner) -> None:
    """Issue #13's timeline: 7,000 reboot,cas pairs (a 70 KB --events)."""
    from powercompat.cli.simulate_cmd import events

    text = ",".join(["realize", "reset", "cas", *["reboot", "cas"] * 7000])
    assert events(text) == tuple(text.split(","))
    assert events("realize,reset") == ("realize", "reset")
    bad = run("simulate", "--cpu", "POWER9", "--events", text + ",boot")
    assert bad.err == ("powercompat: error: unknown event 'boot' (valid: realize, reset, cas, "
                       "reboot, hotplug, migrate)\n")
    r = run("simulate", "--cpu", "POWER9", "--events", ",".join(["realize", "reset", "cas",
                                                                 *["reboot", "cas"] * 3000]))
    assert r.code == 0 and r.lines[-1].startswith("Summary: started; no failure")
