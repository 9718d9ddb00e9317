"""Typed arguments at the library's public entry points (issue #12 item 7): a wrong type, a
string where a tuple is due, an unknown event or a name that is not one printable line is an
InputError naming the argument, never a TypeError/AttributeError or a quiet non-result."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from powercompat.arguments import ArgumentError, checked
from powercompat.errors import InputError
from powercompat.machine.options import MachineOptions
from powercompat.machine.pseries import PseriesMachine
from powercompat.scenario import (
    migrate_check,
    mode_name,
    negotiate,
    parse_events,
    parse_guest,
    simulate,
)

CASES: list[tuple[str, Callable[[], object], str]] = [
    ("cpu-int", lambda: negotiate(7),  # type: ignore[arg-type]
     "negotiate: argument 'cpu': must be a string, not int"),
    ("smp-str", lambda: negotiate("power9", smp="2"),  # type: ignore[arg-type]
     "negotiate: argument 'smp': must be an integer, not str"),
    ("smp-bool", lambda: negotiate("power9", smp=True),
     "negotiate: argument 'smp': must be an integer, not bool"),
    ("pvr-list-str", lambda: negotiate("power9", pvr_list="ffff"),  # type: ignore[arg-type]
     "negotiate: argument 'pvr_list': must be bytes or None, not str"),
    ("radix-str", lambda: negotiate("power9", disable_radix="yes"),  # type: ignore[arg-type]
     "negotiate: argument 'disable_radix': must be True or False, not str"),
    ("guest-none", lambda: negotiate("power9", guest=None),  # type: ignore[arg-type]
     "negotiate: argument 'guest': must be a string, not NoneType"),
    ("max-int", lambda: negotiate("power9", max_cpu_compat=8),  # type: ignore[arg-type]
     "negotiate: argument 'max_cpu_compat': must be a string or None, not int"),
    ("cpu-newline", lambda: negotiate("power9\n"),
     "negotiate: argument 'cpu': contains a control character U+000A ('power9\\n')"),
    ("events-one-string",
     lambda: simulate(MachineOptions(), events="realize,cas"),  # type: ignore[arg-type]
     "simulate: argument 'events': must be a tuple of strings, not str"),
    ("events-unknown", lambda: simulate(MachineOptions(), events=("bogus",)),
     "simulate: argument 'events': unknown event 'bogus' (valid: realize, reset, cas, "
     "reboot, hotplug, migrate)"),
    ("events-int", lambda: simulate(MachineOptions(), events=(1,)),  # type: ignore[arg-type]
     "simulate: argument 'events': must be a tuple of strings, not tuple"),
    ("options-str", lambda: simulate("power9"),  # type: ignore[arg-type]
     "simulate: argument 'options': must be a MachineOptions, not str"),
    ("machine-options-cpu",
     lambda: PseriesMachine.from_options(MachineOptions(cpu=7)),  # type: ignore[arg-type]
     "parse_options: argument 'options.cpu': must be a string, not int"),
    ("machine-options-smp",
     lambda: PseriesMachine.from_options(MachineOptions(smp="2")),  # type: ignore[arg-type]
     "parse_options: argument 'options.smp': must be an integer, not str"),
    ("options-cpu", lambda: simulate(MachineOptions(cpu=9)),  # type: ignore[arg-type]
     "simulate: argument 'options.cpu': must be a string, not int"),
    ("options-smp", lambda: simulate(MachineOptions(smp="2")),  # type: ignore[arg-type]
     "simulate: argument 'options.smp': must be an integer, not str"),
    ("dst-int", lambda: migrate_check("power9", 8),  # type: ignore[arg-type]
     "migrate_check: argument 'dst_cpu': must be a string, not int"),
    ("pvr-str", lambda: mode_name("0x0f000004", "head"),  # type: ignore[arg-type]
     "mode_name: argument 'pvr': must be an integer, not str"),
    ("events-none", lambda: parse_events(None),  # type: ignore[arg-type]
     "parse_events: argument 'text': must be a string, not NoneType"),
    ("guest-int", lambda: parse_guest(5),  # type: ignore[arg-type]
     "parse_guest: argument 'name': must be a string, not int"),
]


@pytest.mark.parametrize(("call", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_wrong_arguments_are_input_errors(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InputError) as info:
        call()
    assert str(info.value) == message
    assert isinstance(info.value, ArgumentError)


def test_right_arguments_still_run() -> None:
    assert negotiate("power9", smp=2, pvr_list=None).started
    assert simulate(MachineOptions(cpu="power9"), events=("realize", "reset")).started
    assert mode_name(0x0F000004, "head") == "power8"


def test_checked_reads_the_annotations() -> None:
    @checked(colour=("red", "blue"))
    def paint(colour: str, coats: int = 1, ratio: float = 1.0) -> str:
        return colour * coats

    assert paint("red", 2, 1) == "redred"
    assert paint("blue", ratio=0.5) == "blue"
    with pytest.raises(ArgumentError, match="argument 'colour': unknown colour 'green'"):
        paint("green")
    with pytest.raises(ArgumentError, match="argument 'ratio': must be a number, not str"):
        paint("red", ratio="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):  # a wrong call stays Python's own error
        paint("red", shade=1)  # type: ignore[call-arg]
