"""Bad input: exit 1 or 2, exactly one line on stderr, never a traceback."""

from __future__ import annotations

import pytest
from cli_runner import Runner

from powercompat.cli import main as main_module
from powercompat.profiles import PROFILE_NAMES

#: what an unknown profile is told is valid: every profile, then the versions modelled
_VALID = f"{', '.join(PROFILE_NAMES)}, or a QEMU version 2.9 .. 11.1"

BAD_INPUT = [
    (["negotiate", "--cpu", "foo"], 1, "unable to find CPU model 'foo'"),
    (["negotiate", "--cpu", "POWER9", "--max-cpu-compat", "POWER8"], 1,
     'Invalid compatibility mode "POWER8"'),
    (["negotiate", "--cpu", "POWER9", "--pvr-list", "abc"], 1,
     "--pvr-list: odd number of hex digits (3); each byte takes two"),
    (["negotiate", "--cpu", "POWER9", "--pvr-list", "ffff0000 00zz0000"], 1,
     "--pvr-list: 'z' is not a hex digit (in '00zz0000')"),
    (["negotiate", "--cpu", "POWER9", "--pvr-list", "ffff0000004d00"], 1,
     "CAS buffer truncated at byte 7"),
    (["negotiate", "--cpu", "POWER9", "--pvr-list", "ffff0000 004d0000"], 1,
     "CAS buffer ends at byte 8 with no terminator after 1 entries"),
    (["negotiate", "--cpu", "POWER9", "--pvr-list", " "], 1, "--pvr-list: no hex digits"),
    (["negotiate", "--cpu", "POWER9", "--qemu", "3.2"], 1,
     f"unknown QEMU profile '3.2' (valid: {_VALID})"),
    (["negotiate", "--cpu", "POWER9", "--guest", "windows"], 1,
     "unknown guest 'windows' (valid: linux-6.1, linux-6.12, linux-7.2, logical-upto-power8, "
     "raw-only, linux-2025)"),
    (["negotiate", "--cpu", "POWER9", "--accel", "xen"], 1,
     "unknown accelerator 'xen' (valid: tcg, kvm-hv, kvm-pr, kvm-pr-ignore, kvm)"),
    (["simulate", "--cpu", "POWER9", "--events", "realize,boot"], 1,
     "unknown event 'boot' (valid: realize, reset, cas, reboot, hotplug, migrate)"),
    (["simulate", "--cpu", "POWER9", "--events", "realize,,cas"], 1,
     "empty event in 'realize,,cas' (valid: realize, reset, cas, reboot, hotplug, migrate)"),
    (["simulate", "--cpu", "POWER9", "--events", "migrate", "--dst-cpu", "bar"], 1,
     "unable to find CPU model 'bar'"),
    (["pcr", "decode", "zz"], 1, "PCR value 'zz' is not hex (e.g. 0x0000000000000008)"),
    (["pcr", "decode", "0x1ffffffffffffffff"], 1,
     "PCR value '0x1ffffffffffffffff' does not fit in 64 bits"),
    (["pcr", "decode", "--", "-1"], 1,
     "PCR value '-1' is negative; a PCR is 64 unsigned bits"),
    (["pcr", "show", "--cpu", "POWER9", "--mode", "Power8"], 1,
     'Invalid compatibility mode "Power8"'),
    (["migrate-check", "--cpu", "POWER9", "--dst-cpu", "POWER42"], 1,
     "unable to find CPU model 'POWER42'"),
    (["migrate-check", "--cpu", "POWER9", "--src-qemu", "7.2", "--dst-qemu", "10.0",
      "--machine", "q35"], 1, "not a pseries machine type: 'q35' (pseries, or pseries-X.Y)"),
    (["migrate-check", "--cpu", "POWER9", "--src-qemu", "7.2", "--dst-qemu", "9.9"], 1,
     f"unknown QEMU profile '9.9' (valid: {_VALID})"),
    (["modes", "--qemu", "9.9"], 1,
     f"unknown QEMU profile '9.9' (valid: {_VALID})"),
    (["negotiate", "--cpu", "POWER9", "--smp", "x"], 2,
     "argument --smp: invalid int value: 'x' (see 'powercompat negotiate --help')"),
    (["negotiate", "--cpu", "POWER9", "--bogus"], 2,
     "unrecognized arguments: --bogus (did you mean --guest?) "
     "(see 'powercompat negotiate --help')"),
    (["negotiate", "--cp", "POWER9"], 2,
     "the following arguments are required: --cpu (see 'powercompat negotiate --help')"),
    (["negotiate"], 2,
     "the following arguments are required: --cpu (see 'powercompat negotiate --help')"),
    (["pcr"], 2, "give a subcommand (decode, show), or --cpu and --mode "
     "(see 'powercompat pcr --help')"),
    (["pcr", "--cpu", "POWER9", "decode", "8"], 2,
     "give --cpu/--mode/--host-cpu after 'decode' (see 'powercompat pcr --help')"),
    (["nosuch"], 2, "unknown command 'nosuch' (see 'powercompat --help')"),
    (["negotiat"], 2, "unknown command 'negotiat' (did you mean negotiate?) "
     "(see 'powercompat --help')"),
    (["pcr", "decode"], 2,
     "the following arguments are required: VALUE (see 'powercompat pcr decode --help')"),
    (["pcr", "show", "--cpu", "POWER9", "--mode", "power8", "--bogus"], 2,
     "unrecognized arguments: --bogus (see 'powercompat pcr show --help')"),
    (["fleet", "plan", "x.json", "--limit", "-1"], 2,
     "argument --limit: -1 is below 0 (see 'powercompat fleet plan --help')"),
    (["negotiate", "--cpu", "power9", "--accel", "kvm-hv", "--cap-hpt-max-page-size", "8"], 2,
     "argument --cap-hpt-max-page-size: invalid choice: 8 (choose from 4, 64, 16384) "
     "(see 'powercompat negotiate --help')"),
    (["verify", "run", "--firmware", "uefi"], 2,
     "argument --firmware: invalid choice: 'uefi' (choose from 'vof', 'slof') "
     "(see 'powercompat verify run --help')"),
]


@pytest.mark.parametrize(("argv", "code", "message"), BAD_INPUT,
                         ids=[" ".join(a) for a, _, _ in BAD_INPUT])
def test_bad_input_is_one_line(run: Runner, argv: list[str], code: int, message: str) -> None:
    r = run(*argv)
    assert r.code == code
    assert r.err == f"powercompat: error: {message}\n"
    assert "Traceback" not in r.out + r.err


def test_input_error_under_json_is_a_json_object(run: Runner) -> None:
    r = run("negotiate", "--cpu", "foo", "--json")
    assert r.code == 1
    assert r.err == "powercompat: error: unable to find CPU model 'foo'\n"
    assert r.json == {"error": "unable to find CPU model 'foo'", "error_type": "UnknownCpuError",
                      # QEMU's own start-up refusal: the configuration's verdict (issue #11)
                      "verdict": "qemu-refuses",
                      "verdict_reason": "unable to find CPU model 'foo'"}


def _boom(*_args: object, **_kwargs: object) -> None:
    raise ZeroDivisionError("division by zero")


INTERNAL = ("powercompat: internal error: ZeroDivisionError: division by zero (a bug in "
            "powercompat; rerun with --debug or POWERCOMPAT_DEBUG=1 for the traceback)\n")


def test_internal_error_is_one_line(run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    from powercompat.cli import negotiate_cmd

    monkeypatch.delenv("POWERCOMPAT_DEBUG", raising=False)
    monkeypatch.setattr(negotiate_cmd, "run_negotiation", _boom)
    r = run("negotiate", "--cpu", "POWER9")
    assert (r.code, r.out, r.err) == (70, "", INTERNAL)


@pytest.mark.parametrize("how", ["option", "env"])
def test_internal_error_traceback_on_request(run: Runner, monkeypatch: pytest.MonkeyPatch,
                                             how: str) -> None:
    from powercompat.cli import negotiate_cmd

    monkeypatch.setattr(negotiate_cmd, "run_negotiation", _boom)
    if how == "env":
        monkeypatch.setenv("POWERCOMPAT_DEBUG", "1")
        r = run("negotiate", "--cpu", "POWER9")
    else:
        monkeypatch.delenv("POWERCOMPAT_DEBUG", raising=False)
        r = run("--debug", "negotiate", "--cpu", "POWER9")
    assert r.code == 70
    assert r.err.startswith(INTERNAL + "Traceback (most recent call last):\n")
    assert r.err.endswith("ZeroDivisionError: division by zero\n")


def test_missing_lazy_module_is_hidden_and_refused(run: Runner,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(main_module.COMMANDS, "ghost", "powercompat.cli.ghost_cmd:ghost")
    help_text = run("--help")
    assert help_text.code == 0
    assert "ghost" not in help_text.out
    assert "  negotiate " in help_text.out
    r = run("ghost")
    assert r.code == 2
    assert r.err == ("powercompat: error: command 'ghost' is not available in this "
                     "installation (powercompat.cli.ghost_cmd is missing) "
                     "(see 'powercompat --help')\n")
    assert run("negotiate", "--cpu", "POWER9", "--json").code == 0


def test_broken_lazy_module_does_not_break_help(run: Runner,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(main_module.COMMANDS, "broken", "powercompat.cli.common:no_such_attr")
    r = run("--help")
    assert r.code == 0
    assert any(line.startswith("  broken") and "(unavailable: AttributeError" in line
               for line in r.lines)


def test_lazy_commands_are_registered(run: Runner) -> None:
    assert main_module.COMMANDS["fleet"] == "powercompat.cli.fleet_cmd:COMMAND"
    assert main_module.COMMANDS["stress"] == "powercompat.cli.stress_cmd:COMMAND"
    assert main_module.COMMANDS["verify"] == "powercompat.cli.verify_cmd:COMMAND"
    assert main_module.COMMANDS["fuzz"] == "powercompat.cli.fuzz_cmd:COMMAND"
    for target in main_module.COMMANDS.values():
        assert isinstance(main_module.load(target), main_module.Command)


def test_version(run: Runner) -> None:
    from importlib.metadata import version

    r = run("--version")
    assert (r.code, r.err) == (0, "")
    assert r.out.strip() == f"powercompat {version('powercompat')}"


def _every_command() -> list[list[str]]:
    """Every command and subcommand path, from the registry."""
    paths: list[list[str]] = []

    def walk(path: list[str], command: main_module.Command) -> None:
        paths.append(path)
        for name, child in command.subcommands.items():
            walk([*path, name], child)

    for name, target in main_module.COMMANDS.items():
        walk([name], main_module.load(target))
    return paths


@pytest.mark.parametrize("path", _every_command(), ids=" ".join)
def test_help_of_every_command(run: Runner, path: list[str]) -> None:
    r = run(*path, "--help")
    assert (r.code, r.err) == (0, "")
    assert r.lines[0].startswith(f"usage: powercompat {' '.join(path)} ")
    assert "  -h, --help" in r.out


def test_top_help_lists_every_command(run: Runner) -> None:
    for argv in ([], ["--help"], ["-h"]):
        r = run(*argv)
        assert (r.code, r.err) == (0, "")
        listed = [line.split()[0] for line in r.lines
                  if line.startswith("  ") and not line.startswith("   ")
                  and not line.lstrip().startswith("-")]
        assert listed == list(main_module.COMMANDS)


def test_group_without_subcommand_prints_its_help(run: Runner) -> None:
    r = run("fleet")
    assert r.code == 0
    assert r.lines[0].startswith("usage: powercompat fleet ")
    assert any(line.split()[:1] == ["synth"] for line in r.lines)


def test_fuzz_passes_unknown_options_to_libfuzzer(run: Runner,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []

    def fake_main(argv: list[str], force_replay: bool = False) -> int:
        seen.append((argv, force_replay))
        return 0

    monkeypatch.setattr("powercompat.fuzz.runner.main", fake_main)
    assert run("fuzz", "cas", "-runs=5", "corpus", "--replay").code == 0
    assert seen == [(["cas", "-runs=5", "corpus"], True)]
